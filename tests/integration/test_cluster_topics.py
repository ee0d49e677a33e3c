"""Topics the scripts create on the local 3-node cluster: min.insync.replicas at replication
factor 3, and a factor the cluster cannot hold.

Run, skipped or failed as test_cluster.py is (``make test-cluster``). The cluster's brokers
default to min.insync.replicas=2 (kafka/cluster/server.properties), so the scripts leave it
to them; the path a cluster with default 1 takes, setting it on the topic, is taken here by
asking ensure_topics for 3.
"""

import logging

import pytest

from recipe_alert.errors import ConfigError
from recipe_alert.topics import MIN_INSYNC_REPLICAS, ensure_topics
from testkit.broker import BOOTSTRAP, run_script, topic_config, topic_exists
from tests.integration.test_cluster import cluster  # noqa: F401 - the fixture

PAGES = "tests/fixtures/pages"
TOPIC_SET = "DYNAMIC_TOPIC_CONFIG"  # config_source of a config set on the topic itself
# ... and of one the brokers give it (Kafka 4.x: the cluster-wide default it writes at format)
BROKERS_SET = ("DYNAMIC_DEFAULT_BROKER_CONFIG", "DYNAMIC_BROKER_CONFIG", "STATIC_BROKER_CONFIG")


def test_a_producer_at_replication_factor_3_leaves_min_isr_2_to_the_brokers(cluster, names):
    produced = run_script("producer_raw_recipes.py", "--from-dir", PAGES, "--topic", names.raw,
                          "--replication-factor", "3")
    assert produced.returncode == 0, produced.stderr[-3000:]
    assert f"topic(s) {names.raw} keep the brokers' min.insync.replicas=2" in produced.stderr
    entry = topic_config(names.raw, MIN_INSYNC_REPLICAS)
    assert entry["value"] == "2" and entry["config_source"] in BROKERS_SET, entry


def test_the_notifiers_topics_keep_their_own_configs_and_the_brokers_min_isr(cluster, names):
    notified = run_script("consumer_notification.py", "--topic", names.parsed,
                          "--alerts-topic", names.alerts, "--timeout-ms", "1000",
                          "--replication-factor", "3")
    assert notified.returncode == 0, notified.stderr[-3000:]
    for topic in (names.parsed, names.alerts):
        assert topic_config(topic, MIN_INSYNC_REPLICAS)["config_source"] in BROKERS_SET
    assert topic_config(names.alerts, "cleanup.policy")["value"] == "compact"


def test_min_isr_is_set_on_the_topic_when_the_brokers_default_is_lower(cluster, names, caplog):
    caplog.set_level(logging.INFO, logger="recipe_alert.topics")
    ensure_topics(cluster, {names.raw: {"cleanup.policy": "compact"}}, 1, 3, min_insync_replicas=3)
    entry = topic_config(names.raw, MIN_INSYNC_REPLICAS)
    assert (entry["value"], entry["config_source"]) == ("3", TOPIC_SET)
    assert topic_config(names.raw, "cleanup.policy")["value"] == "compact"
    assert (f"set min.insync.replicas=3 on topic(s) {names.raw}: the brokers' default is 2"
            in caplog.messages)


def test_the_callers_min_isr_is_kept(cluster, names):
    ensure_topics(cluster, {names.raw: {MIN_INSYNC_REPLICAS: "1"}}, 1, 3)
    entry = topic_config(names.raw, MIN_INSYNC_REPLICAS)
    assert (entry["value"], entry["config_source"]) == ("1", TOPIC_SET)


def test_replication_factor_4_on_3_brokers_exits_2_and_creates_nothing(cluster, names):
    produced = run_script("producer_raw_recipes.py", "--from-dir", PAGES, "--topic", names.raw,
                          "--replication-factor", "4")
    assert produced.returncode == 2, produced.stderr[-3000:]
    assert (f"--replication-factor 4 needs at least 4 brokers; the cluster at {BOOTSTRAP} "
            f"has 3 (ids 1, 2, 3)") in produced.stderr
    assert not topic_exists(names.raw)


def test_none_of_several_topics_is_created_at_a_factor_the_cluster_cannot_hold(cluster, names):
    with pytest.raises(ConfigError, match="needs at least 4 brokers"):
        ensure_topics(cluster, {names.raw: {}, names.parsed: {}}, 1, 4)
    assert not topic_exists(names.raw) and not topic_exists(names.parsed)
