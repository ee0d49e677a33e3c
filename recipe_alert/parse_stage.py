"""Consume raw pages, parse them, publish recipes: exactly once, per batch.

Each batch is one Kafka transaction holding its outputs, its dead letters and
the consumed offsets, so a crash at any moment leaves either the whole batch
or none of it.

Pages are parsed in worker processes while this process polls the next batch
and commits the previous one, so Kafka's share of the work overlaps parsing
instead of adding to it. Parsing ends before a transaction opens, and a batch
stops early when its parsing budget is spent (the rest is read again), so
neither transactions nor the gaps between polls grow with slow or huge pages.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from kafka import TopicPartition
from kafka.errors import (CorruptRecordError, FencedInstanceIdError, InvalidProducerEpochError,
                          InvalidRecordError, InvalidTimestampError, KafkaError,
                          MessageSizeTooLargeError, ProducerFencedError, RecordListTooLargeError)
from kafka.structs import ConsumerGroupMetadata, OffsetAndMetadata

from . import kafka_io
from .errors import NotARecipe, RecipeAlertError
from .parser import scrape_html

log = logging.getLogger(__name__)

REASON_LIMIT = 500  # bytes of error text kept in a dead-letter header
# Kafka refuses these for one record, whatever the broker's health: retrying can't help.
RECORD_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError,
                 CorruptRecordError, InvalidTimestampError)
# A transactional producer sees a stale epoch only when another producer with
# its id has started since.
FENCED_ERRORS = (ProducerFencedError, InvalidProducerEpochError, FencedInstanceIdError)


class Fenced(RecipeAlertError):
    """Another instance took over this instance's transactional id."""

    exit_code = 3


class RecordRejected(KafkaError):
    """Kafka refused one of a transaction's records; the transaction was aborted."""


class ParserCrashed(RecipeAlertError):
    """The worker process died while parsing a page."""


@dataclass(frozen=True)
class ParseSettings:
    bootstrap: str
    input_topic: str
    output_topic: str
    dead_letter_topic: str
    group: str
    transactional_id: str
    from_beginning: bool = True
    timeout_ms: int | None = None
    partitions: int = 3
    replication_factor: int = 1
    batch_size: int = 50
    # Processes that parse pages. One keeps a core busy parsing while this
    # process does the Kafka work; more help when cores outnumber instances.
    workers: int = 1
    # Compressed bytes per partition per fetch: ~10 average pages, or one
    # 2 MB page (the broker always returns at least one batch).
    max_partition_fetch_bytes: int = 1024 * 1024
    # Parsing time per transaction. Far below max.poll.interval.ms (5 min) and
    # the transaction timeout (1 min), whatever the pages.
    batch_time_budget_s: float = 10.0


def default_transactional_id(group: str) -> str:
    """Stable across restarts on one host, so a restarted instance fences its zombie."""
    return f"{group}.{socket.gethostname()}"


