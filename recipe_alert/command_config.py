"""Reading a client properties file (``--command-config``) in either dialect users are handed.

The Java client's (Kafka's own tools, ``sasl.jaas.config``, PEM trust stores)
and librdkafka's (kcat, Confluent Cloud's client snippets) name the same
settings differently. ``read_file`` maps both onto ``Connection``'s field
names. A key kafka-python cannot honour is refused, naming the key and what
to use instead; a client key that merely does not apply here is logged and
ignored, as Kafka's tools do. No error message repeats a value: values may be
secrets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from .errors import ConfigError

log = logging.getLogger(__name__)

# key -> Connection field
DIRECT = {
    "bootstrap.servers": "bootstrap_servers",
    "security.protocol": "security_protocol",
    "sasl.mechanism": "sasl_mechanism",     # Java
    "sasl.mechanisms": "sasl_mechanism",    # librdkafka
    "sasl.username": "username",
    "sasl.password": "password",
    "ssl.ca.location": "ssl_cafile",
    "ssl.certificate.location": "ssl_certfile",
    "ssl.key.location": "ssl_keyfile",
    "ssl.key.password": "ssl_key_password",
}

_KERBEROS = "Kerberos (GSSAPI) is not supported here; use PLAIN, SCRAM-SHA-256/512 or mutual TLS"
_INLINE_PEM = "inline PEM is not read; save it to a file and give its path with the matching *.location key"
REFUSED = {
    "sasl.client.callback.handler.class":
        "a Java callback class (AWS IAM, OAuth) cannot be loaded by kafka-python; "
        "use SCRAM or mutual TLS (MSK offers both)",
    "sasl.login.callback.handler.class": "a Java callback class cannot be loaded by kafka-python",
    "sasl.login.class": "a Java login class cannot be loaded by kafka-python",
    "sasl.kerberos.service.name": _KERBEROS,
    "sasl.kerberos.principal": _KERBEROS,
    "sasl.kerberos.keytab": _KERBEROS,
    "ssl.truststore.certificates": _INLINE_PEM,
    "ssl.keystore.certificate.chain": _INLINE_PEM,
    "ssl.keystore.key": _INLINE_PEM,
    "ssl.ca.pem": _INLINE_PEM,
    "ssl.certificate.pem": _INLINE_PEM,
    "ssl.key.pem": _INLINE_PEM,
    "enable.ssl.certificate.verification":
        "certificate verification cannot be turned off; give the cluster's CA with ssl.ca.location",
    "ssl.engine.factory.class": "a Java SSL engine class cannot be loaded by kafka-python",
}

# Client settings these scripts choose themselves, or that belong to other tools
# (Schema Registry in Confluent's snippets): logged and ignored.
IGNORED = frozenset("""
    acks auto.commit.interval.ms auto.offset.reset batch.size buffer.memory client.dns.lookup
    client.id client.rack compression.codec compression.type connections.max.idle.ms
    default.api.timeout.ms delivery.timeout.ms enable.auto.commit enable.idempotence
    fetch.max.bytes fetch.min.bytes group.id group.instance.id heartbeat.interval.ms
    isolation.level key.deserializer key.serializer linger.ms max.in.flight.requests.per.connection
    max.partition.fetch.bytes max.poll.interval.ms max.poll.records max.request.size
    message.max.bytes metadata.max.age.ms receive.buffer.bytes reconnect.backoff.max.ms
    reconnect.backoff.ms request.timeout.ms retries retry.backoff.ms send.buffer.bytes
    session.timeout.ms socket.connection.setup.timeout.ms socket.keepalive.enable
    socket.timeout.ms ssl.cipher.suites ssl.enabled.protocols ssl.keymanager.algorithm
    ssl.protocol ssl.provider ssl.secure.random.implementation ssl.trustmanager.algorithm
    statistics.interval.ms topic.metadata.refresh.interval.ms transaction.timeout.ms
    value.deserializer value.serializer api.version.request broker.version.fallback debug
    ssl.truststore.password ssl.keystore.password
    """.split())
IGNORED_PREFIXES = ("schema.registry.", "basic.auth.", "sasl.login.", "confluent.")

LOGIN_MODULES = {
    "org.apache.kafka.common.security.plain.PlainLoginModule": "PLAIN",
    "org.apache.kafka.common.security.scram.ScramLoginModule": "SCRAM",
}
_JAAS = re.compile(r"^\s*(?P<module>\S+)\s+(?:required|requisite|sufficient|optional)\b"
                   r"(?P<options>.*?);?\s*$", re.S)
_JAAS_OPTION = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]+))')
_PEM_NAMES = (".pem", ".crt", ".cer")


def parse_properties(text: str) -> dict[str, str]:
    """Java ``.properties`` syntax: ``key=value``, ``key: value`` or ``key value``, ``#``/``!``
    comments, backslash continuation lines and escapes."""
    props: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if _continues(line):
            logical += line[:-1]
            continue
        logical += line
        key, value = _split_pair(logical)
        props[_unescape(key)] = _unescape(value)
        logical = ""
    if logical:
        key, value = _split_pair(logical)
        props[_unescape(key)] = _unescape(value)
    return props


def _continues(line: str) -> bool:
    trailing = len(line) - len(line.rstrip("\\"))
    return trailing % 2 == 1


def _split_pair(line: str) -> tuple[str, str]:
    match = re.match(r"((?:[^\\=:\s]|\\.)*)\s*[=:\s]?\s*(.*)$", line, re.S)
    return match.group(1), match.group(2)


def _unescape(text: str) -> str:
    escapes = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)",
                  lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5
                  else escapes.get(m.group(1), m.group(1)), text)


def read_file(path: str) -> dict[str, object]:
    """The ``Connection`` fields a client properties file sets."""
    try:
        with open(path, encoding="utf-8") as handle:
            props = parse_properties(handle.read())
    except OSError as exc:
        raise ConfigError(f"cannot read the client config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the client config file {path} is not UTF-8 text") from None
    return translate(props, path)


def translate(props: Mapping[str, str], source: str) -> dict[str, object]:
    """Map both dialects' keys onto ``Connection`` fields; refuse what can't be honoured."""
    fields: dict[str, object] = {}
    ignored = []

    def refuse(key: str, why: str) -> ConfigError:
        return ConfigError(f"{source}: {key}: {why}")

    for key, value in props.items():
        value = value.strip()
        if key in DIRECT:
            fields[DIRECT[key]] = value
        elif key in REFUSED:
            raise refuse(key, REFUSED[key])
        elif key == "sasl.jaas.config":
            fields.update(_jaas(value, lambda why: refuse(key, why)))
        elif key in ("ssl.truststore.location", "ssl.keystore.location"):
            kind = key.split(".")[1]
            store_type = props.get(f"ssl.{kind}.type", "").strip().upper()
            if not store_type and value.lower().endswith(_PEM_NAMES):
                store_type = "PEM"
            if store_type != "PEM":
                raise refuse(f"ssl.{kind}.type",
                             f"is {store_type or 'not set (Java reads JKS then)'}; kafka-python reads PEM "
                             f"only: convert the {kind} (keytool -exportcert -rfc, or openssl pkcs12 "
                             f"-nodes) and set ssl.{kind}.type=PEM")
            fields["ssl_cafile" if kind == "truststore" else "ssl_certfile"] = value
        elif key in ("ssl.truststore.type", "ssl.keystore.type"):
            continue  # read with its location
        elif key == "ssl.endpoint.identification.algorithm":
            fields["ssl_check_hostname"] = value.lower() not in ("", "none")
        elif key in IGNORED or key.startswith(IGNORED_PREFIXES):
            ignored.append(key)
        else:
            raise refuse(key, "unknown setting; these are read: "
                         + ", ".join(sorted({*DIRECT, "sasl.jaas.config", "ssl.truststore.location",
                                             "ssl.keystore.location",
                                             "ssl.endpoint.identification.algorithm"})))
    if ignored:
        log.warning("%s: ignored, as they do not apply to these scripts: %s", source, ", ".join(ignored))
    family = fields.pop("_jaas_family", None)
    mechanism = str(fields.get("sasl_mechanism", "")).upper()
    if family == "PLAIN" and not mechanism:
        fields["sasl_mechanism"] = "PLAIN"
    elif family and mechanism and not mechanism.startswith(family):
        raise refuse("sasl.jaas.config", f"its login module is for {family}, but sasl.mechanism is "
                                         f"{mechanism}; make them agree")
    return fields


def _jaas(value: str, refuse) -> dict[str, object]:
    """Username, password and mechanism family from a ``sasl.jaas.config`` (never echoed)."""
    match = _JAAS.match(value)
    if not match:
        raise refuse("expected '<LoginModule class> required username=\"...\" password=\"...\";'")
    module = match.group("module")
    family = LOGIN_MODULES.get(module)
    if family is None:
        short = module.rsplit(".", 1)[-1]
        raise refuse(f"{short} is not supported here; use PlainLoginModule or ScramLoginModule"
                     + (f" ({_KERBEROS})" if "Krb5" in short else ""))
    options = {name: re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
               for name, quoted, bare in _JAAS_OPTION.findall(match.group("options"))}
    missing = [name for name in ("username", "password") if not options.get(name)]
    if missing:
        raise refuse(f"{module.rsplit('.', 1)[-1]} needs {' and '.join(missing)}")
    return {"username": options["username"], "password": options["password"], "_jaas_family": family}
