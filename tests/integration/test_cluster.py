"""The scripts on the local 3-node KRaft cluster (KAFKA_CLUSTER=1 make kafka-cluster-up).

Run with the cluster as the suite's broker:
``KAFKA_CLUSTER=1 KAFKA_BOOTSTRAP_SERVERS=localhost:9291,localhost:9292,localhost:9293``
(as ``make test-cluster`` does). Skipped when the suite's broker is not a 3-node
cluster, except under CI=true with KAFKA_CLUSTER=1, where that fails.
"""

import contextlib
import random
import re
import signal
import time

import pytest
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from recipe_alert import kafka_compat, parse_stage
from recipe_alert.cli import StopSignal
from testkit import chaos
from testkit import cluster as nodes
from testkit.broker import CONNECTION, absent, create_topic, read_topic, run_script, wait_for
from testkit.pages import fixture_counts
from testkit.processes import Script

PAGES = "tests/fixtures/pages"
PAGE_COUNT, _ = fixture_counts()
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


def killed_controller(admin) -> int:
    """``kill -9`` the controller, which the metadata names for about 3 s after it died
    (broker.session.timeout.ms); returns its node id."""
    controller = admin.describe_cluster()["controller_id"]
    nodes.kill(controller)
    return controller


def test_topics_are_replicated_three_ways_and_survive_a_killed_controller(cluster, names):
    produced = run_script("producer_raw_recipes.py", "--from-dir", PAGES, "--topic", names.raw,
                          "--replication-factor", "3")
    assert produced.returncode == 0, produced.stderr[-3000:]
    with cluster.admin() as admin:
        assert all(len(p["replica_nodes"]) == 3 for p in nodes.partitions(admin, names.raw))
        controller = killed_controller(admin)
        try:
            # Leaders move to the two survivors; with min.insync.replicas=2 writes go on.
            again = run_script("producer_raw_recipes.py", "--from-dir", PAGES, "--topic", names.raw)
        finally:
            nodes.start_missing_nodes()
        nodes.wait_in_sync(admin, [names.raw])
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"published {PAGE_COUNT}, failed 0" in again.stderr
    # Its --bootstrap-server names the dead node and the two live ones.
    assert f"bootstrap server {nodes.address(controller)} did not answer" in again.stderr
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
            return nodes.partitions(admin, names.raw)

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
            nodes.start_missing_nodes()
        nodes.wait_in_sync(admin, [names.raw])
    if workaround:
        assert outcomes == [3] * ATTEMPTS
    else:
        assert "refused" in outcomes, "every request found a live broker: the fault is gone"


def test_the_parse_stage_goes_on_by_itself_when_its_transaction_coordinator_dies(
        cluster, names, tmp_path):
    """The coordinator's death leaves kafka-python's commit waiting forever; the stage gives
    the transaction up after HUNG_AFTER_S, ends it with a new producer and goes on.

    Half the pages are published before the kill and half while the node is dead, so that
    transactions run through the outage whatever the machine's speed.
    """
    create_topic(names.raw, 3, replication_factor=3)
    pages = chaos.corpus(240, seed=random.randrange(10**6))
    before, after = pages[:120], pages[120:]
    chaos.publish_raw(names.raw, chaos.page_records(before))
    parser = Script.start(chaos.PARSER, *chaos.parser_args(names, "--replication-factor", "3"),
                          log_dir=tmp_path)
    try:
        wait_for(lambda: chaos.committed(names.parser_group, names.raw) >= 40
                 or not parser.running(), 120, "40 pages committed")
        with cluster.admin() as admin:
            coordinator = nodes.transaction_coordinator(admin, chaos.transactional_id(names))
        nodes.kill(coordinator)
        try:
            chaos.publish_raw(names.raw, chaos.page_records(after))
            wait_for(lambda: chaos.committed(names.parser_group, names.raw) >= len(pages)
                     or not parser.running(), 180, "every page committed")
        finally:
            nodes.start_missing_nodes()
        assert parser.running(), f"the parser exited:\n{parser.tail()}"
        parser.signal(signal.SIGTERM)
        assert parser.finish(60) == 0, parser.tail()
    finally:
        parser.kill()
    result = chaos.tally(names)
    assert result.exact and result.records_in == len(pages), result.figures()
    # The kill struck a transaction in flight: it was aborted, or given up and ended anew.
    assert re.search(r"[1-9]\d* aborted|given up unfinished", parser.stderr), parser.tail()


def test_a_commit_whose_coordinator_dies_is_given_up_and_ended_by_a_new_producer(
        cluster, names, monkeypatch):
    """The kill lands right before the third commit_transaction, which kafka-python then waits
    for forever: the stage gives it up after HUNG_AFTER_S, a new producer with the same
    transactional id ends it, and the stage goes on from the committed offsets, in-process."""
    create_topic(names.raw, 3, replication_factor=3)
    pages = chaos.corpus(60, seed=random.randrange(10**6))
    chaos.publish_raw(names.raw, chaos.page_records(pages))
    settings = chaos.stage_settings(names, replication_factor=3, timeout_ms=5000, batch_size=10,
                                    workers=0)
    commit, commits, times = kafka_compat.commit, [], {}

    def commit_after_the_coordinator_died(producer, deadline):
        commits.append(time.monotonic())
        if len(commits) == 3:
            with cluster.admin() as admin:
                times["node"] = nodes.transaction_coordinator(admin, settings.transactional_id)
            nodes.kill(times["node"])
            times["killed"] = time.monotonic()
        commit(producer, deadline)
        times.setdefault("resumed", time.monotonic()) if "killed" in times else None

    monkeypatch.setattr(kafka_compat, "commit", commit_after_the_coordinator_died)
    try:
        stats = parse_stage.run(settings, StopSignal())
    finally:
        nodes.start_missing_nodes()
    assert stats.recovered >= 1, f"the commit after the kill did not hang: {stats.summary()}"
    pause = times["resumed"] - times["killed"]
    print(f"node {times['node']} killed; the next commit came {pause:.1f} s later")
    assert pause < 30, times
    result = chaos.tally(names)
    assert result.exact and result.records_in == len(pages), result.figures()


@pytest.mark.parametrize("workaround", [True, False], ids=["with", "without"])
def test_a_producer_starts_right_after_its_coordinator_died(cluster, names, workaround):
    """kafka_compat.initialized: the first InitProducerId goes to the dead coordinator and is
    lost; without a new producer, init_transactions never completes, however often it is
    called (kafka-python waits for the lost request)."""
    txn = chaos.transactional_id(names)

    def make_producer():
        return cluster.producer(transactional_id=txn, max_block_ms=5000)

    kafka_compat.initialized(make_producer).close()
    outcomes = []
    with cluster.admin() as admin:
        nodes.kill(nodes.transaction_coordinator(admin, txn))
    try:
        if workaround:
            kafka_compat.initialized(make_producer).close()
        else:
            producer = make_producer()
            try:
                for _ in range(kafka_compat.INIT_ATTEMPTS):
                    with contextlib.suppress(KafkaTimeoutError):
                        producer.init_transactions()
                        outcomes.append("started")
                        break
                    outcomes.append("timed out")
            finally:
                producer.close(timeout=0)
    finally:
        nodes.start_missing_nodes()
    if not workaround:
        assert outcomes == ["timed out"] * kafka_compat.INIT_ATTEMPTS, \
            f"{outcomes}: the fault is gone"
