"""The pipeline against the real secure broker (KAFKA_SECURITY=sasl_ssl make kafka-up).

One SCRAM/PLAIN user per script, with only the ACLs ``testkit.secure.grants``
gives it, on this test's own topics; a failure case per kind of mistake,
each with its exit code, its message and a scan for the secrets.
Skipped when the secure broker is not running, except under CI=true with
KAFKA_SECURITY=sasl_ssl, where that fails.
"""

import os

import pytest
from kafka import TopicPartition

from recipe_alert.topics import ensure_topics
from testkit import secure
from testkit.broker import Names, run_script
from tests.integration.test_security import leaks

PAGES = "tests/fixtures/pages"
RECIPES_IN_PAGES = 23  # the fixture pages that are recipes; the rest are dead letters


@pytest.fixture(scope="module")
def admin_connection():
    try:
        connection = secure.connection(secure.ADMIN)
        with connection.admin(bootstrap_timeout_ms=5000):
            pass
    except Exception as exc:  # noqa: BLE001 - any failure here means "no secure broker"
        message = f"no secure broker ({exc}); run `KAFKA_SECURITY=sasl_ssl make kafka-up`"
        if os.environ.get("CI") == "true" and os.environ.get("KAFKA_SECURITY") == "sasl_ssl":
            pytest.fail(message)
        pytest.skip(message)
    return connection


@pytest.fixture
def granted(request, admin_connection):
    """This test's names, their topics (made by admin) and a grant function for them."""
    names = Names.unique(request.node.name.replace("[", ".").replace("]", ""))
    txn = f"{names.parser_group}.txn"
    ensure_topics(admin_connection, {t: {} for t in (names.raw, names.parsed, names.dead, names.alerts)},
                  3, 1)

    def grant(user, without=()):
        with admin_connection.admin() as admin:
            secure.grant(admin, user, names, without=without, transactional_id=txn)

    return names, txn, grant


def as_user(user, dialect="java"):
    """A script's environment: only the user's config file says where and how to connect."""
    return {"KAFKA_COMMAND_CONFIG": str(secure.client_config_path(user, dialect)),
            "KAFKA_BOOTSTRAP_SERVERS": ""}


def secrets():
    return [secure.password(u) for u in secure.USERS] + [secure.key_password()]


def produce(names, user="producer", dialect="java", *extra):
    return run_script("producer_raw_recipes.py", "-vv", "--from-dir", PAGES, "--topic", names.raw,
                      *extra, env=as_user(user, dialect))


def parse(names, txn, dialect="java"):
    return run_script("producer_consumer_parse_recipes.py", "-vv", "--input-topic", names.raw,
                      "--output-topic", names.parsed, "--dead-letter-topic", names.dead,
                      "--group", names.parser_group, "--transactional-id", txn,
                      "--timeout-ms", "4000", env=as_user("parser", dialect))


def notify(names, dialect="java"):
    return run_script("consumer_notification.py", "-vv", "--topic", names.parsed,
                      "--group", names.notifier_group, "--alerts-topic", names.alerts,
                      "--timeout-ms", "4000", env=as_user("notifier", dialect))




def assert_clean(result, code=0):
    output = result.stdout + result.stderr
    assert result.returncode == code, result.stderr[-3000:]
    assert "DEBUG kafka." in result.stderr  # kafka-python's own DEBUG output was scanned too
    assert leaks(output, secrets()) == []


@pytest.mark.parametrize("dialect", secure.DIALECTS)
def test_the_whole_pipeline_runs_exactly_once_as_one_user_per_script(granted, dialect):
    names, txn, grant = granted
    for user in ("producer", "parser", "notifier"):
        grant(user)
    produced = produce(names, dialect=dialect)
    assert_clean(produced)
    assert "published 25" in produced.stderr
    parsed = parse(names, txn, dialect)
    assert_clean(parsed)
    assert f"parsed {RECIPES_IN_PAGES}, dead-lettered 2" in parsed.stderr
    notified = notify(names, dialect)
    assert_clean(notified)
    assert f"read {RECIPES_IN_PAGES} recipe(s)" in notified.stderr
    assert "Alert: Triple Chocolate Cheesecake calories count is 1234" in notified.stdout
    again = parse(names, txn, dialect)  # committed offsets: nothing is parsed twice
    assert_clean(again)
    assert "consumed 0" in again.stderr


