"""The secure local broker: where its files are, who its users are, and what each may do.

``KAFKA_SECURITY=sasl_ssl scripts/kafka-local.sh up`` starts it (a single-node KRaft
Kafka 4.x beside the plaintext one) and then runs ``python -m testkit.secure setup``.
This module is the one definition of the grants, for that setup and for tests alike.

Listeners, all on localhost::

    9192 SASL_SSL        PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    9193 CONTROLLER      mutual TLS (the broker's own certificate)
    9194 SSL             mutual TLS: clients present a certificate
    9195 SASL_PLAINTEXT  the same mechanisms, no TLS

Principals:

- ``User:admin``: super user, the one that creates topics and ACLs;
- ``User:producer``, ``User:parser``, ``User:notifier``: one per script, over SASL
  (any of the three mechanisms);
- ``User:CN=producer-mtls``: the client certificate on 9194, granted what the producer is;
- ``User:CN=localhost``: the broker itself (controller and inter-broker traffic), super user.

Certificates' principals are their full subject DN (the broker's default
``ssl.principal.mapping.rules``); the certificates have a CN only.

Least privilege: each script's user gets what that script does, and no Create. The
topics are the operators' (here: admin's, in ``setup``), as on most secured clusters;
the scripts find them existing (``recipe_alert.topics.ensure_topics`` describes before
it creates) and go on.

The run dir ``.cache/kafka/run/secure`` (``$KAFKA_CACHE_DIR/run/secure``), as
kafka-local.sh lays it out::

    secrets/USER.password, secrets/producer-mtls.key-password   (mode 600)
    tls/ca.pem                      the CA clients trust
    tls/producer-mtls.pem, .key     client certificate; its key encrypted (PBES2, AES-256)
    tls/producer-mtls.keystore.pem  key (PBE-SHA1-3DES, readable by Java too) + certificate + CA
    tls/untrusted-ca.pem            a CA nobody trusts, for "untrusted certificate" tests
    tls/untrusted-client.pem, .key  CN=producer-mtls signed by that CA: a client cert to refuse
    clients/                        client config files, written by ``write_client_configs``

Usage::

    python -m testkit.secure setup       client configs, default topics, default grants
    python -m testkit.secure env USER    shell lines pointing the scripts at USER's config
    python -m testkit.secure paths       NAME=PATH, one a line

Every Kafka client here is made through ``recipe_alert.connection.Connection``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ResourcePattern,
                         ResourcePatternFilter, ResourceType)
from kafka.admin import ACLResourcePatternType as PatternType
from kafka.errors import KafkaError, NoError

from recipe_alert.connection import COMMAND_CONFIG_ENV, SECURITY_ENV, BOOTSTRAP_ENV, Connection
from recipe_alert.errors import RecipeAlertError
from recipe_alert.topics import ensure_topics

from . import ROOT
from .broker import Names

log = logging.getLogger("testkit.secure")

# --- where things are -------------------------------------------------------------------

CACHE_DIR = Path(os.environ.get("KAFKA_CACHE_DIR") or ROOT / ".cache" / "kafka").resolve()
RUN_DIR = CACHE_DIR / "run" / "secure"
SECRETS_DIR = RUN_DIR / "secrets"
TLS_DIR = RUN_DIR / "tls"
CLIENTS_DIR = RUN_DIR / "clients"

CA_FILE = TLS_DIR / "ca.pem"
UNTRUSTED_CA_FILE = TLS_DIR / "untrusted-ca.pem"
MTLS_USER = "producer-mtls"
CLIENT_CERT = TLS_DIR / f"{MTLS_USER}.pem"
CLIENT_KEY = TLS_DIR / f"{MTLS_USER}.key"  # encrypted: key_password()
CLIENT_KEYSTORE = TLS_DIR / f"{MTLS_USER}.keystore.pem"  # key (encrypted) + certificate + CA
UNTRUSTED_CLIENT_CERT = TLS_DIR / "untrusted-client.pem"
UNTRUSTED_CLIENT_KEY = TLS_DIR / "untrusted-client.key"  # not encrypted

SASL_SSL = "localhost:9192"
CONTROLLER = "localhost:9193"
SSL = "localhost:9194"
SASL_PLAINTEXT = "localhost:9195"

ADMIN = "admin"
USERS = (ADMIN, "producer", "parser", "notifier")  # SASL users, each with a password
GRANTED = ("producer", MTLS_USER, "parser", "notifier")  # what setup() grants
BROKER_PRINCIPAL = "User:CN=localhost"
DIALECTS = ("java", "librdkafka")

NOT_STARTED = "start the secure broker first: KAFKA_SECURITY=sasl_ssl make kafka-up"


def principal(user: str) -> str:
    """``User:NAME`` for a SASL user, the certificate's subject DN for the mutual-TLS one."""
    return f"User:CN={MTLS_USER}" if user == MTLS_USER else f"User:{user}"


