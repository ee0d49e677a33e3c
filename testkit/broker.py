"""Helpers for tests and drivers that talk to the real broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from recipe_alert import kafka_io

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")


@dataclass(frozen=True)
class Names:
    """Unique topics and groups for one test."""

    raw: str
    parsed: str
    dead: str
    alerts: str
    parser_group: str
    notifier_group: str

    @classmethod
    def unique(cls, label: str) -> "Names":
        run = f"{re.sub(r'[^a-zA-Z0-9._-]', '_', label)[:60]}.{uuid.uuid4().hex[:8]}"
        return cls(raw=f"t.{run}.raw", parsed=f"t.{run}.parsed", dead=f"t.{run}.dead",
                   alerts=f"t.{run}.alerts",
                   parser_group=f"g.{run}.parser", notifier_group=f"g.{run}.notifier")


def run_script(script: str, *args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP, "PYTHONUNBUFFERED": "1"}
    env.update(kwargs.pop("env", {}))
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def start_script(script: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP, "PYTHONUNBUFFERED": "1"}
    env.update(kwargs.pop("env", {}))
    return subprocess.Popen([sys.executable, str(ROOT / script), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def read_topic(topic: str, *, expected: int | None = None, timeout_s: float = 30,
               isolation_level: str = "read_committed") -> list:
    """Every record of ``topic`` up to its end, in partition and offset order.

    With ``expected``, reads again until that many records are there or
    ``timeout_s`` has passed.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        records = sorted(scan(topic, isolation_level), key=lambda r: (r.partition, r.offset))
        if expected is None or len(records) >= expected or time.monotonic() > deadline:
            return records
        time.sleep(0.2)  # polling the topic; bounded by the deadline


def header(record, name: str) -> str | None:
    return kafka_io.header(record.headers, name)


def reader(topics: list[str], isolation_level: str = "read_committed", **overrides) -> KafkaConsumer:
    """A consumer outside any group, at the beginning of every partition of ``topics``."""
    consumer = KafkaConsumer(**kafka_io.connection(BOOTSTRAP), enable_auto_commit=False,
                             isolation_level=isolation_level, auto_offset_reset="earliest", **overrides)
    tps = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
    consumer.assign(tps)
    if tps:
        consumer.seek_to_beginning(*tps)
    return consumer


def scan(topic: str, isolation_level: str = "read_committed") -> Iterator:
    """Every record of ``topic`` up to its current end, streamed (large topics stay out of memory)."""
    consumer = reader([topic], isolation_level, max_partition_fetch_bytes=4 * 1024 * 1024)
    try:
        ends = consumer.end_offsets(list(consumer.assignment()))
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end")
            for records in consumer.poll(timeout_ms=500).values():
                yield from records
    finally:
        consumer.close()


def wait_for(condition, timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll ``condition`` until true; a Kafka error (broker restarting, say) counts as not yet."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            if condition():
                return
        except KafkaError as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}"
                               + (f" (last error: {last_error})" if last_error else ""))
        time.sleep(interval)


def create_topic(topic: str, partitions: int) -> None:
    kafka_io.ensure_topics(BOOTSTRAP, {topic: {}}, partitions, 1)


def group_state(admin, group: str) -> tuple[str | None, int]:
    """``group``'s state and its number of members, as its coordinator sees them."""
    description = admin.describe_groups([group]).get(group) or {}
    return description.get("group_state"), len(description.get("members") or ())


def wait_for_group(group: str, members: int, timeout_s: float = 60) -> None:
    """Until ``group`` is Stable with ``members`` members (polled, bounded)."""
    with kafka_io.admin(BOOTSTRAP) as admin:
        wait_for(lambda: group_state(admin, group) == ("Stable", members), timeout_s,
                 f"group {group} to have {members} stable members")
