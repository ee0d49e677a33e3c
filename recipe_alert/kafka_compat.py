"""Every workaround for a fault of kafka-python 3.0.12, and nothing else.

Each function's docstring says what the fault is and how it shows; the table
names the test that shows the fault without the workaround and its absence
with it. 3.0.12 is the newest kafka-python release; each fault is written up
for its maintainers in ``docs/upstream/``. Private attributes of kafka-python are used here only,
always guarded, so a release that moves them loses the workaround, not the
pipeline.

| workaround | fault | test (``tests/...``) |
|---|---|---|
| ``learn_partitions_before_joining`` | a consumer's first join knows no partitions; the rejoin can be lost, leaving it none for good | ``integration/test_kafka_compat.py::test_a_consumer_knows_its_topics_partitions_before_it_first_joins`` |
| ``settled_membership`` | ``group_metadata()`` reports a new generation before its partitions are known | ``unit/test_kafka_compat.py``, ``integration/test_exactly_once.py::test_a_second_instance_joining_mid_stream_neither_loses_nor_doubles`` |
| ``make_stale_epoch_fatal`` | a zombie "recovers" from a stale epoch by bumping it, which fences its successor | ``integration/test_kafka_compat.py::test_a_fenced_zombie_stops_rather_than_bump_its_epoch`` |
| ``is_fenced`` | a fatal error is re-raised as a plain ``KafkaError`` that only names it | the same test, and ``unit/test_kafka_compat.py`` |
| ``send_offsets``, ``commit``, ``abort`` | a transactional request lost on a broken connection is waited for forever | ``integration/test_kafka_compat.py::test_a_transaction_the_broker_never_answers_ends_at_its_deadline`` |
| ``initialized`` | ``init_transactions`` right after its coordinator died waits out ``max_block_ms``; calling it again waits for the lost request | ``integration/test_cluster.py::test_a_producer_starts_right_after_its_coordinator_died`` |
| ``raise_failed_send`` | a commit called while a denied send of its transaction is still in flight waits forever | ``integration/test_secure_cluster.py::test_a_denied_send_fails_its_transaction_rather_than_hang_its_commit`` |
| ``past_dead_brokers`` | an admin request that any broker could answer is sent to one that has just died, and fails; no other broker is tried | ``integration/test_cluster.py::test_admin_requests_get_past_a_just_killed_broker`` |
| ``end_failed_transaction`` | after a failed transaction the producer keeps a stale sequence number | ``integration/test_kafka_compat.py::test_after_a_refused_record_the_next_transaction_commits`` |
| ``oversized`` | one record the broker refuses breaks the idempotent producer for the next ones | ``integration/test_kafka_compat.py::test_one_refused_record_breaks_the_idempotent_producer_for_the_next_ones``, ``integration/test_exactly_once.py::test_the_producer_reports_a_page_the_broker_refuses_and_delivers_the_rest`` |
| ``connection_failures`` | every failure to connect (wrong password, untrusted certificate, TLS against a plaintext port) raises the same "Unable to bootstrap"; the cause is only logged | ``unit/test_connection_failures.py`` |
| ``read_large_chunks`` | ``sock_chunk_bytes`` is ignored: every socket read takes 4 KB, about 100 reads of a 400 KB page, which cost the parse stage a quarter of its CPU | ``unit/test_kafka_compat.py`` |
| ``copy_responses_once`` | each fetched byte is copied four times on its way in and out of the frame buffer | ``unit/test_kafka_compat.py`` |
| ``retry_transactions_promptly`` | a retried transactional request waits the producer's ``retry_backoff_ms``, not its own: a transaction right after another often waits 100 ms | ``integration/test_kafka_compat.py::test_a_transaction_right_after_another_is_retried_within_milliseconds`` |
| ``hand_on_undecoded``, ``records_of`` | every record batch is decompressed in the polling thread, and each value copied four times there | ``integration/test_kafka_compat.py::test_record_batches_are_handed_on_undecoded_and_decode_to_the_records_kafka_python_reads``, ``unit/test_kafka_compat.py`` |
| ``Backlog`` | no ``buffer_memory``: unsent records are buffered without bound | ``unit/test_kafka_compat.py``, ``integration/test_zz_broker_restart.py`` (peak RSS) |

One more fault has no code of its own: kafka-python 3.0 starts a join over
when it completes between two polls, so every poll during a rebalance must
wait. ``parse_stage.pipeline.Pipeline.add`` drops the work in hand as soon as
a rebalance starts, which makes them wait; the join test in
``tests/integration/test_exactly_once.py`` covers it.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from dataclasses import dataclass

import zstandard
from kafka import TopicPartition, codec
from kafka.consumer.fetcher import ConsumerRecord, Fetcher
from kafka.protocol.consumer import IsolationLevel
from kafka.errors import (CorruptRecordError, FencedInstanceIdError, InvalidProducerEpochError, KafkaConnectionError,
                          KafkaTimeoutError, ProducerFencedError)
from kafka.net.transport import KafkaSSLTransport, KafkaTCPTransport
from kafka.record.default_records import DefaultRecordBatch
from kafka.protocol.frame import KafkaBytes
from kafka.producer.transaction_manager import AddPartitionsToTxnHandler, TxnRequestHandler
from kafka.structs import ConsumerGroupMetadata, MemberState

from .errors import TransactionHung

log = logging.getLogger(__name__)


def learn_partitions_before_joining(consumer, topics: list[str]) -> None:
    """Load the subscribed topics' partitions before the consumer first joins its group.

    Fault: kafka-python 3.0 joins before it knows the topics' partitions
    ("No partition metadata"), is assigned nothing, and joins again once the
    metadata arrives. If that second join outlasts the poll that started it,
    the leader has already updated its snapshot, nobody awaits the finished
    join, and its assignment is never applied: the consumer holds nothing for
    good (4 notifier starts in 30 on a loaded machine).

    Asking for partition 0's end offset loads only these topics' metadata;
    every topic has a partition 0.
    """
    consumer.end_offsets([TopicPartition(topic, 0) for topic in topics])


def settled_membership(consumer) -> ConsumerGroupMetadata | None:
    """The consumer's group membership (KIP-447 identity) while its assignment is settled.

    Fault: ``group_metadata()`` reports the new generation as soon as
    JoinGroup answers, before SyncGroup tells the consumer its partitions.
    Offsets committed with it would be accepted even for partitions the
    rebalance gives to another member, and be processed twice. None while the
    consumer (re)joins.
    """
    owner = consumer.group_metadata()
    return owner if owner.state == MemberState.STABLE else None


def make_stale_epoch_fatal(producer) -> None:
    """Make a stale producer epoch fatal for a transactional producer, as the Java client does.

    Fault: kafka-python 3.0 answers InvalidProducerEpoch on a produce request
    by bumping its epoch (KIP-360), as if the error were transient. For a
    transactional producer it means a successor has taken over the id, and
    the broker, handling the bump, aborts the successor's open transaction:
    the successor is fenced by its own zombie.
    """
    manager = getattr(producer, "_transaction_manager", None)
    if isinstance(getattr(manager, "_FATAL_ERRORS", None), frozenset):
        manager._FATAL_ERRORS |= {InvalidProducerEpochError}
    else:
        log.warning("kafka-python's transaction manager has changed: a stale producer epoch "
                    "is handled by kafka-python itself")


FENCED_ERRORS = (ProducerFencedError, InvalidProducerEpochError, FencedInstanceIdError)


def is_fenced(exc: BaseException | None) -> bool:
    """Whether ``exc``, or what caused it, says another instance took this one's identity.

    Fault: once a producer is in a fatal state, kafka-python 3.0 raises a new
    plain ``KafkaError("... in an error state: ProducerFencedError ...")``
    from every transactional call, with neither type nor cause kept: only
    its text names the error.
    """
    while exc is not None:
        if isinstance(exc, FENCED_ERRORS) or any(e.__name__ in str(exc) for e in FENCED_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _await(producer, method: str, args: tuple, deadline: float, public) -> None:
    """Run the transaction manager's ``method``, waiting for its result until ``deadline``.

    Fault: ``send_offsets_to_transaction``, ``commit_transaction`` and
    ``abort_transaction`` wait without a timeout. kafka-python 3.0.12 drops a
    transactional request whose coordinator connection fails as it is sent
    (``Sender._maybe_send_pending_request`` does not re-enqueue it), so they
    can wait forever. The public method does exactly this, minus the timeout.
    """
    manager = getattr(producer, "_transaction_manager", None)
    sender = getattr(producer, "_sender", None)
    start = getattr(manager, method, None)
    if start is None or not hasattr(sender, "wakeup"):
        public(*args)  # kafka-python's internals moved: unbounded, as it ships
        return
    result = start(*args)
    sender.wakeup()
    if not result.wait(timeout_ms=max(0.0, deadline - time.monotonic()) * 1000):
        raise TransactionHung(
            f"a transaction has not ended in time ({method}: its coordinator gone, or a "
            f"request lost by kafka-python)")


def send_offsets(producer, offsets, owner: ConsumerGroupMetadata, deadline: float) -> None:
    """``send_offsets_to_transaction``, giving up at ``deadline`` (see ``_await``)."""
    _await(producer, "send_offsets_to_transaction", (offsets, owner), deadline,
           producer.send_offsets_to_transaction)


def commit(producer, deadline: float) -> None:
    """``commit_transaction``, giving up at ``deadline`` (see ``_await``)."""
    _await(producer, "begin_commit", (), deadline, producer.commit_transaction)


def abort(producer, deadline: float) -> None:
    """``abort_transaction``, giving up at ``deadline`` (see ``_await``)."""
    _await(producer, "begin_abort", (), deadline, producer.abort_transaction)


DEAD_BROKER_RETRY_S = 30  # past the brokers' session timeout, when the cluster has moved on


def past_dead_brokers(call, timeout_s: float = DEAD_BROKER_RETRY_S):
    """``call()`` (which makes its own admin client), made again while a dead broker refuses it.

    Fault: an admin request kafka-python 3.0 may send to any broker
    (``describe_topics``, ``describe_configs``) goes to one the metadata
    still lists, even if it has just died, and fails with
    KafkaConnectionError: no other broker is tried. A new admin client, a
    moment later, picks another one.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except KafkaConnectionError as exc:
            if time.monotonic() >= deadline:
                raise
            log.warning("a broker did not answer (%s); asking the others", exc)
            time.sleep(0.5)  # between attempts, bounded by the deadline


