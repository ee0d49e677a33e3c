"""docker-compose.yml: pinned images, the two-listener setup, healthchecks, the ui, kraft and cluster profiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
CLUSTER_PROPERTIES = COMPOSE_FILE.parent / "kafka" / "cluster" / "server.properties"
KRAFT_PROPERTIES = COMPOSE_FILE.parent / "kafka" / "kraft" / "server.properties"
KRAFT_POM = COMPOSE_FILE.parent / "kafka" / "kraft" / "pom.xml"
KAFKA_TOOL = COMPOSE_FILE.parent / "scripts" / "kafka-tool.sh"
# The latest Confluent Platform 7.9 patch release (its changelog, November 2026).
LATEST_CP_7_9 = (7, 9, 11)
CLUSTER_NODES = {"kafka-1": 1, "kafka-2": 2, "kafka-3": 3}
# Per node, or the local cluster's own addresses: compared separately below.
PER_NODE = {"process.roles", "node.id", "controller.quorum.bootstrap.servers", "listeners",
            "advertised.listeners", "controller.listener.names", "inter.broker.listener.name",
            "listener.security.protocol.map", "log.dirs"}


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def listener_map(value: str) -> dict[str, str]:
    """'A://h:1,B://h:2' -> {'A': 'h:1', 'B': 'h:2'}."""
    return dict(item.split("://", 1) for item in value.split(","))


def published_ports(service: dict) -> set[tuple[str, str]]:
    """(host port, container port) pairs, ignoring any bind address."""
    pairs = set()
    for entry in service.get("ports", []):
        *_, host, container = str(entry).split(":")
        pairs.add((host, container))
    return pairs


def test_services_present(services):
    assert {"zookeeper", "kafka", "kafka-kraft", "kafka-ui"} <= services.keys()


@pytest.mark.parametrize("name", ["zookeeper", "kafka", "kafka-kraft", "kafka-ui"])
def test_images_are_pinned_to_a_version(services, name):
    image, _, tag = services[name]["image"].rpartition(":")
    assert image and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), services[name]["image"]


def test_confluent_images_are_one_7_9_release_at_least_the_latest_patch(services):
    zookeeper, kafka = services["zookeeper"]["image"], services["kafka"]["image"]
    assert zookeeper.startswith("confluentinc/cp-zookeeper:7.9.")
    assert kafka.startswith("confluentinc/cp-kafka:7.9.")
    assert zookeeper.rpartition(":")[2] == kafka.rpartition(":")[2]
    assert tuple(int(n) for n in kafka.rpartition(":")[2].split(".")) >= LATEST_CP_7_9
    assert services["kafka-ui"]["image"].startswith("kafbat/kafka-ui:")


def test_host_clients_get_localhost_9092(services):
    env = services["kafka"]["environment"]
    advertised = listener_map(env["KAFKA_ADVERTISED_LISTENERS"])
    assert "localhost:9092" in advertised.values()
    assert ("9092", "9092") in published_ports(services["kafka"])


def test_containers_get_an_internal_listener_on_the_service_name(services):
    env = services["kafka"]["environment"]
    advertised = listener_map(env["KAFKA_ADVERTISED_LISTENERS"])
    internal = advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    assert internal.startswith("kafka:") and internal != "kafka:9092"


def test_every_advertised_listener_is_bound_and_mapped(services):
    env = services["kafka"]["environment"]
    advertised = listener_map(env["KAFKA_ADVERTISED_LISTENERS"])
    bound = listener_map(env["KAFKA_LISTENERS"])
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert advertised.keys() == bound.keys() <= protocols.keys()
    for name, address in advertised.items():
        assert address.rsplit(":", 1)[1] == bound[name].rsplit(":", 1)[1], name


def test_single_broker_settings(services):
    env = services["kafka"]["environment"]
    assert env["KAFKA_ZOOKEEPER_CONNECT"] == f"zookeeper:{services['zookeeper']['environment']['ZOOKEEPER_CLIENT_PORT']}"
    assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 1
    assert int(env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"]) == 1
    assert int(env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"]) == 1
    assert int(env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"]) == 0


@pytest.mark.parametrize("name", ["zookeeper", "kafka"])
def test_healthchecks(services, name):
    test = services[name]["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1


def test_kafka_waits_for_healthy_zookeeper(services):
    assert services["kafka"]["depends_on"]["zookeeper"]["condition"] == "service_healthy"


def test_ui_is_opt_in_and_uses_the_internal_listener(services):
    ui = services["kafka-ui"]
    env = services["kafka"]["environment"]
    internal = listener_map(env["KAFKA_ADVERTISED_LISTENERS"])[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    assert ui["profiles"] == ["ui"]
    assert ui["environment"]["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"] == internal
    assert ("8080", "8080") in published_ports(ui)
    for name in ("zookeeper", "kafka"):
        assert "profiles" not in services[name], f"{name} must start without a profile"


def kafka_version_of_the_kraft_jars() -> str:
    pom = KRAFT_POM.read_text()
    return re.search(r"<artifactId>kafka_2\.13</artifactId>\s*<version>([^<]+)</version>", pom).group(1)


def test_kraft_is_opt_in_and_runs_the_kraft_modes_kafka(services):
    kraft = services["kafka-kraft"]
    assert kraft["profiles"] == ["kraft"]
    assert kraft["image"] == f"apache/kafka:{kafka_version_of_the_kraft_jars()}"
    assert kraft["image"] == services["kafka-1"]["image"]
    assert kraft["healthcheck"]["test"][0] == "CMD"


def test_kraft_is_one_combined_node_reached_where_the_default_broker_is(services):
    env = services["kafka-kraft"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka-kraft:9093"
    advertised = listener_map(env["KAFKA_ADVERTISED_LISTENERS"])
    bound = listener_map(env["KAFKA_LISTENERS"])
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert "localhost:9092" in advertised.values()
    assert published_ports(services["kafka-kraft"]) == published_ports(services["kafka"]) == {("9092", "9092")}
    assert advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]].startswith("kafka-kraft:")
    assert advertised.keys() <= bound.keys() <= protocols.keys()
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in bound.keys() - advertised.keys()
    for listener, address in advertised.items():
        assert address.rsplit(":", 1)[1] == bound[listener].rsplit(":", 1)[1], listener


def test_kraft_has_the_local_kraft_brokers_settings(services):
    wanted = {key: value for key, value in properties(KRAFT_PROPERTIES).items() if key not in PER_NODE}
    assert {"offsets.topic.replication.factor", "group.initial.rebalance.delay.ms"} <= wanted.keys()
    env = services["kafka-kraft"]["environment"]
    got = {key: str(env.get("KAFKA_" + key.upper().replace(".", "_"))) for key in wanted}
    assert got == wanted


def test_kafka_tool_finds_both_brokers_files_and_internal_listener(services):
    # scripts/kafka-tool.sh runs the tools inside either broker's container.
    script = KAFKA_TOOL.read_text()
    data = re.search(r"^DOCKER_DATA=(\S+)", script, re.M).group(1)
    bootstrap = re.search(r"^DOCKER_BOOTSTRAP=(\S+)", script, re.M).group(1)
    assert services["kafka-kraft"]["environment"]["KAFKA_LOG_DIRS"] == data
    for name in ("kafka", "kafka-kraft"):
        env = services[name]["environment"]
        assert f"-data:{data}" in " ".join(services[name]["volumes"]), name
        internal = listener_map(env["KAFKA_LISTENERS"])[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
        assert internal.rsplit(":", 1)[1] == bootstrap.rsplit(":", 1)[1], name


def properties(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.mark.parametrize("name, node", CLUSTER_NODES.items())
def test_cluster_nodes_are_opt_in_combined_kraft_4_nodes(services, name, node):
    service = services[name]
    env = service["environment"]
    assert service["profiles"] == ["cluster"]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", service["image"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert int(env["KAFKA_NODE_ID"]) == node
    assert service["healthcheck"]["test"][0] == "CMD"


@pytest.mark.parametrize("name, node", CLUSTER_NODES.items())
def test_cluster_nodes_are_reached_from_the_host_where_the_local_cluster_is(services, name, node):
    env = services[name]["environment"]
    advertised = listener_map(env["KAFKA_ADVERTISED_LISTENERS"])
    bound = listener_map(env["KAFKA_LISTENERS"])
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    port = str(9290 + node)
    assert f"localhost:{port}" in advertised.values()
    assert (port, port) in published_ports(services[name])
    assert advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]].startswith(f"{name}:")
    assert advertised.keys() <= bound.keys() <= protocols.keys()
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in bound.keys() - advertised.keys()
    for listener, address in advertised.items():
        assert address.rsplit(":", 1)[1] == bound[listener].rsplit(":", 1)[1], listener


def test_the_cluster_nodes_form_one_quorum(services):
    envs = [services[name]["environment"] for name in CLUSTER_NODES]
    voters = {f"{node}@{name}:9093" for name, node in CLUSTER_NODES.items()}
    for env in envs:
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert listener_map(env["KAFKA_LISTENERS"])[env["KAFKA_CONTROLLER_LISTENER_NAMES"]].endswith(":9093")
    assert len({env["CLUSTER_ID"] for env in envs}) == 1


def test_the_cluster_nodes_have_the_local_clusters_settings(services):
    wanted = {key: value for key, value in properties(CLUSTER_PROPERTIES).items() if key not in PER_NODE}
    assert {"min.insync.replicas", "broker.session.timeout.ms"} <= wanted.keys()
    for name in CLUSTER_NODES:
        env = services[name]["environment"]
        got = {key: str(env.get("KAFKA_" + key.upper().replace(".", "_"))) for key in wanted}
        assert got == wanted, name
