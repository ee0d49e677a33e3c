"""Stand-ins shared by several unit test files: a scripted consumer, records, batches, settings.

What Kafka itself does is tested against the real broker in tests/integration;
these only script what a test needs a consumer to report.
"""

from __future__ import annotations

from collections import namedtuple

from kafka import TopicPartition
from kafka.record.memory_records import MemoryRecordsBuilder
from kafka.structs import ConsumerGroupMetadata, MemberState

from recipe_alert import kafka_compat
from recipe_alert.connection import Connection
from recipe_alert.parse_stage import ParseSettings

RAW = TopicPartition("raw", 0)
Record = namedtuple("Record", "topic partition offset key value timestamp", defaults=(0,))
SETTINGS = ParseSettings(connection=Connection("unused:9092"), input_topic="raw",
                         output_topic="parsed", dead_letter_topic="dead", group="g",
                         transactional_id="t")


def records(values, topic: str = "raw") -> list[Record]:
    """One record per value, at offsets 0, 1, ... of partition 0, keyed ``key-<offset>``."""
    return [Record(topic, 0, offset, f"key-{offset}".encode(), value)
            for offset, value in enumerate(values)]


def record_batch(codec: int, pages: list[bytes], first_offset: int = 0, base: int = 40):
    """A v2 record batch of ``pages`` at offsets base, base + 1, ..., as a broker returns it."""
    builder = MemoryRecordsBuilder(magic=2, compression_type=codec, batch_size=1 << 24, offset=base)
    for i, page in enumerate(pages):
        builder.append(timestamp=1_700_000_000_000 + i, key=b"key-%d" % i, value=page,
                       headers=[("h", b"%d" % i)])
    builder.close()
    data = bytes(builder.records().next_batch()._buffer)
    return kafka_compat.RecordBatch("raw", 2, base + len(pages) - 1, max(base, first_offset), data)


def member(generation: int, state=MemberState.STABLE) -> ConsumerGroupMetadata:
    return ConsumerGroupMetadata("g", generation, "member-1", "t", state)


class ScriptedConsumer:
    """Returns the given poll results in turn, then nothing; records each poll's timeout and each seek.

    ``group_metadata()`` reports ``membership``, except during the first
    ``rebalancing`` polls, when the member is rejoining its group.
    """

    def __init__(self, *results, rebalancing: int = 0, membership: ConsumerGroupMetadata = member(1)):
        self.results = list(results)
        self.rebalancing = rebalancing
        self.membership = membership
        self.timeouts = []
        self.seeks = []

    def poll(self, timeout_ms):
        self.timeouts.append(timeout_ms)
        return self.results.pop(0) if self.results else {}

    def assignment(self):
        return {RAW}

    def group_metadata(self):
        if len(self.timeouts) <= self.rebalancing and self.rebalancing:
            return self.membership._replace(state=MemberState.REBALANCING)
        return self.membership

    def highwater(self, tp):
        return None  # as before any fetch: no lag to report

    def seek(self, tp, offset):
        self.seeks.append((tp, offset))

    def commit(self, offsets):
        pass

    def close(self, autocommit):
        pass