INIT_ATTEMPTS = 4  # each bounded by the producer's max_block_ms


def initialized(make_producer, attempts: int = INIT_ATTEMPTS):
    """A transactional producer from ``make_producer()`` whose ``init_transactions`` is done.

    Fault: kafka-python 3.0 drops a transactional request whose coordinator
    it cannot connect to (``Sender._maybe_send_pending_request``) and never
    sends it again. Right after the coordinator died, the lookup still names
    it: ``init_transactions`` waits out ``max_block_ms``, and calling it again
    on that producer waits for the lost request. A new producer asks afresh.
    """
    for attempt in range(1, attempts + 1):
        producer = make_producer()
        try:
            producer.init_transactions()
            return producer
        except KafkaTimeoutError as exc:
            producer.close(timeout=0)
            if attempt == attempts:
                raise
            log.warning("the transactional producer did not start in time (%s); "
                        "starting a new one (attempt %d of %d)", exc, attempt + 1, attempts)
        except BaseException:
            producer.close(timeout=10)
            raise


def raise_failed_send(producer, futures, deadline: float) -> None:
    """Wait for every send of the open transaction, and raise the first one's error.

    Fault: if a send of the transaction is denied (no Write on its topic) and
    ``commit_transaction()`` is called before that send has completed,
    kafka-python 3.0 waits for the commit forever. Once each send's result
    is known, a failed one aborts the transaction at once.
    """
    producer.flush(timeout=max(0.0, deadline - time.monotonic()))
    for future in futures:
        if future.failed():
            raise future.exception