def _secret(name: str) -> str:
    try:
        return (SECRETS_DIR / name).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise RuntimeError(f"{SECRETS_DIR / name} does not exist: {NOT_STARTED}") from None


def password(user: str) -> str:
    """``user``'s SASL password (the same for PLAIN and both SCRAMs), read from the run dir."""
    if user not in USERS:
        raise ValueError(f"{user!r} is not one of the secure broker's users {', '.join(USERS)}")
    return _secret(f"{user}.password")


def key_password() -> str:
    """The password of the mutual-TLS client's key (both CLIENT_KEY and CLIENT_KEYSTORE)."""
    return _secret(f"{MTLS_USER}.key-password")


# --- client config files ------------------------------------------------------------------

def client_config_path(user: str, dialect: str = "java") -> Path:
    """``clients/USER.properties`` (Java dialect) or ``clients/USER.librdkafka.properties``."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {DIALECTS}, not {dialect!r}")
    return CLIENTS_DIR / (f"{user}.properties" if dialect == "java" else f"{user}.librdkafka.properties")


def client_config_text(user: str, dialect: str = "java") -> str:
    """What ``client_config_path(user, dialect)`` holds: the user's password or key password.

    SASL users: SASL_SSL on 9192, SCRAM-SHA-512 in the Java dialect, PLAIN in librdkafka's
    (so both mechanisms are what a user is handed). The mutual-TLS user: SSL on 9194.
    """
    if user == MTLS_USER:
        if dialect == "java":
            lines = [f"bootstrap.servers={SSL}", "security.protocol=SSL",
                     f"ssl.truststore.location={CA_FILE}", "ssl.truststore.type=PEM",
                     f"ssl.keystore.location={CLIENT_KEYSTORE}", "ssl.keystore.type=PEM",
                     f"ssl.key.password={key_password()}"]
        else:
            lines = [f"bootstrap.servers={SSL}", "security.protocol=SSL",
                     f"ssl.ca.location={CA_FILE}", f"ssl.certificate.location={CLIENT_CERT}",
                     f"ssl.key.location={CLIENT_KEY}", f"ssl.key.password={key_password()}"]
    elif dialect == "java":
        lines = [f"bootstrap.servers={SASL_SSL}", "security.protocol=SASL_SSL",
                 "sasl.mechanism=SCRAM-SHA-512",
                 "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                 f'username="{user}" password="{password(user)}";',
                 f"ssl.truststore.location={CA_FILE}", "ssl.truststore.type=PEM"]
    else:
        lines = [f"bootstrap.servers={SASL_SSL}", "security.protocol=SASL_SSL",
                 "sasl.mechanisms=PLAIN", f"sasl.username={user}", f"sasl.password={password(user)}",
                 f"ssl.ca.location={CA_FILE}"]
    header = (f"# {principal(user)} on the secure local broker (scripts/kafka-local.sh, "
              f"KAFKA_SECURITY=sasl_ssl); written by testkit.secure. Holds a secret: keep it mode 600.")
    return "\n".join([header, *lines]) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Atomically, created mode 600 (never readable by others, not even for a moment)."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def write_client_configs() -> list[Path]:
    """Every user's config file in both dialects; rewritten only where it would change."""
    CLIENTS_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    written = []
    for user in (*USERS, MTLS_USER):
        for dialect in DIALECTS:
            path = client_config_path(user, dialect)
            _write_private(path, client_config_text(user, dialect))
            written.append(path)
    return written