def test_mutual_tls_publishes_with_an_encrypted_client_key(granted):
    names, _, grant = granted
    grant(secure.MTLS_USER)
    for dialect in secure.DIALECTS:
        result = produce(names, secure.MTLS_USER, dialect)
        assert_clean(result)
        assert "published 25" in result.stderr


@pytest.mark.parametrize("env, says", [
    ({"KAFKA_SASL_PASSWORD": "not-the-password"}, "username or password is wrong|refused the credentials"),
    ({"KAFKA_SASL_USERNAME": "nobody"}, "username or password is wrong|refused the credentials"),
], ids=["wrong-password", "unknown-user"])
@pytest.mark.parametrize("dialect", secure.DIALECTS)
def test_refused_credentials_exit_5_with_one_sentence(granted, env, says, dialect):
    names, _, grant = granted
    result = run_script("producer_raw_recipes.py", "-vv", "--from-dir", PAGES, "--topic", names.raw,
                        env={**as_user("producer", dialect), **env})
    assert_clean(result, 5)
    assert any(s in result.stderr for s in says.split("|"))


def test_an_untrusted_server_certificate_exits_5(granted, tmp_path):
    names, _, _ = granted
    config = tmp_path / "untrusted.properties"
    config.write_text(secure.client_config_path("producer").read_text()
                      .replace(str(secure.CA_FILE), str(secure.UNTRUSTED_CA_FILE)))
    config.chmod(0o600)
    result = run_script("producer_raw_recipes.py", "-vv", "--from-dir", PAGES, "--topic", names.raw,
                        "--command-config", str(config), env={"KAFKA_BOOTSTRAP_SERVERS": ""})
    assert_clean(result, 5)
    assert "the broker's TLS certificate was refused" in result.stderr


def test_a_producer_denied_write_exits_6_with_the_grant(granted):
    names, _, grant = granted
    grant("producer", without=[(secure.ACLOperation.WRITE, secure.ResourceType.TOPIC)])
    result = produce(names)
    assert_clean(result, 6)
    assert (f"User:producer is not allowed to Write topic '{names.raw}'" in result.stderr
            and "--operation Write --topic " + names.raw in result.stderr)


def test_a_parser_denied_its_dead_letter_topic_commits_nothing(granted, admin_connection):
    """kafka-python would commit the transaction, offsets included, without the dead letters."""
    names, txn, grant = granted
    grant("producer")
    grant("parser", without=[(secure.ACLOperation.WRITE, secure.ResourceType.TOPIC, names.dead)])
    assert_clean(produce(names))
    result = parse(names, txn)
    assert_clean(result, 6)
    assert f"User:parser is not allowed to Write topic '{names.dead}'" in result.stderr
    with admin_connection.admin() as admin:
        offsets = admin.list_group_offsets(names.parser_group).get(names.parser_group, {})
    assert not offsets  # no page is marked done
    assert committed_visible(admin_connection, names.parsed) == 0  # the batch was aborted


def committed_visible(connection, topic):
    consumer = connection.reader(auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return sum(1 for _ in consumer)
    finally:
        consumer.close()


def test_a_notifier_denied_its_group_exits_6(granted):
    names, txn, grant = granted
    grant("notifier", without=[(secure.ACLOperation.READ, secure.ResourceType.GROUP)])
    result = notify(names)
    assert_clean(result, 6)
    assert f"User:notifier is not allowed to Read group '{names.notifier_group}'" in result.stderr