def end_failed_transaction(producer, deadline: float) -> None:
    """Abort the failed transaction, then close the producer: the next one must be new.

    Fault: after a failed transaction (a refused record, say) kafka-python 3.0
    may keep a stale sequence number, so the next transaction fails with
    OutOfOrderSequenceNumber, then ProducerFenced. A new producer with the
    same transactional id starts clean. Aborting settles every send's future.
    """
    try:
        abort(producer, deadline)
    finally:
        producer.close(timeout=10)


READ_BYTES = 256 * 1024  # per socket read: a fetch of 1 MB pages takes a few, not hundreds
MAX_KEPT_BUFFER = 4 * 1024 * 1024  # a connection's read buffer kept between reads


def _read_until_it_would_block(would_block: tuple[type[BaseException], ...]):
    transport_log = logging.getLogger("kafka.net.transport")  # where its own reads log

    def _sock_recv(self):
        # Into this connection's own buffer, handed on as a view: the protocol copies
        # what it needs out of it before the next read (no bytes per read, no join).
        buffer = getattr(self, "_compat_buffer", None) or bytearray(READ_BYTES)
        view, filled, err = memoryview(buffer), 0, None
        while True:
            if filled == len(buffer):  # a new one: a view of the old may still be held
                buffer = bytearray(2 * len(buffer))
                buffer[:filled] = view[:filled]
                view = memoryview(buffer)
            try:
                got = self._sock.recv_into(view[filled:])
            except would_block:
                break
            except BaseException as exc:  # as kafka-python's own: the connection is closed
                transport_log.error("%s: error receiving network data, closing socket: %r", self, exc)
                err = KafkaConnectionError(exc)
                break
            if not got:
                transport_log.error("%s: socket disconnected", self)
                err = KafkaConnectionError("socket disconnected")
                break
            filled += got
        self._compat_buffer = buffer if len(buffer) <= MAX_KEPT_BUFFER else None
        return view[:filled], err
    return _sock_recv


