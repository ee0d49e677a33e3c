"""Alert on parsed recipes whose calories per serving exceed a threshold.

Each recipe alerts once. The alerts already sent live in a compacted Kafka
topic keyed by recipe URL: every notifier writes there before committing its
offsets, and reads it back when it is given partitions, so notifiers on any
machine in one group agree on what was already alerted.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

import requests
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, RebalanceInProgressError
from kafka.structs import OffsetAndMetadata

from . import kafka_io
from .urls import normalize_url

log = logging.getLogger(__name__)

ALERTS_TOPIC_CONFIG = {"cleanup.policy": "compact"}


@dataclass(frozen=True)
class NotifySettings:
    bootstrap: str
    topic: str = "parsed_recipes"
    group: str = "recipe-notifier"
    threshold: float = 200
    min_calories: float | None = None
    max_calories: float | None = None
    output_format: str = "text"
    alerts_topic: str = "calorie_alerts"
    repeat_alerts: bool = False
    webhook: str | None = None
    webhook_timeout: float = 5.0
    webhook_retries: int = 4
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
    webhook_failed: int = 0
    started: float = field(default_factory=time.monotonic)

    def summary(self) -> str:
        text = (f"read {self.consumed} recipe(s), {self.alerted} alert(s), "
                f"{self.repeats_suppressed} repeat(s) suppressed, "
                f"{self.unreadable} unreadable record(s)")
        if self.webhook_failed:
            text += f", {self.webhook_failed} webhook delivery failure(s)"
        return text


def format_number(value: float) -> str:
    """551 -> '551', 551.4 -> '551.4': the tutorial printed whole numbers."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def calories_of(recipe: dict) -> float | None:
    calories = recipe.get("calories")
    # bool is an int; a record saying `true` is not a calorie count.
    if isinstance(calories, (int, float)) and not isinstance(calories, bool):
        return calories
    return None


def should_alert(recipe: dict, threshold: float, min_calories: float | None = None,
                 max_calories: float | None = None) -> bool:
    """Above ``threshold``; or, with ``min_calories``, at least that; never above ``max_calories``."""
    calories = calories_of(recipe)
    if calories is None:
        return False
    above = calories >= min_calories if min_calories is not None else calories > threshold
    return above and (max_calories is None or calories <= max_calories)


def alert_line(recipe: dict) -> str:
    title = recipe.get("title") or "(untitled)"
    return f"Alert: {title} calories count is {format_number(recipe['calories'])}"


def webhook_text(recipe: dict) -> str:
    url = recipe.get("url")
    return f"{alert_line(recipe)} (per serving)" + (f" {url}" if url else "")


def alert_record(recipe: dict, threshold: float, produced_ms: int | None = None) -> dict:
    return {
        "title": recipe.get("title") or "(untitled)",
        "calories": recipe["calories"],
        "per": "serving",
        "threshold": threshold,
        "url": recipe.get("url"),
        "produced_ms": produced_ms,
        "alerted_ms": int(time.time() * 1000),
    }


def format_alert(recipe: dict, output_format: str, threshold: float,
                 produced_ms: int | None = None) -> str:
    if output_format == "json":
        return json.dumps(alert_record(recipe, threshold, produced_ms), ensure_ascii=False)
    return alert_line(recipe)


def read_recipe(value: bytes | None) -> dict | None:
    try:
        recipe = json.loads(value) if value else None
    except (ValueError, UnicodeDecodeError):
        return None
    return recipe if isinstance(recipe, dict) else None


def recipe_key(recipe: dict, record_key: bytes | None) -> str | None:
    """What makes two records the same recipe: the normalised URL."""
    if recipe.get("url"):
        return normalize_url(str(recipe["url"]))
    return record_key.decode("utf-8", "replace") if record_key else None


class AlertLog:
    """The set of recipes already alerted, mirrored from the compacted alerts topic."""

    TIMEOUT_S = 60  # to see the topic, and to read it to its end

    def __init__(self, bootstrap: str, topic: str):
        self.topic = topic
        self.alerted: set[str] = set()
        self.stale = True
        self._reader = KafkaConsumer(
            **kafka_io.connection(bootstrap),
            enable_auto_commit=False, isolation_level="read_committed")
        deadline = time.monotonic() + self.TIMEOUT_S
        # A topic just created may take a moment to show in this client's metadata.
        while not (partitions := self._reader.partitions_for_topic(topic)):
            self._give_up_after(deadline, "see its partitions")
            time.sleep(0.2)
        self._partitions = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._reader.assign(self._partitions)
        self._reader.seek_to_beginning(*self._partitions)

    def _give_up_after(self, deadline: float, doing: str) -> None:
        if time.monotonic() > deadline:
            raise kafka_io.BrokerError(
                f"could not {doing} of alerts topic {self.topic!r} within {self.TIMEOUT_S} s")

    def catch_up(self) -> None:
        """Read every alert written so far, by any notifier."""
        deadline = time.monotonic() + self.TIMEOUT_S
        ends = self._reader.end_offsets(self._partitions)
        while any(self._reader.position(tp) < end for tp, end in ends.items()):
            self._give_up_after(deadline, "read the alerts")
            for records in self._reader.poll(timeout_ms=500).values():
                self.alerted.update(r.key.decode("utf-8", "replace") for r in records if r.key)
        self.stale = False
        log.debug("%d recipe(s) already alerted", len(self.alerted))

    def close(self) -> None:
        self._reader.close()


