"""kafka_compat against the real broker: each fault shown without its workaround, and gone with it.

A case run ``without`` the workaround asserts that kafka-python 3.0.12 still
has the fault: when it fails, a kafka-python release has fixed it, and the
workaround can go.
"""

import contextlib
import logging
import os
import random
import threading
import time

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaError
from kafka.record.default_records import DefaultRecordBatch
from kafka.producer.transaction_manager import TxnRequestHandler

from recipe_alert import kafka_compat
from recipe_alert.connection import MAX_RECORD_BYTES
from recipe_alert.errors import TransactionHung
from testkit import chaos
from testkit.broker import CONNECTION, create_topic, reader, scan, wait_for

MB = 2**20


@pytest.mark.parametrize("workaround", [True, False], ids=["with", "without"])
def test_a_consumer_knows_its_topics_partitions_before_it_first_joins(names, caplog, monkeypatch,
                                                                      workaround):
    create_topic(names.parsed, 3)
    if not workaround:
        monkeypatch.setattr(kafka_compat, "learn_partitions_before_joining", lambda *args: None)
    caplog.set_level(logging.INFO, logger="kafka")
    consumer = CONNECTION.consumer([names.parsed], names.notifier_group, from_beginning=True)

    def blind() -> bool:  # joined knowing no partitions: assigned nothing, then a rejoin that can be lost
        return "No partition metadata" in caplog.text

    def joined_blind_then_again() -> bool:
        # The warning is missed when the metadata lands between the join and the
        # assignment; the lone member's second join shows the fault all the same.
        return blind() or caplog.text.count("Successfully joined group") >= 2

    try:
        if workaround:
            wait_for(lambda: consumer.poll(timeout_ms=100) == {} and consumer.assignment()
                     and kafka_compat.settled_membership(consumer) is not None, 30, "a settled join")
            assert (blind(), len(consumer.assignment())) == (False, 3)
        else:
            wait_for(lambda: consumer.poll(timeout_ms=100) == {} and joined_blind_then_again(), 30,
                     "a blind join")
    finally:
        consumer.close(autocommit=False)


@pytest.mark.parametrize("workaround", [True, False], ids=["with", "without"])
def test_a_fenced_zombie_stops_rather_than_bump_its_epoch(names, caplog, monkeypatch, workaround):
    """A zombie's next record carries a stale epoch: it must stop.

    kafka-python would bump the epoch, and the broker, handling the bump, would
    abort the successor's open transaction whenever the bump came first.
    """
    create_topic(names.parsed, 1)
    if not workaround:
        monkeypatch.setattr(kafka_compat, "make_stale_epoch_fatal", lambda producer: None)
    caplog.set_level(logging.WARNING, logger="kafka")
    zombie, successor = (CONNECTION.producer(transactional_id=names.parser_group) for _ in range(2))

    def bumped() -> bool:
        return "Bumping producer epoch" in caplog.text

    try:
        zombie.init_transactions()
        zombie.begin_transaction()
        zombie.send(names.parsed, b"from the zombie").get(10)
        successor.init_transactions()  # fences the zombie and aborts its transaction
        successor.begin_transaction()
        successor.send(names.parsed, b"from the successor").get(10)
        late = zombie.send(names.parsed, b"from the zombie, later")
        with pytest.raises(KafkaError):
            late.get(10)
        if not workaround:
            wait_for(bumped, 10, "the zombie to bump its epoch")
            return
        assert kafka_compat.is_fenced(late.exception) and not bumped(), repr(late.exception)
        successor.commit_transaction()
        # Every later call of the zombie raises a plain KafkaError that only names the error.
        with pytest.raises(KafkaError) as plain:
            zombie.begin_transaction()
        assert type(plain.value) is KafkaError and kafka_compat.is_fenced(plain.value)
    finally:
        zombie.close(timeout=5)
        successor.close(timeout=5)
    assert [r.value for r in scan(names.parsed)] == [b"from the successor"]


@pytest.mark.parametrize("workaround", [True, False], ids=["with", "without"])
def test_after_a_refused_record_the_next_transaction_commits(names, workaround):
    """Without a new producer the next transaction fails (Kafka 3.9), or "commits" without its record (4.4)."""
    create_topic(names.parsed, 1)  # max.message.bytes 1 MB, as a stock broker has it
    noise = random.Random(0).randbytes(2 * MB)

    def producer():
        made = CONNECTION.producer(transactional_id=names.parser_group,
                                   max_request_size=MAX_RECORD_BYTES)
        made.init_transactions()
        return made

    first = producer()
    deadline = time.monotonic() + 60
    first.begin_transaction()
    refused = first.send(names.parsed, noise)
    with pytest.raises(KafkaError):
        kafka_compat.commit(first, deadline)
    assert refused.failed()
    if workaround:
        kafka_compat.end_failed_transaction(first, deadline)
        second = producer()
    else:
        kafka_compat.abort(first, deadline)
        second = first
    try:
        second.begin_transaction()
        second.send(names.parsed, b"a page that fits")
        with contextlib.nullcontext() if workaround else contextlib.suppress(KafkaError):
            kafka_compat.commit(second, deadline)
    finally:
        second.close(timeout=5)
    assert [r.value for r in scan(names.parsed)] == ([b"a page that fits"] if workaround else [])


def test_one_refused_record_breaks_the_idempotent_producer_for_the_next_ones(names):
    """The fault ``kafka_compat.oversized`` keeps the producer script from meeting.

    That the script reports such a page and delivers the rest is tested in
    test_exactly_once.py (test_the_producer_reports_a_page_the_broker_refuses...).
    """
    create_topic(names.raw, 1)
    producer = CONNECTION.producer(max_request_size=MAX_RECORD_BYTES)
    try:
        refused = producer.send(names.raw, random.Random(0).randbytes(2 * MB))
        producer.flush(30)  # refused and done with, before the next pages are sent
        after = [producer.send(names.raw, f"page {i}".encode()) for i in range(3)]
        producer.flush(30)
    finally:
        producer.close(timeout=5)
    assert refused.failed()
    assert any(f.failed() for f in after), "a later page was delivered: the fault is gone"