@dataclass
class ParseStats:
    consumed: int = 0
    parsed: int = 0
    dead_lettered: int = 0
    transactions: int = 0
    aborted: int = 0
    started: float = field(default_factory=time.monotonic)

    def summary(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.consumed / elapsed if elapsed > 0 else 0.0
        return (f"consumed {self.consumed}, parsed {self.parsed}, "
                f"dead-lettered {self.dead_lettered}, in {self.transactions} transaction(s), "
                f"{self.aborted} aborted; {rate:.1f} pages/s")


@dataclass(frozen=True)
class Output:
    """The one record a raw record becomes: a recipe or a dead letter."""

    source: object  # the consumed record
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    parsed: bool


def provenance(record) -> list[tuple[str, bytes]]:
    return [("source-topic", record.topic.encode()),
            ("source-partition", str(record.partition).encode()),
            ("source-offset", str(record.offset).encode())]


def dead_letter_headers(record, error: BaseException) -> list[tuple[str, bytes]]:
    reason = str(error).encode("utf-8", "replace")[:REASON_LIMIT]
    return provenance(record) + [("error-class", type(error).__name__.encode()),
                                 ("error-reason", reason)]


def decode_key(key: bytes | None) -> str | None:
    return key.decode("utf-8", "replace") if key else None


def parse_page(value: bytes | None, key: bytes | None) -> tuple[str | None, bytes]:
    """A raw page's recipe as (its URL, its JSON). Runs in a worker process; raises NotARecipe."""
    if not value:
        raise NotARecipe("empty message")
    recipe = scrape_html(value, decode_key(key))
    return recipe["url"], json.dumps(recipe, ensure_ascii=False).encode("utf-8")


def to_output(record, settings: ParseSettings, result: tuple[str | None, bytes] | Exception) -> Output:
    """The record to publish for ``record``, given what parsing it gave."""
    if isinstance(result, Exception):
        return dead_letter(record, settings, result)
    url, value = result
    key = record.key or (url or "").encode() or None
    return Output(record, settings.output_topic, key, value, provenance(record), parsed=True)


def dead_letter(record, settings: ParseSettings, error: BaseException, keep_value: bool = True) -> Output:
    value = (record.value or b"") if keep_value else b""
    return Output(record, settings.dead_letter_topic, record.key, value,
                  dead_letter_headers(record, error), parsed=False)


def next_offsets(outputs: list[Output]) -> dict[TopicPartition, OffsetAndMetadata]:
    offsets = {}
    for out in outputs:  # in offset order per partition: the last one wins
        tp = TopicPartition(out.source.topic, out.source.partition)
        offsets[tp] = OffsetAndMetadata(out.source.offset + 1, "", -1)
    return offsets


def rewind(consumer, records) -> None:
    """Make the next poll return ``records`` again (their partitions from the earliest one)."""
    first = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        first[tp] = min(first.get(tp, record.offset), record.offset)
    assigned = consumer.assignment()
    for tp, offset in first.items():
        if tp in assigned:  # a partition lost to a rebalance is re-read by its new owner
            consumer.seek(tp, offset)


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


def parse_each(parse: Callable, pages: list[tuple[bytes | None, bytes | None]]) -> list:
    """``parse`` on each (value, key): its result, or the NotARecipe it raised. Runs in a worker."""
    results = []
    for value, key in pages:
        try:
            results.append(parse(value, key))
        except NotARecipe as exc:
            results.append(exc)
    return results


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
    owner: ConsumerGroupMetadata  # the group membership it was polled under (kafka_io.membership)

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


def rejected_by(error: KafkaError, futures) -> KafkaError | None:
    """The record-level error behind a failed transaction, if that is what failed it."""
    if isinstance(error, RECORD_ERRORS):  # refused by send() itself, e.g. over max_request_size
        return error
    for future in futures:
        if future.failed() and isinstance(future.exception, RECORD_ERRORS):
            return future.exception
    return None


class Transactions:
    """The transactional producer, started afresh after any failed transaction.

    After a failure kafka-python 3.0 may keep a stale sequence number (a
    refused record's, say), so the next transaction fails with
    OutOfOrderSequenceNumber, then ProducerFenced. A new producer with the same
    transactional id starts clean.
    """

    # Batches a broker outage holds back fail before the coordinator would
    # time the transaction out (and fence us), so the abort stays clean.
    # kafka-python waits retry_backoff_ms before a transactional request that
    # follows a coordinator lookup or a retriable error (each start-up has
    # both). 20 ms, Java's retry for concurrent transactions, not 100: start-up
    # to the first commit went from 1.1 to 0.76 s.
    PRODUCER_TIMEOUTS = dict(transaction_timeout_ms=60_000, delivery_timeout_ms=45_000,
                             retry_backoff_ms=20)
    STUCK_AFTER_S = 90  # past the transaction timeout: this transaction can only fail

    def __init__(self, settings: ParseSettings, stats: ParseStats):
        self.settings, self.stats = settings, stats
        self.producer = None

    def start(self) -> None:
        if self.producer is None:
            self.producer = kafka_io.make_producer(
                self.settings.bootstrap, transactional_id=self.settings.transactional_id,
                compression_type=kafka_io.PAGE_COMPRESSION,
                max_request_size=kafka_io.MAX_RECORD_BYTES,
                **self.PRODUCER_TIMEOUTS)
            fatal_when_fenced(self.producer)
            self.producer.init_transactions()  # fences and aborts whatever a predecessor left open

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=10)
            self.producer = None

    def commit(self, owner: ConsumerGroupMetadata, outputs: list[Output]) -> None:
        """Publish ``outputs`` and their offsets atomically; on failure abort, then raise.

        ``owner`` is the group membership the pages were polled under: the
        broker refuses the offsets if the group has moved on since (KIP-447).
        """
        self.start()
        producer = self.producer
        futures = []
        with exit_if_stuck(self.STUCK_AFTER_S, "a transaction"):
            try:
                producer.begin_transaction()
                for out in outputs:
                    futures.append(producer.send(out.topic, key=out.key, value=out.value,
                                                 headers=out.headers))
                producer.send_offsets_to_transaction(next_offsets(outputs), owner)
                producer.commit_transaction()
                self.stats.transactions += 1
                return
            except KafkaError as exc:
                self.stats.aborted += 1
                try:
                    producer.abort_transaction()  # also settles every future
                finally:
                    self.close()
                rejected = rejected_by(exc, futures)
                if rejected is None:
                    raise
                raise RecordRejected(str(rejected)) from rejected


