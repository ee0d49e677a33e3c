"""The transactional producer, and committing a batch's outputs with its offsets atomically."""

from __future__ import annotations

import logging
import time

from kafka.errors import (CorruptRecordError, GroupAuthorizationFailedError, InvalidRecordError,
                          InvalidTimestampError, KafkaError, MessageSizeTooLargeError,
                          RecordListTooLargeError, TopicAuthorizationFailedError,
                          TransactionalIdAuthorizationFailedError)
from kafka.structs import ConsumerGroupMetadata

from .. import kafka_compat, metrics
from ..connection import MAX_RECORD_BYTES, PAGE_COMPRESSION
from ..errors import RecordRejected
from .records import Output, dead_letter, next_offsets
from .settings import ParseSettings, ParseStats

log = logging.getLogger(__name__)

# Kafka refuses these for one record, whatever the broker's health: retrying can't help.
RECORD_ERRORS = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError,
                 CorruptRecordError, InvalidTimestampError)


def denial(error: KafkaError, outputs: list[Output], futures, settings: ParseSettings):
    """The NotAuthorized behind a failed transaction, naming what was denied, if ACLs failed it."""
    for out, future in zip(outputs, futures):
        if future.failed() and isinstance(future.exception, TopicAuthorizationFailedError):
            return settings.connection.denied("Write", "topic", out.topic)
    if isinstance(error, GroupAuthorizationFailedError):
        return settings.connection.denied("Read", "group", settings.group)
    if isinstance(error, TransactionalIdAuthorizationFailedError):
        return settings.connection.denied("Write", "transactional id", settings.transactional_id)
    return None


def rejected_by(error: KafkaError, futures) -> KafkaError | None:
    """The record-level error behind a failed transaction, if that is what failed it."""
    if isinstance(error, RECORD_ERRORS):  # refused by send() itself, e.g. over max_request_size
        return error
    for future in futures:
        if future.failed() and isinstance(future.exception, RECORD_ERRORS):
            return future.exception
    return None


class Transactions:
    """The transactional producer, started afresh after any failed transaction."""

    # Batches a broker outage holds back fail before the coordinator would
    # time the transaction out (and fence us), so the abort stays clean.
    # kafka-python waits retry_backoff_ms before a transactional request that
    # follows a coordinator lookup or a retriable error (each start-up has
    # both). 20 ms, Java's retry for concurrent transactions, not 100: start-up
    # to the first commit went from 1.1 to 0.76 s.
    # max_block_ms bounds each init_transactions (kafka_compat.initialized).
    PRODUCER_TIMEOUTS = dict(transaction_timeout_ms=60_000, delivery_timeout_ms=45_000,
                             retry_backoff_ms=20, max_block_ms=15_000)
    # A healthy transaction takes well under a second here; a leader or a
    # coordinator moving takes 3-11 s. Past this, the stage gives the
    # transaction up (Pipeline.recover), well within the 30 s.
    HUNG_AFTER_S = 15
    ABORT_S = 5  # to abort a failed transaction, even past HUNG_AFTER_S

    def __init__(self, settings: ParseSettings, stats: ParseStats):
        self.settings, self.stats = settings, stats
        self.producer = None

    def start(self) -> None:
        if self.producer is None:
            try:
                # init_transactions fences and ends whatever a predecessor left open.
                self.producer = kafka_compat.initialized(lambda: self.settings.connection.producer(
                    transactional_id=self.settings.transactional_id,
                    compression_type=PAGE_COMPRESSION, max_request_size=MAX_RECORD_BYTES,
                    **self.PRODUCER_TIMEOUTS))
            except KafkaError as exc:
                raise denial(exc, [], [], self.settings) or exc

    def close(self, timeout: float = 10) -> None:
        if self.producer is not None:
            self.producer.close(timeout=timeout)
            self.producer = None

    def commit(self, owner: ConsumerGroupMetadata, outputs: list[Output]) -> None:
        """Publish ``outputs`` and their offsets atomically; on failure abort, then raise.

        ``owner`` is the group membership the pages were polled under: the
        broker refuses the offsets if the group has moved on since (KIP-447).
        Raises TransactionHung if it has not ended after HUNG_AFTER_S.
        """
        self.start()
        producer = self.producer
        started = time.monotonic()
        deadline = started + self.HUNG_AFTER_S
        futures = []
        try:
            producer.begin_transaction()
            for out in outputs:
                futures.append(producer.send(out.topic, key=out.key, value=out.value,
                                             headers=out.headers))
            kafka_compat.raise_failed_send(producer, futures, deadline)
            kafka_compat.send_offsets(producer, next_offsets(outputs), owner, deadline)
            kafka_compat.commit(producer, deadline)
            metrics.COMMIT_SECONDS.observe(time.monotonic() - started)
        except KafkaError as exc:
            self.stats.aborted += 1
            self.producer = None
            kafka_compat.end_failed_transaction(
                producer, max(deadline, time.monotonic() + self.ABORT_S))
            denied = denial(exc, outputs, futures, self.settings)
            if denied is not None:
                raise denied from exc
            rejected = rejected_by(exc, futures)
            if rejected is None:
                raise
            raise RecordRejected(str(rejected)) from rejected
        except BaseException:  # hung, or interrupted: the next producer with our id ends it
            self.close(timeout=0)
            raise
        self.stats.transactions += 1


def commit_outputs(txns: Transactions, owner: ConsumerGroupMetadata, outputs: list[Output],
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
