"""recipe_alert.connection: one Connection from flag, environment or default; the only maker of clients."""

import argparse
import logging
import re
import socket
import ssl
import subprocess

import pytest

from recipe_alert.connection import BOOTSTRAP_TIMEOUT_MS, Connection
from recipe_alert.errors import ConfigError
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
    assert config == {"bootstrap_servers": ["a:1", "b:2"], "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
                      "security_protocol": "PLAINTEXT"}


def test_its_repr_shows_where_it_connects_and_no_secret():
    assert repr(Connection("a:1,b:2")) == "Connection(bootstrap_servers='a:1,b:2')"
    secure = Connection("a:1", "SASL_SSL", "SCRAM-SHA-512", "alice", SECRET, ssl_key_password=SECRET)
    assert SECRET not in repr(secure) and SECRET not in secure.describe()
    assert "password=…" in repr(secure) and "'alice'" in repr(secure)


SECRET = "pw-Zq81xV"
JAVA = f"""\
bootstrap.servers=file:1
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
    username="file-user" password="{SECRET}";
"""


@pytest.fixture
def java_file(tmp_path):
    path = tmp_path / "client.properties"
    path.write_text(JAVA)
    return str(path)


def test_precedence_is_flag_then_environment_then_file_then_default(java_file):
    from_file = Connection.from_args(None, {"KAFKA_COMMAND_CONFIG": java_file})
    assert (from_file.bootstrap_servers, from_file.username, from_file.password,
            from_file.sasl_mechanism) == ("file:1", "file-user", SECRET, "SCRAM-SHA-256")
    env = {"KAFKA_COMMAND_CONFIG": "/nowhere", "KAFKA_BOOTSTRAP_SERVERS": "env:2",
           "KAFKA_SASL_USERNAME": "env-user", "KAFKA_SASL_PASSWORD": "env-pw",
           "KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SECURITY_PROTOCOL": "sasl_plaintext"}
    overridden = Connection.from_args(argparse.Namespace(bootstrap_server=None, command_config=java_file), env)
    assert (overridden.bootstrap_servers, overridden.username, overridden.password,
            overridden.sasl_mechanism, overridden.security_protocol) == (
        "env:2", "env-user", "env-pw", "SCRAM-SHA-512", "SASL_PLAINTEXT")
    flagged = Connection.from_args(argparse.Namespace(bootstrap_server="flag:3", command_config=java_file), env)
    assert flagged.bootstrap_servers == "flag:3"


def test_sasl_reaches_every_client_config(java_file):
    config = Connection.from_args(None, {"KAFKA_COMMAND_CONFIG": java_file}).client_config()
    assert {k: config[k] for k in ("security_protocol", "sasl_mechanism", "sasl_plain_username",
                                   "sasl_plain_password")} == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "file-user", "sasl_plain_password": SECRET}
    assert config["ssl_context"].check_hostname


@pytest.mark.parametrize("kwargs, says", [
    (dict(security_protocol="TLS"), "is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    (dict(security_protocol="SASL_SSL", sasl_mechanism="GSSAPI", username="u", password=SECRET),
     "Kerberos is not supported"),
    (dict(security_protocol="SASL_SSL", username="u", password=SECRET), "needs a SASL mechanism"),
    (dict(security_protocol="SASL_SSL", sasl_mechanism="PLAIN", username="u"),
     "needs a username and a password"),
    (dict(security_protocol="SSL", ssl_cafile="/no/such/ca.pem"), "CA file /no/such/ca.pem does not exist"),
])
def test_an_unusable_security_setting_is_refused_with_what_to_do(kwargs, says):
    with pytest.raises(ConfigError) as refused:
        Connection("a:1", **kwargs)
    assert says in str(refused.value) and SECRET not in str(refused.value)


def test_settings_the_protocol_does_not_use_are_named_in_a_warning(caplog):
    connection = Connection.from_args(None, {"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": SECRET})
    assert connection.security_protocol == "PLAINTEXT"
    assert "security.protocol is PLAINTEXT, so username, password is not used" in caplog.text
    assert SECRET not in caplog.text


