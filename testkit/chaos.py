"""Fault drivers against the real broker: kill -9, SIGTERM, broker restarts.

Shared by tests/integration/test_exactly_once.py (small runs) and
bench/chaos.py (large runs). Every driver works on unique topics and groups
(testkit.broker.Names) and counts outcomes from what a read_committed
consumer sees, using the provenance headers of the parse stage.

Pages are fixture pages bloated to real sizes (testkit.pages), each given
its own canonical URL so that every page has its own key.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kafka import TopicPartition

from recipe_alert import parse_stage
from recipe_alert.connection import MAX_RECORD_BYTES, PAGE_COMPRESSION
from recipe_alert.urls import normalize_url

from . import ROOT
from .broker import CONNECTION, Names, committed, create_topic, header, scan, wait_for
from .pages import LAYOUTS, make_page
from .processes import Script

PARSER = "producer_consumer_parse_recipes.py"
PRODUCER = "producer_raw_recipes.py"
NON_RECIPES = ("article-not-recipe", "jsonld-article-only")

# (size in bytes, weight). Real pages: 200 KB-2 MB, mean ~400 KB.
REAL_SIZES = ((200_000, 45), (300_000, 25), (400_000, 12), (700_000, 10),
              (1_200_000, 5), (2_000_000, 3))
# Lighter for `make test`, still with a few 1-2 MB pages (mean ~230 KB).
TEST_SIZES = ((30_000, 50), (150_000, 35), (600_000, 10), (2_000_000, 5))


# -- pages -------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _base_page(layout: str, size: int) -> bytes:
    return make_page(layout, size, seed=0)


_HEAD = re.compile(rb"<head\b[^>]*>", re.I)


@dataclass(frozen=True)
class Page:
    """A generated page; its body is built on demand, so a corpus costs no memory."""

    index: int
    layout: str
    size: int
    run: str

    @property
    def path(self) -> str:
        return f"/recipe/{100_000 + self.index}/chaos-{self.run}-{self.index}/"

    @property
    def url(self) -> str:
        return "https://www.allrecipes.com" + self.path

    @property
    def key(self) -> str:
        return normalize_url(self.url)

    @property
    def is_recipe(self) -> bool:
        return self.layout not in NON_RECIPES

    @property
    def body(self) -> bytes:
        base = _base_page(self.layout, self.size)
        link = f'<link rel="canonical" href="{self.url}">'.encode()
        head = _HEAD.search(base)
        at = head.end() if head else 0
        return base[:at] + link + base[at:]


def corpus(count: int, *, seed: int, sizes=TEST_SIZES, non_recipe_share: float = 0.1) -> list[Page]:
    """``count`` pages of random sizes and layouts; every 1/``non_recipe_share``-th is not a recipe."""
    rng = random.Random(seed)
    run = f"{seed}-{rng.getrandbits(24):06x}"
    values, weights = zip(*sizes)

    def layout(i: int) -> str:
        not_recipe = int((i + 1) * non_recipe_share) > int(i * non_recipe_share)
        return rng.choice(NON_RECIPES if not_recipe else LAYOUTS)

    return [Page(i, layout(i), rng.choices(values, weights)[0], run) for i in range(count)]


def publish_raw(topic: str, records: Iterable[tuple[bytes | None, bytes | None]], *,
                partitions: int = 3, topic_config: dict[str, str] | None = None) -> int:
    """Publish (key, value) records the way the producer script does; returns how many."""
    create_topic(topic, partitions, topic_config)
    producer = CONNECTION.producer(compression_type=PAGE_COMPRESSION, max_request_size=MAX_RECORD_BYTES)
    try:
        futures = [producer.send(topic, key=key, value=value) for key, value in records]
        producer.flush()
        for future in futures:
            future.get(timeout=0)  # raises if any record was refused
        return len(futures)
    finally:
        producer.close()


def page_records(pages: Iterable[Page]) -> Iterator[tuple[bytes, bytes]]:
    return ((page.key.encode(), page.body) for page in pages)


# -- processes -----------------------------------------------------------------

def parser_args(names: Names, *extra: str, instance: int = 0) -> list[str]:
    """The parser on the test's topics, with a fixed transactional id (one per ``instance``)
    so restarts fence zombies."""
    return ["--input-topic", names.raw, "--output-topic", names.parsed,
            "--dead-letter-topic", names.dead, "--group", names.parser_group,
            "--transactional-id", transactional_id(names, instance), *extra]


def transactional_id(names: Names, instance: int = 0) -> str:
    return f"{names.parser_group}.{instance}"


def stage_settings(names: Names, **overrides) -> parse_stage.ParseSettings:
    """The parse stage's settings for these topics, to run it in-process."""
    return parse_stage.ParseSettings(
        connection=CONNECTION, input_topic=names.raw, output_topic=names.parsed,
        dead_letter_topic=names.dead, group=names.parser_group,
        transactional_id=transactional_id(names), **overrides)


# -- progress ------------------------------------------------------------------

