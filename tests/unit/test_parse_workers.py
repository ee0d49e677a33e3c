"""parse_stage.workers: results in order, work shared, crashes contained.

No Kafka here: records are stand-ins, and the real pages come from the fixtures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from recipe_alert.consuming import header
from recipe_alert.errors import NotARecipe
from recipe_alert.parse_stage.workers import Parsers, collect, parse_each, parse_page
from testkit import ROOT
from testkit.broker import wait_for
from testkit.pages import FIXTURE_PAGES
from tests import parsefuncs
from tests.doubles import SETTINGS, records

FIXTURES = sorted(FIXTURE_PAGES.glob("*.html"))


def comparable(result):
    return (type(result).__name__, str(result)) if isinstance(result, Exception) else result


def results(parsed: list[tuple]) -> list:
    """The comparable results of one entry's (record, result) pairs."""
    return [comparable(result) for _, result, _ in parsed]


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_every_page_gets_its_own_result_in_order_whoever_parses_it(workers):
    batch_records = records([path.read_bytes() for path in FIXTURES] + [b"", b"\x00garbage", None])
    expected = [results(parsed) for parsed in parse_each(parse_page, batch_records)]
    assert any(isinstance(r, tuple) for [r] in expected) and any(r[0] == "NotARecipe" for [r] in expected)
    parsers = Parsers(workers)
    try:
        batch = parsers.submit(batch_records, owner=None, budget_s=60)
        got = [results(parsers.result(batch, i, None)) for i in range(len(batch_records))]
    finally:
        parsers.close()
    assert got == expected


def test_this_process_parses_the_chunks_no_worker_has_started_instead_of_waiting():
    parsers = Parsers(1, parse=parsefuncs.who_parsed)
    try:
        batch = parsers.submit(records([b"page"] * 4 * Parsers.CHUNK), owner=None, budget_s=60)
        wait_for(lambda: batch.futures[0].running(), 60, "the worker to take the first chunk")
        parsed_by = [parsers.result(batch, i, None)[0][1][0] for i in range(len(batch.entries))]
    finally:
        parsers.close()
    first, last = parsed_by[0], parsed_by[-1]
    assert first != os.getpid(), "the worker parses from the front"
    assert last == os.getpid(), "this process takes from the back"
    assert parsed_by == sorted(parsed_by, key=lambda pid: pid == os.getpid()), "one meeting point"


def test_a_page_that_kills_its_worker_is_dead_lettered_and_the_rest_are_parsed():
    pages = [path.read_bytes() for path in FIXTURES[:7]]
    values = pages[:5] + [b"die"] + pages[5:]
    parsers = Parsers(1, parse=parsefuncs.dies_in_a_worker)
    try:
        batch = parsers.submit(records(values), owner=None, budget_s=60)
        # Once a worker holds every chunk, none is parsed here, where b"die" would not kill.
        wait_for(lambda: all(f.running() or f.done() for f in batch.futures), 60,
                 "the worker to take every chunk")
        outputs, spanned = collect(parsers, batch, SETTINGS, stop=False)
        after = parsers.submit(records(pages[:1]), owner=None, budget_s=60)
        assert results(parsers.result(after, 0, None)) == \
            results(parse_each(parse_page, records(pages[:1]))[0]), "a fresh worker took over"
    finally:
        parsers.close()
    assert len(outputs) == spanned == len(values)
    crashed = outputs.pop(5)
    assert (crashed.topic, crashed.value) == ("dead", b"die")
    assert header(crashed.headers, "error-class") == "ParserCrashed"
    for out, page in zip(outputs, pages):  # the others: as if nothing had happened
        [(_, expected, _)] = parse_each(parse_page, records([page]))[0]
        if isinstance(expected, NotARecipe):
            assert (out.topic, header(out.headers, "error-class")) == ("dead", "NotARecipe")
        else:
            assert (out.topic, out.value) == ("parsed", expected[1])


def test_workers_and_their_shared_memory_end_when_their_main_process_is_killed(tmp_path):
    code = textwrap.dedent("""
        import os, sys, time
        from recipe_alert.parse_stage.workers import Parsers
        parsers = Parsers(1)
        print(parsers.pool.submit(os.getpid).result(), parsers.pages.name, flush=True)
        time.sleep(120)
    """)
    with open(tmp_path / "stderr", "wb") as stderr:  # the orphaned resource tracker's complaints
        main = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=stderr, text=True)
    try:
        worker, shared = main.stdout.readline().split()
        worker, shared = int(worker), Path("/dev/shm") / shared.lstrip("/")
        assert running(worker) and shared.exists()
        main.send_signal(signal.SIGKILL)
        main.wait(30)
        wait_for(lambda: not running(worker), 30, f"worker {worker} to end after its main process")
        wait_for(lambda: not shared.exists(), 30, f"{shared} to be removed after both ended")
    finally:
        main.kill()


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for a reaper that may never come)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
