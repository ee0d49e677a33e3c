"""The worker processes that parse pages, and a batch's results gathered within its budget.

A batch is a list of polled entries: record batches as the broker sent them
(``kafka_compat.RecordBatch``), which a worker decompresses and decodes into
records before parsing them, or records already decoded. The main process
parses too, whenever it would otherwise wait: it takes the chunks no worker
has started, from the end of the batch.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from kafka.structs import ConsumerGroupMetadata

from .. import metrics
from ..errors import NotARecipe, ParserCrashed
from ..kafka_compat import records_of
from ..parser import scrape_html
from .records import Output, to_output
from .settings import ParseSettings
from .shared_pages import SharedPages, attach, fetched

log = logging.getLogger(__name__)


def parse_page(value: bytes | None, key: bytes | None) -> tuple[str | None, bytes]:
    """A raw page's recipe as (its URL, its JSON). Runs in a worker process; raises NotARecipe."""
    if not value:
        raise NotARecipe("empty message")
    recipe = scrape_html(value, key.decode("utf-8", "replace") if key else None)
    return recipe["url"], json.dumps(recipe, ensure_ascii=False).encode("utf-8")


def parse_each(parse: Callable, entries: list) -> list[list[tuple]]:
    """Each entry's records, decoded, as (record, result, seconds): ``parse(value, key)`` or the
    NotARecipe it raised, and the time it took.

    Runs in a worker. A parsed record comes back without its page, which
    only a dead letter needs.
    """
    results = []
    for entry in entries:
        parsed = []
        for record in records_of(fetched(entry)):
            started = time.perf_counter()
            try:
                result, kept = parse(record.value, record.key), record._replace(value=None)
            except NotARecipe as exc:
                result, kept = exc, record
            parsed.append((kept, result, time.perf_counter() - started))
        results.append(parsed)
    return results


def _init_worker(shared_pages: str) -> None:
    attach(shared_pages)
    # Ctrl-C and a service manager's SIGTERM reach the whole process group;
    # the main process decides when to stop, and its workers end with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # After a kill -9 of the main process nothing would tell a worker to end.
    parent = multiprocessing.parent_process()
    threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(1)


