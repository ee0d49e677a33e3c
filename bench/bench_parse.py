"""Parse speed: recipe_alert.parser.scrape_html against recipe-scrapers.

Both parse the same pages: the fixture pages plus generated pages of real
sizes (200 KB-2 MB, mean ~400 KB; testkit/pages.py), most of them in the
layouts whose structured data carries calories, a few in layouts read from
app state or visible text. Prints ms/page for each, the ratio, pages/s, how
many pages each record ``source`` read, and, from a fresh subprocess, the
peak RSS while our parser reads a stream of 2 MB pages.

recipe-scrapers is not a runtime dependency: run this from the bench venv
(see bench/requirements-bench.txt):

    .venv-bench/bin/python -m bench.bench_parse

To compare a parser change, keep the old module and time both on the same
pages in the same run, alternating page by page (this VM's speed drifts by up
to 1.8x, so figures from different runs do not compare):

    .venv-bench/bin/python -m bench.bench_parse --baseline /tmp/parser_before.py --no-recipe-scrapers
"""

from __future__ import annotations

import argparse
import collections
import gc
import importlib.util
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
# Fixtures whose calories are only in app state or visible text: the pages that pay for those readers.
SLOW_LAYOUTS = ("app-state-next", "visible-wprm", "visible-de-divs")


def generated_sizes(count: int, rng: random.Random) -> list[int]:
    """Log-normal sizes in 200 KB-2 MB with a ~400 KB mean, the last one 2 MB."""
    raw = [rng.lognormvariate(12.8, 0.7) for _ in range(count - 1)]
    scale = (MEAN_SIZE * count - MAX_SIZE) / (count - 1) / statistics.mean(raw)
    return [min(MAX_SIZE, max(MIN_SIZE, int(size * scale))) for size in raw] + [MAX_SIZE]


def bench_pages(generated: int, slow: int = 0) -> list[tuple[str, bytes]]:
    """(label, page) pairs: every fixture, ``generated`` bloated pages, then ``slow`` more in SLOW_LAYOUTS."""
    pages = [(f"fixture:{p.stem}", p.read_bytes()) for p in sorted(FIXTURE_PAGES.glob("*.html"))]
    rng = random.Random(2018)
    for i, size in enumerate(generated_sizes(generated, rng)):
        layout = LAYOUTS[i % len(LAYOUTS)]
        pages.append((layout, make_page(layout, size, seed=i)))
    if slow:
        for i, size in enumerate(generated_sizes(slow, random.Random(2026))):
            layout = SLOW_LAYOUTS[i % len(SLOW_LAYOUTS)]
            pages.append((layout, make_page(layout, size, seed=i)))
    return pages


