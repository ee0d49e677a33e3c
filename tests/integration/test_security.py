"""Security settings against the real plaintext broker: a mismatch is named, and no secret is printed.

Each script runs at -vv (kafka-python's DEBUG output included), and its
stdout and stderr are scanned for the password and the key password.
"""

import pytest

from testkit.broker import run_script

pytestmark = pytest.mark.plaintext_broker

SECRET = "pw-Zq81xV-never-shown"
KEY_SECRET = "kp-Yy72-never-shown"
SCRIPTS = {
    "producer_raw_recipes.py": ["--from-dir", "tests/fixtures/pages"],
    "producer_consumer_parse_recipes.py": ["--timeout-ms", "1000"],
    "consumer_notification.py": ["--timeout-ms", "1000"],
}


def leaks(text: str, secrets) -> list[str]:
    """The secrets, or recognisable pieces of them, that ``text`` shows."""
    return [s for s in secrets if s in text or s[: len(s) // 2] in text]


def test_the_scan_finds_a_leaked_secret_whole_or_in_part():
    assert leaks(f"config {{'sasl_plain_password': '{SECRET}'}}", [SECRET]) == [SECRET]
    assert leaks(f"b'\\x00user\\x00{SECRET[:12]}'", [SECRET]) == [SECRET]
    assert leaks("sasl_plain_password: …", [SECRET]) == []


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("env, says", [
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN"},
     "the listener does not use SASL"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"},
     "the listener does not speak TLS"),
], ids=["sasl-on-plaintext", "tls-on-plaintext"])
def test_security_settings_that_do_not_match_the_listener_are_named_and_nothing_leaks(
        broker, names, script, env, says):
    topics = {"producer_raw_recipes.py": ["--topic", names.raw],
              "producer_consumer_parse_recipes.py": ["--input-topic", names.raw, "--group",
                                                     names.parser_group],
              "consumer_notification.py": ["--topic", names.parsed, "--group", names.notifier_group]}
    result = run_script(script, "-vv", *SCRIPTS[script], *topics[script], timeout=90,
                        env={**env, "KAFKA_SASL_USERNAME": "alice", "KAFKA_SASL_PASSWORD": SECRET})
    assert result.returncode == 5, result.stderr[-3000:]
    assert says in result.stderr
    assert "DEBUG kafka." in result.stderr  # the scan covered kafka-python's own DEBUG output
    assert leaks(result.stdout + result.stderr, [SECRET]) == []
