"""Parse speed: recipe_alert.parser.scrape_html against recipe-scrapers.

Both parse the same pages: the fixture pages plus generated pages of real
sizes (200 KB-2 MB, mean ~400 KB; testkit/pages.py). Prints ms/page for each,
the ratio, pages/s, and, from a fresh subprocess, the peak RSS while our
parser reads a stream of 2 MB pages.

recipe-scrapers is not a runtime dependency: run this from the bench venv
(see bench/requirements-bench.txt):

    .venv-bench/bin/python -m bench.bench_parse
"""

from __future__ import annotations

import argparse
import gc
import logging
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from recipe_alert.errors import NotARecipe
from recipe_alert.parser import scrape_html
from testkit import ROOT
from testkit.pages import FIXTURE_PAGES, LAYOUTS, make_page
from testkit.processes import vm_hwm_kib

log = logging.getLogger("bench_parse")

MIN_SIZE, MAX_SIZE, MEAN_SIZE = 200_000, 2_000_000, 400_000


def generated_sizes(count: int, rng: random.Random) -> list[int]:
    """Log-normal sizes in 200 KB-2 MB with a ~400 KB mean, the last one 2 MB."""
    raw = [rng.lognormvariate(12.8, 0.7) for _ in range(count - 1)]
    scale = (MEAN_SIZE * count - MAX_SIZE) / (count - 1) / statistics.mean(raw)
    return [min(MAX_SIZE, max(MIN_SIZE, int(size * scale))) for size in raw] + [MAX_SIZE]


def bench_pages(generated: int) -> list[tuple[str, bytes]]:
    """(label, page) pairs: every fixture, then ``generated`` bloated pages."""
    pages = [(f"fixture:{p.stem}", p.read_bytes()) for p in sorted(FIXTURE_PAGES.glob("*.html"))]
    rng = random.Random(2018)
    for i, size in enumerate(generated_sizes(generated, rng)):
        layout = LAYOUTS[i % len(LAYOUTS)]
        pages.append((layout, make_page(layout, size, seed=i)))
    return pages


def page_url(page: bytes) -> str:
    """recipe-scrapers needs a URL to pick its site scraper: give it the page's own."""
    try:
        return scrape_html(page)["url"] or "https://fixtures.example/page"
    except NotARecipe:
        return "https://fixtures.example/page"


def time_ours(page: bytes) -> tuple[float, bool]:
    start = time.perf_counter()
    try:
        scrape_html(page)
        ok = True
    except NotARecipe:
        ok = False
    return time.perf_counter() - start, ok


def time_recipe_scrapers(text: str, url: str) -> tuple[float, bool]:
    import recipe_scrapers

    start = time.perf_counter()
    try:
        scraper = recipe_scrapers.scrape_html(text, org_url=url, supported_only=False)
        scraper.title(), scraper.ingredients(), scraper.nutrients()  # the fields our record holds
        ok = True
    except Exception:  # it raises many kinds; a failure still cost its time
        ok = False
    return time.perf_counter() - start, ok


def run_speed(generated: int, rounds: int) -> None:
    pages = bench_pages(generated)
    urls = [page_url(page) for _, page in pages]
    # recipe-scrapers takes text; decoding is done outside its timing (ours decodes inside).
    texts = [page.decode("utf-8", "replace") for _, page in pages]
    sizes = [len(page) for _, page in pages[len(pages) - generated:]]
    print(f"{len(pages)} pages: {len(pages) - generated} fixtures (small) + {generated} generated "
          f"({min(sizes) / 1e3:.0f} KB-{max(sizes) / 1e6:.1f} MB, mean {statistics.mean(sizes) / 1e3:.0f} KB); "
          f"{rounds} round(s)")

    ours = {label: [] for label, _ in pages}
    theirs = {label: [] for label, _ in pages}
    our_failed, their_failed = set(), set()  # page indexes
    for _ in range(rounds):
        for i, ((label, page), text, url) in enumerate(zip(pages, texts, urls)):
            seconds, ok = time_ours(page)
            ours[label].append(seconds)
            if not ok:
                our_failed.add(i)
            seconds, ok = time_recipe_scrapers(text, url)
            theirs[label].append(seconds)
            if not ok:
                their_failed.add(i)
    ours_total = sum(map(sum, ours.values())) / rounds
    theirs_total = sum(map(sum, theirs.values())) / rounds
    n = len(pages)

    print(f"\n{'layout (generated pages)':26} {'ours ms':>8} {'r-s ms':>8} {'ratio':>6} {'r-s raised':>11}")
    for layout in LAYOUTS:
        our_ms = 1e3 * statistics.mean(ours[layout])
        their_ms = 1e3 * statistics.mean(theirs[layout])
        raised = sum(1 for i in their_failed if pages[i][0] == layout)
        total = sum(1 for label, _ in pages if label == layout)
        print(f"{layout:26} {our_ms:8.2f} {their_ms:8.1f} {their_ms / our_ms:5.0f}x {raised:>7} of {total}")
    print(f"\nscrape_html:      {1e3 * ours_total / n:8.2f} ms/page  {n / ours_total:8.0f} pages/s  "
          f"(NotARecipe on {len(our_failed)} of {n}: {', '.join(sorted(pages[i][0] for i in our_failed))})")
    print(f"recipe-scrapers:  {1e3 * theirs_total / n:8.2f} ms/page  {n / theirs_total:8.1f} pages/s  "
          f"(raised on {len(their_failed)} of {n}, its time counted)")
    print(f"ratio:            {theirs_total / ours_total:8.1f}x faster")


def measure_rss(count: int) -> None:
    """Run in a fresh interpreter: peak RSS while parsing a stream of 2 MB pages.

    Linux carries ru_maxrss over fork and exec, so the parent starts this
    child before it loads anything big; VmHWM (this process's own high-water
    mark) is printed beside it as a check.
    """
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(count):
        page = make_page(LAYOUTS[i % len(LAYOUTS)], MAX_SIZE, seed=i)
        try:
            scrape_html(page)
        except NotARecipe:
            pass
        del page
        gc.collect(0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"peak RSS parsing a stream of {count} pages of 2 MB: {peak / 1024:.0f} MB by getrusage, "
          f"{vm_hwm_mb()} MB VmHWM (at start: {baseline / 1024:.0f} MB)")


def vm_hwm_mb() -> str:
    kib = vm_hwm_kib(Path("/proc/self/status").read_text())
    return f"{kib / 1024:.0f}" if kib else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=int, default=50, help="generated pages (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the page set (default 3)")
    parser.add_argument("--rss-pages", type=int, default=45, help="2 MB pages for the RSS figure (default 45)")
    parser.add_argument("--rss-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.rss_only:
        measure_rss(args.rss_pages)
        return
    # First, in a fresh process: recipe-scrapers and the page set must not count against ours.
    subprocess.run([sys.executable, "-m", "bench.bench_parse", "--rss-only", "--rss-pages",
                    str(args.rss_pages)], cwd=ROOT, check=True)
    run_speed(args.generated, args.rounds)


if __name__ == "__main__":
    main()