def read_large_chunks() -> None:
    """Socket reads of READ_BYTES rather than 4 KB, for plaintext and TLS connections alike,
    into one buffer per connection.

    Fault: kafka-python 3.0.12 documents ``sock_chunk_bytes`` but its
    transports ignore it and read 4096 bytes at a time; a 400 KB page costs
    about 100 reads, each a Python call, a bytes object and a join. Applied
    once, when this module is imported; a release without ``_sock_recv``
    keeps its own.
    """
    for transport, would_block in (
            (KafkaTCPTransport, (BlockingIOError, InterruptedError)),
            (KafkaSSLTransport, (BlockingIOError, InterruptedError,
                                 ssl.SSLWantReadError, ssl.SSLWantWriteError))):
        if "_sock_recv" in vars(transport):
            transport._sock_recv = _read_until_it_would_block(would_block)


read_large_chunks()


def _read_once(self, nbytes=None):
    start = self._idx
    self._idx = len(self) if nbytes is None else min(len(self), start + nbytes)
    return bytes(memoryview(self)[start:self._idx])


def copy_responses_once() -> None:
    """A response's fields copied out of its frame buffer once, not twice.

    Fault: ``KafkaBytes.read`` takes a slice of the buffer (a copy) and copies
    the slice into ``bytes`` (another), so every fetched page was copied twice
    on its way out of a fetch response; and each socket read was new bytes,
    joined (another copy), then sliced (another) into the frame buffer.
    With socket reads into one buffer per connection, handed on as a view
    (``read_large_chunks``), the parse stage used 2.31 ms of CPU a page
    instead of 2.51, and ran 8% faster (3 alternating pairs).
    """
    if callable(vars(KafkaBytes).get("read")) and "_idx" in KafkaBytes(0).__dict__:
        KafkaBytes.read = _read_once


copy_responses_once()


# A transaction's first AddPartitionsToTxn is refused while the previous
# transaction's markers are still being written, a few ms on a healthy broker.
FIRST_CONCURRENT_RETRY_MS = 2


def _retry_at_own_backoff(self) -> bool:
    if not self._is_retry:
        return False
    own = self.retry_backoff_ms
    if isinstance(self, AddPartitionsToTxnHandler):
        # From FIRST_CONCURRENT_RETRY_MS, doubling up to its own backoff, so
        # that a previous transaction stuck completing is not hammered.
        retries = getattr(self, "_compat_retries", 0)
        self._compat_retries = retries + 1
        own = min(own, FIRST_CONCURRENT_RETRY_MS * 2 ** retries)
    time.sleep(own / 1000)
    return False  # slept here: the sender would sleep the producer's whole retry_backoff_ms


