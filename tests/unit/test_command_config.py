"""recipe_alert.command_config: both dialects of client properties files, refusals by key."""

import logging

import pytest

from recipe_alert.command_config import parse_properties, read_file, translate
from recipe_alert.errors import ConfigError

SECRET = "pw-Zq81xV"


def test_properties_syntax_comments_separators_continuations_and_escapes():
    text = ("# comment\n! also a comment\n\n  a=1\nb: 2\nc 3\n"
            "long=one \\\n    two\nesc=x\\ty\\u0041\\\\\nempty=\n")
    assert parse_properties(text) == {"a": "1", "b": "2", "c": "3", "long": "one two",
                                      "esc": "x\tyA\\", "empty": ""}


def test_the_java_dialect_with_a_jaas_config_and_a_pem_truststore():
    fields = translate({
        "bootstrap.servers": "b-1.example:9096",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule required '
                            f'username="alice" password="{SECRET}";',
        "ssl.truststore.location": "/etc/ca.bundle",
        "ssl.truststore.type": "PEM",
    }, "f")
    assert fields == {"bootstrap_servers": "b-1.example:9096", "security_protocol": "SASL_SSL",
                      "sasl_mechanism": "SCRAM-SHA-512", "username": "alice", "password": SECRET,
                      "ssl_cafile": "/etc/ca.bundle"}


def test_the_librdkafka_dialect():
    fields = translate({
        "security.protocol": "sasl_ssl", "sasl.mechanisms": "PLAIN", "sasl.username": "KEY",
        "sasl.password": SECRET, "ssl.ca.location": "/ca.pem",
        "ssl.certificate.location": "/c.pem", "ssl.key.location": "/k.pem", "ssl.key.password": "kp",
    }, "f")
    assert fields == {"security_protocol": "sasl_ssl", "sasl_mechanism": "PLAIN", "username": "KEY",
                      "password": SECRET, "ssl_cafile": "/ca.pem", "ssl_certfile": "/c.pem",
                      "ssl_keyfile": "/k.pem", "ssl_key_password": "kp"}


def test_a_pem_keystore_is_the_client_certificate_with_its_key():
    fields = translate({"ssl.keystore.location": "/client.pem", "ssl.keystore.type": "PEM",
                        "ssl.key.password": "kp", "ssl.endpoint.identification.algorithm": ""}, "f")
    assert fields == {"ssl_certfile": "/client.pem", "ssl_key_password": "kp",
                      "ssl_check_hostname": False}


def test_plain_login_module_implies_the_plain_mechanism():
    fields = translate({"sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
                                            'required username="u" password="p";'}, "f")
    assert fields["sasl_mechanism"] == "PLAIN"


@pytest.mark.parametrize("props, names", [
    ({"ssl.truststore.location": "/t.jks", "ssl.truststore.type": "JKS"}, "ssl.truststore.type"),
    ({"ssl.truststore.location": "/t.jks"}, "ssl.truststore.type"),
    ({"ssl.keystore.location": "/k.p12", "ssl.keystore.type": "PKCS12"}, "ssl.keystore.type"),
    ({"sasl.jaas.config": 'com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;'},
     "Kerberos"),
    ({"sasl.client.callback.handler.class": "software.amazon.msk.auth.iam.IAMClientCallbackHandler"},
     "sasl.client.callback.handler.class"),
    ({"sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required;"},
     "needs username and password"),
    ({"sasl.mechanism": "SCRAM-SHA-256", "sasl.jaas.config":
      f'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="{SECRET}";'},
     "make them agree"),
    ({"ssl.truststore.certificates": "-----BEGIN CERTIFICATE-----"}, "save it to a file"),
    ({"sasl.mechansim": "PLAIN"}, "sasl.mechansim: unknown setting"),
])
def test_what_kafka_python_cannot_honour_is_refused_by_key_without_echoing_values(props, names):
    with pytest.raises(ConfigError) as refused:
        translate(props, "client.properties")
    message = str(refused.value)
    assert message.startswith("client.properties: ") and names in message
    assert SECRET not in message and "BEGIN" not in message


def test_keys_that_do_not_apply_are_ignored_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING):
        fields = translate({"bootstrap.servers": "x:1", "client.dns.lookup": "use_all_dns_ips",
                            "session.timeout.ms": "45000", "basic.auth.user.info": SECRET}, "f")
    assert fields == {"bootstrap_servers": "x:1"}
    assert [r.getMessage() for r in caplog.records] == [
        "f: ignored, as they do not apply to these scripts: client.dns.lookup, session.timeout.ms, "
        "basic.auth.user.info"]


def test_an_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the client config file .*missing"):
        read_file(str(tmp_path / "missing"))