def fatal_when_fenced(producer) -> None:
    """Make a stale producer epoch fatal, as the Java client does.

    kafka-python 3.0 answers InvalidProducerEpoch on a produce request by
    bumping its epoch (KIP-360), as if the error were transient. For a
    transactional producer it means a successor has taken over the id, and
    the broker, handling the bump, aborts the successor's open transaction:
    the successor is fenced by its own zombie.
    """
    manager = getattr(producer, "_transaction_manager", None)
    if isinstance(getattr(manager, "_FATAL_ERRORS", None), frozenset):
        manager._FATAL_ERRORS |= {InvalidProducerEpochError}


@contextlib.contextmanager
def exit_if_stuck(seconds: float, what: str) -> Iterator[None]:
    """End the process if the block outlives ``seconds``: a restart is safe, a hang is not.

    kafka-python 3.0.12 drops a transactional request whose coordinator
    connection fails just as it is sent (Sender._maybe_send_pending_request
    does not re-enqueue it), then waits for its answer forever. A restarted
    instance fences this one and aborts its open transaction.
    """
    def give_up():
        log.critical("%s has not ended after %.0f s (broker gone, or a request lost by "
                     "kafka-python); exiting so that a restart resumes from the last commit",
                     what, seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def publish(txns: Transactions, owner: ConsumerGroupMetadata, outputs: list[Output],
            published: list[Output]) -> None:
    """Commit ``outputs``, appending each to ``published`` once committed.

    A record Kafka refuses (too large, say) would abort its transaction
    forever: the batch is then published one record per transaction, and a
    refused record is replaced by its dead letter without the value.
    """
    try:
        txns.commit(owner, outputs)
        published.extend(outputs)
        return
    except RecordRejected as exc:
        log.warning("a record of this batch was refused (%s); publishing it one by one", exc)
    for out in outputs:
        try:
            txns.commit(owner, [out])
        except RecordRejected as exc:
            refused = exc.__cause__
            reason = type(refused)(f"the output ({len(out.value)} bytes) was refused by Kafka; "
                                   f"this dead letter keeps the key, not the value")
            log.error("%s-%d@%d: %s", out.source.topic, out.source.partition, out.source.offset, reason)
            out = dead_letter(out.source, txns.settings, reason, keep_value=False)
            txns.commit(owner, [out])
        published.append(out)


class Pipeline:
    """At most two batches in hand: one committing while the next one parses."""

    def __init__(self, settings: ParseSettings, consumer, txns: Transactions, parsers: Parsers,
                 stats: ParseStats, stop):
        self.settings, self.consumer, self.txns, self.parsers = settings, consumer, txns, parsers
        self.stats, self.stop = stats, stop
        self.pending: InFlight | None = None

    def busy(self) -> bool:
        return self.pending is not None

    def add(self, batch: dict) -> None:
        """Start parsing a polled batch (which may be empty), then commit the one before it."""
        records = [record for partition_records in batch.values() for record in partition_records]
        owner = kafka_io.membership(self.consumer)
        previous, self.pending = self.pending, None
        if owner is None or (previous is not None and previous.owner != owner):
            # A rebalance under way, or one since ``previous`` was polled: its
            # partitions may belong to another instance now. Whatever is still
            # ours is read again from the first uncommitted page. With no work
            # in hand the next polls wait, which the join needs: kafka-python
            # 3.0 starts it over if it completes between two polls.
            unread = self.read_again(records, previous)
            if unread:
                log.info("the group is rebalancing; dropped %d uncommitted page(s)", unread)
            return
        current = self.parsers.submit(records, owner) if records else None
        if previous is None or self.commit(previous, behind=current):
            self.pending = current

    def commit(self, batch: InFlight, behind: InFlight | None) -> bool:
        """Publish ``batch`` (or the part parsed within budget) in one transaction.

        Returns whether all of it was committed. If not, the rest and the batch
        ``behind`` it are dropped and read again; on an error, then it raises.
        """
        outputs = collect(self.parsers, batch, self.settings, self.stop)
        published: list[Output] = []
        try:
            publish(self.txns, batch.owner, outputs, published)
        finally:
            unpublished = batch.records[len(published):]
            if unpublished:
                self.read_again(unpublished, behind)
            self.stats.consumed += len(published)
            self.stats.parsed += sum(out.parsed for out in published)
            self.stats.dead_lettered += sum(not out.parsed for out in published)
        return not unpublished

    def read_again(self, records: list, dropped: InFlight | None) -> int:
        """Have the next poll return ``records`` and the pages of ``dropped``, whose parsing stops.

        Returns how many pages will be read again.
        """
        if dropped is not None:
            dropped.drop()
            records = records + dropped.records
        rewind(self.consumer, records)
        return len(records)


def fenced(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says another instance took our identity."""
    while exc is not None:
        # kafka-python re-raises a producer's fatal error as a plain KafkaError naming it.
        if isinstance(exc, FENCED_ERRORS) or any(e.__name__ in str(exc) for e in FENCED_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def run(settings: ParseSettings, stop) -> ParseStats:
    parsers = Parsers(settings.workers)  # the workers start while this process reaches Kafka
    try:
        return consume(settings, stop, parsers)
    finally:
        parsers.close()


def consume(settings: ParseSettings, stop, parsers: Parsers) -> ParseStats:
    kafka_io.ensure_topics(
        settings.bootstrap,
        {settings.input_topic: {}, settings.output_topic: {}, settings.dead_letter_topic: {}},
        settings.partitions, settings.replication_factor)
    consumer = kafka_io.make_consumer(
        settings.bootstrap, [settings.input_topic], settings.group,
        from_beginning=settings.from_beginning,
        # Static membership: a restarted instance takes its partitions back at
        # once instead of waiting out its dead predecessor's session.
        group_instance_id=settings.transactional_id,
        max_poll_records=settings.batch_size,
        max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
        fetch_max_bytes=4 * settings.max_partition_fetch_bytes,
    )
    stats = ParseStats()
    txns = Transactions(settings, stats)
    pipeline = Pipeline(settings, consumer, txns, parsers, stats, stop)
    try:
        txns.start()
        log.info("parsing %s -> %s (dead letters: %s) as group %r, transactional id %r, "
                 "with %d worker process(es)", settings.input_topic, settings.output_topic,
                 settings.dead_letter_topic, settings.group, settings.transactional_id,
                 settings.workers)
        failures = 0
        for batch in kafka_io.batches(consumer, stop, settings.timeout_ms, busy=pipeline.busy):
            try:
                pipeline.add(batch)
                failures = 0
            except KafkaError as exc:
                if fenced(exc):
                    raise
                failures += 1
                log.warning("transaction aborted (%s: %s); retrying the batch (attempt %d)",
                            type(exc).__name__, exc, failures)
                if failures >= 10:
                    raise kafka_io.BrokerError(
                        f"the same batch failed {failures} times; last error: {exc}") from exc
            log.debug("%s", stats.summary())
    except KafkaError as exc:
        if fenced(exc):
            raise Fenced(
                f"transactional id {settings.transactional_id!r} was taken over by another "
                f"instance (a restart of this one, or a second instance with the same id: "
                f"give each instance its own --transactional-id); Kafka said "
                f"{type(exc).__name__}: {exc}") from exc
        raise
    finally:
        consumer.close(autocommit=False)
        txns.close()
    return stats
