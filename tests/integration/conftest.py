import os

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from tests.kafkatools import BOOTSTRAP, Names


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker() -> str:
    """The bootstrap address of a live broker; fails (not skips) under CI=true."""
    try:
        KafkaAdminClient(bootstrap_servers=BOOTSTRAP, bootstrap_timeout_ms=5000).close()
    except KafkaError as exc:
        message = f"no Kafka broker answers at {BOOTSTRAP} ({exc}); run `make kafka-up`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return BOOTSTRAP


@pytest.fixture
def names(request, broker) -> Names:
    return Names.unique(request.node.name.replace("[", ".").replace("]", "").replace("/", "."))
