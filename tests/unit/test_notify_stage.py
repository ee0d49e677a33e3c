"""notify_stage.stage: every record takes one path, through run(), to the sinks.

The consumer is scripted (tests.doubles); alerting against the real broker,
with the alert log, is tested in tests/integration/test_alerts.py.
"""

import io
import json

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError

from recipe_alert.cli import StopSignal
from recipe_alert.notify_stage import stage
from recipe_alert.notify_stage.sinks import FORMATS
from tests.doubles import Record, ScriptedConsumer

PARSED = TopicPartition("parsed_recipes", 0)
PIZZA = {"title": "Four Cheese Margherita Pizza", "calories": 551,
         "url": "https://www.allrecipes.com/recipe/1/x"}


class ScriptedConnection:
    """Hands the notifier a scripted consumer instead of a real one."""

    def __init__(self, consumer):
        self._consumer = consumer

    def consumer(self, topics, group, **kwargs):
        return self._consumer


def notify(monkeypatch, values, consumer_class=ScriptedConsumer, **settings):
    consumer = consumer_class({PARSED: [Record(PARSED.topic, 0, offset, None, value, 1000 + offset)
                                        for offset, value in enumerate(values)]})
    monkeypatch.setattr(stage, "ensure_topics", lambda *args: None)
    out = io.StringIO()
    config = stage.NotifySettings(connection=ScriptedConnection(consumer), repeat_alerts=True,
                                  timeout_ms=1, **settings)
    return stage.run(config, StopSignal(), out), out.getvalue()


def test_a_recipe_over_the_threshold_prints_the_tutorials_line_and_the_rest_nothing(monkeypatch):
    values = [json.dumps(PIZZA).encode(), json.dumps({**PIZZA, "calories": 120}).encode(),
              json.dumps({**PIZZA, "calories": None}).encode(), b"not json"]
    stats, out = notify(monkeypatch, values)
    assert out == "Alert: Four Cheese Margherita Pizza calories count is 551\n"
    assert (stats.consumed, stats.alerted, stats.unreadable) == (4, 1, 1)
    assert stats.summary() == ("read 4 recipe(s), 1 alert(s), 0 repeat(s) suppressed, "
                               "1 unreadable record(s)")


@pytest.mark.parametrize("output_format", sorted(FORMATS))
def test_each_format_is_what_run_prints(monkeypatch, output_format):
    stats, out = notify(monkeypatch, [json.dumps(PIZZA).encode()], output_format=output_format)
    assert out.count("\n") == stats.alerted == 1
    if output_format == "json":
        alert = json.loads(out)
        assert (alert["title"], alert["calories"], alert["url"], alert["produced_ms"]) == \
            (PIZZA["title"], 551, PIZZA["url"], 1000)
    else:
        assert out == "Alert: Four Cheese Margherita Pizza calories count is 551\n"


def test_a_failed_webhook_is_counted_in_the_summary(monkeypatch):
    stats, out = notify(monkeypatch, [json.dumps(PIZZA).encode()],
                        webhook="http://127.0.0.1:9/hook", webhook_timeout=0.5, webhook_retries=0)
    assert out.count("\n") == 1
    assert stats.summary().endswith(", 1 webhook delivery failure(s)")


class RebalancedConsumer(ScriptedConsumer):
    """By the time a batch's offsets commit, the group has moved on."""

    def commit(self, offsets):
        raise CommitFailedError("the consumer was kicked out of the group")


def test_offsets_refused_after_a_rebalance_are_logged_and_the_stream_goes_on(monkeypatch, caplog):
    values = [json.dumps(PIZZA).encode(), json.dumps({**PIZZA, "calories": 120}).encode()]
    stats, out = notify(monkeypatch, values, consumer_class=RebalancedConsumer)
    assert out == "Alert: Four Cheese Margherita Pizza calories count is 551\n"
    assert (stats.consumed, stats.alerted) == (2, 1)
    assert "offsets not committed, the group rebalanced" in caplog.text
