#!/usr/bin/env python3
"""`make demo`: the whole pipeline on the bundled sample site, against a local broker.

Serves samples/site on 127.0.0.1 so the real crawl path runs, then runs the
three scripts one after another on fresh demo topics and shows the alerts.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "samples" / "site"
CATEGORY_PATH = "/recipes/96/salad/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def step(title: str, script: str, *args: str) -> int:
    print(f"\n=== {title}", flush=True)
    print(f"$ python {script} {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT).returncode


def main() -> int:
    run = time.strftime("%Y%m%d%H%M%S")
    raw, parsed, dead = f"demo.{run}.raw_recipes", f"demo.{run}.parsed_recipes", f"demo.{run}.dead_letter"
    server = serve(SITE)
    category = f"http://127.0.0.1:{server.server_address[1]}{CATEGORY_PATH}"
    os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
    try:
        codes = [
            step("1/3 crawl the sample site into Kafka", "producer_raw_recipes.py",
                 "--category-url", category, "--topic", raw, "--delay", "0.1"),
            step("2/3 parse pages into JSON recipes", "producer_consumer_parse_recipes.py",
                 "--input-topic", raw, "--output-topic", parsed, "--dead-letter-topic", dead,
                 "--group", f"demo.{run}.parser", "--timeout-ms", "3000"),
            step("3/3 alert on recipes over 200 kcal per serving", "consumer_notification.py",
                 "--topic", parsed, "--group", f"demo.{run}.notifier",
                 "--alerts-topic", f"demo.{run}.calorie_alerts", "--timeout-ms", "3000"),
        ]
    finally:
        server.shutdown()
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