def load_baseline(path: Path):
    """``scrape_html`` of another parser module, e.g. a copy of parser.py from before a change."""
    spec = importlib.util.spec_from_file_location("parser_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.scrape_html


def page_url(page: bytes) -> str:
    """recipe-scrapers needs a URL to pick its site scraper: give it the page's own."""
    try:
        return scrape_html(page)["url"] or "https://fixtures.example/page"
    except NotARecipe:
        return "https://fixtures.example/page"


def time_ours(page: bytes, scrape=scrape_html) -> tuple[float, bool]:
    start = time.perf_counter()
    try:
        scrape(page)
        ok = True
    except NotARecipe:
        ok = False
    return time.perf_counter() - start, ok


def source_of(page: bytes) -> str:
    try:
        return scrape_html(page)["source"]
    except NotARecipe:
        return "NotARecipe"


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


def run_speed(generated: int, slow: int, rounds: int, baseline=None, peer: bool = True) -> None:
    pages = bench_pages(generated, slow)
    urls = [page_url(page) for _, page in pages]
    # recipe-scrapers takes text; decoding is done outside its timing (ours decodes inside).
    texts = [page.decode("utf-8", "replace") for _, page in pages]
    made = generated + slow
    sizes = [len(page) for _, page in pages[len(pages) - made:]]
    print(f"{len(pages)} pages: {len(pages) - made} fixtures (small) + {generated} generated + {slow} generated "
          f"in slow-path layouts ({min(sizes) / 1e3:.0f} KB-{max(sizes) / 1e6:.1f} MB, "
          f"mean {statistics.mean(sizes) / 1e3:.0f} KB); {rounds} round(s)")

    ours = {label: [] for label, _ in pages}
    before = {label: [] for label, _ in pages}
    theirs = {label: [] for label, _ in pages}
    our_failed, their_failed = set(), set()  # page indexes
    for r in range(rounds):
        for i, ((label, page), text, url) in enumerate(zip(pages, texts, urls)):
            if baseline is not None and (r + i) % 2:  # alternate which parser goes first
                before[label].append(time_ours(page, baseline)[0])
            seconds, ok = time_ours(page)
            ours[label].append(seconds)
            if not ok:
                our_failed.add(i)
            if baseline is not None and not (r + i) % 2:
                before[label].append(time_ours(page, baseline)[0])
            if peer:
                seconds, ok = time_recipe_scrapers(text, url)
                theirs[label].append(seconds)
                if not ok:
                    their_failed.add(i)
    n = len(pages)
    ours_total = sum(map(sum, ours.values())) / rounds
    layouts = list(LAYOUTS) + [layout for layout in SLOW_LAYOUTS if ours.get(layout)]

    if peer:
        theirs_total = sum(map(sum, theirs.values())) / rounds
        print(f"\n{'layout (generated pages)':26} {'ours ms':>8} {'r-s ms':>8} {'ratio':>6} {'r-s raised':>11}")
        for layout in layouts:
            our_ms = 1e3 * statistics.mean(ours[layout])
            their_ms = 1e3 * statistics.mean(theirs[layout])
            raised = sum(1 for i in their_failed if pages[i][0] == layout)
            total = sum(1 for label, _ in pages if label == layout)
            print(f"{layout:26} {our_ms:8.2f} {their_ms:8.1f} {their_ms / our_ms:5.0f}x {raised:>7} of {total}")
    if baseline is not None:
        print(f"\n{'layout (generated pages)':26} {'ours ms':>8} {'baseline':>9} {'ours/baseline':>14}")
        fixture_labels = [label for label in ours if label.startswith("fixture:")]
        groups = [(layout, [layout]) for layout in layouts] + [("all fixtures", fixture_labels)]
        for name, labels in groups:
            # Medians per page, summed: one slow outlier round must not decide a layout.
            our_ms = 1e3 * sum(statistics.median(ours[label]) for label in labels) / len(labels)
            base_ms = 1e3 * sum(statistics.median(before[label]) for label in labels) / len(labels)
            print(f"{name:26} {our_ms:8.2f} {base_ms:9.2f} {our_ms / base_ms:13.2f}x")
    print(f"\nscrape_html:      {1e3 * ours_total / n:8.2f} ms/page  {n / ours_total:8.0f} pages/s  "
          f"(NotARecipe on {len(our_failed)} of {n}: {', '.join(sorted(pages[i][0] for i in our_failed))})")
    if peer:
        print(f"recipe-scrapers:  {1e3 * theirs_total / n:8.2f} ms/page  {n / theirs_total:8.1f} pages/s  "
              f"(raised on {len(their_failed)} of {n}, its time counted)")
        print(f"ratio:            {theirs_total / ours_total:8.1f}x faster")
    print_sources(pages)


def print_sources(pages: list[tuple[str, bytes]]) -> None:
    """How many pages each record ``source`` read: which reader found the calories."""
    counts = collections.Counter((source_of(page), label.startswith("fixture:")) for label, page in pages)
    print(f"\n{'source (how calories were read)':32} {'fixtures':>8} {'generated':>10}")
    for source in sorted({source for source, _ in counts}):
        print(f"{source:32} {counts[source, True]:8} {counts[source, False]:10}")


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
    parser.add_argument("--slow-generated", type=int, default=len(SLOW_LAYOUTS),
                        help=f"more generated pages in {', '.join(SLOW_LAYOUTS)} (default {len(SLOW_LAYOUTS)})")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the page set (default 3)")
    parser.add_argument("--rss-pages", type=int, default=45, help="2 MB pages for the RSS figure (default 45; 0: none)")
    parser.add_argument("--baseline", type=Path, metavar="FILE",
                        help="also time this parser module's scrape_html, alternating with ours page by page")
    parser.add_argument("--no-recipe-scrapers", action="store_true", help="time our parser (and the baseline) only")
    parser.add_argument("--rss-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.rss_only:
        measure_rss(args.rss_pages)
        return
    if args.rss_pages:
        # First, in a fresh process: recipe-scrapers and the page set must not count against ours.
        subprocess.run([sys.executable, "-m", "bench.bench_parse", "--rss-only", "--rss-pages",
                        str(args.rss_pages)], cwd=ROOT, check=True)
    baseline = load_baseline(args.baseline) if args.baseline else None
    run_speed(args.generated, args.slow_generated, args.rounds, baseline, peer=not args.no_recipe_scrapers)


if __name__ == "__main__":
    main()
