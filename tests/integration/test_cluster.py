"""The scripts on the local 3-node KRaft cluster (KAFKA_CLUSTER=1 make kafka-cluster-up).

Run with the cluster as the suite's broker:
``KAFKA_CLUSTER=1 KAFKA_BOOTSTRAP_SERVERS=localhost:9291,localhost:9292,localhost:9293``
(as ``make test-cluster`` does). Skipped when the suite's broker is not a 3-node
cluster, except under CI=true with KAFKA_CLUSTER=1, where that fails.
"""

import os
import re
import signal

import pytest
from kafka.errors import KafkaConnectionError

from recipe_alert import kafka_compat
from testkit.broker import CONNECTION, absent, create_topic, read_topic, run_script, wait_for
from testkit.chaos import kafka_local

PAGES = "tests/fixtures/pages"
PAGE_COUNT = 25
CLUSTER = {"KAFKA_CLUSTER": "1"}
ATTEMPTS = 20  # fresh admin clients right after the kill, within the 3 s the metadata lags


@pytest.fixture(scope="module")
def cluster():
    try:
        with CONNECTION.admin(bootstrap_timeout_ms=5000) as admin:
            brokers = admin.describe_cluster()["brokers"]
    except Exception as exc:  # noqa: BLE001 - any failure here means "no cluster"
        brokers, why = [], str(exc)
    else:
        why = f"{len(brokers)} broker(s) at {CONNECTION.bootstrap_servers}"
    if len(brokers) < 3:
        absent(f"no 3-node cluster ({why}); run `make test-cluster`", required_by="KAFKA_CLUSTER=1")
    return CONNECTION


def partitions(admin, topic):
    (described,) = admin.describe_topics([topic])
    return described["partitions"]


def healthy(admin, topic) -> bool:
    """Every partition of ``topic`` has all three replicas in sync."""
    return all(len(p["isr_nodes"]) == 3 for p in partitions(admin, topic))


def node_pid(node: int) -> int:
    status = kafka_local("status", env=CLUSTER)
    return int(re.search(rf"^node{node} \(cluster\): running, pid (\d+)", status, re.M).group(1))


def start_missing_nodes() -> None:
    kafka_local("up", env=CLUSTER)


def killed_controller(admin) -> int:
    """``kill -9`` the controller, which the metadata names for about 3 s after it died
    (broker.session.timeout.ms); returns its node id."""
    controller = admin.describe_cluster()["controller_id"]
    os.kill(node_pid(controller), signal.SIGKILL)
    return controller


def test_topics_are_replicated_three_ways_and_survive_a_killed_controller(cluster, names):
    produced = run_script("producer_raw_recipes.py", "--from-dir", PAGES, "--topic", names.raw,
                          "--replication-factor", "3")
    assert produced.returncode == 0, produced.stderr[-3000:]
    with cluster.admin() as admin:
        assert all(len(p["replica_nodes"]) == 3 for p in partitions(admin, names.raw))
        controller = killed_controller(admin)
        try:
            # Leaders move to the two survivors; with min.insync.replicas=2 writes go on.
            again = run_script("producer_raw_recipes.py", "--from-dir", PAGES, "--topic", names.raw)
        finally:
            start_missing_nodes()
        wait_for(lambda: healthy(admin, names.raw), 60, f"node {controller} back in sync")
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"published {PAGE_COUNT}, failed 0" in again.stderr
    records = read_topic(names.raw, expected=2 * PAGE_COUNT)
    assert len(records) == 2 * PAGE_COUNT


@pytest.mark.parametrize("workaround", [True, False], ids=["with", "without"])
def test_admin_requests_get_past_a_just_killed_broker(cluster, names, workaround):
    """kafka_compat.past_dead_brokers: without it, about half of fresh admin clients send
    describe_topics to the dead controller and fail (ATTEMPTS of them: all 6 found a live
    broker once)."""
    create_topic(names.raw, 3, replication_factor=3)

    def describe():
        with cluster.admin() as admin:
            return partitions(admin, names.raw)

    with cluster.admin() as admin:
        controller = killed_controller(admin)
        try:
            outcomes = []
            for _ in range(ATTEMPTS):
                try:
                    described = kafka_compat.past_dead_brokers(describe) if workaround else describe()
                    outcomes.append(len(described))
                except KafkaConnectionError:
                    outcomes.append("refused")
        finally:
            start_missing_nodes()
        wait_for(lambda: healthy(admin, names.raw), 60, f"node {controller} back in sync")
    if workaround:
        assert outcomes == [3] * ATTEMPTS
    else:
        assert "refused" in outcomes, "every request found a live broker: the fault is gone"
