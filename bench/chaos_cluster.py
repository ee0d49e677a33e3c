"""`make chaos-cluster`: brokers killed and restarted under load, on the local 3-node cluster.

Part 1, failover. While the producer publishes --pages realistic pages
(``--from-dir``, in --batches runs spread over the whole part), the parse
stage and the notifier run. Meanwhile this driver

1. kill -9s the node that leads the most partitions of the raw topic,
2. then the transaction coordinator of the parser's transactional id,
3. then the group coordinator of the parser's group,

restarting each after 10-30 s and waiting until no partition is
under-replicated, and ends with a rolling restart (SIGTERM, start, in sync)
of the three nodes. It prints the role(s) each killed node played, records
in / parsed / dead-lettered / duplicates / missing (by the provenance
headers), alerts expected / printed / duplicated, the longest pause of each
script while it had work, how long each took to resume after each event, and
every exit or hang.

Part 2, scale-out, on the raw topic of part 1 (6 partitions): the time one
parse instance and three instances take to work through it, then three
instances joined by a fourth and left by one (SIGTERM) and another (kill -9)
mid-stream, with exactly-once checked.

Exits 1 if anything was lost or doubled, or a script hung or failed.

    KAFKA_BOOTSTRAP_SERVERS=localhost:9291,localhost:9292,localhost:9293 \\
        .venv/bin/python -m bench.chaos_cluster [--pages 2000] [--part failover|scale-out|all]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kafka.errors import KafkaError

from bench.bench_pipeline import THRESHOLD, ensure_pages
from recipe_alert import kafka_compat
from recipe_alert.notify_stage.alerts import should_alert
from testkit import chaos
from testkit import cluster as nodes
from testkit.broker import CONNECTION, Names, scan, wait_for
from testkit.processes import Script

RAW_PARTITIONS = 6
INTERNAL_TOPICS = ["__consumer_offsets", "__transaction_state"]
SAMPLE_EVERY_S = 0.5
HUNG_S = 120  # no progress for this long, with work waiting: the script is reported hung, replaced
CATCH_UP_S = 600
MB = 2**20


# -- progress ------------------------------------------------------------------------

@dataclass
class Track:
    """One script's progress over time: samples of (time, progress, whether work was waiting)."""

    name: str
    samples: list[tuple[float, int, bool]] = field(default_factory=list)
    longest_pause: float = 0.0  # seconds without an advance while work was waiting
    _stalled_since: float | None = None

    def add(self, at: float, progress: int, waiting: bool) -> None:
        self.longest_pause = max(self.longest_pause, self.stalled_for(at))  # up to this sample
        advanced = bool(self.samples) and progress > self.samples[-1][1]
        if not waiting:
            self._stalled_since = None
        elif advanced or self._stalled_since is None:
            self._stalled_since = at
        self.samples.append((at, progress, waiting))

    def stalled_for(self, now: float) -> float:
        return 0.0 if self._stalled_since is None else now - self._stalled_since

    def resumed_after(self, event: float) -> float | None:
        """Seconds from ``event`` (or from when work next waited) to the next advance."""
        before = [p for at, p, _ in self.samples if at <= event]
        if not before:
            return None
        start = None
        for at, progress, waiting in self.samples:
            if at <= event:
                continue
            if start is None and waiting:
                start = at
            if progress > before[-1]:
                return at - (start if start is not None else at)
        return None


class Sampler(threading.Thread):
    """Samples, every SAMPLE_EVERY_S, what each script has done: records on the raw topic,
    and the parser's and the notifier's committed offsets; a failed sample is skipped."""

    def __init__(self, names: Names):
        super().__init__(daemon=True)
        self.names = names
        self.tracks = {name: Track(name) for name in ("producer", "parser", "notifier")}
        self.producing = threading.Event()
        self.done = threading.Event()
        self.errors = 0

    def run(self) -> None:
        while not self.done.wait(SAMPLE_EVERY_S):
            try:
                with CONNECTION.admin(request_timeout_ms=5000) as admin:
                    while not self.done.wait(SAMPLE_EVERY_S):
                        self.sample(admin, time.monotonic())
            except KafkaError:
                self.errors += 1

    def sample(self, admin, at: float) -> None:
        raw = ends(self.names.raw)
        parsed = ends(self.names.parsed)
        parser = committed(admin, self.names.parser_group, self.names.raw)
        notifier = committed(admin, self.names.notifier_group, self.names.parsed)
        raw_total = sum(raw.values())
        parser_done = sum(parser.values())
        # A transaction's last offset is its commit marker, which the notifier need not pass.
        notifier_left = sum(max(0, end - notifier.get(p, 0) - 1) for p, end in parsed.items())
        self.tracks["producer"].add(at, raw_total, self.producing.is_set())
        self.tracks["parser"].add(at, parser_done, raw_total > parser_done)
        self.tracks["notifier"].add(at, sum(notifier.values()), notifier_left > 0)