class Parsers:
    """Pages parsed by worker processes, and by this one whenever it would otherwise wait."""

    # Entries (mostly one page each) per task. Tasks are handed over by
    # threads of this process, which wait for the GIL while the main thread
    # polls: a task per page starves the workers, a large task leaves this
    # process nothing to take.
    CHUNK = 4

    def __init__(self, workers: int, parse: Callable = parse_page):
        self.workers, self.parse = workers, parse
        self.pages = SharedPages() if workers else None
        self._placed: deque[list[Future]] = deque()  # each placed batch's tasks, oldest first
        self.pool = self._start()

    def _start(self) -> ProcessPoolExecutor | None:
        if not self.workers:
            return None
        # spawn, not fork: a fork would copy kafka-python's threads' locks mid-use.
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(self.pages.name,))
        for _ in range(self.workers):
            pool.submit(int)  # start the workers now, while the consumer joins its group
        return pool

    def submit(self, entries: list, owner: ConsumerGroupMetadata, budget_s: float) -> InFlight:
        """Start parsing ``entries``: their results are collected until ``budget_s`` from now."""
        placed = None
        if self.pages is not None:
            while self._placed and all(future.done() for future in self._placed[0]):
                self._placed.popleft()  # no task reads its region any more
                self.pages.release_oldest()
            placed = self.pages.place(entries)
        entries = placed or entries
        chunks = [entries[i:i + self.CHUNK] for i in range(0, len(entries), self.CHUNK)]
        futures = [self.pool.submit(parse_each, self.parse, chunk) if self.pool else Future()
                   for chunk in chunks]
        if placed:
            self._placed.append(futures)
        return InFlight(entries, futures, chunks, owner, time.monotonic() + budget_s)

    def result(self, batch: InFlight, index: int, deadline: float | None) -> list[tuple]:
        """Entry ``index``'s records and results (see ``parse_each``), by ``deadline`` (None: no limit).

        Raises TimeoutError, or BrokenProcessPool if a worker died.
        """
        wanted = index // self.CHUNK
        while not batch.futures[wanted].done() and (deadline is None or time.monotonic() < deadline):
            if not batch.take(wanted, self.parse):
                break
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        return batch.futures[wanted].result(timeout)[index % self.CHUNK]

    def alone(self, entry) -> list[tuple]:
        """Parse each record of ``entry`` in a worker with nothing else in flight, so a
        worker's death names its page."""
        return [self._alone(record) for record in records_of(fetched(entry))]

    def _alone(self, record) -> tuple:
        for _ in range(2):
            try:
                return self.pool.submit(parse_each, self.parse, [record]).result()[0][0]
            except BrokenProcessPool:  # broken before (the first pass) or by this page
                self.restart()
        return record, ParserCrashed("the parser process died on this page "
                                     "(out of memory, or a crash in a C extension)"), None

    def restart(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._start()

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.pages is not None:
            self.pages.close()


@dataclass
class InFlight:
    """A polled batch, in chunks that workers parse in order while this process takes from the end."""

    entries: list  # as polled: RecordBatch or record
    futures: list[Future]  # one per chunk: parse_each of its entries
    chunks: list[list]
    owner: ConsumerGroupMetadata  # the membership it was polled under (kafka_compat.settled_membership)
    deadline: float  # of its parsing budget: what is parsed by then is committed, the rest read again

    def take(self, wanted: int, parse: Callable) -> bool:
        """Parse here a chunk no worker has started: ``wanted``, else the last one after it."""
        for i in (wanted, *range(len(self.futures) - 1, wanted, -1)):
            if self.futures[i].done():
                continue
            if self.futures[i].cancel():
                self.futures[i] = Future()
                self.futures[i].set_result(parse_each(parse, self.chunks[i]))
                return True
            if i != wanted:
                return False  # a worker has it, and so the chunks before it
        return False

    def finished(self) -> bool:
        return all(future.done() for future in self.futures) or time.monotonic() >= self.deadline

    def needs_this_process(self) -> bool:
        """Whether it is finished, or has a chunk no worker has started."""
        return self.finished() or any(not f.done() and not f.running() for f in self.futures)

    def advance(self, parse: Callable) -> bool:
        """Parse here the last chunk no worker has started, if any; whether it is finished then."""
        unfinished = [i for i, future in enumerate(self.futures) if not future.done()]
        if unfinished:
            self.take(unfinished[-1], parse)
        return self.finished()

    def drop(self) -> None:
        for future in self.futures:
            future.cancel()


def collect(parsers: Parsers, batch: InFlight, settings: ParseSettings, stop) -> tuple[list[Output], int]:
    """Outputs for a prefix of the batch, and how many entries it spans: the first entry
    always, then entries parsed in the budget.

    A worker's death fails every page in flight; the rest of the batch is then
    parsed one page at a time, and a page that kills its worker is dead-lettered.
    """
    deadline = batch.deadline
    outputs: list[Output] = []
    isolated = False
    for index, entry in enumerate(batch.entries):
        if isolated:
            results = parsers.alone(entry)
        else:
            # The first entry is waited for; after it, only what the budget
            # allows, and when stopping only what is already parsed.
            if index and not stop and time.monotonic() >= deadline:
                return outputs, index
            try:
                results = parsers.result(batch, index, None if not index else
                                         time.monotonic() if stop else deadline)
            except TimeoutError:
                return outputs, index
            except BrokenProcessPool:
                log.error("a parser process died; parsing the rest of this batch one page at a time")
                isolated = True
                results = parsers.alone(entry)
        for record, result, seconds in results:
            if seconds is not None:
                metrics.PARSE_SECONDS.observe(seconds)
            outputs.append(to_output(record, settings, result))
    return outputs, len(batch.entries)
