"""The pipeline's figures against the local broker: `make bench`.

Runs the three scripts as subprocesses, as a user would, on realistic pages
(testkit/pages.py, 200 KB-2 MB, mean ~400 KB; generated once into
.cache/bench-pages/) and prints one table:

- producer: producer_raw_recipes.py --from-dir to a fresh 4-partition raw
  topic (twice, so the backlog holds the page set twice), and a KafkaProducer
  per codec beside the speed of the codec and CRC32C work alone;
- replay: the parse stage (exactly once) on that backlog, from process start
  until the last output is visible to a read_committed reader, and from the
  moment it held its partitions; against scrape_html alone in a loop over the
  same pages;
- scale-out: two parse processes in one group on the same raw topic;
- alert latency: consumer_notification.py --format json on records produced
  at a steady rate, produce timestamp to alert, default and --repeat-alerts;
- memory: peak RSS (VmHWM, polled) of each subprocess.

Every run uses its own topics and groups and deletes its topics at the end.

    .venv/bin/python -m bench.bench_pipeline [--pages N] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import logging
import math
import os
import random
import re
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer
from kafka.codec import gzip_encode, lz4_encode, zstd_encode
from kafka.errors import KafkaError
from kafka.record import util as record_util

from bench.bench_parse import generated_sizes
from bench.stats import CatchUp, Rate, alert_latencies_ms, bound_by, consumed_from_log, ratio, summarize
from recipe_alert import parse_stage
from recipe_alert.connection import MAX_RECORD_BYTES, PAGE_COMPRESSION
from recipe_alert.errors import NotARecipe, RecipeAlertError
from recipe_alert.notify_stage.alerts import should_alert
from recipe_alert.parser import scrape_html
from testkit import ROOT
from testkit.broker import BOOTSTRAP, CONNECTION, create_topic, group_state, reader, wait_for
from testkit.pages import FIXTURE_PAGES, LAYOUTS, make_page
from testkit.processes import Script

log = logging.getLogger("bench_pipeline")

PAGE_CACHE = ROOT / ".cache" / "bench-pages"
THRESHOLD = 200  # the notifier's default
RAW_PARTITIONS = 4  # even split for two parsers
CODECS = {"gzip": gzip_encode, "lz4": lz4_encode, "zstd": zstd_encode, "none": None}
SECTIONS = ("produce", "codecs", "replay", "scaleout", "latency")
TARGETS = {"ratio": 0.5, "p99_ms": 50, "rss_mb": 250}
STAGE_TIMEOUT_S = 300
# The raw backlog is the page set published this many times: a second parse
# process joins ~3 s late (kafka-python heartbeats every 3 s), so a backlog of
# one page set (~5 s of work) would leave it little to do.
BACKLOG_COPIES = 2
# Enough pages for a steady rate; all of them would add minutes (gzip, pure-Python CRC).
CODEC_PAGES = 300
CPU_SAMPLE_PAGES = 200
# What one parse stage instance runs with its defaults.
PARSE_PROCESSES = f"main + {parse_stage.ParseSettings.workers} parser process"


class BenchError(Exception):
    """A stage failed or hung: the figures of this run mean nothing."""


# ------------------------------------------------------------------ pages

_CANONICAL_TAG = re.compile(rb"<link\b[^>]*\brel=[\"']?canonical\b[^>]*>", re.I)
_HREF = re.compile(rb"""\bhref=("[^"]*"|'[^']*')""", re.I)


def with_canonical(page: bytes, url: str) -> bytes:
    """The page naming ``url`` as its canonical URL.

    Pages of one layout share their fixture's URL; real pages don't, and the
    URL is the record key, so it decides the partition.
    """
    tag = _CANONICAL_TAG.search(page)
    if tag is None:
        return page  # the key falls back to the file's own path, also unique
    new_tag = _HREF.sub(b'href="' + url.encode() + b'"', tag.group(0), count=1)
    return page[:tag.start()] + new_tag + page[tag.end():]


