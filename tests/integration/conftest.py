import os

import pytest

from recipe_alert.errors import BrokerUnavailable
from testkit.broker import BOOTSTRAP, CONNECTION, Names


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker() -> str:
    """The bootstrap address of a live broker; fails (not skips) under CI=true."""
    try:
        with CONNECTION.admin(bootstrap_timeout_ms=5000):
            pass
    except BrokerUnavailable as exc:
        message = f"{exc}; run `make kafka-up`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return BOOTSTRAP


@pytest.fixture
def names(request, broker) -> Names:
    return Names.unique(request.node.name.replace("[", ".").replace("]", "").replace("/", "."))
