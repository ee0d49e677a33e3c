import importlib.util

import pytest

from testkit import ROOT

pytestmark = pytest.mark.plaintext_broker

spec = importlib.util.spec_from_file_location("kafka_probe", ROOT / "scripts" / "kafka_probe.py")
kafka_probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kafka_probe)


def test_the_probe_recognises_the_real_broker(broker):
    host, port = broker.split(",")[0].rsplit(":", 1)
    assert kafka_probe.probe(host, int(port), timeout=5.0) is kafka_probe.Verdict.KAFKA
