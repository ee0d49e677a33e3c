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
import itertools
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
SECTIONS = ("produce", "codecs", "replay", "slow", "scaleout", "latency")
TARGETS = {"peer": 1.0, "p99_ms": 100, "rss_mb": 250}
E2E_RATES = (10, 100)  # pages/s
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


# Most real recipe pages take the parser's JSON-LD path (about 0.6 ms a page); the
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
    recipes: int  # records that are recipes: the Quix peer outputs only these


def parse_only(pages: list[bytes]) -> tuple[Rate, Expected]:
    alerts = recipes = 0
    started = time.perf_counter()
    for page in pages:
        try:
            recipe = scrape_html(page)
        except NotARecipe:
            continue
        recipes += 1
        alerts += should_alert(recipe, THRESHOLD)
    elapsed = time.perf_counter() - started
    size = sum(map(len, pages))
    expected = Expected(len(pages) * BACKLOG_COPIES, size * BACKLOG_COPIES, alerts,
                        recipes * BACKLOG_COPIES)
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


BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def ours(parsers: int = 1, extra: tuple[str, ...] = ()):
    """Starts ``parsers`` instances of this project's parse stage in one group."""
    def launch(raw: str, parsed: str, dead: str, group: str) -> list[Script]:
        return [start(f"parser {k + 1}", "producer_consumer_parse_recipes.py", "--input-topic", raw,
                      "--output-topic", parsed, "--dead-letter-topic", dead, "--group", group,
                      "--transactional-id", f"{group}.{k}", *extra)
                for k in range(parsers)]
    return launch


def quix_peer(raw: str, parsed: str, _dead: str, group: str) -> list[Script]:
    """The same stage written with Quix Streams (bench/peers.py), in the bench venv."""
    return [Script.start("bench/peers.py", "quix", "--input-topic", raw, "--output-topic", parsed,
                         "--group", group, log_dir=log_dir(), name="Quix Streams peer",
                         python=str(bench_python()), env={"PYTHONPATH": str(ROOT)})]



def bench_python() -> Path:
    if not BENCH_PYTHON.exists():
        raise BenchError(f"{BENCH_PYTHON} is missing: `make bench` installs the bench venv "
                         f"(Quix Streams, confluent-kafka) first")
    return BENCH_PYTHON