def retry_transactions_promptly() -> None:
    """A retried transactional request waits its own backoff, not the producer's.

    Fault: the sender sleeps the producer's ``retry_backoff_ms`` before every
    retried transactional request and ignores the request's own. The first
    AddPartitionsToTxn of a transaction, refused with CONCURRENT_TRANSACTIONS
    while the one before it completes, sets its own to at most 20 ms (as
    Java's client does), but waits the full 100 ms by default: every
    transaction after another took over 100 ms. Here the sender's question
    "is it a retry?" sleeps the request's own backoff and answers no. An
    AddPartitionsToTxn is retried from FIRST_CONCURRENT_RETRY_MS, doubling:
    one-record transactions, p90, 108.7 -> 11 ms at the default backoff, 30 ->
    10 ms at the parse stage's 20 ms.
    """
    if isinstance(vars(TxnRequestHandler).get("is_retry"), property):
        TxnRequestHandler.is_retry = property(_retry_at_own_backoff)


retry_transactions_promptly()


@dataclass(frozen=True)
class RecordBatch:
    """A fetched record batch still as the broker sent it: what ``hand_on_undecoded`` polls return.

    ``offset`` is its last offset, so the consumer's position moves past it;
    ``first_offset`` is where the caller's records start: a fetch from the
    middle of a batch returns the whole batch.
    """

    topic: str
    partition: int
    offset: int
    first_offset: int
    data: bytes


class _UndecodedPartitionRecords(Fetcher.PartitionRecords):
    """Each v2 record batch handed on whole, after the checks that need only its header."""

    def _unpack_records(self, tp, records, key_deserializer, value_deserializer):
        while (batch := records.next_batch()) is not None:
            if self.check_crcs and not batch.validate_crc():
                raise CorruptRecordError(f"Record batch for partition {tp} at offset "
                                         f"{batch.base_offset} failed crc check")
            if batch.magic < 2:  # the old formats: no transactions; decoded as kafka-python does
                for record in batch:
                    self.next_fetch_offset = record.offset + 1
                    yield ConsumerRecord(tp.topic, tp.partition, -1, record.offset, record.timestamp,
                                         record.timestamp_type, record.key, record.value, [],
                                         record.checksum, -1, -1, -1)
                continue
            self.leader_epoch = batch.leader_epoch
            self.next_fetch_offset = batch.next_offset
            if self.isolation_level == IsolationLevel.READ_COMMITTED and batch.has_producer_id():
                self._consume_aborted_transactions_up_to(batch.last_offset)
                if self._contains_abort_marker(batch):
                    self.aborted_producer_ids.discard(batch.producer_id)
                elif self._is_batch_aborted(batch):
                    continue
            if batch.is_control_batch:  # a transaction's commit or abort marker
                continue
            self.records_read += batch.records_count
            self.bytes_read += batch.size_in_bytes
            yield RecordBatch(tp.topic, tp.partition, batch.last_offset,
                              max(batch.base_offset, self.fetch_offset), bytes(batch._buffer))
        self.drain()


def hand_on_undecoded(consumer) -> bool:
    """Make ``consumer.poll()`` return each record batch as one undecoded ``RecordBatch``.

    Fault: kafka-python 3.0 decompresses every record batch in the polling
    thread and copies each value four times on the way (``bytearray`` of the
    decompressed batch, a slice of it, ``bytes`` of the slice): a 400 KB
    page costs about 0.45 ms there, a third of the parse stage's main
    process. A batch handed on whole is decoded where its records are used
    (``records_of``), in a worker process, in a quarter of the bytes.

    Checksums, aborted transactions and control batches are still handled
    here, batch by batch, as kafka-python does. Returns False, leaving the
    consumer as it was, if kafka-python's fetcher has changed.
    """
    fetcher = getattr(consumer, "_fetcher", None)
    if not (isinstance(getattr(fetcher, "PartitionRecords", None), type)
            and "_unpack_records" in vars(Fetcher.PartitionRecords)
            and "_is_batch_aborted" in vars(Fetcher.PartitionRecords)):
        log.warning("kafka-python's fetcher has changed: pages are decoded in the polling thread")
        return False
    fetcher.PartitionRecords = _UndecodedPartitionRecords
    return True