# Most real recipe pages take the parser's JSON-LD path (about 0.5 ms a page here); the
# other layouts take 5-9 ms. "all" cycles through every layout, "jsonld" through these.
MIXES = {"all": LAYOUTS,
         "jsonld": ("jsonld-2020", "jsonld-2021", "mntl-2024", "mntl-2026", "wordpress-graph")}


def page_dir(count: int, mix: str = "all") -> Path:
    """Pages depend on the generator and its fixtures: a change of either gets a new directory."""
    sources = [ROOT / "testkit" / "pages.py", *(FIXTURE_PAGES / f"{layout}.html" for layout in LAYOUTS)]
    version = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:8]
    return PAGE_CACHE / (f"{count}-{version}" if mix == "all" else f"{count}-{mix}-{version}")


def ensure_pages(count: int, mix: str = "all") -> Path:
    layouts = MIXES[mix]
    directory = page_dir(count, mix)
    if (directory / "complete").exists():
        return directory
    log.warning("generating %d pages into %s (once)", count, directory)
    directory.mkdir(parents=True, exist_ok=True)
    for i, size in enumerate(generated_sizes(count, random.Random(2018))):
        layout = layouts[i % len(layouts)]
        page = make_page(layout, size, seed=i)
        page = with_canonical(page, f"https://bench.example/recipe/{i}/{layout}/")
        (directory / f"page-{i:05d}-{layout}.html").write_bytes(page)
    (directory / "complete").touch()
    return directory


def load_pages(directory: Path) -> list[bytes]:
    """In the order producer_raw_recipes.py --from-dir publishes them."""
    return [p.read_bytes() for p in sorted(directory.glob("*.html"))]


# ------------------------------------------------------------ subprocesses

@functools.cache
def log_dir() -> Path:
    """Where this run's scripts write their stdout and stderr."""
    return Path(tempfile.mkdtemp(prefix="bench-"))


def start(name: str, script: str, *args: str) -> Script:
    return Script.start(script, *args, log_dir=log_dir(), name=name)


def finish(stage: Script, timeout: float = STAGE_TIMEOUT_S, terminate: bool = False) -> float:
    """Wait for ``stage`` to exit (SIGTERM first if ``terminate``); its wall time in seconds."""
    if terminate:
        stage.signal(signal.SIGTERM)
    try:
        code = stage.finish(timeout)
    except TimeoutError as exc:
        raise BenchError(str(exc)) from None
    ended = time.monotonic()
    if code != 0:
        raise BenchError(f"{stage.name} exited with {code}:\n{stage.tail(15)}")
    return ended - stage.started


def wait_until(condition, timeout: float, what: str, stages=()) -> None:
    """Poll ``condition`` until true; fail at once if one of ``stages`` died."""
    def done() -> bool:
        for stage in stages:
            if stage.proc.poll() is not None:
                raise BenchError(f"{stage.name} exited ({stage.proc.returncode}) before {what}:\n"
                                 f"{stage.tail(15)}")
        return condition()

    try:
        wait_for(done, timeout, what, interval=0.01)
    except TimeoutError as exc:
        logs = "".join(f"--- {stage.name}:\n{stage.tail(15)}" for stage in stages)
        raise BenchError(f"{exc}\n{logs}") from None


# ------------------------------------------------------------------ topics

class Topics:
    """This run's topics, created on demand and deleted at the end."""

    def __init__(self, run: str):
        self.run = run
        self.created: list[str] = []

    def new(self, label: str, partitions: int = 3, configs: dict | None = None) -> str:
        name = f"{self.run}.{label}"
        create_topic(name, partitions, configs)
        self.created.append(name)
        return name

    def delete_all(self) -> None:
        if not self.created:
            return
        try:
            with CONNECTION.admin() as admin:
                admin.delete_topics(self.created, raise_errors=False)
        except Exception as exc:  # cleanup must not hide the run's own outcome
            log.warning("could not delete this run's topics %s: %s", self.created, exc)


