"""What each raw record becomes: its recipe or its dead letter, named by provenance headers.

Also the offsets a batch commits, and how its pages are read again when it
is not committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from ..kafka_compat import RecordBatch
from .settings import ParseSettings

REASON_LIMIT = 500  # bytes of error text kept in a dead-letter header


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


def rewind(consumer, entries) -> dict[TopicPartition, int]:
    """Make the next poll return ``entries`` (records or record batches) again, their
    partitions from the earliest one.

    Returns the offset each partition was rewound to.
    """
    first = {}
    for entry in entries:
        tp = TopicPartition(entry.topic, entry.partition)
        offset = entry.first_offset if isinstance(entry, RecordBatch) else entry.offset
        first[tp] = min(first.get(tp, offset), offset)
    assigned = consumer.assignment()
    for tp, offset in first.items():
        if tp in assigned:  # a partition lost to a rebalance is re-read by its new owner
            consumer.seek(tp, offset)
    return first


COMMITTED_TIMEOUT_MS = 30_000  # past a group coordinator's move


def rewind_to_committed(consumer, first: dict[TopicPartition, int]) -> None:
    """Seek each of these partitions to its committed offset, if it has one.

    After a transaction whose outcome we never heard, the broker says
    whether it committed. ``first`` (partition -> earliest offset in hand)
    stands for a partition that never committed. The consumer reads
    committed offsets stably (KIP-447): none is pending.
    """
    assigned = consumer.assignment()
    for tp, offset in first.items():
        if tp in assigned:
            committed = consumer.committed(tp, timeout_ms=COMMITTED_TIMEOUT_MS)
            consumer.seek(tp, offset if committed is None else committed)
