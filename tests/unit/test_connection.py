"""recipe_alert.connection: one Connection from flag, environment or default; the only maker of clients."""

import argparse
import re

import pytest

from recipe_alert.connection import BOOTSTRAP_TIMEOUT_MS, Connection
from testkit import ROOT


@pytest.mark.parametrize("flag, env, expected", [
    ("flag:1", {"KAFKA_BOOTSTRAP_SERVERS": "env:2"}, "flag:1"),
    (None, {"KAFKA_BOOTSTRAP_SERVERS": "env:2"}, "env:2"),
    (None, {"KAFKA_BOOTSTRAP_SERVERS": ""}, "localhost:9092"),
    (None, {}, "localhost:9092"),
])
def test_bootstrap_precedence_is_flag_then_env_then_default(flag, env, expected):
    assert Connection.from_args(argparse.Namespace(bootstrap_server=flag), env).bootstrap_servers == expected


def test_every_client_gets_the_servers_as_a_list_and_a_bounded_bootstrap():
    config = Connection(" a:1, b:2 ,,").client_config()
    assert config == {"bootstrap_servers": ["a:1", "b:2"], "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS}


def test_its_repr_shows_where_it_connects_and_nothing_else():
    # Security settings join this class; whatever is secret among them stays out of the repr.
    assert repr(Connection("a:1,b:2")) == "Connection(bootstrap_servers='a:1,b:2')"


def test_an_unreachable_cluster_is_named_with_what_to_do():
    message = str(Connection("nowhere:9").unavailable())
    assert "nowhere:9" in message and "make kafka-up" in message and "--bootstrap-server" in message


CLIENT_CLASSES = re.compile(r"\b(KafkaProducer|KafkaConsumer|KafkaAdminClient)\(")


def test_no_kafka_client_is_made_anywhere_but_in_connection():
    """The scripts, tests, benchmarks and drivers all get their clients from a Connection."""
    sources = [p for d in ("recipe_alert", "testkit", "tests", "bench", "scripts") for p in (ROOT / d).rglob("*.py")]
    sources += list(ROOT.glob("*.py"))
    makers = {str(p.relative_to(ROOT)) for p in sources if CLIENT_CLASSES.search(p.read_text())}
    assert makers == {"recipe_alert/connection.py"}