def end_offsets(topic: str) -> dict[int, tuple[int, int]]:
    """Partition -> (first, end) offsets of ``topic``."""
    consumer = CONNECTION.reader(isolation_level="read_uncommitted")
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        first, end = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return {tp.partition: (first[tp], end[tp]) for tp in tps}
    finally:
        consumer.close()


# -- the verdict -----------------------------------------------------------------

@dataclass
class Tally:
    """Outputs of the parse stage against its input, one output expected per raw offset."""

    records_in: int = 0
    parsed: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    missing: int = 0
    unexpected: int = 0  # outputs naming no raw offset of this run
    dead_keys: set[str] = field(default_factory=set)
    parsed_keys: set[str] = field(default_factory=set)
    dead_reasons: Counter = field(default_factory=Counter)

    @property
    def exact(self) -> bool:
        return not (self.duplicates or self.missing or self.unexpected)

    def figures(self) -> str:
        return (f"records in {self.records_in}, out {self.parsed + self.dead_lettered} "
                f"(parsed {self.parsed}, dead-lettered {self.dead_lettered}), "
                f"duplicates {self.duplicates}, missing {self.missing}, unexpected {self.unexpected}")


def tally(names: Names) -> Tally:
    """Count what a read_committed consumer sees of the parse stage's work on ``names``.

    The raw topic is written by a non-transactional producer, so its offsets
    are dense: every offset in [first, end) is a record.
    """
    result = Tally()
    expected = {(p, o) for p, (first, end) in end_offsets(names.raw).items() for o in range(first, end)}
    result.records_in = len(expected)
    seen = Counter()
    for topic in (names.parsed, names.dead):
        for record in scan(topic):
            source = (header(record, "source-partition"), header(record, "source-offset"))
            if header(record, "source-topic") != names.raw or None in source:
                result.unexpected += 1
                continue
            seen[int(source[0]), int(source[1])] += 1
            key = record.key.decode("utf-8", "replace") if record.key else ""
            if topic == names.parsed:
                result.parsed += 1
                result.parsed_keys.add(key)
            else:
                result.dead_lettered += 1
                result.dead_keys.add(key)
                result.dead_reasons[header(record, "error-class")] += 1
    result.duplicates = sum(n - 1 for n in seen.values() if n > 1)
    result.missing = len(expected - seen.keys())
    result.unexpected += len(seen.keys() - expected)
    return result


def key_counts(topic: str) -> Counter:
    """How many times each key is on ``topic``."""
    return Counter(r.key.decode() if r.key else None for r in scan(topic))


# -- drivers ---------------------------------------------------------------------

@dataclass
class CrashReport:
    kills: int = 0
    kills_with_work_left: int = 0  # kills that landed before the parser was caught up
    restarts: int = 0
    exit_codes: list[int] = field(default_factory=list)
    peak_rss: int = 0  # bytes, the largest of any parser process

    def figures(self) -> str:
        return (f"kills {self.kills} ({self.kills_with_work_left} with work left), "
                f"restarts {self.restarts}, peak RSS {self.peak_rss / 2**20:.0f} MB")


def crash_parser(names: Names, total: int, *, kills: int, rng: random.Random, log_dir: Path,
                 extra_args: tuple[str, ...] = (), timeout: float = 120) -> CrashReport:
    """Run the parser, kill -9 it ``kills`` times at random moments, then let it catch up.

    Kill i waits until a random share of the input near (i+1)/(kills+1) is
    committed, then a random 0-150 ms more, so kills land inside polls,
    parses and transactions alike. The last run exits on its own once idle.
    """
    report = CrashReport()
    for i in range(kills):
        target = int(total * rng.uniform(i + 0.5, i + 1.2) / (kills + 1))
        script = Script.start(PARSER, *parser_args(names, *extra_args), log_dir=log_dir)
        try:
            wait_for(lambda: committed(names.parser_group, names.raw) >= target
                     or not script.running(), timeout, f"{target} records committed")
            script.wait(rng.uniform(0, 0.15))
            if script.running():
                script.kill()
                report.kills += 1
                report.kills_with_work_left += committed(names.parser_group, names.raw) < total
            else:
                report.exit_codes.append(script.proc.returncode)
        finally:
            if script.running():
                script.kill()
            report.peak_rss = max(report.peak_rss, script.peak_rss)
        report.restarts += 1
    final = Script.start(PARSER, *parser_args(names, "--timeout-ms", "3000", *extra_args),
                         log_dir=log_dir)
    code = final.finish(timeout)
    report.exit_codes.append(code)
    report.peak_rss = max(report.peak_rss, final.peak_rss)
    if code != 0:
        raise AssertionError(f"the last parser run exited with {code}:\n{final.tail()}")
    return report


def kafka_local(command: str, mode: str | None = None, timeout: float = 180,
                env: dict[str, str] | None = None) -> str:
    """``bash scripts/kafka-local.sh command`` (in KAFKA_MODE ``mode``, with ``env`` added to
    the environment); returns its stdout."""
    env = {**os.environ, **({"KAFKA_MODE": mode} if mode else {}), **(env or {})}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "kafka-local.sh"), command], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 and command != "status":
        raise RuntimeError(f"kafka-local.sh {command} failed:\n{done.stderr}")
    return done.stdout


