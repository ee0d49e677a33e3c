"""Topics: the names Kafka accepts, creating the ones a script needs, and their size limit."""

from __future__ import annotations

import functools
import logging
import random
import re
from collections.abc import Callable

from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import (ClusterAuthorizationFailedError, InvalidReplicationFactorError, KafkaError,
                          TopicAlreadyExistsError, TopicAuthorizationFailedError,
                          UnknownTopicOrPartitionError)

from . import kafka_compat
from .errors import BrokerError, ConfigError, InvalidTopicName, RecipeAlertError

log = logging.getLogger(__name__)

_TOPIC_CHARS = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_LENGTH = 249
MAX_MESSAGE_BYTES = "max.message.bytes"
MIN_INSYNC_REPLICAS = "min.insync.replicas"
# Kafka's advice for replication factor 3: an acknowledged write is on two brokers, and
# writes go on with one broker down. At replication factor 2 it would stop writes whenever
# a broker is down, so lower factors keep the brokers' default.
REPLICATED_MIN_ISR = 2


def validate_topic(name: str) -> str:
    """Return ``name`` if Kafka would accept it as a topic name, else raise."""
    if not name:
        raise InvalidTopicName("topic name is empty")
    if name in (".", ".."):
        raise InvalidTopicName(f"topic name {name!r} is not allowed")
    if len(name) > MAX_TOPIC_LENGTH:
        raise InvalidTopicName(
            f"topic name is {len(name)} characters long; Kafka allows at most {MAX_TOPIC_LENGTH}")
    if not _TOPIC_CHARS.match(name):
        bad = "".join(sorted({c for c in name if not re.match(r"[a-zA-Z0-9._-]", c)}))
        raise InvalidTopicName(
            f"topic name {name!r} contains {bad!r}; Kafka allows only letters, digits, '.', '_' and '-'")
    return name


def ensure_topics(connection, topics: dict[str, dict[str, str]], partitions: int,
                  replication_factor: int, min_insync_replicas: int = REPLICATED_MIN_ISR) -> None:
    """Create any of ``topics`` (name -> topic configs) that don't exist yet.

    At replication factor 3 or more a new topic gets ``min_insync_replicas``
    (see ``with_min_isr``). A replication factor larger than the cluster's
    number of brokers raises ConfigError, and nothing is created.
    """
    kafka_compat.past_dead_brokers(
        lambda: _ensure_topics(connection, topics, partitions, replication_factor,
                               min_insync_replicas))


def with_min_isr(configs: dict[str, str], replication_factor: int,
                 broker_default: Callable[[], int | None],
                 wanted: int = REPLICATED_MIN_ISR) -> dict[str, str]:
    """A new topic's ``configs``, with min.insync.replicas=``wanted`` if its replication
    factor is 3 or more, unless ``configs`` sets it already or the brokers' default
    (``broker_default()``, None if unknown; only called when it decides) is at least that."""
    if replication_factor < 3 or MIN_INSYNC_REPLICAS in configs:
        return configs
    default = broker_default()
    if default is not None and default >= wanted:
        return configs
    return {**configs, MIN_INSYNC_REPLICAS: str(wanted)}


def too_few_brokers(replication_factor: int, bootstrap: str, what_it_did: str) -> ConfigError:
    return ConfigError(f"--replication-factor {replication_factor} needs at least "
                       f"{replication_factor} brokers; the cluster at {bootstrap} {what_it_did}")


def check_broker_count(replication_factor: int, brokers: list[dict], bootstrap: str) -> None:
    """Refuse a replication factor the cluster (``describe_cluster()["brokers"]``) cannot hold."""
    if replication_factor > len(brokers):
        ids = ", ".join(str(i) for i in sorted(b["broker_id"] for b in brokers))
        raise too_few_brokers(replication_factor, bootstrap, f"has {len(brokers)} "
                              f"({'id' if len(brokers) == 1 else 'ids'} {ids})")


def creation_error(connection, topic: dict, replication_factor: int) -> RecipeAlertError:
    """What a failed entry of ``create_topics()["topics"]`` means, as our error."""
    code, name = topic["error_code"], topic["name"]
    if code in (TopicAuthorizationFailedError.errno, ClusterAuthorizationFailedError.errno):
        return connection.denied("Create", "topic", name)
    reason = topic.get("error_message") or f"{KafkaError.__name__} {code}"
    # Past check_broker_count, yet Kafka counts fewer usable brokers (one unregistered since).
    if code == InvalidReplicationFactorError.errno:
        return too_few_brokers(replication_factor, connection.bootstrap_servers,
                               f"refused topic {name!r}: {reason}")
    return BrokerError(f"could not create topic {name!r}: {reason}")