@pytest.mark.plaintext_broker
def test_a_transaction_the_broker_never_answers_ends_at_its_deadline(names):
    """A frozen broker keeps the commit waiting as a lost request does; the deadline ends it."""
    if chaos.broker_mode() is None and os.environ.get("CI") != "true":
        pytest.skip("the broker was not started by scripts/kafka-local.sh: it can't be frozen")
    create_topic(names.parsed, 1)
    producer = CONNECTION.producer(transactional_id=names.parser_group)
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send(names.parsed, b"never committed").get(10)
        with chaos.broker_frozen(seconds=8):
            started = time.monotonic()
            with pytest.raises(TransactionHung):
                kafka_compat.commit(producer, deadline=started + 2)
            waited = time.monotonic() - started
    finally:
        producer.close(timeout=5)
    assert 2 <= waited < 6


@pytest.mark.parametrize("workaround", [True, False], ids=["with", "without"])
def test_a_transaction_right_after_another_is_retried_within_milliseconds(names, monkeypatch,
                                                                           workaround):
    """The next transaction's AddPartitionsToTxn, refused while the last one completes, is retried soon.

    kafka-python sleeps the producer's retry_backoff_ms (here 1 s) instead.
    """
    create_topic(names.parsed, 1)
    if not workaround:
        monkeypatch.setattr(TxnRequestHandler, "is_retry", property(lambda handler: handler._is_retry))
    sender_sleeps, sleep = [], time.sleep

    def recorded(seconds):
        if threading.current_thread() is not threading.main_thread():
            sender_sleeps.append(seconds)
        sleep(seconds)

    producer = CONNECTION.producer(transactional_id=names.parser_group, retry_backoff_ms=1000)
    try:
        producer.init_transactions()
        monkeypatch.setattr(time, "sleep", recorded)
        deadline = time.monotonic() + 60
        while not sender_sleeps and time.monotonic() < deadline:
            producer.begin_transaction()
            producer.send(names.parsed, b"a page").get(10)
            producer.commit_transaction()
        assert sender_sleeps, "no transaction was refused while the one before it completed"
        if workaround:
            assert max(sender_sleeps) <= 0.02
        else:
            assert 1.0 in sender_sleeps
    finally:
        monkeypatch.undo()
        producer.close(timeout=10)


@pytest.mark.parametrize("workaround", [True, False], ids=["with", "without"])
def test_record_batches_are_handed_on_undecoded_and_decode_to_the_records_kafka_python_reads(
        names, monkeypatch, workaround):
    """A zstd batch of three, an uncompressed record, an aborted and a committed transaction.

    Without the workaround, every batch is decompressed in the polling thread.
    With it, none is, and the batches decode elsewhere to exactly what a
    read_committed consumer reads, from the start or from the middle of a batch.
    """
    create_topic(names.raw, 1)
    batched = CONNECTION.producer(compression_type="zstd", linger_ms=500)
    plain = CONNECTION.producer(compression_type=None, linger_ms=0)
    txn = CONNECTION.producer(transactional_id=names.parser_group, compression_type="zstd")
    try:
        for i in range(3):
            batched.send(names.raw, key=f"zstd-{i}".encode(), value=b"page %d " % i * 500,
                         headers=[("source", b"test")])
        batched.flush()
        plain.send(names.raw, key=b"plain", value=b"an uncompressed page").get(10)
        txn.init_transactions()
        txn.begin_transaction()
        txn.send(names.raw, key=b"aborted", value=b"never read")
        txn.flush()
        txn.abort_transaction()
        txn.begin_transaction()
        txn.send(names.raw, key=b"committed", value=b"read")
        txn.commit_transaction()
    finally:
        for producer in (batched, plain, txn):
            producer.close(timeout=10)
    expected = [(r.offset, r.key, r.value, r.headers) for r in scan(names.raw)]
    assert [key for _, key, _, _ in expected] == \
        [b"zstd-0", b"zstd-1", b"zstd-2", b"plain", b"committed"]

    decompressed_in_poll = []
    uncompress = DefaultRecordBatch._maybe_uncompress
    monkeypatch.setattr(DefaultRecordBatch, "_maybe_uncompress",
                        lambda batch: decompressed_in_poll.append(batch.compression_type) or uncompress(batch))
    consumer = reader([names.raw])

    def polled(wanted: int) -> list:
        entries, records = [], []
        deadline = time.monotonic() + 30
        while len(records) < wanted and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                entries += batch
                records = [r for e in entries for r in kafka_compat.records_of(e)]
        return entries, records

    try:
        if workaround:
            assert kafka_compat.hand_on_undecoded(consumer)
        decompressed_in_poll.clear()
        consumer.poll(timeout_ms=0)  # the fetch under way
        entries, records = polled(len(expected))
        assert [(r.offset, r.key, r.value, r.headers) for r in records] == expected
        if workaround:
            assert all(isinstance(e, kafka_compat.RecordBatch) for e in entries)
            assert len(entries) == 3  # the three pages in one batch, the plain record, the commit
            consumer.seek(TopicPartition(names.raw, 0), expected[1][0])  # into the zstd batch
            _, again = polled(len(expected) - 1)
            assert [(r.offset, r.key) for r in again] == [(o, k) for o, k, _, _ in expected[1:]]
        else:
            assert DefaultRecordBatch.CODEC_ZSTD in decompressed_in_poll[:1]
    finally:
        consumer.close()
