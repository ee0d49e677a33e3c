"""notify_stage.sinks: where alerts go, each format through the class that prints it."""

import io
import json

from recipe_alert.notify_stage.alerts import Alert
from recipe_alert.notify_stage.sinks import FORMATS, JsonLines, TextLines, Webhook
from testkit.httpserver import LocalHTTPServer

ALERT = Alert.of({"title": "Four Cheese Margherita Pizza", "calories": 551,
                  "url": "https://www.allrecipes.com/recipe/1/x"}, 200, produced_ms=123)


def printed(sink_class) -> str:
    out = io.StringIO()
    sink = sink_class(out)
    assert sink.record(ALERT) is True
    sink.flush()
    return out.getvalue()


def test_text_prints_the_tutorials_exact_line():
    assert printed(TextLines) == "Alert: Four Cheese Margherita Pizza calories count is 551\n"


def test_json_prints_one_object_per_line_with_the_alerts_fields():
    assert json.loads(printed(JsonLines)) == ALERT.as_dict()


def test_every_format_offered_prints_one_line_per_alert():
    for name, sink_class in FORMATS.items():
        assert sink_class.name == name
        assert printed(sink_class).count("\n") == 1, name


def test_webhook_posts_the_line_and_the_alert_then_recovers_after_retries():
    sleeps, received = [], []

    def accept(exchange):
        received.append(json.loads(exchange.body))
        return (200, {}, b"ok")

    with LocalHTTPServer() as server:
        server.route("/hook", (500, {}, b""), (500, {}, b""), accept)
        hook = Webhook(server.url("/hook"), timeout=2, retries=4, sleep=sleeps.append)
        assert hook.record(ALERT) is True
        assert server.count("/hook") == 3
    assert sleeps == [0.5, 1.0]
    assert received == [{"text": f"{ALERT.line()} (per serving) {ALERT.url}", "alert": ALERT.as_dict()}]


def test_a_dead_webhook_costs_one_attempt_per_alert_until_it_recovers():
    sleeps = []
    with LocalHTTPServer() as server:
        server.route("/hook", *[(503, {}, b"")] * 6, (204, {}, b""))
        hook = Webhook(server.url("/hook"), timeout=2, retries=4, sleep=sleeps.append)
        assert hook.record(ALERT) is False   # 5 attempts
        assert hook.record(ALERT) is False   # 1 attempt: known to be down
        assert hook.record(ALERT) is True    # recovered
        assert server.count("/hook") == 7
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
