"""--metrics-addr: scraped during a real run, each script's counters are its summary line."""

from __future__ import annotations

import json
import re
import socket
import threading
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from testkit.broker import CONNECTION, create_topic, start_script, wait_for
from testkit.httpserver import LocalHTTPServer
from tests.integration.test_pipeline import NOT_A_RECIPE, SITE, listing, sample_pages


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[tuple, float]:
    """(sample name, sorted labels) -> value, from the script's endpoint."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scraped(port: int):
    """A scrape, or None while the script does not serve yet."""
    try:
        return scrape(port)
    except OSError:
        return None


def done_line(stderr: str) -> str:
    return re.findall(r"done: (.*)", stderr)[-1]


def test_the_parse_stages_counters_lag_and_timings_are_what_it_reports(names):
    pages = list(sample_pages().values())
    create_topic(names.raw, 2)
    producer = CONNECTION.producer()
    for i, page in enumerate([*pages, NOT_A_RECIPE]):
        producer.send(names.raw, key=f"page-{i}".encode(), value=page)
    producer.flush()
    producer.close()
    port = free_port()
    stage = start_script("producer_consumer_parse_recipes.py", "--input-topic", names.raw,
                         "--output-topic", names.parsed, "--dead-letter-topic", names.dead,
                         "--group", names.parser_group, "--timeout-ms", "4000",
                         "--metrics-addr", str(port))
    try:
        total = len(pages) + 1
        # While it waits out its idle timeout, everything is counted.
        wait_for(lambda: (scraped(port) or {}).get(("recipe_alert_parser_pages_consumed_total", ()))
                 == total, 60, "the parse stage to count every page")
        metrics = scrape(port)
        stderr = stage.communicate(timeout=60)[1]
    finally:
        stage.kill()
    assert stage.returncode == 0, stderr

    def counter(name, **labels):
        return int(metrics[(f"recipe_alert_parser_{name}_total", tuple(sorted(labels.items())))])

    line = done_line(stderr)
    assert line.startswith(
        f"consumed {counter('pages_consumed')}, parsed {counter('pages_parsed')}, dead-lettered "
        f"{counter('pages_dead_lettered')}, in {counter('transactions', outcome='committed')} "
        f"transaction(s), {counter('transactions', outcome='aborted')} aborted;"), line
    assert (counter("pages_parsed"), counter("pages_dead_lettered")) == (len(pages), 1)
    assert metrics[("recipe_alert_parse_seconds_count", ())] == total
    assert metrics[("recipe_alert_transaction_commit_seconds_count", ())] == \
        counter("transactions", outcome="committed")
    lag = {labels: value for (name, labels), value in metrics.items()
           if name == "recipe_alert_consumer_lag"}
    assert lag == {(("partition", str(p)), ("topic", names.raw)): 0 for p in (0, 1)}


def test_the_producers_counters_are_its_summary_line(names):
    pages = sample_pages()
    last = "/recipe/901/spring-salads/"
    gate = threading.Event()

    def held_back(exchange):
        gate.wait(60)
        return 200, {}, NOT_A_RECIPE

    port = free_port()
    with LocalHTTPServer(directory=SITE) as server:
        server.route("/recipes/1/test-salads/", (200, {}, listing([*pages, last])))
        for path, body in pages.items():
            server.route(path, (200, {}, body))
        server.route(last, held_back)
        producer = start_script("producer_raw_recipes.py", "--topic", names.raw,
                                "--category-url", server.url("/recipes/1/test-salads/"),
                                "--delay", "0", "--metrics-addr", str(port))
        try:
            def counter(metrics, name, **labels):
                return metrics.get((f"recipe_alert_producer_{name}_total",
                                    tuple(sorted(labels.items()))))

            # Held at the last page: every other page is fetched and acknowledged.
            wait_for(lambda: counter(scraped(port) or {}, "pages_published") == len(pages), 60,
                     "the producer to publish all but the page held back")
            metrics = scrape(port)
            gate.set()
            stderr = producer.communicate(timeout=60)[1]
        finally:
            gate.set()
            producer.kill()
    assert producer.returncode == 0, stderr
    assert (counter(metrics, "pages_listed"), counter(metrics, "pages_fetched")) == \
        (len(pages) + 1, len(pages))
    failed = sum(counter(metrics, "pages_failed", reason=r) for r in ("blocked", "fetch", "kafka"))
    skipped = sum(counter(metrics, "pages_skipped", reason=r)
                  for r in ("robots", "not_html", "too_big", "other"))
    line = done_line(stderr)  # the page held back, fetched and published since
    assert line.startswith(
        f"fetched {len(pages) + 1}, published {len(pages) + 1}, failed {int(failed)} "), line
    assert f"listed {len(pages) + 1}, skipped {int(skipped)} " in line


def test_the_notifiers_counters_and_alert_latency_are_what_it_reports(names):
    create_topic(names.parsed, 3)
    recipes = [{"title": f"Dish {i}", "calories": 150 + 100 * i, "url": f"https://x.test/r/{i}"}
               for i in range(4)]  # three over 200 kcal
    producer = CONNECTION.producer()
    for recipe in [*recipes, recipes[3]]:  # the last one a second time: suppressed
        producer.send(names.parsed, key=recipe["url"].encode(), value=json.dumps(recipe).encode())
    producer.send(names.parsed, key=b"junk", value=b"not json")
    producer.flush()
    producer.close()
    port = free_port()
    notifier = start_script("consumer_notification.py", "--topic", names.parsed,
                            "--group", names.notifier_group, "--alerts-topic", names.alerts,
                            "--timeout-ms", "4000", "--metrics-addr", str(port))
    try:
        wait_for(lambda: (scraped(port) or {}).get(("recipe_alert_notifier_recipes_consumed_total", ()))
                 == 6, 60, "the notifier to read every record")
        metrics = scrape(port)
        stdout, stderr = notifier.communicate(timeout=60)
    finally:
        notifier.kill()
    assert notifier.returncode == 0, stderr

    def counter(name, **labels):
        return int(metrics[(f"recipe_alert_notifier_{name}_total", tuple(sorted(labels.items())))])

    assert done_line(stderr) == (
        f"read {counter('recipes_consumed')} recipe(s), {counter('alerts')} alert(s), "
        f"{counter('repeats_suppressed')} repeat(s) suppressed, "
        f"{counter('records_unreadable')} unreadable record(s)")
    assert (counter("alerts"), counter("repeats_suppressed"), counter("records_unreadable")) == (3, 1, 1)
    assert stdout.count("Alert:") == 3
    assert counter("delivery_failures", sink="text") == counter("delivery_failures", sink="alert log") == 0
    assert metrics[("recipe_alert_alert_latency_seconds_count", ())] == 3
