"""Alerts once per recipe, across restarts, re-crawls and notifier instances."""

import json

from testkit.broker import (CONNECTION, create_topic, run_script, start_script, stop_once_committed,
                            wait_for, wait_for_group)
from testkit.httpserver import LocalHTTPServer


def publish(topic: str, recipes: list[dict]) -> None:
    producer = CONNECTION.producer()
    for recipe in recipes:
        producer.send(topic, key=recipe["url"].encode(), value=json.dumps(recipe).encode())
    producer.flush()
    producer.close()


def recipes(n: int, era: str = "https") -> list[dict]:
    host = "https://www.allrecipes.com" if era == "https" else "http://allrecipes.com"
    return [{"title": f"Dish {i}", "calories": 300 + i, "url": f"{host}/recipe/{i}/dish-{i}/"}
            for i in range(n)]


def notify(names, *extra, group=None):
    return run_script("consumer_notification.py", "--topic", names.parsed,
                      "--alerts-topic", names.alerts, "--group", group or names.notifier_group,
                      "--timeout-ms", "1500", *extra)


def test_recrawl_and_restart_do_not_repeat_alerts(names):
    publish(names.parsed, recipes(3))
    first = notify(names)
    assert first.returncode == 0, first.stderr
    assert sorted(first.stdout.splitlines()) == [f"Alert: Dish {i} calories count is {300 + i}"
                                                 for i in range(3)]
    # The same recipes crawled again, from another era of their URLs, plus one new one.
    publish(names.parsed, recipes(3, era="http") + [
        {"title": "New", "calories": 999, "url": "https://www.allrecipes.com/recipe/9/new/"}])
    second = notify(names)
    assert second.stdout.splitlines() == ["Alert: New calories count is 999"]
    assert "3 repeat(s) suppressed" in second.stderr
    # The group's offsets lost (expired, or deleted as here): it reads from the beginning
    # again, and the alert log still knows what it alerted.
    with CONNECTION.admin() as admin:
        wait_for(lambda: admin.delete_groups([names.notifier_group]) == {names.notifier_group: "OK"},
                 30, f"group {names.notifier_group} to be deleted")
    third = notify(names)
    assert third.stdout == ""
    assert "7 repeat(s) suppressed" in third.stderr  # all 7 records seen
    # Another group is another subscriber: it alerts each recipe once for itself.
    other = notify(names, group=names.notifier_group + ".other")
    assert sorted(other.stdout.splitlines()) == sorted(first.stdout.splitlines()
                                                       + ["Alert: New calories count is 999"])
    assert "3 repeat(s) suppressed" in other.stderr  # the re-crawls


def test_repeat_alerts_restores_tutorial_behaviour(names):
    publish(names.parsed, recipes(2) + recipes(2))
    result = notify(names, "--repeat-alerts")
    assert len(result.stdout.splitlines()) == 4


def test_two_notifiers_in_one_group_never_alert_twice(names):
    batch = recipes(60)
    create_topic(names.parsed, 4)
    procs = [start_script("consumer_notification.py", "--topic", names.parsed,
                          "--alerts-topic", names.alerts, "--group", names.notifier_group)
             for _ in range(2)]
    wait_for_group(names.notifier_group, members=2)
    publish(names.parsed, batch)
    publish(names.parsed, batch)  # every recipe twice
    outputs = stop_once_committed(procs, names.notifier_group, names.parsed, 2 * len(batch))
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    lines = [line for out, _ in outputs for line in out.splitlines()]
    assert sorted(lines) == sorted(f"Alert: Dish {i} calories count is {300 + i}" for i in range(60))
    assert all(out for out, _ in outputs), "both notifiers should have had partitions"


def test_webhook_gets_each_alert_even_when_it_fails_first(names):
    received = []
    with LocalHTTPServer() as server:
        def capture(exchange):
            received.append(json.loads(exchange.body))
            return (200, {"Content-Type": "text/plain"}, b"ok")

        server.route("/hook", (500, {}, b"down"), (503, {}, b"still down"), capture)
        publish(names.parsed, recipes(2))
        result = notify(names, "--webhook", server.url("/hook"))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert sorted(r["alert"]["title"] for r in received) == ["Dish 0", "Dish 1"]
    assert all(r["text"].startswith("Alert: Dish ") for r in received)
    assert "webhook" in result.stderr and "HTTP 500" in result.stderr
