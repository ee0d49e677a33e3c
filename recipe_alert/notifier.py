"""Alert on parsed recipes whose calories exceed a threshold."""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from kafka.structs import OffsetAndMetadata

from . import kafka_io

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotifySettings:
    bootstrap: str
    topic: str = "parsed_recipes"
    group: str = "recipe-notifier"
    threshold: float = 200
    output_format: str = "text"
    from_beginning: bool = True
    timeout_ms: int | None = None
    partitions: int = 3
    replication_factor: int = 1


@dataclass
class NotifyStats:
    consumed: int = 0
    alerted: int = 0
    unreadable: int = 0
    started: float = field(default_factory=time.monotonic)

    def summary(self) -> str:
        return (f"read {self.consumed} recipe(s), {self.alerted} alert(s), "
                f"{self.unreadable} unreadable record(s)")


def format_number(value: float) -> str:
    """551 -> '551', 551.4 -> '551.4': the tutorial printed whole numbers."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def should_alert(recipe: dict, threshold: float) -> bool:
    calories = recipe.get("calories")
    # bool is an int; a record saying `true` is not a calorie count.
    return isinstance(calories, (int, float)) and not isinstance(calories, bool) \
        and calories > threshold


def format_alert(recipe: dict, output_format: str, threshold: float,
                 produced_ms: int | None = None) -> str:
    title = recipe.get("title") or "(untitled)"
    if output_format == "json":
        return json.dumps({
            "title": title,
            "calories": recipe["calories"],
            "per": "serving",
            "threshold": threshold,
            "url": recipe.get("url"),
            "produced_ms": produced_ms,
            "alerted_ms": int(time.time() * 1000),
        }, ensure_ascii=False)
    return f"Alert: {title} calories count is {format_number(recipe['calories'])}"


def read_recipe(value: bytes | None) -> dict | None:
    try:
        recipe = json.loads(value) if value else None
    except (ValueError, UnicodeDecodeError):
        return None
    return recipe if isinstance(recipe, dict) else None


def run(settings: NotifySettings, stop, out: TextIO | None = None) -> NotifyStats:
    out = out or sys.stdout
    kafka_io.ensure_topics(settings.bootstrap, {settings.topic: {}},
                           settings.partitions, settings.replication_factor)
    consumer = kafka_io.make_consumer(settings.bootstrap, [settings.topic], settings.group,
                                      from_beginning=settings.from_beginning)
    stats = NotifyStats()
    log.info("alerting on %s above %s kcal per serving, as group %r",
             settings.topic, format_number(settings.threshold), settings.group)
    try:
        for batch in kafka_io.batches(consumer, stop, settings.timeout_ms, poll_ms=100):
            offsets = {}
            for tp, records in batch.items():
                for record in records:
                    stats.consumed += 1
                    recipe = read_recipe(record.value)
                    if recipe is None:
                        stats.unreadable += 1
                        log.warning("skipping %s-%d@%d: not a JSON recipe",
                                    record.topic, record.partition, record.offset)
                    elif should_alert(recipe, settings.threshold):
                        out.write(format_alert(recipe, settings.output_format,
                                               settings.threshold, record.timestamp) + "\n")
                        stats.alerted += 1
                offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
            out.flush()  # the alerts are out before their offsets are committed
            consumer.commit(offsets)
    finally:
        consumer.close(autocommit=False)
    return stats
