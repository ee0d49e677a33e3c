"""Consume raw pages, parse them, publish recipes: exactly once, per batch.

Each batch is one Kafka transaction holding its outputs, its dead letters and
the consumed offsets, so a crash at any moment leaves either the whole batch
or none of it. Pages are parsed before the transaction opens, and a batch
stops early when its parsing budget is spent (the rest is read again), so
neither transactions nor the gaps between polls grow with slow or huge pages.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from kafka import TopicPartition
from kafka.errors import (CorruptRecordError, FencedInstanceIdError, InvalidRecordError,
                          InvalidTimestampError, KafkaError, MessageSizeTooLargeError,
                          ProducerFencedError, RecordListTooLargeError)
from kafka.structs import OffsetAndMetadata

from . import kafka_io
from .errors import NotARecipe, RecipeAlertError
from .parser import scrape_html

log = logging.getLogger(__name__)

REASON_LIMIT = 500  # bytes of error text kept in a dead-letter header
# Kafka refuses these for one record, whatever the broker's health: retrying can't help.
RECORD_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError,
                 CorruptRecordError, InvalidTimestampError)
FENCED_ERRORS = (ProducerFencedError, FencedInstanceIdError)


class Fenced(RecipeAlertError):
    """Another instance took over this instance's transactional id."""

    exit_code = 3


class RecordRejected(KafkaError):
    """Kafka refused one of a transaction's records; the transaction was aborted."""


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


def transform(record, settings: ParseSettings) -> Output:
    """Parse one raw record into the record to publish."""
    try:
        if not record.value:
            raise NotARecipe("empty message")
        recipe = scrape_html(record.value, decode_key(record.key))
    except NotARecipe as exc:  # the parser raises nothing else, whatever the bytes
        return dead_letter(record, settings, exc)
    key = record.key or (recipe["url"] or "").encode() or None
    value = json.dumps(recipe, ensure_ascii=False).encode("utf-8")
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
    """Make the next poll return ``records`` again (their partitions from the first one)."""
    first = {}
    for record in records:
        first.setdefault(TopicPartition(record.topic, record.partition), record.offset)
    assigned = consumer.assignment()
    for tp, offset in first.items():
        if tp in assigned:  # a partition lost to a rebalance is re-read by its new owner
            consumer.seek(tp, offset)


def parse_within_budget(records: list, settings: ParseSettings, stop) -> list[Output]:
    """Outputs for a prefix of ``records``: at least one, then until the budget is spent or stop."""
    deadline = time.monotonic() + settings.batch_time_budget_s
    outputs = []
    for record in records:
        if outputs and (stop or time.monotonic() >= deadline):
            break
        outputs.append(transform(record, settings))
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
    PRODUCER_TIMEOUTS = dict(transaction_timeout_ms=60_000, delivery_timeout_ms=45_000)
    STUCK_AFTER_S = 90  # past the transaction timeout: this transaction can only fail

    def __init__(self, settings: ParseSettings):
        self.settings = settings
        self.producer = None
        self.committed = self.aborted = 0

    def start(self) -> None:
        if self.producer is None:
            self.producer = kafka_io.make_producer(
                self.settings.bootstrap, transactional_id=self.settings.transactional_id,
                compression_type=kafka_io.PAGE_COMPRESSION,
                max_request_size=kafka_io.MAX_RECORD_BYTES,
                **self.PRODUCER_TIMEOUTS)
            self.producer.init_transactions()  # fences and aborts whatever a predecessor left open

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=10)
            self.producer = None

    def commit(self, consumer, outputs: list[Output]) -> None:
        """Publish ``outputs`` and their offsets atomically; on failure abort, then raise."""
        self.start()
        producer = self.producer
        futures = []
        with exit_if_stuck(self.STUCK_AFTER_S, "a transaction"):
            try:
                producer.begin_transaction()
                for out in outputs:
                    futures.append(producer.send(out.topic, key=out.key, value=out.value,
                                                 headers=out.headers))
                producer.send_offsets_to_transaction(next_offsets(outputs), consumer.group_metadata())
                producer.commit_transaction()
                self.committed += 1
                return
            except KafkaError as exc:
                self.aborted += 1
                try:
                    producer.abort_transaction()  # also settles every future
                finally:
                    self.close()
                rejected = rejected_by(exc, futures)
                if rejected is None:
                    raise
                raise RecordRejected(str(rejected)) from rejected


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


def publish(txns: Transactions, consumer, outputs: list[Output], published: list[Output]) -> None:
    """Commit ``outputs``, appending each to ``published`` once committed.

    A record Kafka refuses (too large, say) would abort its transaction
    forever: the batch is then published one record per transaction, and a
    refused record is replaced by its dead letter without the value.
    """
    try:
        txns.commit(consumer, outputs)
        published.extend(outputs)
        return
    except RecordRejected as exc:
        log.warning("a record of this batch was refused (%s); publishing it one by one", exc)
    for out in outputs:
        try:
            txns.commit(consumer, [out])
        except RecordRejected as exc:
            refused = exc.__cause__
            reason = type(refused)(f"the output ({len(out.value)} bytes) was refused by Kafka; "
                                   f"this dead letter keeps the key, not the value")
            log.error("%s-%d@%d: %s", out.source.topic, out.source.partition, out.source.offset, reason)
            out = dead_letter(out.source, txns.settings, reason, keep_value=False)
            txns.commit(consumer, [out])
        published.append(out)


def process_batch(txns: Transactions, consumer, batch, stats: ParseStats, stop) -> None:
    """Parse a polled batch (or as much as the budget allows) and publish it in a transaction."""
    records = [record for partition_records in batch.values() for record in partition_records]
    outputs = parse_within_budget(records, txns.settings, stop)
    published: list[Output] = []
    try:
        publish(txns, consumer, outputs, published)
    finally:
        rewind(consumer, records[len(published):])  # whatever is not committed is read again
        stats.consumed += len(published)
        stats.parsed += sum(out.parsed for out in published)
        stats.dead_lettered += sum(not out.parsed for out in published)
        stats.transactions, stats.aborted = txns.committed, txns.aborted


def fenced(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says another instance took our identity."""
    while exc is not None:
        # kafka-python re-raises a producer's fatal error as a plain KafkaError naming it.
        if isinstance(exc, FENCED_ERRORS) or any(e.__name__ in str(exc) for e in FENCED_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def run(settings: ParseSettings, stop) -> ParseStats:
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
    txns = Transactions(settings)
    stats = ParseStats()
    try:
        txns.start()
        log.info("parsing %s -> %s (dead letters: %s) as group %r, transactional id %r",
                 settings.input_topic, settings.output_topic, settings.dead_letter_topic,
                 settings.group, settings.transactional_id)
        failures = 0
        for batch in kafka_io.batches(consumer, stop, settings.timeout_ms):
            try:
                process_batch(txns, consumer, batch, stats, stop)
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
                f"give each instance its own --transactional-id)") from exc
        raise
    finally:
        consumer.close(autocommit=False)
        txns.close()
    return stats
