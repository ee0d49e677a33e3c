"""`make chaos`: the exactly-once drivers of testkit/chaos.py at a larger scale.

Three runs against the local broker, on fresh topics:

1. the producer script publishes --pages pages (real sizes: 200 KB-2 MB, mean
   ~400 KB) from a local HTTP server while the broker restarts
   --broker-restarts times; every page must be on the raw topic exactly once;
2. the parser works through that topic while kill -9 strikes --kills times;
3. a second parser group works through it while the broker restarts.

Prints records in/out, dead-lettered, duplicates, missing, restarts, broker
restarts and each script's peak RSS. Exits 1 if anything was lost or doubled.
The broker is left up (in the current KAFKA_MODE), even on failure.

    .venv/bin/python -m bench.chaos [--pages 1000] [--kills 6] [--broker-restarts 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from testkit import chaos
from testkit.broker import Names
from testkit.httpserver import LocalHTTPServer

MB = 2**20


def produce(names: Names, pages: list[chaos.Page], restarts: int, delay: float, log_dir: Path) -> bool:
    started = time.monotonic()
    with LocalHTTPServer() as server:
        urls = chaos.serve(server, pages)
        report = chaos.produce_with_broker_restarts(names, urls, restarts=restarts, delay=delay,
                                                    log_dir=log_dir)
    counts = chaos.key_counts(names.raw)
    expected = {page.key for page in pages}
    summary = re.search(r"fetched \d+, published \d+, failed \d+", report.output)
    duplicates = sum(n - 1 for n in counts.values())
    missing = len(expected - counts.keys())
    print(f"producer: {len(pages)} pages, {sum(counts.values())} records on the raw topic, "
          f"duplicates {duplicates}, missing {missing}; "
          f"broker restarts {report.broker_restarts} (down {report.seconds_down:.0f} s in all); "
          f"exit code {report.exit_code} ({summary.group(0) if summary else 'no summary'}); "
          f"peak RSS {report.peak_rss / MB:.0f} MB; {time.monotonic() - started:.0f} s")
    return duplicates == missing == 0 and report.exit_code == 0


def verdict(label: str, names: Names, report: chaos.CrashReport, started: float,
            broker_restarts: int = 0) -> bool:
    result = chaos.tally(names)
    print(f"{label}: {result.figures()}; {report.figures()}, broker restarts {broker_restarts}, "
          f"exit codes {report.exit_codes}; {time.monotonic() - started:.0f} s")
    return result.exact and result.records_in > 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--broker-restarts", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.01, help="crawl delay, seconds")
    parser.add_argument("--seed", type=int, default=random.randrange(10**6))
    args = parser.parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="chaos-"))
    print(f"seed {args.seed}; script logs in {log_dir}")

    names = Names.unique(f"chaos.{args.seed}")
    pages = chaos.corpus(args.pages, seed=args.seed, sizes=chaos.REAL_SIZES)
    ok = produce(names, pages, args.broker_restarts, args.delay, log_dir / "produce")

    started = time.monotonic()
    report = chaos.crash_parser(names, chaos.records_on(names.raw), kills=args.kills,
                                rng=random.Random(args.seed), log_dir=log_dir / "kill", timeout=600)
    ok &= verdict("parser, kill -9", names, report, started)

    started = time.monotonic()
    second = dataclasses.replace(Names.unique(f"chaos.{args.seed}.restart"), raw=names.raw)
    report = chaos.parse_with_broker_restarts(second, chaos.records_on(names.raw),
                                              restarts=args.broker_restarts,
                                              log_dir=log_dir / "broker", timeout=600)
    ok &= verdict("parser, broker restarts", second, report, started, args.broker_restarts)
    print("OK: nothing lost, nothing doubled" if ok else "FAILED: see the figures above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