def connection(user: str = ADMIN, dialect: str = "java") -> Connection:
    """``user``'s Connection, from its config file, as a script given --command-config gets it.

    Only the file counts: ``$KAFKA_BOOTSTRAP_SERVERS`` and the like in this process's
    environment, which would override it, are not read.
    """
    path = client_config_path(user, dialect)
    if not path.exists():
        raise RuntimeError(f"{path} does not exist: {NOT_STARTED}")
    return Connection.from_args(None, environ={COMMAND_CONFIG_ENV: str(path)})


# --- grants -------------------------------------------------------------------------------

# The scripts' defaults (producer_raw_recipes.py, producer_consumer_parse_recipes.py,
# consumer_notification.py). The parser's transactional id defaults to GROUP.HOSTNAME
# (parse_stage.settings.default_transactional_id): granted as the prefix "recipe-parser.".
DEFAULT_NAMES = Names(raw="raw_recipes", parsed="parsed_recipes",
                      dead="raw_recipes_dead_letter", alerts="calorie_alerts",
                      parser_group="recipe-parser", notifier_group="recipe-notifier")
DEFAULT_TOPICS = ("raw", "parsed", "dead", "alerts")
PARTITIONS = 3

_OP = ACLOperation
_TOPIC, _GROUP, _TXN = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID


def transactional_id_pattern(names, transactional_id: str | None = None) -> ResourcePattern:
    """The parser's transactional id: literal when one is given; else every id the parser
    would default to on any host, ``<parser_group>.<hostname>``, as the prefix ``<parser_group>.``."""
    if transactional_id:
        return ResourcePattern(_TXN, transactional_id, PatternType.LITERAL)
    return ResourcePattern(_TXN, f"{names.parser_group}.", PatternType.PREFIXED)


def grants(user: str, names=DEFAULT_NAMES, *, transactional_id: str | None = None) -> list[ACL]:
    """The ALLOW ACLs ``user`` needs to run its script on ``names``' topics, and nothing more.

    - producer, producer-mtls: Write, Describe, DescribeConfigs (it reads max.message.bytes)
      on the raw topic;
    - parser: Read, Describe on the raw topic; Read on its group; Write, Describe,
      DescribeConfigs on the parsed and dead-letter topics; Write, Describe on its
      transactional id (see ``transactional_id_pattern``);
    - notifier: Read, Describe on the parsed topic; Read on its group; Read, Write, Describe,
      DescribeConfigs on the alert-log topic;
    - admin: none (super user).
    """
    wanted: list[tuple[ResourcePattern, tuple[ACLOperation, ...]]]
    if user in ("producer", MTLS_USER):
        wanted = [(_literal(_TOPIC, names.raw), (_OP.WRITE, _OP.DESCRIBE, _OP.DESCRIBE_CONFIGS))]
    elif user == "parser":
        wanted = [(_literal(_TOPIC, names.raw), (_OP.READ, _OP.DESCRIBE)),
                  (_literal(_GROUP, names.parser_group), (_OP.READ,)),
                  (_literal(_TOPIC, names.parsed), (_OP.WRITE, _OP.DESCRIBE, _OP.DESCRIBE_CONFIGS)),
                  (_literal(_TOPIC, names.dead), (_OP.WRITE, _OP.DESCRIBE, _OP.DESCRIBE_CONFIGS)),
                  (transactional_id_pattern(names, transactional_id), (_OP.WRITE, _OP.DESCRIBE))]
    elif user == "notifier":
        wanted = [(_literal(_TOPIC, names.parsed), (_OP.READ, _OP.DESCRIBE)),
                  (_literal(_GROUP, names.notifier_group), (_OP.READ,)),
                  (_literal(_TOPIC, names.alerts),
                   (_OP.READ, _OP.WRITE, _OP.DESCRIBE, _OP.DESCRIBE_CONFIGS))]
    elif user == ADMIN:
        wanted = []
    else:
        raise ValueError(f"no grants for {user!r}: one of {', '.join((ADMIN, *GRANTED))}")
    return [ACL(principal=principal(user), host="*", operation=operation,
                permission_type=ACLPermissionType.ALLOW, resource_pattern=pattern)
            for pattern, operations in wanted for operation in operations]


