"""kafka_compat without a broker: the logic of each workaround.

That each fault is real, and gone with its workaround, is tested against the
broker in tests/integration/test_kafka_compat.py.
"""

import random
import socket
import threading
import time
import tracemalloc

import pytest
import zstandard
from kafka.errors import KafkaConnectionError, KafkaError, ProducerFencedError
from kafka.net.transport import KafkaTCPTransport
from kafka.protocol.frame import KafkaBytes
from kafka.producer.transaction_manager import TransactionalRequestResult
from kafka.record.default_records import DefaultRecordBatch
from kafka.structs import MemberState

from recipe_alert import kafka_compat
from recipe_alert.cli import StopSignal
from recipe_alert.errors import TransactionHung
from tests.doubles import ScriptedConsumer, member, record_batch, records


def test_a_membership_counts_only_once_its_assignment_is_settled():
    assert kafka_compat.settled_membership(ScriptedConsumer(membership=member(3))) == member(3)
    joining = ScriptedConsumer(membership=member(3, MemberState.REBALANCING))
    assert kafka_compat.settled_membership(joining) is None


@pytest.mark.parametrize("error, fenced", [
    (ProducerFencedError(), True),
    # What kafka-python raises from every transactional call once fenced.
    (KafkaError("Cannot execute transactional method because we are in an error state: "
                "[Error 90] ProducerFencedError: ..."), True),
    (KafkaError("RequestTimedOutError"), False),
])
def test_fencing_is_recognised_by_type_or_by_the_name_kafka_python_leaves(error, fenced):
    assert kafka_compat.is_fenced(error) is fenced
    try:
        raise KafkaError("the batch failed") from error
    except KafkaError as wrapped:
        assert kafka_compat.is_fenced(wrapped) is fenced


class Manager:
    """A transaction manager whose requests end when the test says so."""

    def __init__(self):
        self.result = TransactionalRequestResult()

    def begin_commit(self):
        return self.result


class Sender:
    def wakeup(self):
        pass


class Producer:
    def __init__(self, manager=None):
        self._transaction_manager, self._sender = manager, Sender()
        self.public_commits = 0

    def commit_transaction(self):
        self.public_commits += 1


def test_a_commit_whose_answer_never_comes_ends_at_its_deadline():
    producer = Producer(Manager())
    started = time.monotonic()
    with pytest.raises(TransactionHung, match="has not ended in time"):
        kafka_compat.commit(producer, deadline=started + 0.2)
    assert 0.2 <= time.monotonic() - started < 2
    assert producer.public_commits == 0


def test_a_commit_answered_in_time_returns_and_its_error_is_raised():
    manager = Manager()
    threading.Timer(0.1, manager.result.done, args=(ProducerFencedError(),)).start()
    with pytest.raises(ProducerFencedError):
        kafka_compat.commit(Producer(manager), deadline=time.monotonic() + 10)


def test_without_the_internals_it_relies_on_the_public_call_is_made():
    producer = Producer(manager=None)
    kafka_compat.commit(producer, deadline=time.monotonic())
    assert producer.public_commits == 1


LIMIT = 1024 * 1024


def test_a_page_the_topic_would_refuse_is_told_apart_from_one_it_takes():
    assert kafka_compat.oversized(b"x" * 1000, "zstd", LIMIT) is None
    assert kafka_compat.oversized(b"<p>pizza</p>" * 500_000, "zstd", LIMIT) is None  # 6 MB, ~1 KB zstd
    noise = random.Random(0).randbytes(2 * LIMIT)
    reason = kafka_compat.oversized(noise, "zstd", LIMIT)
    assert "after zstd compression" in reason
    assert "exceeds the topic's max.message.bytes (1048576)" in reason
    assert kafka_compat.oversized(noise, None, 4 * LIMIT) is None


def test_the_backlog_waits_for_acknowledgements_to_make_room():
    backlog = kafka_compat.Backlog(limit=100)
    backlog.add(150)
    threading.Timer(0.2, backlog.done, args=(100,)).start()
    backlog.wait_for_room(StopSignal())
    assert backlog.pending == 50  # it returned only once the acknowledgement made room
    backlog.wait_for_room(StopSignal())  # room already: no wait


def test_a_stop_ends_the_wait_for_room():
    backlog, stop = kafka_compat.Backlog(limit=100), StopSignal()
    backlog.add(150)
    threading.Timer(0.2, stop.set).start()
    backlog.wait_for_room(stop)
    assert backlog.pending == 150