def ends(topic: str) -> dict[int, int]:
    return {p: end for p, (_, end) in chaos.end_offsets(topic).items()}


def committed(admin, group: str, topic: str) -> dict[int, int]:
    offsets = admin.list_group_offsets(group).get(group, {})
    return {tp.partition: meta.offset for tp, meta in offsets.items()
            if tp.topic == topic and meta.offset > 0}


# -- the scripts ---------------------------------------------------------------------------

@dataclass
class Stage:
    """A script kept running: restarted when it exits or hangs, each exit and hang recorded."""

    label: str
    script: str
    args: tuple[str, ...]
    log_dir: Path
    runs: list[Script] = field(default_factory=list)
    exits: list[str] = field(default_factory=list)
    hangs: int = 0

    def start(self) -> None:
        self.runs.append(Script.start(self.script, *self.args, log_dir=self.log_dir, name=self.label))

    @property
    def current(self) -> Script:
        return self.runs[-1]

    def keep_running(self, track: Track) -> None:
        if not self.current.running():
            self.exits.append(f"exited {self.current.proc.returncode}: "
                              f"{self.current.tail(1) or '(nothing on stderr)'}")
            self.start()
        elif track.stalled_for(time.monotonic()) > HUNG_S:
            self.hangs += 1
            self.exits.append(f"hung {HUNG_S} s with work waiting, killed: {self.current.tail(1)}")
            self.current.kill()
            self.start()

    def stop(self) -> None:
        self.current.signal(signal.SIGTERM)
        code = self.current.wait(60)
        if code is None:
            self.current.kill()
            self.exits.append("did not stop within 60 s of SIGTERM")
        elif code != 0:
            self.exits.append(f"exited {code} on SIGTERM: {self.current.tail(1)}")

    @property
    def peak_rss(self) -> int:
        return max(run.peak_rss for run in self.runs)


def batch_dirs(pages: Path, batches: int, into: Path) -> list[Path]:
    """``pages``'s .html files split into ``batches`` directories of symlinks, in order."""
    files = sorted(pages.glob("*.html"))
    dirs = []
    for i in range(batches):
        directory = into / f"batch-{i:02d}"
        directory.mkdir(parents=True)
        for page in files[i::batches]:
            (directory / page.name).symlink_to(page)
        dirs.append(directory)
    return dirs


@dataclass
class ProducerRuns:
    exit_codes: list[int] = field(default_factory=list)
    named_dead: int = 0  # runs whose log names a bootstrap server that did not answer
    peak_rss: int = 0


def produce(names: Names, dirs: list[Path], interval: float, log_dir: Path, sampler: Sampler,
            report: ProducerRuns) -> None:
    """One producer run per directory, the i-th starting ``i * interval`` s in (or when the
    previous one ended, if later)."""
    started = time.monotonic()
    for i, directory in enumerate(dirs):
        time.sleep(max(0.0, started + i * interval - time.monotonic()))  # the pace of the load
        sampler.producing.set()  # work waits for the producer only while a run is on
        try:
            run = Script.start(chaos.PRODUCER, "--topic", names.raw, "--from-dir", str(directory),
                               "--partitions", str(RAW_PARTITIONS), "--replication-factor", "3",
                               "--no-progress", log_dir=log_dir, name="producer")
            code = run.wait(CATCH_UP_S)
            if code is None:
                run.kill()
                code = -signal.SIGKILL
            report.exit_codes.append(code)
            report.named_dead += "did not answer" in run.stderr
            report.peak_rss = max(report.peak_rss, run.peak_rss)
        finally:
            sampler.producing.clear()


# -- the cluster -------------------------------------------------------------------------

def admin_call(call):
    """``call(admin)`` on a fresh admin client, past a broker that has just died."""
    def attempt():
        with CONNECTION.admin() as admin:
            return call(admin)
    return kafka_compat.past_dead_brokers(attempt)


