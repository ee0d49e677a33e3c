"""recipe_alert.topics: the topic names Kafka accepts, and the decisions made before creating
topics. Creating them is tested against the broker (integration/test_topics.py,
integration/test_cluster_topics.py)."""

import pytest

from recipe_alert.connection import Connection
from recipe_alert.errors import BrokerError, ConfigError, InvalidTopicName, NotAuthorized
from recipe_alert.topics import check_broker_count, creation_error, validate_topic, with_min_isr


@pytest.mark.parametrize("name", ["raw_recipes", "a", "A.b-c_9", "x" * 249, "..."])
def test_legal_topic_names_pass(name):
    assert validate_topic(name) == name


@pytest.mark.parametrize("name, reason", [
    ("", "empty"),
    (".", "not allowed"),
    ("..", "not allowed"),
    ("x" * 250, "at most 249"),
    ("raw recipes", "' '"),
    ("raw/recipes", "'/'"),
    ("recettes-crème", "'è'"),
])
def test_illegal_topic_names_are_refused_with_the_reason(name, reason):
    with pytest.raises(InvalidTopicName, match=reason):
        validate_topic(name)


def brokers(*ids, fenced=()):
    """``describe_cluster()["brokers"]`` as kafka-python 3.0 returns it."""
    return [{"broker_id": i, "host": "localhost", "port": 9290 + i, "rack": None,
             "is_fenced": i in fenced} for i in ids]


@pytest.mark.parametrize("replication_factor, configs, broker_default, expected", [
    (3, {}, 1, {"min.insync.replicas": "2"}),
    (5, {"cleanup.policy": "compact"}, 1, {"cleanup.policy": "compact", "min.insync.replicas": "2"}),
    (3, {}, None, {"min.insync.replicas": "2"}),  # the default could not be read
    (3, {}, 2, {}),
    (3, {}, 3, {}),
    (3, {"min.insync.replicas": "1"}, 1, {"min.insync.replicas": "1"}),  # the caller's choice
    (2, {}, 1, {}),  # min ISR 2 of 2 replicas would stop writes whenever a broker is down
    (1, {}, 1, {}),
])
def test_min_isr_is_set_from_replication_factor_3_unless_already_so(
        replication_factor, configs, broker_default, expected):
    assert with_min_isr(configs, replication_factor, lambda: broker_default) == expected


def test_a_wanted_min_isr_above_the_brokers_default_is_set():
    assert with_min_isr({}, 3, lambda: 2, wanted=3) == {"min.insync.replicas": "3"}


@pytest.mark.parametrize("replication_factor, configs", [(1, {}), (2, {}),
                                                         (3, {"min.insync.replicas": "1"})])
def test_the_brokers_default_is_asked_only_when_it_decides(replication_factor, configs):
    def broker_default():
        raise AssertionError("asked the brokers")

    assert with_min_isr(configs, replication_factor, broker_default) == configs


def test_a_replication_factor_above_the_broker_count_is_a_config_error():
    with pytest.raises(ConfigError) as raised:
        check_broker_count(3, brokers(1), "localhost:9092")
    assert str(raised.value) == ("--replication-factor 3 needs at least 3 brokers; "
                                 "the cluster at localhost:9092 has 1 (id 1)")
    assert raised.value.exit_code == 2
    with pytest.raises(ConfigError, match=r"needs at least 4 brokers; .* has 3 \(ids 1, 2, 3\)$"):
        check_broker_count(4, brokers(3, 1, 2), "h:1")


def test_fenced_brokers_count_as_kafka_places_replicas_on_them_too():
    check_broker_count(3, brokers(1, 2, 3, fenced=(3,)), "h:1")
    check_broker_count(1, brokers(1), "h:1")


def test_kafkas_own_invalid_replication_factor_becomes_the_same_config_error():
    # An entry of create_topics()["topics"] as Kafka 4.4 answered it, via kafka-python 3.0.12.
    refused = {"name": "raw", "topic_id": None, "error_code": 38, "error_message":
               "Unable to replicate the partition 3 time(s): The target replication factor of 3 "
               "cannot be reached because only 1 broker(s) are registered or some brokers have "
               "all their log directories cordoned.",
               "topic_config_error_code": 0, "num_partitions": -1, "replication_factor": -1}
    error = creation_error(Connection(), refused, 3)
    assert isinstance(error, ConfigError) and error.exit_code == 2
    assert str(error).startswith("--replication-factor 3 needs at least 3 brokers; the cluster "
                                 "at localhost:9092 refused topic 'raw': Unable to replicate")


def test_other_creation_errors_keep_their_meaning():
    denied = creation_error(Connection(), {"name": "raw", "error_code": 29}, 1)
    assert isinstance(denied, NotAuthorized) and "Create topic 'raw'" in str(denied)
    other = creation_error(Connection(), {"name": "raw", "error_code": 40, "error_message": None}, 1)
    assert type(other) is BrokerError and str(other) == "could not create topic 'raw': KafkaError 40"