def committed_reader(topics: list[str]) -> KafkaConsumer:
    """Reads ``topics`` from the beginning as a read_committed consumer would, outside any group."""
    consumer = reader(topics)
    if not consumer.assignment():
        consumer.close()
        raise BenchError(f"no partitions found for {topics}")
    consumer.poll(timeout_ms=100)  # resolve positions before any clock starts
    return consumer


# ---------------------------------------------------------------- sections

@dataclass
class Expected:
    """What the parse stage should output for the raw backlog, from parsing the pages in-process."""

    records: int
    nbytes: int
    alerts: int  # one per recipe URL over the threshold: copies are deduplicated


def parse_only(pages: list[bytes]) -> tuple[Rate, Expected]:
    alerts = 0
    started = time.perf_counter()
    for page in pages:
        try:
            recipe = scrape_html(page)
        except NotARecipe:
            continue
        alerts += should_alert(recipe, THRESHOLD)
    elapsed = time.perf_counter() - started
    size = sum(map(len, pages))
    expected = Expected(len(pages) * BACKLOG_COPIES, size * BACKLOG_COPIES, alerts)
    return Rate(len(pages), size, elapsed), expected


def produce_dir(directory: Path, topic: str, pages: list[bytes]) -> tuple[Rate, float]:
    stage = start("producer", "producer_raw_recipes.py", "--from-dir", str(directory),
                  "--topic", topic, "--no-progress")
    seconds = finish(stage)
    return Rate(len(pages), sum(map(len, pages)), seconds), stage.peak.mb


def produce_with(codec: str, topic: str, pages: list[bytes]) -> Rate:
    """A producer configured like make_producer's page producer, but with ``codec``."""
    producer = CONNECTION.producer(compression_type=None if codec == "none" else codec,
                                   max_request_size=MAX_RECORD_BYTES)
    try:
        started = time.perf_counter()
        futures = [producer.send(topic, key=f"page-{i}".encode(), value=page) for i, page in enumerate(pages)]
        producer.flush()
        elapsed = time.perf_counter() - started
    finally:
        producer.close(timeout=10)
    failed = [f.exception for f in futures if f.failed()]
    if failed:
        raise BenchError(f"{len(failed)} {codec} sends failed, e.g. {failed[0]!r}")
    return Rate(len(pages), sum(map(len, pages)), elapsed)


def client_cpu(codec: str, pages: list[bytes]) -> tuple[Rate, Rate, float]:
    """The work a producer does on every byte, alone, 1 thread: (compress, compress + CRC32C, ratio)."""
    encode = CODECS[codec] or bytes
    compress = crc = 0.0
    compressed_bytes = 0
    for page in pages:
        started = time.perf_counter()
        batch = encode(page)
        compressed = time.perf_counter()
        record_util.calc_crc32c(memoryview(batch))
        compress += compressed - started
        crc += time.perf_counter() - compressed
        compressed_bytes += len(batch)
    size = sum(map(len, pages))
    return Rate(len(pages), size, compress), Rate(len(pages), size, compress + crc), size / compressed_bytes


def crc32c_implementation() -> str:
    return "C extension (crc32c)" if record_util.crc32c_c is not None else \
        "pure Python (no crc32c package)"


@dataclass
class Replay:
    rate: Rate
    steady: Rate  # from the moment every process held partitions
    first_output_s: float
    all_in_s: float
    parser_peaks_mb: list[float]
    notifier_peak_mb: float
    consumed: list[int | None]