def roles(names: Names) -> dict[int, list[str]]:
    """What each node is for this run: leader of raw partitions, coordinators."""
    found: dict[int, list[str]] = {node: [] for node in nodes.NODES}
    leaders = Counter(p["leader_id"] for p in admin_call(lambda a: nodes.partitions(a, names.raw)))
    for node, count in leaders.items():
        found[node].append(f"leads {count} of {RAW_PARTITIONS} raw partitions")
    txn = admin_call(lambda a: nodes.transaction_coordinator(a, chaos.transactional_id(names)))
    found[txn].append("transaction coordinator")
    for group, whose in ((names.parser_group, "parser's"), (names.notifier_group, "notifier's")):
        found[admin_call(lambda a: nodes.group_coordinator(a, group))].append(f"{whose} group coordinator")
    return found


def healthy(topics: list[str]) -> float:
    """Until no partition of ``topics`` (and the internal ones) is under-replicated; seconds."""
    return admin_call(lambda a: nodes.wait_in_sync(a, topics + INTERNAL_TOPICS, timeout_s=180))


@dataclass
class Event:
    what: str
    node: int
    roles: list[str]
    at: float
    down_s: float = 0.0
    restart_s: float = 0.0
    in_sync_s: float = 0.0


def restarted(what: str, node: int, names: Names, take_down) -> Event:
    """``take_down(node)``, then start it again and wait until all is in sync."""
    event = Event(what, node, roles(names)[node], time.monotonic())
    print(f"  {what}: node {node} ({'; '.join(event.roles) or 'no role in this run'})", flush=True)
    take_down(node)
    event.down_s = time.monotonic() - event.at
    event.restart_s = nodes.start_missing_nodes()
    event.in_sync_s = healthy([names.raw, names.parsed, names.dead])
    return event


def killed_for_a_while(rng: random.Random):
    def take_down(node: int) -> None:
        nodes.kill(node)
        time.sleep(rng.uniform(10, 30))  # the outage itself
    return take_down


def stopped(node: int) -> None:
    nodes.kill(node, signal.SIGTERM)
    wait_for(lambda: nodes.node_pid(node) is None, 120, f"node {node} to stop")


# -- part 1 ---------------------------------------------------------------------------------

def alerts_printed(stage: Stage) -> Counter:
    urls = Counter()
    for run in stage.runs:
        for line in run.stdout_lines():
            with contextlib.suppress(ValueError):
                urls[json.loads(line).get("url")] += 1
    return urls


def alerts_expected(names: Names) -> set[str]:
    """URLs of the parsed recipes above the notifier's default threshold."""
    expected = set()
    for record in scan(names.parsed):
        recipe = json.loads(record.value)
        if should_alert(recipe, THRESHOLD):
            expected.add(recipe.get("url"))
    return expected


def failover(args, names: Names, pages: Path, log_dir: Path) -> bool:
    rng = random.Random(args.seed)
    dirs = batch_dirs(pages, args.batches, log_dir / "pages")
    sampler = Sampler(names)
    parser = Stage("parser", chaos.PARSER, tuple(chaos.parser_args(names, "--replication-factor", "3")),
                   log_dir / "parser")
    notifier = Stage("notifier", "consumer_notification.py",
                     ("--topic", names.parsed, "--group", names.notifier_group, "--alerts-topic",
                      names.alerts, "--format", "json", "--replication-factor", "3"), log_dir / "notifier")
    producer = ProducerRuns()
    loader = threading.Thread(target=produce, args=(names, dirs, args.batch_interval,
                                                    log_dir / "producer", sampler, producer))
    started = time.monotonic()
    loader.start()
    wait_for(lambda: chaos.records_on(names.raw) > 0, 120, "the first pages on the raw topic")
    parser.start()
    notifier.start()
    sampler.start()
    keeper_done = threading.Event()

    def keep() -> None:
        while not keeper_done.wait(1):
            parser.keep_running(sampler.tracks["parser"])
            notifier.keep_running(sampler.tracks["notifier"])

    keeper = threading.Thread(target=keep, daemon=True)
    keeper.start()
    events: list[Event] = []
    try:
        wait_for(lambda: chaos.committed(names.parser_group, names.raw) > 0, 180,
                 "the parser's first commit")
        kill = killed_for_a_while(rng)
        leader = admin_call(lambda a: nodes.leader_of_most(a, names.raw))
        events.append(restarted("kill -9 the leader of most raw partitions", leader, names, kill))
        coordinator = admin_call(lambda a: nodes.transaction_coordinator(a, chaos.transactional_id(names)))
        events.append(restarted("kill -9 the transaction coordinator", coordinator, names, kill))
        coordinator = admin_call(lambda a: nodes.group_coordinator(a, names.parser_group))
        events.append(restarted("kill -9 the group coordinator", coordinator, names, kill))
        events += [restarted("rolling restart", node, names, stopped) for node in nodes.NODES]
        loader.join()
        total = chaos.records_on(names.raw)
        wait_for(lambda: chaos.committed(names.parser_group, names.raw) >= total, CATCH_UP_S,
                 "the parser to catch up", interval=1)
        expected = alerts_expected(names)
        wait_for(lambda: expected <= alerts_printed(notifier).keys(), CATCH_UP_S,
                 f"{len(expected)} alerts", interval=1)
    finally:
        keeper_done.set()
        keeper.join()
        sampler.done.set()
        loader.join()
        parser.stop()
        notifier.stop()
    elapsed = time.monotonic() - started
    pages_in = sum(1 for directory in dirs for _ in directory.glob("*.html"))
    return failover_report(names, pages_in, expected, events, sampler, producer, parser, notifier,
                           elapsed)