def _literal(resource_type: ResourceType, name: str) -> ResourcePattern:
    return ResourcePattern(resource_type, name, PatternType.LITERAL)


def _matches(acl: ACL, item) -> bool:
    """``item``: an ACL, or (operation, resource type[, name]); a missing or None name is any."""
    if isinstance(item, ACLFilter):
        return acl == item
    operation, resource_type, *rest = item
    name = rest[0] if rest else None
    return (acl.operation == operation and acl.resource_pattern.resource_type == resource_type
            and name in (None, acl.resource_pattern.resource_name))


def _principal_filter(user: str) -> ACLFilter:
    return ACLFilter(principal=principal(user), host=None, operation=ACLOperation.ANY,
                     permission_type=ACLPermissionType.ANY,
                     resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, PatternType.ANY))


def acls_of(admin, user: str) -> set[ACL]:
    """Every ACL the cluster has for ``user``'s principal."""
    found, _ = admin.describe_acls(_principal_filter(user))
    return set(found)


def _wait_until(admin, user: str, done, timeout_s: float, what: str) -> None:
    """Polls describe_acls until ``done(acls)``; the authorizer answers describe_acls from
    the same state it authorizes with, so then they are in effect."""
    deadline = time.monotonic() + timeout_s
    while not done(acls_of(admin, user)):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} for {principal(user)} not in effect after {timeout_s} s")
        time.sleep(0.05)  # polling, bounded by the deadline


def grant(admin, user: str, names=DEFAULT_NAMES, *, without: Iterable = (),
          transactional_id: str | None = None, timeout_s: float = 30) -> list[ACL]:
    """Create ``grants(user, names)`` less ``without``, and return once they are in effect.

    ``admin`` is a KafkaAdminClient as ``connection(ADMIN).admin()`` yields it. Each item
    of ``without`` is an ACL or ``(ACLOperation, ResourceType[, name])``, and must match one
    of the grants (a typo would otherwise leave the test's permission in place).
    Returns the ACLs created.
    """
    full = grants(user, names, transactional_id=transactional_id)
    without = list(without)
    unmatched = [item for item in without if not any(_matches(acl, item) for acl in full)]
    if unmatched:
        raise ValueError(f"without= names no grant of {user!r}: {unmatched}")
    acls = [acl for acl in full if not any(_matches(acl, item) for item in without)]
    if not acls:
        return []
    result = admin.create_acls(acls)
    if result["failed"]:  # kafka-python reports only the errors, not which ACL failed
        failed = [acl for acl in acls if acl not in result["succeeded"]]
        raise RuntimeError(f"could not create ACLs {failed}: {result['failed']}")
    _wait_until(admin, user, lambda present: set(acls) <= present, timeout_s, f"ACLs {acls}")
    return acls


def revoke(admin, user: str, acls: Iterable[ACL] | None = None, *, timeout_s: float = 30) -> None:
    """Delete ``acls`` (default: every ACL of ``user``'s principal), until they are gone."""
    filters = list(acls) if acls is not None else [_principal_filter(user)]
    if not filters:
        return
    for _, _, error in admin.delete_acls(filters):
        if error is not NoError:
            raise RuntimeError(f"could not delete ACLs of {principal(user)}: {error.__name__}")
    if acls is None:
        _wait_until(admin, user, lambda present: not present, timeout_s, "no ACLs")
    else:
        _wait_until(admin, user, lambda present: not (set(filters) & present), timeout_s,
                    "removal of ACLs")