def replay(topics: Topics, raw: str, label: str, expected: Expected,
           parsers: int, extra: list[str]) -> Replay:
    """Parse the raw backlog with ``parsers`` instances; the clock stops when all output is visible."""
    parsed, dead = topics.new(f"{label}.parsed"), topics.new(f"{label}.dead")
    group = f"{topics.run}.{label}.parser"
    reader = committed_reader([parsed, dead])
    catch_up = CatchUp(expected.records)
    started = time.monotonic()
    stages = [start(f"parser {k + 1}", "producer_consumer_parse_recipes.py", "--input-topic", raw,
                    "--output-topic", parsed, "--dead-letter-topic", dead, "--group", group,
                    "--transactional-id", f"{group}.{k}", *extra)
              for k in range(parsers)]
    notifier = start("notifier", "consumer_notification.py", "--topic", parsed,
                     "--group", f"{topics.run}.{label}.notifier",
                     "--alerts-topic", topics.new(f"{label}.alerts", configs={"cleanup.policy": "compact"}))
    cleanup = contextlib.ExitStack()
    admin = cleanup.enter_context(CONNECTION.admin())
    all_in = (math.nan, 0)  # (when every parser held partitions, records visible then)
    try:
        deadline = started + STAGE_TIMEOUT_S
        while not catch_up.done:
            count = sum(len(records) for records in reader.poll(timeout_ms=100).values())
            catch_up.add(count, time.monotonic())
            if math.isnan(all_in[0]) and all_members_in(admin, group, parsers):
                all_in = (time.monotonic(), catch_up.seen)
            dead_stage = next((s for s in stages if s.proc.poll() is not None), None)
            if dead_stage or time.monotonic() > deadline:
                raise BenchError(f"parse stage did not catch up ({catch_up.seen} of {expected.records} "
                                 f"records visible):\n{(dead_stage or stages[0]).tail(15)}")
        try:
            wait_until(lambda: alert_count(notifier) >= expected.alerts, 60,
                       f"{expected.alerts} alerts", [notifier])
        except BenchError as exc:
            raise BenchError(f"{exc}\n{alert_count(notifier)} alerts were printed") from None
    finally:
        reader.close()
        cleanup.close()
        for stage in (*stages, notifier):
            if stage.proc.poll() is None:
                stage.proc.send_signal(signal.SIGTERM)
    for stage in (*stages, notifier):
        finish(stage, timeout=60)
    count, seconds = catch_up.since(*all_in)
    return Replay(rate=Rate(expected.records, expected.nbytes, catch_up.done_at - started),
                  steady=Rate(count, round(expected.nbytes * count / expected.records), seconds),
                  first_output_s=catch_up.first_at - started, all_in_s=all_in[0] - started,
                  parser_peaks_mb=[s.peak.mb for s in stages], notifier_peak_mb=notifier.peak.mb,
                  consumed=[consumed_from_log(s.stderr) for s in stages])


def all_members_in(admin, group: str, members: int) -> bool:
    """Whether ``group`` is Stable with ``members`` members: every process holds partitions."""
    try:
        return group_state(admin, group) == ("Stable", members)
    except KafkaError:  # e.g. the coordinator is still loading: ask again later
        return False


def alert_count(stage: Script) -> int:
    return sum(1 for line in stage.stdout_lines() if line.startswith(("Alert:", "{")))


@dataclass
class AlertRun:
    latencies: list[float]
    missing: int
    notifier_peak_mb: float