def failover_report(names, pages_in, expected, events, sampler, producer, parser, notifier,
                    elapsed) -> bool:
    result = chaos.tally(names)
    keys = chaos.key_counts(names.raw)
    raw_duplicates = sum(n - 1 for n in keys.values())
    printed = alerts_printed(notifier)
    alert_dups = sum(n - 1 for n in printed.values())
    alerts_missing = len(expected - printed.keys())
    print(f"\nfailover, {elapsed:.0f} s:")
    print(f"  producer: {len(producer.exit_codes)} runs, exit codes {sorted(set(producer.exit_codes))}, "
          f"{sum(keys.values())} records on the raw topic ({len(keys)} keys, {raw_duplicates} "
          f"repeated); {producer.named_dead} run(s) started with a node down and named it; "
          f"peak RSS {producer.peak_rss / MB:.0f} MB")
    print(f"  parse stage: {result.figures()}")
    print(f"  alerts: expected {len(expected)}, printed {sum(printed.values())}, duplicated "
          f"{alert_dups}, missing {alerts_missing}")
    print(f"  {'event':<42} node  down s  back s  in sync s  resumed: producer / parser / notifier")
    for e in events:
        resumed = " / ".join(_seconds(sampler.tracks[t].resumed_after(e.at))
                             for t in ("producer", "parser", "notifier"))
        print(f"  {e.what:<42} {e.node:>4}  {e.down_s:>6.1f}  {e.restart_s:>6.1f}  {e.in_sync_s:>9.1f}  "
              f"{resumed}")
    for name, track in sampler.tracks.items():
        print(f"  longest pause with work waiting, {name}: {track.longest_pause:.1f} s")
    stages = (parser, notifier)
    for stage in stages:
        print(f"  {stage.label}: {len(stage.runs)} run(s), {stage.hangs} hang(s), peak RSS "
              f"{stage.peak_rss / MB:.0f} MB; " + ("; ".join(stage.exits) or "no exit but the last SIGTERM"))
    if sampler.errors:
        print(f"  ({sampler.errors} progress samples failed and were skipped)")
    ok = (result.exact and result.records_in == len(keys) == pages_in and not alert_dups
          and not alerts_missing and not any(producer.exit_codes)
          and not any(stage.exits for stage in stages))
    return ok


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"<{SAMPLE_EVERY_S}" if value < SAMPLE_EVERY_S else f"{value:.1f}"


# -- part 2 -------------------------------------------------------------------------------------

def instances(names: Names, count: int, log_dir: Path, first: int = 0) -> list[Script]:
    return [Script.start(chaos.PARSER, *chaos.parser_args(names, "--replication-factor", "3",
                                                          instance=k),
                         log_dir=log_dir, name=f"parser {k}")
            for k in range(first, first + count)]


def throughput(raw: str, count: int, log_dir: Path) -> float:
    """Pages per second ``count`` instances (one group) take over the whole raw topic."""
    names = dataclasses.replace(Names.unique(f"chaos-cluster.{count}x"), raw=raw)
    total = chaos.records_on(raw)
    started = time.monotonic()
    running = instances(names, count, log_dir)
    try:
        wait_for(lambda: chaos.committed(names.parser_group, raw) >= total, CATCH_UP_S,
                 f"{count} instance(s) to catch up", interval=0.5)
        seconds = time.monotonic() - started
    finally:
        for script in running:
            script.signal(signal.SIGTERM)
        for script in running:
            script.finish(60)
    print(f"  {count} instance(s): {total} pages in {seconds:.1f} s = {total / seconds:.0f} pages/s "
          f"(from start; peak RSS {max(s.peak_rss for s in running) / MB:.0f} MB each at most)")
    return total / seconds