class CatchUpOnAssign(ConsumerRebalanceListener):
    """Partitions moved from another notifier: learn what it alerted before alerting.

    The reading happens in the poll loop, not here: kafka-python logs and
    swallows a listener's errors.
    """

    def __init__(self, alert_log: AlertLog):
        self.alert_log = alert_log

    def on_partitions_revoked(self, revoked):
        pass

    def on_partitions_assigned(self, assigned):
        self.alert_log.stale = True


class Webhook:
    """POSTs Slack/Mattermost-style ``{"text": ...}``, with timeout and retries.

    A webhook that keeps failing gets one attempt per alert until it recovers,
    so it slows the stream at most by one timeout per alert.
    """

    def __init__(self, url: str, timeout: float, retries: int, sleep=time.sleep):
        self.url, self.timeout, self.retries, self.sleep = url, timeout, retries, sleep
        self.session = requests.Session()
        self.healthy = True

    def post(self, text: str, alert: dict) -> bool:
        attempts = 1 + (self.retries if self.healthy else 0)
        for attempt in range(attempts):
            if attempt:
                self.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))
            try:
                response = self.session.post(self.url, json={"text": text, "alert": alert},
                                             timeout=self.timeout)
                if response.status_code < 300:
                    self.healthy = True
                    return True
                problem = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
            log.warning("webhook %s failed (%s), attempt %d of %d",
                        self.url, problem, attempt + 1, attempts)
        self.healthy = False
        log.error("webhook gave up on: %s", text)
        return False


def run(settings: NotifySettings, stop, out: TextIO | None = None) -> NotifyStats:
    out = out or sys.stdout
    topics = {settings.topic: {}}
    if not settings.repeat_alerts:
        topics[settings.alerts_topic] = ALERTS_TOPIC_CONFIG
    kafka_io.ensure_topics(settings.bootstrap, topics, settings.partitions,
                           settings.replication_factor)
    alert_log = producer = None
    listener = None
    if not settings.repeat_alerts:
        alert_log = AlertLog(settings.bootstrap, settings.alerts_topic)
        listener = CatchUpOnAssign(alert_log)
        producer = kafka_io.make_producer(settings.bootstrap, linger_ms=0)
    consumer = kafka_io.make_consumer(settings.bootstrap, [settings.topic], settings.group,
                                      from_beginning=settings.from_beginning, listener=listener)
    webhook = settings.webhook and Webhook(settings.webhook, settings.webhook_timeout,
                                           settings.webhook_retries)
    stats = NotifyStats()
    log.info("alerting on %s above %s kcal per serving, as group %r",
             settings.topic, format_number(settings.threshold), settings.group)
    try:
        for batch in kafka_io.batches(consumer, stop, settings.timeout_ms, poll_ms=100):
            if alert_log is not None and alert_log.stale:
                alert_log.catch_up()
            offsets = {}
            for tp, records in batch.items():
                for record in records:
                    alert(record, settings, stats, out, alert_log, producer, webhook)
                offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
            out.flush()
            if producer is not None:
                producer.flush()  # the alert log holds this batch before its offsets commit
            try:
                consumer.commit(offsets)
            except (CommitFailedError, RebalanceInProgressError) as exc:
                # The partitions moved on. Their new owner starts from the last
                # commit; the alert log keeps it from alerting these again.
                log.warning("offsets not committed, the group rebalanced: %s", exc)
    finally:
        consumer.close(autocommit=False)
        if producer is not None:
            producer.close(timeout=10)
        if alert_log is not None:
            alert_log.close()
    return stats


def alert(record, settings: NotifySettings, stats: NotifyStats, out: TextIO,
          alert_log: AlertLog | None, producer, webhook: Webhook | None) -> None:
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
    if alert_log is not None and key in alert_log.alerted:
        stats.repeats_suppressed += 1
        log.debug("already alerted: %s", key)
        return
    body = alert_record(recipe, settings.threshold, record.timestamp)
    if settings.output_format == "json":
        out.write(json.dumps(body, ensure_ascii=False) + "\n")
    else:
        out.write(alert_line(recipe) + "\n")
    stats.alerted += 1
    if webhook and not webhook.post(webhook_text(recipe), body):
        stats.webhook_failed += 1
    if alert_log is not None and key is not None:
        alert_log.alerted.add(key)
        producer.send(alert_log.topic, key=key.encode(), value=json.dumps(body).encode())