def alert_latency(topics: Topics, label: str, seconds: float, rate: float,
                  repeat: bool) -> AlertRun:
    """Records at a steady ``rate`` into a parsed topic; produce timestamp -> alerted_ms."""
    topic = topics.new(f"{label}.parsed")
    args = ["--topic", topic, "--group", f"{topics.run}.{label}.notifier", "--format", "json"]
    args += ["--repeat-alerts"] if repeat else [
        "--alerts-topic", topics.new(f"{label}.alerts", configs={"cleanup.policy": "compact"})]
    notifier = start(f"notifier ({label})", "consumer_notification.py", *args)
    producer = CONNECTION.producer(linger_ms=0)  # measure the notifier, not our linger

    def send(url: str) -> None:
        recipe = {"title": url.rsplit("/", 1)[-1], "calories": THRESHOLD + 300, "url": url}
        producer.send(topic, key=url.encode(), value=json.dumps(recipe).encode())

    try:
        # Warm up: the group join and first fetch are not steady-state latency.
        warm = 0
        deadline = time.monotonic() + 60
        while alert_count(notifier) == 0:
            if time.monotonic() > deadline or notifier.proc.poll() is not None:
                raise BenchError(f"notifier never alerted during warm-up:\n{notifier.tail(15)}")
            send(f"https://bench.example/warm-up/{warm}")
            warm += 1
            producer.flush()
            time.sleep(0.2)
        wait_until(lambda: alert_count(notifier) >= warm, 30, "warm-up alerts", [notifier])
        wanted = [f"https://bench.example/{label}/{i}" for i in range(int(seconds * rate))]
        started = time.monotonic()
        for i, url in enumerate(wanted):
            pause = started + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            send(url)
        producer.flush()
        wait_until(lambda: alert_count(notifier) >= warm + len(wanted), 30,
                   f"{len(wanted)} alerts", [notifier])
    finally:
        producer.close(timeout=10)
        finish(notifier, timeout=60, terminate=True)
    alerts = [json.loads(line) for line in notifier.stdout_lines() if line.startswith("{")]
    latencies, missing = alert_latencies_ms(alerts, set(wanted))
    return AlertRun(latencies, missing, notifier.peak.mb)


# ------------------------------------------------------------------- table

class Table:
    """Rows of (what, figure, target, note) under one-line section titles."""

    def __init__(self):
        self.rows: list[tuple[str, ...]] = []

    def section(self, title: str) -> None:
        self.rows.append((title,))

    def row(self, what: str, figure: str, note: str = "", target: str = "") -> None:
        self.rows.append((what, figure, target, note))

    def render(self) -> str:
        cells = [r for r in self.rows if len(r) > 1]
        widths = [max(len(r[i]) for r in cells) for i in range(3)]
        lines = [r[0] if len(r) == 1 else
                 "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3]
                 for r in self.rows]
        return "\n".join(line.rstrip() for line in lines)


def rate_text(rate: Rate) -> str:
    return f"{rate.per_s:7.1f} pages/s {rate.mb_per_s:6.1f} MB/s"


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -------------------------------------------------------------------- main

def run(args) -> tuple[Table, dict]:
    directory = ensure_pages(args.pages, args.mix)
    pages = load_pages(directory)
    wanted = set(args.only or SECTIONS)
    load_at_start = load()
    table = Table()
    memory: list[tuple[str, float]] = []
    topics = Topics(f"bench.{time.strftime('%H%M%S')}.{uuid.uuid4().hex[:6]}")
    try:
        raw = topics.new("raw", RAW_PARTITIONS)
        runs = [produce_dir(directory, raw, pages) for _ in range(BACKLOG_COPIES)]
        produce_rate = Rate.pooled(rate for rate, _ in runs)
        memory.append(("producer_raw_recipes.py --from-dir", max(peak for _, peak in runs)))
        # This VM's speed drifts by up to 1.8x within minutes: parse-only is
        # timed right before and right after the replay, and both count.
        parse_rates = [parse_only(pages)]
        expected = parse_rates[0][1]
        extra = ["--batch-size", str(args.batch_size)] if args.batch_size else []
        one = alone = None
        if wanted & {"replay", "scaleout"}:
            one = replay(topics, raw, "one", expected, 1, extra)
            alone = replay(topics, raw, "alone", expected, 1, [*extra, "--workers", "0"])
            parse_rates.append(parse_only(pages))
            memory += [(f"producer_consumer_parse_recipes.py ({PARSE_PROCESSES})", one.parser_peaks_mb[0]),
                       ("producer_consumer_parse_recipes.py --workers 0", alone.parser_peaks_mb[0]),
                       ("consumer_notification.py (replay)", one.notifier_peak_mb)]
        replay_rows(table, pages, [rate for rate, _ in parse_rates], one, alone)
        figures = {"pages": len(pages), "mean_kb": sum(map(len, pages)) / len(pages) / 1e3,
                   "producer": produce_rate.per_s,
                   "parse_only": Rate.pooled(rate for rate, _ in parse_rates).per_s}
        if one is not None:
            figures.update(eos=one.rate.per_s, eos_steady=one.steady.per_s,
                           eos_workers_0=alone.rate.per_s, parser_peak_mb=one.parser_peaks_mb[0])
        producer_rows(table, produce_rate, topics, pages if "codecs" in wanted else None)
        if "scaleout" in wanted:
            two = replay(topics, raw, "two", expected, 2, [*extra, "--workers", "0"])
            scale_out_rows(table, alone, two)
            memory += [(f"parse process {k + 1} of 2", mb) for k, mb in enumerate(two.parser_peaks_mb)]
        if "latency" in wanted:
            memory += latency_rows(table, topics, args.latency_seconds, args.rate)
    finally:
        topics.delete_all()
    table.section("Memory: peak RSS (VmHWM) per process")
    for name, peak_mb in memory:
        table.row(name, f"{peak_mb:7.0f} MB", "",
                  f"< {TARGETS['rss_mb']} MB  {verdict(peak_mb < TARGETS['rss_mb'])}")
    table.section(f"load average (1/5/15 min) at start {load_at_start}, at end {load()}; "
                  f"{os.cpu_count()} cores; broker {BOOTSTRAP}; kafka-python CRC32C: "
                  f"{crc32c_implementation()}")
    return table, figures