def scale_out(raw: str, log_dir: Path) -> bool:
    print("\nscale-out (one group, 6 raw partitions):", flush=True)
    one = throughput(raw, 1, log_dir / "one")
    three = throughput(raw, 3, log_dir / "three")
    print(f"  3 instances / 1: x{three / one:.2f} on {len(nodes.NODES)} brokers and 2 cores")

    names = dataclasses.replace(Names.unique("chaos-cluster.scale"), raw=raw)
    total = chaos.records_on(raw)
    running = instances(names, 3, log_dir / "scale")
    steps = []

    def at(share: float) -> None:
        wait_for(lambda: chaos.committed(names.parser_group, raw) >= total * share, CATCH_UP_S,
                 f"{share:.0%} committed", interval=0.2)

    try:
        at(0.2)
        running += instances(names, 1, log_dir / "scale", first=3)
        steps.append("added parser 3")
        at(0.45)
        running[0].signal(signal.SIGTERM)
        steps.append(f"SIGTERM parser 0 (exit {running[0].finish(60)})")
        at(0.7)
        running[1].kill()
        steps.append("kill -9 parser 1")
        wait_for(lambda: chaos.committed(names.parser_group, raw) >= total, CATCH_UP_S,
                 "the rest to catch up", interval=0.5)
    finally:
        for script in running:
            script.signal(signal.SIGTERM)
        codes = [script.wait(60) for script in running]
        for script in running:
            script.kill()
    result = chaos.tally(names)
    print(f"  {'; '.join(steps)}")
    for script, code in zip(running, codes):
        held = re.findall(r"holding (.*)", script.stderr)
        print(f"  {script.name}: exit {code}, {len(held)} assignment(s), last: "
              f"{held[-1] if held else 'nothing'}")
    print(f"  exactly-once: {result.figures()}")
    survivors_ok = all(code == 0 for script, code in zip(running, codes) if script is not running[1])
    return result.exact and result.records_in == total and survivors_ok


# -- main ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=10, help="producer runs the pages are split into")
    parser.add_argument("--batch-interval", type=float, default=20, help="seconds between producer runs")
    parser.add_argument("--part", choices=("failover", "scale-out", "all"), default="all")
    parser.add_argument("--seed", type=int, default=random.randrange(10**6))
    args = parser.parse_args(argv)
    brokers = admin_call(lambda a: a.describe_cluster()["brokers"])
    if len(brokers) < 3:
        print(f"needs the 3-node cluster (make kafka-cluster-up); {CONNECTION.bootstrap_servers} "
              f"has {len(brokers)} broker(s)", file=sys.stderr)
        return 2
    log_dir = Path(tempfile.mkdtemp(prefix="chaos-cluster-"))
    pages = ensure_pages(args.pages, mix="jsonld")
    sizes = [p.stat().st_size for p in pages.glob("*.html")]
    print(f"seed {args.seed}; {len(sizes)} pages, mean {sum(sizes) / len(sizes) / 1000:.0f} KB, "
          f"{sum(s > 1_000_000 for s in sizes)} above 1 MB; logs in {log_dir}", flush=True)
    names = Names.unique(f"chaos-cluster.{args.seed}")
    ok = True
    if args.part in ("failover", "all"):
        print("failover:", flush=True)
        ok &= failover(args, names, pages, log_dir)
    if args.part in ("scale-out", "all"):
        if args.part == "scale-out":
            loaded = Script.start(chaos.PRODUCER, "--topic", names.raw, "--from-dir", str(pages),
                                  "--partitions", str(RAW_PARTITIONS), "--replication-factor", "3",
                                  "--no-progress", log_dir=log_dir / "producer")
            if loaded.finish(CATCH_UP_S) != 0:
                print(f"the producer failed:\n{loaded.tail()}", file=sys.stderr)
                return 1
        ok &= scale_out(names.raw, log_dir)
    print("OK: nothing lost, nothing doubled, no script hung or failed" if ok
          else "FAILED: see the figures above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
