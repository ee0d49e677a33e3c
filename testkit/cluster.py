"""The local 3-node cluster (KAFKA_CLUSTER=1 scripts/kafka-local.sh): its nodes, their roles, kills.

Shared by tests/integration/test_cluster.py and bench/chaos_cluster.py;
the admin clients passed in must be the cluster's.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter

from .broker import wait_for
from .chaos import kafka_local

CLUSTER = {"KAFKA_CLUSTER": "1"}
NODES = (1, 2, 3)


def address(node: int) -> str:
    """Where node ``node`` takes clients (kafka-local.sh's cluster_broker_port)."""
    return f"localhost:{9290 + node}"


def node_pid(node: int) -> int | None:
    status = kafka_local("status", env=CLUSTER)
    found = re.search(rf"^node{node} \(cluster\): running, pid (\d+)", status, re.M)
    return int(found.group(1)) if found else None


def kill(node: int, signum: int = signal.SIGKILL) -> None:
    pid = node_pid(node)
    if pid is None:
        raise RuntimeError(f"node {node} of the local cluster is not running")
    os.kill(pid, signum)


def start_missing_nodes() -> float:
    """Start every node that is down; returns the seconds until the cluster answered."""
    started = time.monotonic()
    kafka_local("up", env=CLUSTER)
    return time.monotonic() - started


def partitions(admin, topic: str) -> list[dict]:
    (described,) = admin.describe_topics([topic])
    return described["partitions"]


def in_sync(admin, topics: list[str]) -> bool:
    """Every partition of ``topics`` has all its replicas in sync."""
    return all(len(p["isr_nodes"]) == len(p["replica_nodes"])
               for topic in topics for p in partitions(admin, topic))


def wait_in_sync(admin, topics: list[str], timeout_s: float = 90) -> float:
    """Until no partition of ``topics`` is under-replicated; returns the seconds it took."""
    started = time.monotonic()
    wait_for(lambda: in_sync(admin, topics), timeout_s, f"every replica of {topics} in sync",
             interval=0.5)
    return time.monotonic() - started


def leader_of_most(admin, topic: str) -> int:
    """The node that leads the most partitions of ``topic``."""
    leaders = Counter(p["leader_id"] for p in partitions(admin, topic))
    return leaders.most_common(1)[0][0]


def transaction_coordinator(admin, transactional_id: str) -> int:
    return admin.describe_transactions([transactional_id])[transactional_id].coordinator_id


def group_coordinator(admin, group: str) -> int:
    # kafka-python 3.0.12 has no public call for it; describe_groups asks this one.
    return admin._manager.run(admin._find_coordinator_id, group)
