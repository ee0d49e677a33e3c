"""Helpers for tests and drivers that talk to the real broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

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
    """Every record of ``topic`` up to its end offsets (or ``expected`` records).

    Reads by assignment, outside any group, until the end offsets seen at the
    start are reached; with ``expected`` it keeps reading until that many
    records arrived or the deadline passed.
    """
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False,
                             isolation_level=isolation_level, auto_offset_reset="earliest",
                             max_partition_fetch_bytes=16 * 1024 * 1024)
    try:
        deadline = time.monotonic() + timeout_s
        partitions = None
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records = []
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
            if expected is not None:
                if len(records) >= expected:
                    break
            elif all(consumer.position(tp) >= end for tp, end in consumer.end_offsets(tps).items()):
                break
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def header(record, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()
    return None


def create_topic(topic: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        admin.create_topics({topic: {"num_partitions": partitions, "replication_factor": 1}},
                            wait_for_metadata=True)
    finally:
        admin.close()


def wait_for_group(group: str, members: int, timeout_s: float = 60) -> None:
    """Until ``group`` is Stable with ``members`` members (polled, bounded)."""
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = admin.describe_groups([group])[group]
            if state["group_state"] == "Stable" and len(state["members"]) == members:
                return
            time.sleep(0.1)  # polling a broker-side state; there is no event to wait on
        raise AssertionError(f"group {group} did not reach {members} stable members: {state}")
    finally:
        admin.close()
