"""The pipeline against the real secure broker (KAFKA_SECURITY=sasl_ssl make kafka-up).

One SCRAM/PLAIN user per script, with only the ACLs ``testkit.secure.grants``
gives it, on this test's own topics; a failure case per kind of mistake,
each with its exit code, its message and a scan for the secrets.
Skipped when the secure broker is not running, except under CI=true with
KAFKA_SECURITY=sasl_ssl, where that fails.
"""

import contextlib
import socket
import threading
from dataclasses import replace

import time

import pytest
from kafka import TopicPartition
from kafka.errors import TopicAuthorizationFailedError

from recipe_alert import kafka_compat
from recipe_alert.errors import TransactionHung

from recipe_alert.topics import ensure_topics
from testkit import secure
from testkit.broker import Names, absent, run_script
from testkit.pages import fixture_counts
from tests.integration.test_security import leaks

PAGES = "tests/fixtures/pages"
PAGE_COUNT, RECIPES_IN_PAGES = fixture_counts()  # the pages that are not recipes are dead letters


@pytest.fixture(scope="module")
def admin_connection():
    try:
        connection = secure.connection(secure.ADMIN)
        with connection.admin(bootstrap_timeout_ms=5000):
            pass
    except Exception as exc:  # noqa: BLE001 - any failure here means "no secure broker"
        absent(f"no secure broker ({exc}); run `KAFKA_SECURITY=sasl_ssl make kafka-up`",
               required_by="KAFKA_SECURITY=sasl_ssl")
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




def parse_without(granted, operation, resource_type, name=None):
    """The raw pages produced, then the parse stage run without one of its grants: exit 6."""
    names, txn, grant = granted
    grant("producer")
    grant("parser", without=[(operation, resource_type, name)])
    assert_clean(produce(names))
    result = parse(names, txn)
    assert_clean(result, 6)
    return result


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
    assert f"published {PAGE_COUNT}," in produced.stderr
    parsed = parse(names, txn, dialect)
    assert_clean(parsed)
    assert f"parsed {RECIPES_IN_PAGES}, dead-lettered {PAGE_COUNT - RECIPES_IN_PAGES}" in parsed.stderr
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
        assert f"published {PAGE_COUNT}," in result.stderr


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


@contextlib.contextmanager
def forwarded(target_port: int, host: str = "127.0.0.3"):
    """``host:PORT`` relaying each connection to localhost:``target_port`` (all on loopback):
    the broker reached under an address its certificate does not name."""
    server = socket.create_server((host, 0))

    def pump(source, sink):
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def accept():
        with contextlib.suppress(OSError):
            while True:
                client, _ = server.accept()
                upstream = socket.create_connection(("127.0.0.1", target_port))
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=pump, args=(a, b), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"{host}:{server.getsockname()[1]}"
    finally:
        server.close()


def test_a_certificate_that_does_not_name_the_host_exits_5(granted):
    names, _, _ = granted
    port = int(secure.SASL_SSL.rsplit(":", 1)[1])
    with forwarded(port) as address:
        result = run_script("producer_raw_recipes.py", "-vv", "--from-dir", PAGES, "--topic",
                            names.raw, "--bootstrap-server", address, env=as_user("producer"))
    assert_clean(result, 5)
    assert "the broker's TLS certificate was refused (IP address mismatch" in result.stderr
    assert "connect with a host name the certificate names" in result.stderr


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_no_tls_spoken_to_the_tls_listener_exits_5(granted, protocol):
    names, _, _ = granted
    result = run_script("producer_raw_recipes.py", "-vv", "--from-dir", PAGES, "--topic", names.raw,
                        env={**as_user("producer"), "KAFKA_SECURITY_PROTOCOL": protocol})
    assert_clean(result, 5)
    # The broker just hangs up: how far kafka-python got before varies, and the message with it.
    assert "if this listener uses TLS, set security.protocol to" in result.stderr


