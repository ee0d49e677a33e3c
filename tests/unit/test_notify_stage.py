import io
import json
from collections import namedtuple

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError

from recipe_alert import kafka_io
from recipe_alert.kafka_io import StopSignal
from recipe_alert.notifier import NotifySettings, format_alert, read_recipe, run, should_alert
from tests.unit.test_batches import ScriptedConsumer


def recipe(calories, title="Four Cheese Margherita Pizza"):
    return {"title": title, "calories": calories, "url": "https://www.allrecipes.com/recipe/1/x"}


def test_text_alert_is_the_tutorials_exact_line():
    assert format_alert(recipe(551), "text", 200) == \
        "Alert: Four Cheese Margherita Pizza calories count is 551"


@pytest.mark.parametrize("calories, shown", [(551, "551"), (551.0, "551"), (551.4, "551.4")])
def test_whole_calories_print_without_decimals(calories, shown):
    assert format_alert(recipe(calories), "text", 200).endswith(f"count is {shown}")


def test_json_alert_carries_title_calories_and_url():
    alert = json.loads(format_alert(recipe(551.4), "json", 200, produced_ms=123))
    assert alert["title"] == "Four Cheese Margherita Pizza"
    assert alert["calories"] == 551.4
    assert alert["url"] == "https://www.allrecipes.com/recipe/1/x"
    assert alert["per"] == "serving"
    assert alert["produced_ms"] == 123
    assert alert["alerted_ms"] >= 123


@pytest.mark.parametrize("calories, alert", [
    (201, True), (200.5, True), (200, False), (0, False), (None, False),
    ("551", False), (True, False),
])
def test_only_numeric_calories_above_the_threshold_alert(calories, alert):
    assert should_alert(recipe(calories), 200) is alert


@pytest.mark.parametrize("value", [b"", None, b"not json", b"[1, 2]", b"\xff\xfe", b"42"])
def test_unreadable_records_are_not_recipes(value):
    assert read_recipe(value) is None


def test_webhook_retries_with_backoff_then_recovers():
    from recipe_alert.notifier import Webhook
    from tests.httpfixture import LocalHTTPServer

    sleeps = []
    with LocalHTTPServer() as server:
        server.route("/hook", (500, {}, b""), (500, {}, b""), (200, {}, b"ok"))
        hook = Webhook(server.url("/hook"), timeout=2, retries=4, sleep=sleeps.append)
        assert hook.post("Alert: x", {}) is True
        assert server.count("/hook") == 3
    assert sleeps == [0.5, 1.0]


def test_a_dead_webhook_costs_one_attempt_per_alert_until_it_recovers():
    from recipe_alert.notifier import Webhook
    from tests.httpfixture import LocalHTTPServer

    sleeps = []
    with LocalHTTPServer() as server:
        server.route("/hook", *[(503, {}, b"")] * 6, (204, {}, b""))
        hook = Webhook(server.url("/hook"), timeout=2, retries=4, sleep=sleeps.append)
        assert hook.post("first", {}) is False   # 5 attempts
        assert hook.post("second", {}) is False  # 1 attempt: known to be down
        assert hook.post("third", {}) is True    # recovered
        assert server.count("/hook") == 7
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize("calories, low, high, alert", [
    (150, 100, None, True), (100, 100, None, True), (99, 100, None, False),
    (450, None, 400, False), (300, None, 400, True), (250, 100, 300, True), (350, 100, 300, False),
])
def test_min_and_max_calories_alert_on_a_range(calories, low, high, alert):
    assert should_alert(recipe(calories), 200, low, high) is alert


class RebalancedConsumer(ScriptedConsumer):
    """By the time a batch's offsets commit, the group has moved on."""

    def commit(self, offsets):
        raise CommitFailedError("the consumer was kicked out of the group")

    def close(self, autocommit):
        pass


def test_offsets_refused_after_a_rebalance_are_logged_and_the_stream_goes_on(monkeypatch, caplog):
    Record = namedtuple("Record", "topic partition offset key value timestamp")
    values = [json.dumps(recipe(551)).encode(), json.dumps(recipe(120)).encode()]
    consumer = RebalancedConsumer({TopicPartition("parsed_recipes", 0): [
        Record("parsed_recipes", 0, offset, None, value, 0) for offset, value in enumerate(values)]})
    monkeypatch.setattr(kafka_io, "ensure_topics", lambda *args: None)
    monkeypatch.setattr(kafka_io, "make_consumer", lambda *args, **kwargs: consumer)
    out = io.StringIO()
    settings = NotifySettings(bootstrap="unused:9092", repeat_alerts=True, timeout_ms=1)
    stats = run(settings, StopSignal(), out)
    assert out.getvalue() == "Alert: Four Cheese Margherita Pizza calories count is 551\n"
    assert (stats.consumed, stats.alerted) == (2, 1)
    assert "offsets not committed, the group rebalanced" in caplog.text
