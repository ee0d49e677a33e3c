"""The notify stage's run loop, and the one path every record takes to the sinks."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from kafka.errors import (CommitFailedError, GroupAuthorizationFailedError, RebalanceInProgressError,
                          TopicAuthorizationFailedError)
from kafka.structs import OffsetAndMetadata

from .. import metrics, tuning
from ..connection import Connection
from ..consuming import batches
from ..topics import ensure_topics
from .alert_log import ALERTS_TOPIC_CONFIG, AlertLog, CatchUpOnAssign
from .alerts import Alert, format_number, read_recipe, recipe_key, should_alert
from .sinks import FORMATS, Sink, Webhook

log = logging.getLogger(__name__)

# Read when --webhook is not given, so the URL stays out of shell history and `ps`.
WEBHOOK_ENV = "ALERT_WEBHOOK_URL"


@dataclass(frozen=True)
class NotifySettings:
    connection: Connection
    topic: str = "parsed_recipes"
    group: str = "recipe-notifier"
    threshold: float = 200
    min_calories: float | None = None
    max_calories: float | None = None
    output_format: str = "text"
    alerts_topic: str = "calorie_alerts"
    repeat_alerts: bool = False
    webhook: str | None = field(default=None, repr=False)  # the URL is the secret
    webhook_timeout: float = 5.0
    webhook_retries: int = tuning(4)
    from_beginning: bool = True
    timeout_ms: int | None = None
    partitions: int = 3
    replication_factor: int = 1


@dataclass
class NotifyStats:
    consumed: int = 0
    alerted: int = 0
    repeats_suppressed: int = 0
    unreadable: int = 0
    undelivered: Counter = field(default_factory=Counter)  # sink name -> alerts it failed
    started: float = field(default_factory=time.monotonic)

    def counters(self) -> list[tuple[str, str, dict, float]]:
        """The summary line's counts, for ``metrics``."""
        failures = "Alerts a sink failed to deliver, by sink"
        return [("notifier_recipes_consumed", "Parsed recipes read", {}, self.consumed),
                ("notifier_alerts", "Alerts raised (each recipe over the threshold, once)", {},
                 self.alerted),
                ("notifier_repeats_suppressed", "Alerts not raised again for a recipe already alerted",
                 {}, self.repeats_suppressed),
                ("notifier_records_unreadable", "Records that are not JSON recipes", {},
                 self.unreadable),
                *((("notifier_delivery_failures", failures, {"sink": sink}, failed)
                   for sink, failed in self.undelivered.items()))]

    def summary(self) -> str:
        text = (f"read {self.consumed} recipe(s), {self.alerted} alert(s), "
                f"{self.repeats_suppressed} repeat(s) suppressed, "
                f"{self.unreadable} unreadable record(s)")
        for sink, failed in self.undelivered.items():
            if failed:
                text += f", {failed} {sink} delivery failure(s)"
        return text


class Notifier:
    """Turns each parsed record into an alert for every sink, or into nothing."""

    def __init__(self, settings: NotifySettings, sinks: list[Sink], alert_log: AlertLog | None,
                 stats: NotifyStats):
        self.settings, self.sinks, self.alert_log, self.stats = settings, sinks, alert_log, stats

    def handle(self, record) -> None:
        settings, stats = self.settings, self.stats
        stats.consumed += 1
        recipe = read_recipe(record.value)
        if recipe is None:
            stats.unreadable += 1
            log.warning("skipping %s-%d@%d: not a JSON recipe",
                        record.topic, record.partition, record.offset)
            return
        if not should_alert(recipe, settings.threshold, settings.min_calories, settings.max_calories):
            return
        key = recipe_key(recipe, record.key)
        if self.alert_log is not None and self.alert_log.seen(key):
            stats.repeats_suppressed += 1
            log.debug("already alerted: %s", key)
            return
        alert = Alert.of(recipe, settings.threshold, key, record.timestamp)
        if record.timestamp is not None and record.timestamp >= 0:
            metrics.ALERT_LATENCY_SECONDS.observe(max(0, alert.alerted_ms - record.timestamp) / 1000)
        stats.alerted += 1
        for sink in self.sinks:
            if not sink.record(alert):
                stats.undelivered[sink.name] += 1

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()


def run(settings: NotifySettings, stop, out: TextIO | None = None) -> NotifyStats:
    try:
        return alert(settings, stop, out)
    except GroupAuthorizationFailedError as exc:
        raise settings.connection.denied("Read", "group", settings.group) from exc
    except TopicAuthorizationFailedError as exc:
        raise settings.connection.denied("Read", "topic", settings.topic) from exc


def alert(settings: NotifySettings, stop, out: TextIO | None = None) -> NotifyStats:
    topics = {settings.topic: {}}
    if not settings.repeat_alerts:
        topics[settings.alerts_topic] = ALERTS_TOPIC_CONFIG
    ensure_topics(settings.connection, topics, settings.partitions, settings.replication_factor)
    stats = NotifyStats()
    metrics.track(stats, metrics.ALERT_LATENCY_SECONDS)
    with contextlib.ExitStack() as cleanup:
        sinks: list[Sink] = []

        def add(sink: Sink) -> Sink:
            cleanup.callback(sink.close)
            sinks.append(sink)
            stats.undelivered[sink.name] += 0  # a failure counter from the start, for metrics
            return sink

        add(FORMATS[settings.output_format](out or sys.stdout))
        if settings.webhook:
            add(Webhook(settings.webhook, settings.webhook_timeout, settings.webhook_retries))
        alert_log = None if settings.repeat_alerts else add(
            AlertLog(settings.connection, settings.alerts_topic, settings.group))
        consumer = settings.connection.consumer(
            [settings.topic], settings.group, from_beginning=settings.from_beginning,
            listener=alert_log and CatchUpOnAssign(alert_log))
        cleanup.callback(consumer.close, autocommit=False)
        notifier = Notifier(settings, sinks, alert_log, stats)
        log.info("alerting on %s above %s kcal per serving, as group %r",
                 settings.topic, format_number(settings.threshold), settings.group)
        for batch in batches(consumer, stop, settings.timeout_ms, poll_ms=100):
            if alert_log is not None and alert_log.stale:
                alert_log.catch_up()
            offsets = {}
            for tp, records in batch.items():
                for record in records:
                    notifier.handle(record)
                offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
            notifier.flush()  # printed, posted and logged before the offsets commit
            try:
                consumer.commit(offsets)
            except (CommitFailedError, RebalanceInProgressError) as exc:
                # The partitions moved on. Their new owner starts from the last
                # commit; the alert log keeps it from alerting these again.
                log.warning("offsets not committed, the group rebalanced: %s", exc)
    return stats