def records_of(entry) -> list:
    """The records of a polled entry: a ``RecordBatch`` decoded, any other record as it is."""
    if not isinstance(entry, RecordBatch):
        return [entry]
    batch = DefaultRecordBatch(entry.data)
    _decompress_zstd_once(batch)
    return [ConsumerRecord(entry.topic, entry.partition, -1, record.offset, record.timestamp,
                           record.timestamp_type, record.key, record.value, record.headers,
                           None, -1, -1, -1)
            for record in batch if record.offset >= entry.first_offset]


def _decompress_zstd_once(batch: DefaultRecordBatch) -> None:
    """Decompress a zstd batch in one call, into bytes its records are sliced from once.

    kafka-python streams the frame into chunks, joins them, copies the result
    into a bytearray and each value out of it twice: 0.6 ms for a 400 KB page
    where this takes 0.35. Frames that don't state their size (some Java
    producers' streams) are left to kafka-python.
    """
    if batch.compression_type != DefaultRecordBatch.CODEC_ZSTD or \
            not {"_buffer", "_pos", "_decompressed"} <= set(DefaultRecordBatch.__slots__):
        return
    try:
        batch._buffer = zstandard.ZstdDecompressor().decompress(memoryview(batch._buffer)[batch._pos:])
    except zstandard.ZstdError:
        return
    batch._pos, batch._decompressed = 0, True


FRAMING_BYTES = 2048  # batch header, key and headers around a page's bytes: an upper bound


def oversized(body: bytes, compression: str | None, limit: int) -> str | None:
    """Why the broker would refuse ``body`` as one record batch of at most ``limit`` bytes, or None.

    Fault: a record the broker refuses (MessageSizeTooLarge) leaves
    kafka-python 3.0's idempotent producer failing every later send too. So
    the producer checks each page before sending it.
    """
    if len(body) + FRAMING_BYTES <= limit:
        return None  # fits even uncompressed: don't compress twice
    size = len(getattr(codec, f"{compression}_encode")(body)) if compression else len(body)
    if size + FRAMING_BYTES <= limit:
        return None
    return (f"{size} bytes {f'after {compression} compression ' if compression else ''}"
            f"exceeds the topic's max.message.bytes ({limit})")


class Backlog:
    """Bytes sent but not yet acknowledged, and a wait for room below ``limit``.

    Fault: kafka-python 3.0 has no ``buffer_memory``: it buffers unsent
    records without bound (435 MB of RSS while the broker was away, against
    95 MB with this). The producer waits for room before fetching more.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.pending = 0
        self._changed = threading.Condition()

    def add(self, size: int) -> None:
        with self._changed:
            self.pending += size

    def done(self, size: int) -> None:
        with self._changed:
            self.pending -= size
            self._changed.notify_all()

    def wait_for_room(self, stop) -> None:
        with self._changed:
            told = False
            while self.pending > self.limit and not stop:
                if not self._changed.wait(1.0) and not told:  # a second without any ack
                    log.info("%.0f MB not yet acknowledged by the broker: waiting before "
                             "fetching more", self.pending / 1e6)
                    told = True


class connection_failures(contextlib.AbstractContextManager):
    """Collect why kafka-python's connection attempts failed, while the block runs.

    Fault: a client constructor that cannot connect raises only
    ``KafkaTimeoutError: Unable to bootstrap`` once ``bootstrap_timeout_ms``
    is over, whatever the cause: the SASL or TLS error is only logged (as
    by ``kafka.net.manager`` and ``kafka.net.connection``). This keeps the
    exceptions those records carry, in ``self.errors``, and lets through
    only the records the loggers would have shown anyway.
    """

    LOGGERS = ("kafka.net.manager", "kafka.net.connection")

    def __enter__(self) -> "connection_failures":
        self.errors: list[BaseException] = []
        self._saved = []
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.level, logger.getEffectiveLevel()))
            logger.addFilter(self)
            if logger.getEffectiveLevel() > logging.WARNING:
                logger.setLevel(logging.WARNING)
        return self

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        self.errors += [a for a in args if isinstance(a, BaseException)]
        shown_from = next(shown for logger, _, shown in self._saved if logger.name == record.name)
        return record.levelno >= shown_from

    def __exit__(self, *exc) -> None:
        for logger, level, _ in self._saved:
            logger.removeFilter(self)
            logger.setLevel(level)