def replay(topics: Topics, raw: str, label: str, expected: Expected, launch) -> Replay:
    """Parse the raw backlog with what ``launch`` starts; the clock stops when all output is visible.

    The notifier alerts on the output as it comes, and must print every alert expected.
    """
    parsed, dead = topics.new(f"{label}.parsed"), topics.new(f"{label}.dead")
    group = f"{topics.run}.{label}.parser"
    reader = committed_reader([parsed, dead])
    want = expected.records if launch is not quix_peer else expected.recipes
    catch_up = CatchUp(want)
    started = time.monotonic()
    stages = launch(raw, parsed, dead, group)
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
            if math.isnan(all_in[0]) and all_members_in(admin, group, len(stages)):
                all_in = (time.monotonic(), catch_up.seen)
            dead_stage = next((s for s in stages if s.proc.poll() is not None), None)
            if dead_stage or time.monotonic() > deadline:
                raise BenchError(f"parse stage did not catch up ({catch_up.seen} of {want} "
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
    nbytes = round(expected.nbytes * want / expected.records)
    return Replay(rate=Rate(want, nbytes, catch_up.done_at - started),
                  steady=Rate(count, round(nbytes * count / want), seconds),
                  first_output_s=catch_up.first_at - started, all_in_s=all_in[0] - started,
                  parser_peaks_mb=[s.peak.mb for s in stages], notifier_peak_mb=notifier.peak.mb,
                  consumed=[consumed_from_log(s.stderr) for s in stages])


def consume_only(client: str, raw: str, records: int) -> Rate:
    """A floor: ``client`` reading the raw backlog and doing nothing with it (bench/peers.py)."""
    floor = Script.start("bench/peers.py", "consume", "--client", client, "--topic", raw,
                         "--count", str(records), log_dir=log_dir(), name=f"consume-only {client}",
                         python=str(bench_python()), env={"PYTHONPATH": str(ROOT)})
    finish(floor, timeout=STAGE_TIMEOUT_S)
    figures = json.loads(floor.stdout_lines()[-1])
    return Rate(figures["records"], figures["bytes"], figures["seconds"])


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
    peaks_mb: dict[str, float]  # per process
    to_output: list[float]  # send -> the parsed record's timestamp, through the parse stage


class Pages:
    """Recipe pages over the threshold, each sent under a URL of its own so that each alerts."""

    def __init__(self, pages: list[bytes]):
        self.alerting = itertools.cycle([page for page in pages[:100] if alerts(page)])

    def send(self, producer, topic: str, url: str) -> None:
        producer.send(topic, key=url.encode(), value=with_canonical(next(self.alerting), url))


def alerts(page: bytes) -> bool:
    try:
        return should_alert(scrape_html(page), THRESHOLD)
    except NotARecipe:
        return False


def alert_latency(topics: Topics, label: str, seconds: float, rate: float, repeat: bool = False,
                  pages: Pages | None = None) -> AlertRun:
    """Send time -> alerted_ms at a steady ``rate``.

    Either JSON recipes straight into the notifier's topic, or, given ``pages``,
    raw pages through the exactly-once parse stage (defaults) to the notifier.
    """
    parsed = topics.new(f"{label}.parsed")
    args = ["--topic", parsed, "--group", f"{topics.run}.{label}.notifier", "--format", "json"]
    args += ["--repeat-alerts"] if repeat else [
        "--alerts-topic", topics.new(f"{label}.alerts", configs={"cleanup.policy": "compact"})]
    stages = [start("notifier", "consumer_notification.py", *args)]
    if pages is None:
        topic, producer = parsed, CONNECTION.producer(linger_ms=0)  # measure the notifier, not our linger

        def send(url: str) -> None:
            recipe = {"title": url.rsplit("/", 1)[-1], "calories": THRESHOLD + 300, "url": url}
            producer.send(topic, key=url.encode(), value=json.dumps(recipe).encode())
    else:
        topic = topics.new(f"{label}.raw", RAW_PARTITIONS)
        stages += ours()(topic, parsed, topics.new(f"{label}.dead"), f"{topics.run}.{label}.parser")
        # As producer_raw_recipes.py sends them.
        producer = CONNECTION.producer(compression_type=PAGE_COMPRESSION, max_request_size=MAX_RECORD_BYTES)

        def send(url: str) -> None:
            pages.send(producer, topic, url)
    notifier = stages[0]
    sent_ms = {}
    try:
        # Warm up: the group joins and first fetches are not steady-state latency.
        warm = 0
        deadline = time.monotonic() + 60
        while alert_count(notifier) == 0:
            if time.monotonic() > deadline or any(s.proc.poll() is not None for s in stages):
                raise BenchError("no alert during warm-up:\n" +
                                 "".join(f"--- {s.name}:\n{s.tail(15)}" for s in stages))
            send(f"https://bench.example/warm-up/{label}/{warm}")
            warm += 1
            producer.flush()
            time.sleep(0.2)
        wait_until(lambda: alert_count(notifier) >= warm, 30, "warm-up alerts", stages)
        wanted = [f"https://bench.example/{label}/{i}" for i in range(int(seconds * rate))]
        started = time.monotonic()
        for i, url in enumerate(wanted):
            pause = started + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent_ms[url] = time.time() * 1000
            send(url)
        producer.flush()
        wait_until(lambda: alert_count(notifier) >= warm + len(wanted), 30,
                   f"{len(wanted)} alerts", stages)
    finally:
        producer.close(timeout=10)
        for stage in stages:
            finish(stage, timeout=60, terminate=True)
    alerts_seen = [json.loads(line) for line in notifier.stdout_lines() if line.startswith("{")]
    latencies, missing = alert_latencies_ms(alerts_seen, sent_ms)
    to_output, _ = alert_latencies_ms(
        ({"url": a.get("url"), "alerted_ms": a["produced_ms"]} for a in alerts_seen), sent_ms)
    return AlertRun(latencies, missing, {s.name: s.peak.mb for s in stages}, to_output)


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
    extra = ("--batch-size", str(args.batch_size)) if args.batch_size else ()
    try:
        raw, produce_rate, producer_peak = backlog(topics, "raw", directory, pages)
        memory.append(("producer_raw_recipes.py --from-dir", producer_peak))
        # This VM's speed drifts by up to 1.8x within minutes: parse-only is
        # timed right before and right after the replays, and both count; ours
        # and the peer take turns.
        parse_rates = [parse_only(pages)]
        expected = parse_rates[0][1]
        figures = {"pages": len(pages), "mean_kb": sum(map(len, pages)) / len(pages) / 1e3,
                   "producer": produce_rate.per_s}
        alone = None
        if wanted & {"replay", "scaleout"}:
            alone = replay(topics, raw, "alone", expected, ours(1, (*extra, "--workers", "0")))
            memory.append(("producer_consumer_parse_recipes.py --workers 0", alone.parser_peaks_mb[0]))
        if "replay" in wanted:
            mine, peer, floors = head_to_head(topics, raw, expected, extra, args.rounds)
            parse_rates.append(parse_only(pages))
            replay_rows(table, pages, [rate for rate, _ in parse_rates], mine, peer, floors, alone)
            memory += [(f"producer_consumer_parse_recipes.py ({PARSE_PROCESSES})", mine[0].parser_peaks_mb[0]),
                       ("Quix Streams peer", peer[0].parser_peaks_mb[0]),
                       ("consumer_notification.py (replay)", mine[0].notifier_peak_mb)]
            figures.update(eos=Rate.pooled(r.rate for r in mine).per_s,
                           quix=Rate.pooled(r.rate for r in peer).per_s,
                           eos_workers_0=alone.rate.per_s, parser_peak_mb=mine[0].parser_peaks_mb[0],
                           **{f"consume_{client}": Rate.pooled(rates).per_s
                              for client, rates in floors.items()})
        figures["parse_only"] = Rate.pooled(rate for rate, _ in parse_rates).per_s
        if "slow" in wanted:
            slow_rows(table, topics, args.slow_pages, extra)
        producer_rows(table, produce_rate, topics, pages if "codecs" in wanted else None)
        if "scaleout" in wanted:
            two = replay(topics, raw, "two", expected, ours(2, (*extra, "--workers", "0")))
            scale_out_rows(table, alone, two)
            memory += [(f"parse process {k + 1} of 2", mb) for k, mb in enumerate(two.parser_peaks_mb)]
        if "latency" in wanted:
            memory += latency_rows(table, topics, args.latency_seconds, args.rate, Pages(pages))
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


def backlog(topics: Topics, label: str, directory: Path, pages: list[bytes]) -> tuple[str, Rate, float]:
    """A raw topic holding the pages BACKLOG_COPIES times: (its name, producer rate, producer peak MB)."""
    raw = topics.new(label, RAW_PARTITIONS)
    runs = [produce_dir(directory, raw, pages) for _ in range(BACKLOG_COPIES)]
    return raw, Rate.pooled(rate for rate, _ in runs), max(peak for _, peak in runs)


def head_to_head(topics: Topics, raw: str, expected: Expected, extra: tuple[str, ...], rounds: int):
    """Our stage and the Quix peer in turns, then the consume-only floors: (ours, peer, floors)."""
    mine, peer = [], []
    floors: dict[str, list[Rate]] = {"kafka-python": [], "kafka-python-undecoded": [],
                                     "confluent-kafka": []}
    for k in range(rounds):
        for who in ("ours", "peer") if k % 2 == 0 else ("peer", "ours"):
            if who == "ours":
                mine.append(replay(topics, raw, f"ours{k}", expected, ours(1, extra)))
            else:
                peer.append(replay(topics, raw, f"quix{k}", expected, quix_peer))
        for client, rates in floors.items():
            rates.append(consume_only(client, raw, expected.records))
    return mine, peer, floors


def replay_rows(table: Table, pages: list[bytes], parse_rates: list[Rate], mine: list[Replay],
                peer: list[Replay], floors: dict[str, list[Rate]], alone: Replay) -> None:
    table.section(f"Replay: {pages_text(pages)}, published {BACKLOG_COPIES}x to a "
                  f"{RAW_PARTITIONS}-partition raw topic; {len(mine)} rounds, ours and the peer "
                  f"in turns; process start to last output visible (read_committed)")
    parse_rate = Rate.pooled(parse_rates)
    ours_rate, peer_rate = Rate.pooled(r.rate for r in mine), Rate.pooled(r.rate for r in peer)
    against = ratio(ours_rate.per_s, peer_rate.per_s)
    per_round = ", ".join(f"x{ratio(m.rate.per_s, p.rate.per_s):.2f}" for m, p in zip(mine, peer))
    table.row("parse stage, 1 instance, EOS", rate_text(ours_rate),
              f"x{against:.2f} the Quix peer (per round {per_round}); "
              f"{ratio(ours_rate.per_s, parse_rate.per_s):.0%} of parse-only; {PARSE_PROCESSES}",
              f">= x{TARGETS['peer']:.1f}  {verdict(against >= TARGETS['peer'])}")
    table.row("  the same, once it held its partitions", rate_text(Rate.pooled(r.steady for r in mine)),
              "partitions at " + ", ".join(f"{r.all_in_s:.1f}" for r in mine) + " s; first output at "
              + ", ".join(f"{r.first_output_s:.1f}" for r in mine) + " s")
    table.row("  the same with --workers 0", rate_text(alone.rate),
              f"{ratio(alone.rate.per_s, parse_rate.per_s):.0%} of parse-only: one process "
              f"parses, polls and commits in turn")
    table.row("peer: Quix Streams, exactly-once, same parser", rate_text(peer_rate),
              "bench/peers.py; commits every 5 s (its default); partitions at "
              + ", ".join(f"{r.all_in_s:.1f}" for r in peer) + " s")
    table.row("  the same, once it held its partitions", rate_text(Rate.pooled(r.steady for r in peer)))
    for client, rates in floors.items():
        table.row(f"floor: consume-only, {client}, read_committed", rate_text(Rate.pooled(rates)),
                  "first fetch to last record, nothing done with them"
                  + {"kafka-python": ", the stage's fetch sizes",
                     "kafka-python-undecoded": ": the stage's main process, batches handed on "
                                               "undecoded (MB/s compressed)"}.get(client, ""))
    for rate, when in zip(parse_rates, ("before", "after")):
        table.row(f"floor: parse-only, scrape_html in a loop, {when}", rate_text(rate),
                  "1 thread, in-process")


def pages_text(pages: list[bytes]) -> str:
    total = sum(map(len, pages))
    return (f"{len(pages)} pages, {total / 1e6:.0f} MB (mean {total / len(pages) / 1e3:.0f} KB, "
            f"{min(map(len, pages)) / 1e3:.0f} KB-{max(map(len, pages)) / 1e6:.1f} MB, "
            f"{sum(len(p) > 1e6 for p in pages)} over 1 MB)")


def slow_rows(table: Table, topics: Topics, count: int, extra: tuple[str, ...]) -> None:
    """Every layout, the slow-parsing ones too: there the stage is bound by parsing."""
    directory = ensure_pages(count, "all")
    pages = load_pages(directory)
    raw, _, _ = backlog(topics, "slow.raw", directory, pages)
    before, expected = parse_only(pages)
    mine = replay(topics, raw, "slow.ours", expected, ours(1, extra))
    peer = replay(topics, raw, "slow.quix", expected, quix_peer)
    after, _ = parse_only(pages)
    parse_rate = Rate.pooled([before, after])
    table.section(f"Slow mix, every layout: {pages_text(pages)}, published {BACKLOG_COPIES}x")
    table.row("parse stage, 1 instance, EOS", rate_text(mine.rate),
              f"x{ratio(mine.rate.per_s, peer.rate.per_s):.2f} the Quix peer; "
              f"{ratio(mine.rate.per_s, parse_rate.per_s):.0%} of parse-only")
    table.row("peer: Quix Streams", rate_text(peer.rate))
    table.row("floor: parse-only, before and after", rate_text(parse_rate), "1 thread, in-process")


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


def latency_rows(table: Table, topics: Topics, seconds: float, rate: float,
                 pages: Pages) -> list[tuple[str, float]]:
    table.section(f"Alert latency: send -> alert printed (alerted_ms), steady rate, {seconds:g} s each")
    memory = []
    runs = [(f"consumer_notification.py alone, {rate:g} msg/s", "notify", rate, None)]
    runs += [(f"e2e: raw page -> parse stage (EOS) -> alert, {r:g} pages/s", f"e2e{r:g}", r, pages)
             for r in E2E_RATES]
    for what, label, run_rate, through in runs:
        result = alert_latency(topics, label, seconds, run_rate, pages=through)
        s = summarize(result.latencies)
        note = f"{s.count} alerts" + (f", {result.missing} MISSING" if result.missing else "")
        if through is not None:
            parsed = summarize(result.to_output)
            note += (f"; send -> parsed record sent: p50 {parsed.p50:.0f}, p99 {parsed.p99:.0f} ms "
                     f"(the rest is the commit and the notifier)")
        table.row(what, f"p50 {s.p50:5.1f} ms  p99 {s.p99:5.1f} ms  max {s.max:6.1f} ms", note,
                  f"p99 <= {TARGETS['p99_ms']} ms  "
                  f"{verdict(s.p99 <= TARGETS['p99_ms'] and not result.missing)}")
        memory += [(f"{name} ({label})", mb) for name, mb in result.peaks_mb.items()]
    return memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="pages to replay (default 2000)")
    parser.add_argument("--slow-pages", type=int, default=1000,
                        help="pages of the slow mix, every layout (default 1000)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="replays of ours and of the Quix peer, in turns (default 2)")
    parser.add_argument("--latency-seconds", type=float, default=30,
                        help="seconds of steady traffic per alert-latency run (default 30)")
    parser.add_argument("--rate", type=float, default=100,
                        help="records/s for the notifier's own alert latency (default 100)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="pass --batch-size to the parse stage (default: its own)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS,
                        help="run only these sections (the producer always runs)")
    parser.add_argument("--mix", choices=MIXES, default="jsonld",
                        help="page layouts of the replay: jsonld (default), the parser's fast "
                             "path, as most real pages take it; or all")
    parser.add_argument("--figures", type=Path, metavar="FILE",
                        help="also write the producer and replay figures to FILE as JSON")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 30 pages, 1 round, 5 s of alerts (too few pages for scale-out)")
    args = parser.parse_args(argv)
    if args.quick:
        args.pages, args.slow_pages, args.rounds = min(args.pages, 30), min(args.slow_pages, 30), 1
        args.latency_seconds = min(args.latency_seconds, 5)
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
