import os

import pytest

from recipe_alert.errors import BrokerUnavailable
from testkit.broker import BOOTSTRAP, CONNECTION, Names, absent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    if CONNECTION.security_protocol != "PLAINTEXT":
        # Over a secured connection (make test-secure) the suite talks to another broker
        # than the one these tests freeze, restart or probe: they run in the plaintext runs.
        left_out = [item for item in items if item.get_closest_marker("plaintext_broker")]
        if left_out:
            items[:] = [item for item in items if item not in left_out]
            config.hook.pytest_deselected(items=left_out)


@pytest.fixture(scope="session")
def broker() -> str:
    """The bootstrap address of a live broker; fails (not skips) under CI=true."""
    if os.environ.get("KAFKA_SECURITY") and CONNECTION.security_protocol == "PLAINTEXT":
        pytest.fail(f"KAFKA_SECURITY={os.environ['KAFKA_SECURITY']} but the suite would connect "
                    f"over PLAINTEXT ({CONNECTION.describe()}): set $KAFKA_COMMAND_CONFIG, as "
                    f"`make test-secure` does")
    try:
        with CONNECTION.admin(bootstrap_timeout_ms=5000):
            pass
    except BrokerUnavailable as exc:
        absent(f"{exc}; run `make kafka-up`")
    return BOOTSTRAP


@pytest.fixture
def names(request, broker) -> Names:
    return Names.unique(request.node.name.replace("[", ".").replace("]", "").replace("/", "."))