def _broker_min_isr(client, brokers: list[dict]) -> int | None:
    """A running broker's min.insync.replicas, which topics without their own get.

    None if it could not be read: without DescribeConfigs on the cluster
    kafka-python returns no configs, and then the topic gets its own.
    """
    running = [b["broker_id"] for b in brokers if not b.get("is_fenced")]
    if not running:
        return None
    # Random: a retry past a just-killed broker (past_dead_brokers) may ask another one.
    broker = str(random.choice(running))
    found = client.describe_configs(
        [ConfigResource(ConfigResourceType.BROKER, broker, [MIN_INSYNC_REPLICAS])],
        config_filter="all")
    entry = found.get("broker", {}).get(broker, {}).get(MIN_INSYNC_REPLICAS)
    return int(entry["value"]) if entry else None


def _ensure_topics(connection, topics, partitions, replication_factor, min_isr) -> None:
    with connection.admin() as client:
        # Only these topics' metadata: listing every topic of a big cluster takes long.
        described = client.describe_topics(list(topics))
        for topic in described:
            if topic["error_code"] == TopicAuthorizationFailedError.errno:
                raise connection.denied(
                    "Describe", "topic", topic["name"],
                    note="; Kafka does not say whether a topic you may not Describe exists: if "
                         "it does not, an administrator creates it, or grants Create too")
        unknown = {t["name"] for t in described
                   if t["error_code"] == UnknownTopicOrPartitionError.errno}
        missing = {name: cfg for name, cfg in topics.items() if name in unknown}
        if not missing:
            return
        brokers = []
        if replication_factor > 1:  # any cluster holds RF 1: no need to ask
            brokers = client.describe_cluster()["brokers"]
            check_broker_count(replication_factor, brokers, connection.bootstrap_servers)
        # Asked once, and only if a topic's min.insync.replicas depends on it.
        broker_default = functools.cache(lambda: _broker_min_isr(client, brokers))
        configs = {name: with_min_isr(cfg, replication_factor, broker_default, min_isr)
                   for name, cfg in missing.items()}
        result = client.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": replication_factor,
                    "configs": cfg} for name, cfg in configs.items()},
            raise_errors=False, wait_for_metadata=False)
        created = []
        for topic in result["topics"]:
            code = topic["error_code"]
            if code == 0:
                created.append(topic["name"])
            elif code != TopicAlreadyExistsError.errno:  # another instance won the race
                raise creation_error(connection, topic, replication_factor)
        if created:
            client.wait_for_topics(created, timeout_ms=30_000)
            log.info("created topic(s) %s with %d partition(s), replication factor %d",
                     ", ".join(created), partitions, replication_factor)
            if replication_factor >= 3:
                _log_min_isr(created, missing, configs, broker_default)


def _log_min_isr(created, asked, configs, broker_default) -> None:
    """Which new topics got min.insync.replicas from us, and which keep the brokers' default
    (both decided with ``broker_default()``, so it is cached by now)."""
    ours = [n for n in created if MIN_INSYNC_REPLICAS in configs[n] and MIN_INSYNC_REPLICAS not in asked[n]]
    kept = [n for n in created if MIN_INSYNC_REPLICAS not in configs[n]]
    if ours:
        default = broker_default()
        log.info("set min.insync.replicas=%s on topic(s) %s: the brokers' default is %s",
                 configs[ours[0]][MIN_INSYNC_REPLICAS], ", ".join(ours),
                 "unknown" if default is None else default)
    if kept:
        log.info("topic(s) %s keep the brokers' min.insync.replicas=%s",
                 ", ".join(kept), broker_default())


def size_limit(connection, topic: str) -> int:
    """The largest record batch, compressed, that the broker accepts on ``topic``."""
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, [MAX_MESSAGE_BYTES])

    def describe():
        with connection.admin() as client:
            return client.describe_configs([resource], config_filter="all")

    found = kafka_compat.past_dead_brokers(describe)
    return int(found["topic"][topic][MAX_MESSAGE_BYTES]["value"])
