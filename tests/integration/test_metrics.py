"""--metrics-addr: scraped during a real run, each script's counters are its summary line."""

from __future__ import annotations

import json
import re
import threading
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from testkit.broker import CONNECTION, create_topic, wait_for
from testkit.httpserver import LocalHTTPServer
from testkit.processes import Script
from tests.integration.test_pipeline import NOT_A_RECIPE, SITE, listing, sample_pages


class Metered:
    """A script started with ``--metrics-addr 0``, and the port it logged that it serves on."""

    def __init__(self, log_dir, script: str, *args: str):
        self.script = Script.start(script, *args, "--metrics-addr", "0", log_dir=log_dir)
        self.port = None
        self.until(lambda _: self.port is not None, "it to serve metrics")

    def scrape(self) -> dict[tuple, float]:
        """(sample name, sorted labels) -> value, from the script's endpoint."""
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5).read().decode()
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    def until(self, condition, what: str, timeout_s: float = 60) -> None:
        """Until ``condition(scrape)`` holds; fails at once, with its log, if the script exits."""
        def check() -> bool:
            if self.port is None:
                served = re.search(r"metrics on http://\S+:(\d+)/metrics", self.script.stderr)
                self.port = served and int(served[1])
            if not self.script.running():
                raise AssertionError(f"{self.script.name} exited ({self.script.proc.returncode}) "
                                     f"while waiting for {what}:\n{self.script.tail()}")
            return self.port is not None and condition(self.scrape())

        try:
            wait_for(check, timeout_s, what)
        except TimeoutError as exc:
            self.script.kill()
            raise AssertionError(f"{exc}; its log:\n{self.script.tail()}") from None

    def finish(self) -> tuple[int, str, str]:
        """Its exit code, stdout and stderr, once it exits."""
        code = self.script.finish(60)
        return code, self.script.stdout, self.script.stderr


def done_line(stderr: str) -> str:
    return re.findall(r"done: (.*)", stderr)[-1]


def test_the_parse_stages_counters_lag_and_timings_are_what_it_reports(names, tmp_path):
    pages = list(sample_pages().values())
    create_topic(names.raw, 2)
    producer = CONNECTION.producer()
    for i, page in enumerate([*pages, NOT_A_RECIPE]):
        producer.send(names.raw, key=f"page-{i}".encode(), value=page)
    producer.flush()
    producer.close()
    stage = Metered(tmp_path, "producer_consumer_parse_recipes.py", "--input-topic", names.raw,
                    "--output-topic", names.parsed, "--dead-letter-topic", names.dead,
                    "--group", names.parser_group, "--timeout-ms", "4000")
    total = len(pages) + 1
    # While it waits out its idle timeout, everything is counted.
    stage.until(lambda m: m.get(("recipe_alert_parser_pages_consumed_total", ())) == total,
                "the parse stage to count every page")
    metrics = stage.scrape()
    code, _, stderr = stage.finish()
    assert code == 0, stderr

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


def test_the_producers_counters_are_its_summary_line(names, tmp_path):
    pages = sample_pages()
    last = "/recipe/901/spring-salads/"
    gate = threading.Event()

    def held_back(exchange):
        gate.wait(60)
        return 200, {}, NOT_A_RECIPE

    with LocalHTTPServer(directory=SITE) as server:
        server.route("/recipes/1/test-salads/", (200, {}, listing([*pages, last])))
        for path, body in pages.items():
            server.route(path, (200, {}, body))
        server.route(last, held_back)
        try:
            producer = Metered(tmp_path, "producer_raw_recipes.py", "--topic", names.raw,
                               "--category-url", server.url("/recipes/1/test-salads/"), "--delay", "0")

            def counter(metrics, name, **labels):
                return metrics.get((f"recipe_alert_producer_{name}_total",
                                    tuple(sorted(labels.items()))))

            # Held at the last page: every other page is fetched and acknowledged.
            producer.until(lambda m: counter(m, "pages_published") == len(pages),
                           "the producer to publish all but the page held back")
            metrics = producer.scrape()
            gate.set()
            code, _, stderr = producer.finish()
        finally:
            gate.set()
    assert code == 0, stderr
    assert (counter(metrics, "pages_listed"), counter(metrics, "pages_fetched")) == \
        (len(pages) + 1, len(pages))
    failed = sum(counter(metrics, "pages_failed", reason=r) for r in ("blocked", "fetch", "kafka"))
    skipped = sum(counter(metrics, "pages_skipped", reason=r)
                  for r in ("robots", "not_html", "too_big", "other"))
    line = done_line(stderr)  # the page held back, fetched and published since
    assert line.startswith(
        f"fetched {len(pages) + 1}, published {len(pages) + 1}, failed {int(failed)} "), line
    assert f"listed {len(pages) + 1}, skipped {int(skipped)} " in line


def test_the_notifiers_counters_and_alert_latency_are_what_it_reports(names, tmp_path):
    create_topic(names.parsed, 3)
    recipes = [{"title": f"Dish {i}", "calories": 150 + 100 * i, "url": f"https://x.test/r/{i}"}
               for i in range(4)]  # three over 200 kcal
    producer = CONNECTION.producer()
    for recipe in [*recipes, recipes[3]]:  # the last one a second time: suppressed
        producer.send(names.parsed, key=recipe["url"].encode(), value=json.dumps(recipe).encode())
    producer.send(names.parsed, key=b"junk", value=b"not json")
    producer.flush()
    producer.close()
    notifier = Metered(tmp_path, "consumer_notification.py", "--topic", names.parsed,
                       "--group", names.notifier_group, "--alerts-topic", names.alerts,
                       "--timeout-ms", "4000")
    notifier.until(lambda m: m.get(("recipe_alert_notifier_recipes_consumed_total", ())) == 6,
                   "the notifier to read every record")
    metrics = notifier.scrape()
    code, stdout, stderr = notifier.finish()
    assert code == 0, stderr

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
