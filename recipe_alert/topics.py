"""Topics: the names Kafka accepts, creating the ones a script needs, and their size limit."""

from __future__ import annotations

import logging
import re

from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import (ClusterAuthorizationFailedError, KafkaError, TopicAlreadyExistsError,
                          TopicAuthorizationFailedError, UnknownTopicOrPartitionError)

from . import kafka_compat
from .errors import BrokerError, InvalidTopicName

log = logging.getLogger(__name__)

_TOPIC_CHARS = re.compile(r"^[a-zA-Z0-9._-]+$")
MAX_TOPIC_LENGTH = 249
MAX_MESSAGE_BYTES = "max.message.bytes"


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
                  replication_factor: int) -> None:
    """Create any of ``topics`` (name -> topic configs) that don't exist yet."""
    kafka_compat.past_dead_brokers(
        lambda: _ensure_topics(connection, topics, partitions, replication_factor))


def _ensure_topics(connection, topics, partitions, replication_factor) -> None:
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
        result = client.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": replication_factor,
                    "configs": cfg} for name, cfg in missing.items()},
            raise_errors=False, wait_for_metadata=False)
        created = []
        for topic in result["topics"]:
            code = topic["error_code"]
            if code == 0:
                created.append(topic["name"])
            elif code in (TopicAuthorizationFailedError.errno, ClusterAuthorizationFailedError.errno):
                raise connection.denied("Create", "topic", topic["name"])
            elif code != TopicAlreadyExistsError.errno:  # another instance won the race
                raise BrokerError(
                    f"could not create topic {topic['name']!r}: "
                    f"{topic.get('error_message') or KafkaError.__name__ + ' ' + str(code)}")
        if created:
            client.wait_for_topics(created, timeout_ms=30_000)
            log.info("created topic(s) %s with %d partition(s), replication factor %d",
                     ", ".join(created), partitions, replication_factor)


def size_limit(connection, topic: str) -> int:
    """The largest record batch, compressed, that the broker accepts on ``topic``."""
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, [MAX_MESSAGE_BYTES])

    def describe():
        with connection.admin() as client:
            return client.describe_configs([resource], config_filter="all")

    found = kafka_compat.past_dead_brokers(describe)
    return int(found["topic"][topic][MAX_MESSAGE_BYTES]["value"])