def replay_rows(table: Table, pages: list[bytes], parse_rates: list[Rate], one: Replay | None,
                alone: Replay | None) -> None:
    total = sum(map(len, pages))
    table.section(f"Replay: {len(pages)} pages, {total / 1e6:.0f} MB "
                  f"(mean {total / len(pages) / 1e3:.0f} KB, "
                  f"{min(map(len, pages)) / 1e3:.0f} KB-{max(map(len, pages)) / 1e6:.1f} MB), published "
                  f"{BACKLOG_COPIES}x to a {RAW_PARTITIONS}-partition raw topic")
    for rate, when in zip(parse_rates, ("before the replay", "after the replay")):
        table.row(f"parse-only: scrape_html in a loop, {when}", rate_text(rate), "1 thread, in-process")
    parse_rate = Rate.pooled(parse_rates)
    if one is None:
        return
    share = ratio(one.rate.per_s, parse_rate.per_s)
    table.row("pipeline: parse stage, 1 instance, EOS", rate_text(one.rate),
              f"{share:.0%} of parse-only (both runs), process start to last output visible; "
              f"{PARSE_PROCESSES}",
              f">= {TARGETS['ratio']:.0%}  {verdict(share >= TARGETS['ratio'])}")
    table.row("  the same, once it held its partitions", rate_text(one.steady),
              f"{ratio(one.steady.per_s, parse_rate.per_s):.0%} of parse-only; partitions at "
              f"{one.all_in_s:.1f} s, first output visible at {one.first_output_s:.1f} s")
    table.row("  the same with --workers 0", rate_text(alone.rate),
              f"{ratio(alone.rate.per_s, parse_rate.per_s):.0%} of parse-only: one process "
              f"parses, polls and commits in turn")


def producer_rows(table: Table, produce_rate: Rate, topics: Topics, pages: list[bytes] | None) -> None:
    table.section("Producer: pages from a directory to the raw topic, acks=all, idempotent")
    table.row(f"producer_raw_recipes.py --from-dir ({PAGE_COMPRESSION})",
              rate_text(produce_rate), f"whole process, start to exit; {BACKLOG_COPIES} runs")
    for codec in CODECS if pages else ():
        configs = {"max.message.bytes": str(16 * 1024 * 1024)} if codec == "none" else {}
        sample = pages[:CODEC_PAGES]
        rate = produce_with(codec, topics.new(f"codec.{codec}", RAW_PARTITIONS, configs), sample)
        codec_alone, with_crc, shrink = client_cpu(codec, pages[:CPU_SAMPLE_PAGES])
        codec_text = ("no codec" if codec == "none"
                      else f"codec {codec_alone.mb_per_s:.0f} MB/s ({shrink:.1f}x)")
        share, bound = bound_by(rate.mb_per_s, with_crc.mb_per_s)
        note = (f"1 thread alone: {codec_text}, with CRC32C {with_crc.mb_per_s:.0f} MB/s = "
                f"{share:.0%} of its time -> bound by {bound}")
        if codec == "none":
            note += " (topic max.message.bytes raised)"
        table.row(f"KafkaProducer, {codec}, {len(sample)} pages", rate_text(rate), note)


