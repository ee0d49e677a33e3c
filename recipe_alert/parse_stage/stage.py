"""The parse stage's run loop: start-up, the stream, and shutdown."""

from __future__ import annotations

import logging

from kafka.errors import KafkaError, TopicAuthorizationFailedError

from .. import kafka_compat, metrics
from ..consuming import batches
from ..errors import BrokerError, Fenced, TransactionHung
from ..topics import ensure_topics
from .pipeline import Pipeline
from .settings import ParseSettings, ParseStats
from .transactions import Transactions, denial
from .workers import Parsers

log = logging.getLogger(__name__)

MAX_FAILURES = 10  # of the same batch in a row, before the stage gives up


def run(settings: ParseSettings, stop) -> ParseStats:
    parsers = Parsers(settings.workers)  # the workers start while this process reaches Kafka
    try:
        return consume(settings, stop, parsers)
    finally:
        parsers.close()


def consume(settings: ParseSettings, stop, parsers: Parsers) -> ParseStats:
    ensure_topics(
        settings.connection,
        {settings.input_topic: {}, settings.output_topic: {}, settings.dead_letter_topic: {}},
        settings.partitions, settings.replication_factor)
    consumer = settings.connection.consumer(
        [settings.input_topic], settings.group, from_beginning=settings.from_beginning,
        # Static membership: a restarted instance takes its partitions back at
        # once instead of waiting out its dead predecessor's session.
        group_instance_id=settings.transactional_id,
        max_poll_records=settings.batch_size,
        max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
        fetch_max_bytes=4 * settings.max_partition_fetch_bytes,
    )
    kafka_compat.hand_on_undecoded(consumer)  # the workers decompress and decode pages
    stats = ParseStats()
    metrics.track(stats, metrics.PARSE_SECONDS, metrics.COMMIT_SECONDS)
    txns = Transactions(settings, stats)
    pipeline = Pipeline(settings, consumer, txns, parsers, stats, stop)
    try:
        txns.start()
        log.info("parsing %s -> %s (dead letters: %s) as group %r, transactional id %r, "
                 "with %d worker process(es)", settings.input_topic, settings.output_topic,
                 settings.dead_letter_topic, settings.group, settings.transactional_id,
                 settings.workers)
        failures = 0
        for batch in batches(consumer, stop, settings.timeout_ms, held=pipeline.held):
            stats.working(bool(batch) or pipeline.held() is not None)
            try:
                pipeline.add(batch)
                failures = 0
            except (KafkaError, TransactionHung) as exc:
                if kafka_compat.is_fenced(exc):
                    raise
                failures += 1
                if failures >= MAX_FAILURES:
                    raise BrokerError(
                        f"the same batch failed {failures} times; last error: {exc}") from exc
                if isinstance(exc, TransactionHung):
                    pipeline.recover(exc)
                else:
                    log.warning("transaction aborted (%s: %s); retrying the batch (attempt %d)",
                                type(exc).__name__, exc, failures)
            stats.working(pipeline.held() is not None)
            log.debug("%s", stats.summary())
    except TopicAuthorizationFailedError as exc:
        # The consumer's (commits are inside pipeline.add): Describe lets the group join and
        # be assigned the input topic, then every fetch is refused.
        raise settings.connection.denied("Read", "topic", settings.input_topic) from exc
    except KafkaError as exc:
        if kafka_compat.is_fenced(exc):
            raise Fenced(
                f"transactional id {settings.transactional_id!r} was taken over by another "
                f"instance (a restart of this one, or a second instance with the same id: "
                f"give each instance its own --transactional-id); Kafka said "
                f"{type(exc).__name__}: {exc}") from exc
        raise denial(exc, [], [], settings) or exc
    finally:
        consumer.close(autocommit=False)
        txns.close()
    return stats
