"""Helpers for tests and drivers that talk to the real broker, through the scripts' own Connection."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError

from recipe_alert import kafka_compat
from recipe_alert.connection import Connection
from recipe_alert.consuming import header as _header
from recipe_alert.topics import ensure_topics

from . import ROOT

# Where the scripts under test connect: $KAFKA_BOOTSTRAP_SERVERS, else localhost:9092.
CONNECTION = Connection.from_args()
BOOTSTRAP = CONNECTION.bootstrap_servers


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


def absent(message: str, required_by: str | None = None) -> NoReturn:
    """A broker a test needs is not there: fail under CI=true (and, with ``required_by``
    such as ``"KAFKA_SECURITY=sasl_ssl"``, when that variable has that value), else skip."""
    import pytest  # only tests call this; the drivers that use this module don't need pytest

    name, _, value = (required_by or "").partition("=")
    if os.environ.get("CI") == "true" and (not name or os.environ.get(name) == value):
        pytest.fail(message)
    pytest.skip(message)


def script_command(script: str, *args: str, python: str | None = None) -> list[str]:
    return [python or sys.executable, str(ROOT / script), *args]


def script_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a script under test runs with: this broker, unbuffered output."""
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP, "PYTHONUNBUFFERED": "1",
            **(extra or {})}


def run_script(script: str, *args: str, timeout: float = 120, env=None,
               **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(script_command(script, *args), cwd=ROOT, env=script_env(env),
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def start_script(script: str, *args: str, env=None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(script_command(script, *args), cwd=ROOT, env=script_env(env),
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
    return _header(record.headers, name)


def reader(topics: list[str], isolation_level: str = "read_committed", **overrides) -> KafkaConsumer:
    """A consumer outside any group, at the beginning of every partition of ``topics``."""
    consumer = CONNECTION.reader(isolation_level=isolation_level, auto_offset_reset="earliest",
                                 **overrides)
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


def create_topic(topic: str, partitions: int, configs: dict[str, str] | None = None,
                 replication_factor: int = 1) -> None:
    ensure_topics(CONNECTION, {topic: configs or {}}, partitions, replication_factor)


def topic_exists(topic: str) -> bool:
    def describe():
        with CONNECTION.admin() as admin:
            return admin.describe_topics([topic])

    (described,) = kafka_compat.past_dead_brokers(describe)
    return described["error_code"] == 0


def topic_config(topic: str, name: str, timeout_s: float = 30) -> dict:
    """The broker's entry for config ``name`` of ``topic``: its value, config_source, ...

    Asked again while it is missing: kafka-python drops DescribeConfigs' error codes, so a
    broker that does not know the new topic yet answers with no configs at all.
    """
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, [name])
    found = {}

    def described() -> bool:
        with CONNECTION.admin() as admin:
            configs = admin.describe_configs([resource], config_filter="all")
        found.update(configs.get("topic", {}).get(topic, {}))
        return name in found

    wait_for(described, timeout_s, f"{topic}'s {name}")  # a dead broker counts as "not yet"
    return found[name]


def group_state(admin, group: str) -> tuple[str | None, int]:
    """``group``'s state and its number of members, as its coordinator sees them."""
    description = admin.describe_groups([group]).get(group) or {}
    return description.get("group_state"), len(description.get("members") or ())


def wait_for_group(group: str, members: int, timeout_s: float = 60) -> None:
    """Until ``group`` is Stable with ``members`` members (polled, bounded)."""
    with CONNECTION.admin() as admin:
        wait_for(lambda: group_state(admin, group) == ("Stable", members), timeout_s,
                 f"group {group} to have {members} stable members")


def committed(group: str, topic: str) -> int:
    """Records of ``topic`` whose processing ``group`` has committed."""
    with CONNECTION.admin() as admin:
        offsets = admin.list_group_offsets(group).get(group, {})
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


def stop_once_committed(procs: list[subprocess.Popen], group: str, topic: str, records: int,
                        timeout_s: float = 120) -> list[tuple[str, str]]:
    """SIGTERM ``procs`` once ``group`` has committed ``records`` of ``topic``; their (stdout, stderr).

    Rather than an idle timeout, which could take one member out of the group
    early and hand its partitions to another.
    """
    wait_for(lambda: committed(group, topic) >= records, timeout_s, f"{group} to commit {records} records")
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    return [proc.communicate(timeout=timeout_s) for proc in procs]
