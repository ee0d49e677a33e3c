"""The worker processes that parse pages, and a batch's results gathered within its budget.

The main process parses too, whenever it would otherwise wait: it takes the
chunks no worker has started, from the end of the batch.
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
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from kafka.structs import ConsumerGroupMetadata

from ..errors import NotARecipe, ParserCrashed
from ..parser import scrape_html
from .records import Output, to_output
from .settings import ParseSettings

log = logging.getLogger(__name__)


def parse_page(value: bytes | None, key: bytes | None) -> tuple[str | None, bytes]:
    """A raw page's recipe as (its URL, its JSON). Runs in a worker process; raises NotARecipe."""
    if not value:
        raise NotARecipe("empty message")
    recipe = scrape_html(value, key.decode("utf-8", "replace") if key else None)
    return recipe["url"], json.dumps(recipe, ensure_ascii=False).encode("utf-8")


def parse_each(parse: Callable, pages: list[tuple[bytes | None, bytes | None]]) -> list:
    """``parse`` on each (value, key): its result, or the NotARecipe it raised. Runs in a worker."""
    results = []
    for value, key in pages:
        try:
            results.append(parse(value, key))
        except NotARecipe as exc:
            results.append(exc)
    return results


def _init_worker() -> None:
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

    # Pages per task. Tasks are handed over by threads of this process, which
    # wait for the GIL while the main thread decodes fetches: a task per page
    # starves the workers, a large task leaves this process nothing to take.
    CHUNK = 4

    def __init__(self, workers: int, parse: Callable = parse_page):
        self.workers, self.parse = workers, parse
        self.pool = self._start()

    def _start(self) -> ProcessPoolExecutor | None:
        if not self.workers:
            return None
        # spawn, not fork: a fork would copy kafka-python's threads' locks mid-use.
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker)
        for _ in range(self.workers):
            pool.submit(int)  # start the workers now, while the consumer joins its group
        return pool

    def submit(self, records: list, owner: ConsumerGroupMetadata) -> InFlight:
        chunks = [[(r.value, r.key) for r in records[i:i + self.CHUNK]]
                  for i in range(0, len(records), self.CHUNK)]
        futures = [self.pool.submit(parse_each, self.parse, chunk) if self.pool else Future()
                   for chunk in chunks]
        return InFlight(records, futures, chunks, owner)

    def result(self, batch: InFlight, index: int, deadline: float | None):
        """Record ``index``'s result, (url, json) or its NotARecipe, by ``deadline`` (None: no limit).

        Raises TimeoutError, or BrokenProcessPool if a worker died.
        """
        wanted = index // self.CHUNK
        while not batch.futures[wanted].done() and (deadline is None or time.monotonic() < deadline):
            if not batch.take(wanted, self.parse):
                break
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        return batch.futures[wanted].result(timeout)[index % self.CHUNK]

    def alone(self, record):
        """Parse ``record`` in a worker with nothing else in flight, so a worker's death names its page."""
        page = [(record.value, record.key)]
        for _ in range(2):
            try:
                return self.pool.submit(parse_each, self.parse, page).result()[0]
            except BrokenProcessPool:  # broken before (the first pass) or by this page
                self.restart()
        return ParserCrashed("the parser process died on this page "
                             "(out of memory, or a crash in a C extension)")

    def restart(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._start()

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class InFlight:
    """A polled batch, in chunks that workers parse in order while this process takes from the end."""

    records: list
    futures: list[Future]  # one per chunk: the list of its pages' results
    chunks: list[list[tuple[bytes | None, bytes | None]]]
    owner: ConsumerGroupMetadata  # the membership it was polled under (kafka_compat.settled_membership)

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

    def drop(self) -> None:
        for future in self.futures:
            future.cancel()


def collect(parsers: Parsers, batch: InFlight, settings: ParseSettings, stop) -> list[Output]:
    """Outputs for a prefix of the batch: the first page always, then pages parsed in the budget.

    A worker's death fails every page in flight; the rest of the batch is then
    parsed one page at a time, and a page that kills its worker is dead-lettered.
    """
    deadline = time.monotonic() + settings.batch_time_budget_s
    outputs: list[Output] = []
    isolated = False
    for index, record in enumerate(batch.records):
        if isolated:
            result = parsers.alone(record)
        else:
            # The first page is waited for; after it, only what the budget
            # allows, and when stopping only what is already parsed.
            if outputs and not stop and time.monotonic() >= deadline:
                break
            try:
                result = parsers.result(batch, index, None if not outputs else
                                        time.monotonic() if stop else deadline)
            except TimeoutError:
                break
            except BrokenProcessPool:
                log.error("a parser process died; parsing the rest of this batch one page at a time")
                isolated = True
                result = parsers.alone(record)
        outputs.append(to_output(record, settings, result))
    return outputs