def running_broker(doing: str | None = None) -> tuple[str, int] | None:
    """(mode, pid) of the broker kafka-local.sh runs, or None; with ``doing``, raise if none."""
    found = re.search(r"^kafka \((\w+)\): running, pid (\d+)", kafka_local("status"), re.M)
    if found is None and doing:
        raise RuntimeError(f"no broker started by scripts/kafka-local.sh runs: cannot {doing} it")
    return (found.group(1), int(found.group(2))) if found else None


def broker_mode() -> str | None:
    """The mode (zk, kraft) of the broker kafka-local.sh runs, or None if it runs none."""
    found = running_broker()
    return found[0] if found else None


@contextlib.contextmanager
def broker_frozen(seconds: float) -> Iterator[None]:
    """The broker kafka-local.sh runs, stopped (SIGSTOP) for ``seconds``: connected, answering nothing.

    It goes on after ``seconds`` even if the block still runs, and at the latest when it ends.
    """
    _, pid = running_broker("freeze")
    thaw = threading.Timer(seconds, os.kill, args=(pid, signal.SIGCONT))
    os.kill(pid, signal.SIGSTOP)
    thaw.start()
    try:
        yield
    finally:
        thaw.cancel()
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def broker_restored(mode: str | None) -> Iterator[None]:
    """Whatever happens inside, the broker is up again (in ``mode``) afterwards.

    With ``mode`` None (no broker of kafka-local.sh runs), nothing is restarted.
    """
    try:
        yield
    finally:
        if mode is not None:
            kafka_local("up", mode)


def restart_broker() -> float:
    """Stop the broker and start it again, in the same mode; returns the seconds it was gone."""
    mode, _ = running_broker("restart")
    started = time.monotonic()
    with broker_restored(mode):
        kafka_local("down")
    return time.monotonic() - started


def serve(server, pages: Iterable[Page]) -> list[str]:
    """Route each page on a testkit.httpserver.LocalHTTPServer; returns their URLs there."""
    urls = []
    for page in pages:
        server.route(page.path, lambda _exchange, page=page: (200, {}, page.body))
        urls.append(server.url(page.path))
    return urls


@dataclass
class ProduceReport:
    exit_code: int
    output: str
    broker_restarts: int  # those that began and ended while the producer ran
    seconds_down: float
    peak_rss: int


def produce_with_broker_restarts(names: Names, urls: list[str], *, restarts: int, log_dir: Path,
                                 delay: float = 0.05, timeout: float = 600) -> ProduceReport:
    """Run the producer script over ``urls`` and restart the broker ``restarts`` times meanwhile.

    Restart i begins once (i+1)/(restarts+2) of the pages are on the raw topic;
    the broker is up again when this returns.
    """
    script = Script.start(PRODUCER, "--topic", names.raw, "--url", *urls, "--delay", str(delay),
                          "--no-progress", log_dir=log_dir)
    done = 0
    seconds_down = 0.0
    try:
        with broker_restored(broker_mode()):
            for i in range(restarts):
                target = len(urls) * (i + 1) // (restarts + 2)
                wait_for(lambda: not script.running() or records_on(names.raw) >= target,
                         timeout, f"{target} pages on {names.raw}", interval=0.2)
                if not script.running():
                    break
                seconds_down += restart_broker()
                done += script.running()
        code = script.finish(timeout)
    finally:
        script.kill()
    return ProduceReport(code, script.output, done, seconds_down, script.peak_rss)


def records_on(topic: str) -> int:
    """How many records ``topic`` holds (its offsets are dense: no transactions write to it)."""
    return sum(end - first for first, end in end_offsets(topic).values())


def parse_with_broker_restarts(names: Names, total: int, *, restarts: int, log_dir: Path,
                               timeout: float = 300) -> CrashReport:
    """Run the parser while the broker restarts ``restarts`` times; restart the parser if it exits.

    Restart i begins once (i+1)/(restarts+2) of the input is committed. The
    report's exit codes are those of every parser run, the last one's included.
    """
    report = CrashReport()
    script = Script.start(PARSER, *parser_args(names), log_dir=log_dir)
    try:
        with broker_restored(broker_mode()):
            for i in range(restarts):
                target = total * (i + 1) // (restarts + 2)
                wait_for(lambda: not script.running() or committed(names.parser_group, names.raw) >= target,
                         timeout, f"{target} records committed", interval=0.2)
                restart_broker()
        wait_for(lambda: not script.running() or committed(names.parser_group, names.raw) >= total,
                 timeout, "the parser to catch up or exit", interval=0.2)
        script.signal(signal.SIGTERM)  # caught up: stop it (a no-op if it exited on its own)
        report.exit_codes.append(script.finish(60))
    finally:
        script.kill()
        report.peak_rss = script.peak_rss
    last = crash_parser(names, total, kills=0, rng=random.Random(0), log_dir=log_dir, timeout=timeout)
    report.restarts = 1
    report.exit_codes += last.exit_codes
    report.peak_rss = max(report.peak_rss, last.peak_rss)
    return report
