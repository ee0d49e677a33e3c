"""docker-compose.yml: pinned images, the two-listener setup, healthchecks, the ui profile."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


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
    assert {"zookeeper", "kafka", "kafka-ui"} <= services.keys()


@pytest.mark.parametrize("name", ["zookeeper", "kafka", "kafka-ui"])
def test_images_are_pinned_to_a_version(services, name):
    image, _, tag = services[name]["image"].rpartition(":")
    assert image and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), services[name]["image"]


def test_confluent_images_are_7_9_and_not_unmaintained_ones(services):
    assert services["zookeeper"]["image"].startswith("confluentinc/cp-zookeeper:7.9.")
    assert services["kafka"]["image"].startswith("confluentinc/cp-kafka:7.9.")
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