@pytest.fixture(scope="module")
def client_cert(tmp_path_factory):
    """A self-signed certificate and its key, encrypted with the password 'right'."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-days", "1", "-subj", "/CN=t",
                    "-keyout", folder / "key.pem", "-out", folder / "cert.pem",
                    "-passout", "pass:right"], check=True, capture_output=True)
    return folder


def test_a_client_key_with_the_right_password_loads_and_a_wrong_one_is_named(client_cert):
    def connection(password):
        return Connection("a:1", "SSL", ssl_cafile=str(client_cert / "cert.pem"),
                          ssl_certfile=str(client_cert / "cert.pem"),
                          ssl_keyfile=str(client_cert / "key.pem"), ssl_key_password=password)

    assert connection("right").client_config()["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ConfigError, match="cannot load the client certificate .*ssl.key.password") as wrong:
        connection("wrong-" + SECRET).client_config()
    assert SECRET not in str(wrong.value)


def test_an_unreachable_cluster_is_named_with_what_to_do():
    message = str(Connection("nowhere:9").unavailable())
    assert "nowhere:9" in message and "make kafka-up" in message and "--bootstrap-server" in message


@pytest.fixture
def ports():
    """(a port that accepts connections, one where nothing listens) on 127.0.0.1."""
    with socket.socket() as listening, socket.socket() as closed:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield listening.getsockname()[1], closed.getsockname()[1]


def test_a_dead_server_in_the_bootstrap_list_is_named_while_the_others_answer(ports, caplog):
    live, dead = ports
    connection = Connection(f"127.0.0.1:{dead},127.0.0.1:{live},127.0.0.1:x")
    assert connection.unanswered() == {f"127.0.0.1:{dead}": "Connection refused",
                                       "127.0.0.1:x": "port 'x' is not a number"}
    with caplog.at_level(logging.WARNING, logger="recipe_alert"):
        connection.warn_unanswered()
    assert [r.getMessage() for r in caplog.records] == [
        f"bootstrap server 127.0.0.1:{dead} did not answer (Connection refused); "
        f"going on with 127.0.0.1:{live}",
        f"bootstrap server 127.0.0.1:x did not answer (port 'x' is not a number); "
        f"going on with 127.0.0.1:{live}"]


def test_a_server_without_a_port_is_tried_at_kafkas_default_port(monkeypatch):
    tried = []
    monkeypatch.setattr("socket.create_connection", lambda address, timeout: tried.append(address)
                        or socket.socket())
    assert Connection("kafka1,kafka2:9093").unanswered() == {}
    assert sorted(tried) == [("kafka1", 9092), ("kafka2", 9093)]


@pytest.mark.parametrize("servers", ["{dead}", "{dead},{dead}", "{live}"])
def test_nothing_is_said_of_a_lone_server_or_when_none_answers(ports, servers, caplog):
    # With none answering, the client's own failure to connect names the servers.
    live, dead = (f"127.0.0.1:{port}" for port in ports)
    with caplog.at_level(logging.WARNING, logger="recipe_alert"):
        Connection(servers.format(live=live, dead=dead)).warn_unanswered()
    assert caplog.records == []


CLIENT_CLASSES = re.compile(r"\b(KafkaProducer|KafkaConsumer|KafkaAdminClient)\(")


def test_no_kafka_client_is_made_anywhere_but_in_connection():
    """The scripts, tests, benchmarks and drivers all get their clients from a Connection."""
    sources = [p for d in ("recipe_alert", "testkit", "tests", "bench", "scripts") for p in (ROOT / d).rglob("*.py")]
    sources += list(ROOT.glob("*.py"))
    makers = {str(p.relative_to(ROOT)) for p in sources if CLIENT_CLASSES.search(p.read_text())}
    assert makers == {"recipe_alert/connection.py"}