def test_a_producer_denied_create_on_a_missing_topic_exits_6(granted, admin_connection):
    names, _, grant = granted
    missing = replace(names, raw=names.raw + ".missing")
    grant("producer")  # on names.raw: the missing topic is not even visible
    hidden = run_script("producer_raw_recipes.py", "-vv", "--from-dir", PAGES, "--topic",
                        missing.raw, env=as_user("producer"))
    assert_clean(hidden, 6)
    assert f"User:producer is not allowed to Describe topic '{missing.raw}'" in hidden.stderr
    assert "an administrator creates it, or grants Create too" in hidden.stderr
    with admin_connection.admin() as admin:
        secure.grant(admin, "producer", missing)  # Write and Describe on it, no Create
    refused = run_script("producer_raw_recipes.py", "-vv", "--from-dir", PAGES, "--topic",
                         missing.raw, env=as_user("producer"))
    assert_clean(refused, 6)
    assert f"User:producer is not allowed to Create topic '{missing.raw}'" in refused.stderr


def test_a_parser_denied_its_transactional_id_exits_6_having_read_nothing(granted, admin_connection):
    names, txn, _ = granted
    result = parse_without(granted, secure.ACLOperation.WRITE, secure.ResourceType.TRANSACTIONAL_ID)
    assert (f"User:parser is not allowed to Write transactional id '{txn}'" in result.stderr
            and f"--operation Write --transactional-id {txn}" in result.stderr)
    with admin_connection.admin() as admin:
        assert not admin.list_group_offsets(names.parser_group).get(names.parser_group)


def test_a_producer_denied_write_exits_6_with_the_grant(granted):
    names, _, grant = granted
    grant("producer", without=[(secure.ACLOperation.WRITE, secure.ResourceType.TOPIC)])
    result = produce(names)
    assert_clean(result, 6)
    assert (f"User:producer is not allowed to Write topic '{names.raw}'" in result.stderr
            and "--operation Write --topic " + names.raw in result.stderr)


def test_a_parser_denied_its_dead_letter_topic_commits_nothing(granted, admin_connection):
    """The batch is aborted and the stage stops with the grant it needs; nothing is marked done."""
    names, txn, _ = granted
    result = parse_without(granted, secure.ACLOperation.WRITE, secure.ResourceType.TOPIC, names.dead)
    assert f"User:parser is not allowed to Write topic '{names.dead}'" in result.stderr
    with admin_connection.admin() as admin:
        offsets = admin.list_group_offsets(names.parser_group).get(names.parser_group, {})
    assert not offsets  # no page is marked done
    assert committed_visible(admin_connection, names.parsed) == 0  # the batch was aborted


@pytest.mark.parametrize("workaround", [True, False], ids=["with", "without"])
def test_a_denied_send_fails_its_transaction_rather_than_hang_its_commit(granted, workaround):
    """kafka_compat.raise_failed_send: without it, commit_transaction() waits forever."""
    names, txn, grant = granted
    grant("parser", without=[(secure.ACLOperation.WRITE, secure.ResourceType.TOPIC, names.dead)])
    producer = secure.connection("parser").producer(transactional_id=txn)
    try:
        producer.init_transactions()
        producer.begin_transaction()
        futures = [producer.send(names.parsed, b"allowed"), producer.send(names.dead, b"denied")]
        deadline = time.monotonic() + 10
        if workaround:
            with pytest.raises(TopicAuthorizationFailedError):
                kafka_compat.raise_failed_send(producer, futures, deadline)
            kafka_compat.abort(producer, deadline)
        else:
            with pytest.raises(TransactionHung):
                kafka_compat.commit(producer, deadline)
    finally:
        producer.close(timeout=5)


def committed_visible(connection, topic):
    consumer = connection.reader(auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return sum(1 for _ in consumer)
    finally:
        consumer.close()


@pytest.mark.parametrize("resource", ["group", "topic"])
def test_a_notifier_denied_read_exits_6(granted, resource):
    """A consumer without Read would otherwise poll nothing, forever."""
    names, txn, grant = granted
    kind, name = {"group": (secure.ResourceType.GROUP, names.notifier_group),
                  "topic": (secure.ResourceType.TOPIC, names.parsed)}[resource]
    grant("notifier", without=[(secure.ACLOperation.READ, kind, name)])
    result = notify(names)
    assert_clean(result, 6)
    assert f"User:notifier is not allowed to Read {resource} '{name}'" in result.stderr


def test_a_parser_denied_read_on_its_input_topic_exits_6(granted):
    """Describe alone lets the group join and be assigned; every fetch is then refused."""
    names, _, _ = granted
    result = parse_without(granted, secure.ACLOperation.READ, secure.ResourceType.TOPIC, names.raw)
    assert f"User:parser is not allowed to Read topic '{names.raw}'" in result.stderr
