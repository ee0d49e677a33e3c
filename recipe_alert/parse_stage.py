"""Consume raw pages, parse them, publish recipes: exactly once, per batch.

Each batch is one Kafka transaction holding its outputs, its dead letters and
the consumed offsets, so a crash at any moment leaves either the whole batch
or none of it.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import dataclass, field

from kafka import TopicPartition
from kafka.errors import KafkaError, ProducerFencedError
from kafka.structs import OffsetAndMetadata

from . import kafka_io
from .errors import NotARecipe, RecipeAlertError
from .parser import scrape_html

log = logging.getLogger(__name__)

REASON_LIMIT = 500  # bytes of error text kept in a dead-letter header


class Fenced(RecipeAlertError):
    """Another instance took over this instance's transactional id."""

    exit_code = 3


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


def transform(record) -> tuple[bool, bytes | None, bytes, list[tuple[str, bytes]]]:
    """Parse one raw record: (parsed?, key, value, headers) of the record to publish."""
    try:
        if not record.value:
            raise NotARecipe("empty message")
        recipe = scrape_html(record.value, decode_key(record.key))
    except NotARecipe as exc:
        return False, record.key, record.value or b"", dead_letter_headers(record, exc)
    except Exception as exc:  # a parser bug must not stop the stream; the page is kept
        log.exception("parser failed on %s-%d@%d", record.topic, record.partition, record.offset)
        return False, record.key, record.value or b"", dead_letter_headers(record, exc)
    key = record.key or (recipe["url"] or "").encode() or None
    value = json.dumps(recipe, ensure_ascii=False).encode("utf-8")
    return True, key, value, provenance(record)


def process_batch(producer, consumer, batch, settings: ParseSettings, stats: ParseStats) -> None:
    """Publish one polled batch and its offsets in a single transaction."""
    producer.begin_transaction()
    try:
        offsets = {}
        parsed = dead = 0
        for tp, records in batch.items():
            for record in records:
                ok, key, value, headers = transform(record)
                topic = settings.output_topic if ok else settings.dead_letter_topic
                producer.send(topic, key=key, value=value, headers=headers)
                parsed += ok
                dead += not ok
            offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
        producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
        producer.commit_transaction()
    except ProducerFencedError as exc:
        raise Fenced(
            f"transactional id {settings.transactional_id!r} was taken over by another "
            f"instance; give each parser instance its own --transactional-id") from exc
    except KafkaError:
        stats.aborted += 1
        producer.abort_transaction()
        rewind(consumer, batch)
        raise
    stats.transactions += 1
    stats.consumed += parsed + dead
    stats.parsed += parsed
    stats.dead_lettered += dead


def rewind(consumer, batch) -> None:
    """After an abort, read the batch again from its first offset."""
    for tp, records in batch.items():
        consumer.seek(tp, records[0].offset)


def run(settings: ParseSettings, stop) -> ParseStats:
    kafka_io.ensure_topics(
        settings.bootstrap,
        {settings.input_topic: {}, settings.output_topic: {}, settings.dead_letter_topic: {}},
        settings.partitions, settings.replication_factor)
    consumer = kafka_io.make_consumer(
        settings.bootstrap, [settings.input_topic], settings.group,
        from_beginning=settings.from_beginning,
        max_poll_records=settings.batch_size,
        max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
        fetch_max_bytes=8 * settings.max_partition_fetch_bytes,
    )
    producer = None
    stats = ParseStats()
    try:
        producer = kafka_io.make_producer(
            settings.bootstrap, transactional_id=settings.transactional_id,
            compression_type=kafka_io.PAGE_COMPRESSION,
            max_request_size=kafka_io.MAX_RECORD_BYTES)
        producer.init_transactions()
        log.info("parsing %s -> %s (dead letters: %s) as group %r, transactional id %r",
                 settings.input_topic, settings.output_topic, settings.dead_letter_topic,
                 settings.group, settings.transactional_id)
        failures = 0
        for batch in kafka_io.batches(consumer, stop, settings.timeout_ms):
            try:
                process_batch(producer, consumer, batch, settings, stats)
                failures = 0
            except Fenced:
                raise
            except KafkaError as exc:
                failures += 1
                log.warning("transaction aborted (%s: %s); retrying the batch (attempt %d)",
                            type(exc).__name__, exc, failures)
                if failures >= 10:
                    raise kafka_io.BrokerError(
                        f"the same batch failed {failures} times; last error: {exc}") from exc
            log.debug("%s", stats.summary())
    finally:
        consumer.close(autocommit=False)
        if producer is not None:
            producer.close(timeout=10)
    return stats
