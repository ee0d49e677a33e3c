"""Kafka clients configured once, for every script, with errors made plain."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator

from kafka import (ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer,
                   TopicPartition)
from kafka.errors import (KafkaError, KafkaTimeoutError, TopicAlreadyExistsError,
                          UnknownTopicOrPartitionError)
from kafka.structs import ConsumerGroupMetadata, MemberState

from .errors import BrokerUnavailable, RecipeAlertError

log = logging.getLogger(__name__)

# How long to wait for a first answer from the bootstrap servers.
BOOTSTRAP_TIMEOUT_MS = 10_000

# kafka-python checks max_request_size against the *uncompressed* record, so
# it must admit the largest page we fetch; the broker's 1 MB limit applies to
# the compressed batch, which zstd keeps ~5x smaller (see README).
MAX_RECORD_BYTES = 12 * 1024 * 1024
PAGE_COMPRESSION = "zstd"


class BrokerError(RecipeAlertError):
    """Kafka refused or failed a request."""


def unavailable(bootstrap: str) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"no Kafka broker answered at {bootstrap} within {BOOTSTRAP_TIMEOUT_MS // 1000} s; "
        f"start one with `make kafka-up`, or point --bootstrap-server / "
        f"KAFKA_BOOTSTRAP_SERVERS at your cluster")


@contextlib.contextmanager
def connecting(bootstrap: str) -> Iterator[None]:
    """Turn kafka-python's bootstrap timeout into BrokerUnavailable."""
    try:
        yield
    except KafkaTimeoutError as exc:
        if "bootstrap" in str(exc).lower():
            raise unavailable(bootstrap) from exc
        raise


def connection(bootstrap: str) -> dict:
    """What every client needs to reach the cluster."""
    return dict(bootstrap_servers=[s.strip() for s in bootstrap.split(",") if s.strip()],
                bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)


@contextlib.contextmanager
def admin(bootstrap: str) -> Iterator[KafkaAdminClient]:
    with connecting(bootstrap):
        client = KafkaAdminClient(client_id="recipe-alert-admin", **connection(bootstrap))
    try:
        yield client
    finally:
        client.close()


def ensure_topics(bootstrap: str, topics: dict[str, dict[str, str]], partitions: int,
                  replication_factor: int) -> None:
    """Create any of ``topics`` (name -> topic configs) that don't exist yet."""
    with admin(bootstrap) as client:
        # Only these topics' metadata: listing every topic of a big cluster takes long.
        unknown = {t["name"] for t in client.describe_topics(list(topics))
                   if t["error_code"] == UnknownTopicOrPartitionError.errno}
        missing = {name: cfg for name, cfg in topics.items() if name in unknown}
        if not missing:
            return
        result = client.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": replication_factor,
                    "configs": cfg} for name, cfg in missing.items()},
            raise_errors=False, wait_for_metadata=False)
        created = []
        for topic in result["topics"]:
            code = topic["error_code"]
            if code == 0:
                created.append(topic["name"])
            elif code != TopicAlreadyExistsError.errno:  # another instance won the race
                raise BrokerError(
                    f"could not create topic {topic['name']!r}: "
                    f"{topic.get('error_message') or KafkaError.__name__ + ' ' + str(code)}")
        if created:
            client.wait_for_topics(created, timeout_ms=30_000)
            log.info("created topic(s) %s with %d partition(s), replication factor %d",
                     ", ".join(created), partitions, replication_factor)


def make_producer(bootstrap: str, **overrides) -> KafkaProducer:
    """An idempotent producer (acks=all); kafka-python negotiates the API version."""
    config = dict(
        **connection(bootstrap),
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
    )
    config.update(overrides)
    with connecting(bootstrap):
        return KafkaProducer(**config)


def make_consumer(bootstrap: str, topics: list[str], group: str, *, from_beginning: bool,
                  listener=None, **overrides) -> KafkaConsumer:
    """A group consumer that commits only when told to."""
    config = dict(
        **connection(bootstrap),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        isolation_level="read_committed",
    )
    config.update(overrides)
    with connecting(bootstrap):
        consumer = KafkaConsumer(**config)
        consumer.subscribe(topics, listener=AssignmentLog(listener))
        # Learn the topics' partitions before the first join. Otherwise kafka-python
        # 3.0 joins knowing none, assigns nothing, and joins again once it learns
        # them; if that join outlasts the poll that started it, its assignment is
        # never applied and the consumer holds nothing for good (4 starts in 30 on
        # a loaded machine). Every topic has a partition 0.
        consumer.end_offsets([TopicPartition(topic, 0) for topic in topics])
    return consumer


class AssignmentLog(ConsumerRebalanceListener):
    """Says which partitions this instance holds after each rebalance, then calls on ``then``."""

    def __init__(self, then: ConsumerRebalanceListener | None = None):
        self.then = then

    def on_partitions_revoked(self, revoked):
        if self.then is not None:
            self.then.on_partitions_revoked(revoked)

    def on_partitions_assigned(self, assigned):
        held = {}
        for tp in sorted(assigned):
            held.setdefault(tp.topic, []).append(str(tp.partition))
        log.info("holding %s", ", ".join(f"{topic}[{','.join(p)}]" for topic, p in held.items())
                 or "no partitions")
        if self.then is not None:
            self.then.on_partitions_assigned(assigned)


def membership(consumer) -> ConsumerGroupMetadata | None:
    """The consumer's group membership (KIP-447 identity) while it holds a settled assignment.

    None while it (re)joins its group. kafka-python 3.0 reports the new
    generation as soon as JoinGroup answers, before it learns its partitions:
    offsets committed with that generation would be accepted even for
    partitions the rebalance gives to another member.
    """
    owner = consumer.group_metadata()
    return owner if owner.state == MemberState.STABLE else None


def batches(consumer, stop, timeout_ms: int | None, poll_ms: int = 200,
            busy: Callable[[], bool] = lambda: False) -> Iterator[dict]:
    """Polled batches until ``stop``, or until idle for ``timeout_ms``.

    The idle clock runs only while partitions are assigned and the group is
    not rebalancing, so a slow join does not count as "nothing to consume".
    While ``busy()`` (the caller holds work it finishes on an empty batch),
    polls don't wait, empty batches are yielded too, and a stop waits until
    that work is done.
    """
    idle_since = None
    while True:
        working = busy()
        if stop and not working:
            return
        batch = {} if stop else consumer.poll(timeout_ms=0 if working else poll_ms)
        if batch or working:
            idle_since = None
            yield batch
        elif timeout_ms is None or not consumer.assignment() or membership(consumer) is None:
            idle_since = None
        else:
            idle_since = idle_since or time.monotonic()
            if (time.monotonic() - idle_since) * 1000 >= timeout_ms:
                log.info("nothing to consume for %d ms: stopping", timeout_ms)
                return


def header(headers, name: str) -> str | None:
    """The value of header ``name`` from a record's header list, decoded."""
    for key, value in headers or ():
        if key == name:
            return value.decode("utf-8", "replace") if value is not None else None
    return None


class StopSignal:
    """Set by SIGINT/SIGTERM, so loops finish their current step and exit cleanly.

    A second signal interrupts at once, for a user who really means it.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._previous = {}

    def __bool__(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    def _handle(self, signum, _frame) -> None:
        if self._event.is_set():
            raise KeyboardInterrupt
        log.info("%s received: finishing the current step, then stopping",
                 signal.Signals(signum).name)
        self._event.set()

    def __enter__(self) -> "StopSignal":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
