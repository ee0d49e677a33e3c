"""notify_stage.sinks: where alerts go, each format through the class that prints it."""

import io
import json
import logging

from recipe_alert.notify_stage.alerts import Alert
from recipe_alert.notify_stage.sinks import FORMATS, JsonLines, TextLines, Webhook
from recipe_alert.urls import redacted
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


SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxSECRETtoken"


def assert_no_secret(text: str) -> None:
    assert "SECRET" not in text, text


def test_the_secret_check_itself_catches_a_leak():
    try:
        assert_no_secret(f"webhook http://127.0.0.1{SECRET_PATH} failed")
    except AssertionError:
        return
    raise AssertionError("assert_no_secret let a webhook path through")


def test_webhook_failures_log_only_the_host_never_the_path_or_query(caplog):
    caplog.set_level(logging.DEBUG)
    with LocalHTTPServer() as server:
        server.route(SECRET_PATH, (500, {}, b""))
        url, port = server.url(SECRET_PATH) + "?token=SECRET", server.port
        http_failure = Webhook(url, timeout=2, retries=0)
        assert http_failure.record(ALERT) is False
    # Nothing listens here any more: requests' own exception text names the URL.
    refused = Webhook(url, timeout=2, retries=0)
    assert refused.record(ALERT) is False
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("recipe_alert"))
    assert "HTTP 500" in logged and "ConnectionError" in logged
    assert f"webhook http://127.0.0.1:{port}/… failed" in logged
    assert_no_secret(logged)
    assert_no_secret(repr(refused))


def test_redacted_keeps_scheme_host_and_port_only():
    assert redacted("https://user:pw@hooks.slack.com/services/T/B/x?y=1") == "https://hooks.slack.com/…"
    assert redacted("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/…"
    assert redacted("not a url") == "?://?/…"