def test_past_dead_brokers_asks_again_until_a_live_broker_answers_then_gives_up():
    from kafka.errors import KafkaConnectionError
    answers = [KafkaConnectionError("111 ECONNREFUSED"), "described"]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert kafka_compat.past_dead_brokers(call) == "described"

    def refused():
        raise KafkaConnectionError("111 ECONNREFUSED")

    with pytest.raises(KafkaConnectionError):
        kafka_compat.past_dead_brokers(refused, timeout_s=0)


class CountingSocket(socket.socket):
    reads = 0

    def recv(self, size):
        self.reads += 1
        return super().recv(size)

    def recv_into(self, buffer):
        self.reads += 1
        return super().recv_into(buffer)


@pytest.fixture
def transport_on_a_socket_pair():
    """A plaintext transport reading one end of a local socket pair; the test writes the other."""
    ours, theirs = socket.socketpair()
    reading = CountingSocket(fileno=ours.detach())
    reading.setblocking(False)
    transport = KafkaTCPTransport(net=None, sock=reading)  # only its read loop is under test
    yield transport, theirs
    reading.close()
    theirs.close()


def test_a_socket_read_takes_what_is_there_not_4_kb_at_a_time(transport_on_a_socket_pair):
    transport, theirs = transport_on_a_socket_pair
    payload = random.randbytes(100_000)
    theirs.sendall(payload)
    data, err = transport._sock_recv()
    assert (data, err) == (payload, None)
    assert transport._sock.reads <= 3  # kafka-python's own loop: 26 reads of 4 KB


def test_reads_land_in_the_connections_own_buffer_handed_on_as_a_view(transport_on_a_socket_pair):
    transport, theirs = transport_on_a_socket_pair
    first, burst = random.randbytes(1000), random.randbytes(kafka_compat.READ_BYTES + 50_000)
    theirs.sendall(first)
    data, _ = transport._sock_recv()
    assert isinstance(data, memoryview) and data == first  # kafka-python's own: new bytes, joined
    buffer = data.obj
    theirs.sendall(first)
    again, _ = transport._sock_recv()
    assert again == first and again.obj is buffer, "the same buffer, read after read"
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2**21)  # room for the whole burst
    theirs.sendall(burst)
    more, _ = transport._sock_recv()
    assert more == burst and len(more.obj) > len(buffer), "one read, into a larger buffer"


def test_a_response_field_is_copied_out_of_its_frame_once():
    size = 4 * 2**20
    frame = KafkaBytes(size)
    frame.write(random.randbytes(size))
    frame.seek(0)
    tracemalloc.start()
    try:
        field = frame.read(size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(field) == size
    assert peak < 1.2 * size  # kafka-python's own: a slice, then bytes of it, 2x


def test_a_socket_closed_by_its_peer_is_reported_after_its_last_bytes(transport_on_a_socket_pair):
    transport, theirs = transport_on_a_socket_pair
    theirs.sendall(b"last words")
    theirs.close()
    data, err = transport._sock_recv()
    assert isinstance(err, KafkaConnectionError)
    assert data == b"last words"


PAGES = [b"<html>page %d</html>" % i * 3000 for i in range(3)]


@pytest.mark.parametrize("codec", [DefaultRecordBatch.CODEC_NONE, DefaultRecordBatch.CODEC_GZIP,
                                   DefaultRecordBatch.CODEC_ZSTD], ids=["none", "gzip", "zstd"])
def test_a_record_batch_decodes_to_its_records_from_its_first_offset_on(codec):
    batch = record_batch(codec, PAGES, first_offset=41)
    records = kafka_compat.records_of(batch)
    assert [(r.topic, r.partition, r.offset, r.key, r.value, r.headers) for r in records] == \
        [("raw", 2, 40 + i, b"key-%d" % i, PAGES[i], [("h", b"%d" % i)]) for i in (1, 2)]


def test_a_zstd_frame_that_does_not_state_its_size_is_decoded_too(monkeypatch):
    # Some Java producers stream their zstd frames: the one-call decompression needs the size.
    import kafka.record.default_records as default_records
    unsized = zstandard.ZstdCompressor(write_content_size=False)
    monkeypatch.setattr(default_records, "zstd_encode", lambda data: unsized.compress(data))
    batch = record_batch(DefaultRecordBatch.CODEC_ZSTD, PAGES)
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().decompress(batch.data[DefaultRecordBatch.HEADER_STRUCT.size:])
    assert [r.value for r in kafka_compat.records_of(batch)] == PAGES


def test_a_record_already_decoded_is_its_own_record():
    [record] = records([b"<html>a page</html>"])
    assert kafka_compat.records_of(record) == [record]