# --- setup --------------------------------------------------------------------------------

def _retrying(action, what: str, timeout_s: float):
    """Right after start the broker may still refuse (metadata not caught up, say)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return action()
        except (KafkaError, RecipeAlertError) as exc:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{what}: still failing after {timeout_s} s: {exc}") from exc
            log.info("%s: %s; trying again", what, exc)
            time.sleep(0.5)  # between attempts, bounded by the deadline


def setup(timeout_s: float = 90) -> None:
    """Client configs, the default topics (created by admin) and every user's default grants."""
    write_client_configs()
    admin_connection = connection(ADMIN)
    topics = [getattr(DEFAULT_NAMES, field) for field in DEFAULT_TOPICS]
    _retrying(lambda: ensure_topics(admin_connection, {t: {} for t in topics}, PARTITIONS, 1),
              "creating the default topics", timeout_s)

    def grant_all():
        with admin_connection.admin() as admin:
            for user in GRANTED:
                grant(admin, user, DEFAULT_NAMES)

    _retrying(grant_all, "granting the default ACLs", timeout_s)
    log.info("topics %s exist (%d partitions); ACLs granted to %s", ", ".join(topics), PARTITIONS,
             ", ".join(principal(u) for u in GRANTED))


# --- command line -------------------------------------------------------------------------

def paths() -> dict[str, Path]:
    found = {"run_dir": RUN_DIR, "secrets_dir": SECRETS_DIR, "tls_dir": TLS_DIR,
             "clients_dir": CLIENTS_DIR, "ca": CA_FILE, "untrusted_ca": UNTRUSTED_CA_FILE,
             "client_cert": CLIENT_CERT, "client_key": CLIENT_KEY, "client_keystore": CLIENT_KEYSTORE,
             "untrusted_client_cert": UNTRUSTED_CLIENT_CERT,
             "untrusted_client_key": UNTRUSTED_CLIENT_KEY}
    for user in (*USERS, MTLS_USER):
        for dialect in DIALECTS:
            found[f"{user}.{dialect}"] = client_config_path(user, dialect)
    return found


def env_lines(user: str, dialect: str = "java") -> list[str]:
    """Shell lines that make the scripts connect as ``user``: its file, and nothing that
    would override it (the bootstrap variable, the SASL variables)."""
    path = client_config_path(user, dialect)
    if not path.exists():
        raise RuntimeError(f"{path} does not exist: {NOT_STARTED}")
    return [f"unset {BOOTSTRAP_ENV} {' '.join(SECURITY_ENV.values())}",
            f"export {COMMAND_CONFIG_ENV}={shlex.quote(str(path))}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testkit.secure",
                                     description="the secure local broker's files, users and grants")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="client configs, default topics and grants (run by kafka-local.sh)")
    env = commands.add_parser("env", help="shell lines to eval, e.g. eval \"$(python -m testkit.secure "
                                          "env producer)\"")
    env.add_argument("user", choices=(*USERS, MTLS_USER))
    env.add_argument("--librdkafka", action="store_true", help="the librdkafka-dialect file")
    commands.add_parser("paths", help="NAME=PATH lines")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    # kafka-python says why a connection failed only in its log; at DEBUG it would log the
    # PLAIN password and the admin client's whole config.
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        if args.command == "setup":
            setup()
        elif args.command == "env":
            print("\n".join(env_lines(args.user, "librdkafka" if args.librdkafka else "java")))
        else:
            print("\n".join(f"{name}={path}" for name, path in paths().items()))
    except (RuntimeError, TimeoutError, ValueError, RecipeAlertError) as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
