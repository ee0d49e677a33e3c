"""How to reach the cluster: the one object every Kafka client is made from.

A ``Connection`` is built once, from the flags and the environment, and
carried in each stage's settings. Its methods are the only place kafka-python
clients are constructed, in the scripts, tests, benchmarks and drivers alike,
so what it takes to connect (addresses today; TLS and SASL next) is added
here and nowhere else. Its ``repr`` never shows a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError

from . import kafka_compat
from .consuming import AssignmentLog
from .errors import BrokerUnavailable

DEFAULT_BOOTSTRAP = "localhost:9092"
BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
# How long to wait for a first answer from the bootstrap servers.
BOOTSTRAP_TIMEOUT_MS = 10_000

# kafka-python checks max_request_size against the *uncompressed* record, so
# it must admit the largest page we fetch; the broker's 1 MB limit applies to
# the compressed batch, which zstd keeps ~5x smaller (see README).
MAX_RECORD_BYTES = 12 * 1024 * 1024
PAGE_COMPRESSION = "zstd"


@dataclasses.dataclass(frozen=True)
class Connection:
    """Where the cluster is; security settings join these fields, with ``repr=False`` for secrets."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--bootstrap-server", metavar="HOST:PORT", default=None,
            help=f"Kafka broker(s) to connect to, comma-separated "
                 f"(default: ${BOOTSTRAP_ENV}, else {DEFAULT_BOOTSTRAP})")

    @classmethod
    def from_args(cls, args: argparse.Namespace | None = None,
                  environ: Mapping[str, str] | None = None) -> "Connection":
        """Flag, then environment variable, then default; no ``args``: as if no flag was given."""
        environ = os.environ if environ is None else environ
        flag = getattr(args, "bootstrap_server", None)
        return cls(bootstrap_servers=flag or environ.get(BOOTSTRAP_ENV) or DEFAULT_BOOTSTRAP)

    def client_config(self) -> dict:
        """What every kafka-python client needs to reach the cluster."""
        return dict(bootstrap_servers=[s.strip() for s in self.bootstrap_servers.split(",") if s.strip()],
                    bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)

    def unavailable(self) -> BrokerUnavailable:
        return BrokerUnavailable(
            f"no Kafka broker answered at {self.bootstrap_servers} within "
            f"{BOOTSTRAP_TIMEOUT_MS // 1000} s; start one with `make kafka-up`, or point "
            f"--bootstrap-server / {BOOTSTRAP_ENV} at your cluster")

    @contextlib.contextmanager
    def _connecting(self) -> Iterator[None]:
        """kafka-python's bootstrap timeout becomes BrokerUnavailable."""
        try:
            yield
        except KafkaTimeoutError as exc:
            if "bootstrap" in str(exc).lower():
                raise self.unavailable() from exc
            raise

    def _config(self, defaults: dict, overrides: dict) -> dict:
        return {**self.client_config(), **defaults, **overrides}

    @contextlib.contextmanager
    def admin(self, **overrides) -> Iterator[KafkaAdminClient]:
        with self._connecting():
            client = KafkaAdminClient(**self._config({"client_id": "recipe-alert-admin"}, overrides))
        try:
            yield client
        finally:
            client.close()

    def producer(self, **overrides) -> KafkaProducer:
        """An idempotent producer (acks=all); kafka-python negotiates the API version."""
        config = self._config(dict(acks="all", enable_idempotence=True, linger_ms=20), overrides)
        with self._connecting():
            producer = KafkaProducer(**config)
        if config.get("transactional_id"):
            kafka_compat.make_stale_epoch_fatal(producer)
        return producer

    def consumer(self, topics: list[str], group: str, *, from_beginning: bool,
                 listener=None, **overrides) -> KafkaConsumer:
        """A group consumer of ``topics`` that reads committed data and commits only when told to."""
        config = self._config(dict(
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
            isolation_level="read_committed",
        ), overrides)
        with self._connecting():
            consumer = KafkaConsumer(**config)
            consumer.subscribe(topics, listener=AssignmentLog(listener))
            kafka_compat.learn_partitions_before_joining(consumer, topics)
        return consumer

    def reader(self, **overrides) -> KafkaConsumer:
        """A consumer in no group, for the caller to assign: read_committed, no commits."""
        config = self._config(dict(enable_auto_commit=False, isolation_level="read_committed"),
                              overrides)
        with self._connecting():
            return KafkaConsumer(**config)
