"""Each consumer group is a subscriber: it alerts each recipe once, whatever other groups did.

The issue's case: one notifier posts to a webhook above 500 kcal, another prints above
200 kcal, each with its own --group, both recording in the same alerts topic.
"""

import json

from recipe_alert.notify_stage.alert_log import ALERTS_TOPIC_CONFIG
from recipe_alert.notify_stage.alerts import Alert
from recipe_alert.urls import normalize_url
from testkit.broker import (CONNECTION, create_topic, read_topic, run_script, start_script,
                            stop_once_committed, wait_for_group)
from testkit.httpserver import LocalHTTPServer

# Per serving: two over 500 (both subscribers), two between 200 and 500 (the printer only).
DISHES = [("Lasagna", 640), ("Pizza", 551), ("Salad", 389.6), ("Soup", 265), ("Broth", 90)]


def recipes(era: str = "https") -> list[dict]:
    host = "https://www.allrecipes.com" if era == "https" else "http://allrecipes.com"
    return [{"title": title, "calories": kcal, "url": f"{host}/recipe/{i}/{title.lower()}/"}
            for i, (title, kcal) in enumerate(DISHES)]


def publish(topic: str, batch: list[dict]) -> None:
    producer = CONNECTION.producer()
    for recipe in batch:
        producer.send(topic, key=recipe["url"].encode(), value=json.dumps(recipe).encode())
    producer.flush()
    producer.close()


def line(title: str, kcal: float) -> str:
    return Alert.of({"title": title, "calories": kcal}, 0).line()


def above(kcal: float) -> list[str]:
    return sorted(line(title, calories) for title, calories in DISHES if calories > kcal)


def notify(names, group: str, *extra: str):
    result = run_script("consumer_notification.py", "--topic", names.parsed, "--alerts-topic",
                        names.alerts, "--group", group, "--timeout-ms", "1500", *extra)
    assert result.returncode == 0, result.stderr
    return result


def test_two_groups_on_one_topic_each_alert_a_recipe_exactly_once(names):
    webhook_group, printer_group = names.notifier_group + ".webhook", names.notifier_group + ".printer"
    posted = []
    with LocalHTTPServer() as server:
        def capture(exchange):
            posted.append(json.loads(exchange.body)["text"].split(" (per serving)")[0])
            return (200, {"Content-Type": "text/plain"}, b"ok")

        server.route("/hook", capture)
        publish(names.parsed, recipes())
        webhook = notify(names, webhook_group, "--threshold", "500", "--webhook", server.url("/hook"))
        printer = notify(names, printer_group, "--threshold", "200")
        # Both again, after a re-crawl of every recipe under its older URL: nothing new.
        publish(names.parsed, recipes(era="http"))
        webhook_again = notify(names, webhook_group, "--threshold", "500", "--webhook", server.url("/hook"))
        printer_again = notify(names, printer_group, "--threshold", "200")

    assert sorted(webhook.stdout.splitlines()) == sorted(posted) == above(500)
    # The printer alerts the webhook's recipes too: another group's record is not its own.
    assert sorted(printer.stdout.splitlines()) == above(200)
    assert (webhook_again.stdout, printer_again.stdout) == ("", "")
    assert "2 repeat(s) suppressed" in webhook_again.stderr
    assert "4 repeat(s) suppressed" in printer_again.stderr
    assert len(posted) == 2
    # One record per group and recipe, in the one alerts topic.
    keys = sorted(json.loads(r.key) for r in read_topic(names.alerts))
    assert keys == sorted([[group, normalize_url(r["url"])] for r in recipes()
                           for group, kcal in ((webhook_group, 500), (printer_group, 200))
                           if r["calories"] > kcal])


def test_two_instances_in_each_of_two_groups_alert_each_recipe_once_per_group(names):
    groups = [names.notifier_group + ".a", names.notifier_group + ".b"]
    batch = [{"title": f"Dish {i}", "calories": 300 + i, "url": f"https://www.allrecipes.com/recipe/{i}/d/"}
             for i in range(30)]
    create_topic(names.parsed, 4)
    procs = {group: [start_script("consumer_notification.py", "--topic", names.parsed,
                                  "--alerts-topic", names.alerts, "--group", group)
                     for _ in range(2)] for group in groups}
    for group in groups:
        wait_for_group(group, members=2)
    publish(names.parsed, batch)
    publish(names.parsed, batch)  # every recipe twice
    expected = sorted(f"Alert: Dish {i} calories count is {300 + i}" for i in range(30))
    for group, instances in procs.items():
        outputs = stop_once_committed(instances, group, names.parsed, 2 * len(batch))
        assert [p.returncode for p in instances] == [0, 0], [err for _, err in outputs]
        assert sorted(line for out, _ in outputs for line in out.splitlines()) == expected, group
        assert all(out for out, _ in outputs), f"both instances of {group} should have had partitions"


def test_an_alerts_topic_written_by_an_older_version_is_read_and_causes_no_repeat(names):
    # What versions before per-group records wrote: key the normalised URL, value the alert.
    create_topic(names.alerts, 3, ALERTS_TOPIC_CONFIG)
    old = recipes()[:3]  # Lasagna, Pizza, Salad: alerted by an older notifier
    producer = CONNECTION.producer()
    for recipe in old:
        alert = Alert.of(recipe, 200, normalize_url(recipe["url"]))
        producer.send(names.alerts, key=alert.key.encode(), value=json.dumps(alert.as_dict()).encode())
    producer.flush()
    producer.close()
    publish(names.parsed, recipes())

    upgraded = notify(names, names.notifier_group, "--threshold", "200")
    # The old records do not say which group alerted: they count for every group.
    other = notify(names, names.notifier_group + ".other", "--threshold", "200")

    assert upgraded.stdout.splitlines() == other.stdout.splitlines() == [line("Soup", 265)]
    assert "3 repeat(s) suppressed" in upgraded.stderr and "3 repeat(s) suppressed" in other.stderr
    records = read_topic(names.alerts)
    new = sorted(json.loads(r.key) for r in records if r.key.startswith(b"["))
    assert new == sorted([[group, normalize_url(recipes()[3]["url"])]
                          for group in (names.notifier_group, names.notifier_group + ".other")])
    assert json.loads(next(r for r in records if r.key.startswith(b"[")).value)["group"] in {
        names.notifier_group, names.notifier_group + ".other"}