def scale_out_rows(table: Table, one: Replay, two: Replay) -> None:
    table.section(f"Scale-out: parse processes (--workers 0) in one group, {RAW_PARTITIONS} "
                  f"partitions, {os.cpu_count()} cores shared with the broker")
    both_worked = all(n and n > 0 for n in two.consumed)
    table.row("1 parse process, from start", rate_text(one.rate))
    table.row("2 parse processes, from start", rate_text(two.rate),
              f"x{ratio(two.rate.per_s, one.rate.per_s):.2f}; consumed "
              + " + ".join(str(n) for n in two.consumed),
              "both consumed" if both_worked else "MISSED: one process got nothing")
    table.row("1 parse process, once it held partitions", rate_text(one.steady))
    if math.isnan(two.all_in_s):
        table.row("2 parse processes, once both held partitions", "n/a",
                  "the backlog was done before both held partitions")
    else:
        table.row("2 parse processes, once both held partitions", rate_text(two.steady),
                  f"x{ratio(two.steady.per_s, one.steady.per_s):.2f}; both held partitions at "
                  f"{two.all_in_s:.1f} s")


def latency_rows(table: Table, topics: Topics, seconds: float, rate: float) -> list[tuple[str, float]]:
    table.section(f"Alert latency: {rate:g} msg/s for {seconds:g} s, produce timestamp -> alerted_ms")
    memory = []
    for label, repeat in (("default", False), ("repeat-alerts", True)):
        result = alert_latency(topics, label, seconds, rate, repeat)
        s = summarize(result.latencies)
        table.row(f"consumer_notification.py {'--repeat-alerts' if repeat else '(dedup)'}",
                  f"p50 {s.p50:5.1f} ms  p99 {s.p99:5.1f} ms  max {s.max:6.1f} ms",
                  f"{s.count} alerts" + (f", {result.missing} MISSING" if result.missing else ""),
                  f"p99 < {TARGETS['p99_ms']} ms  "
                  f"{verdict(s.p99 < TARGETS['p99_ms'] and not result.missing)}")
        memory.append((f"consumer_notification.py ({label})", result.notifier_peak_mb))
    return memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages to replay (default 1000)")
    parser.add_argument("--latency-seconds", type=float, default=30,
                        help="seconds of steady traffic per alert-latency run (default 30)")
    parser.add_argument("--rate", type=float, default=100, help="records/s for alert latency (default 100)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="pass --batch-size to the parse stage (default: its own)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS,
                        help="run only these sections (the producer always runs)")
    parser.add_argument("--mix", choices=MIXES, default="all",
                        help="page layouts: all (default), or jsonld, the parser's fast path, "
                             "as most real pages take it")
    parser.add_argument("--figures", type=Path, metavar="FILE",
                        help="also write the producer and replay figures to FILE as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 30 pages, 5 s of alerts (too few pages for scale-out)")
    args = parser.parse_args(argv)
    if args.quick:
        args.pages, args.latency_seconds = min(args.pages, 30), min(args.latency_seconds, 5)
    if args.pages < 2:
        parser.error("--pages must be at least 2")
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # its per-connection chatter; we report outcomes
    try:
        table, figures = run(args)
    except (BenchError, RecipeAlertError, KafkaError) as exc:
        log.error("%s", exc)
        log.error("no figures: if the broker restarted meanwhile, wait for "
                  "`python3 scripts/kafka_probe.py` to exit 0 and run again")
        return 1
    print(table.render())
    if args.figures:
        args.figures.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
