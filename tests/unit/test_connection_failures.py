"""kafka_compat.connection_failures: a refused TLS certificate is reported as such, not as "no broker".

The server here is a TLS listener, not Kafka: what is tested is kafka-python's
handshake and what the Connection makes of its failure. The cases that need
a broker (SASL, a plaintext listener) are in tests/integration.
"""

import socket
import ssl
import subprocess
import threading

import pytest

from recipe_alert import kafka_compat
from recipe_alert.connection import Connection
from recipe_alert.errors import AuthenticationFailed


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A CA, a server certificate it signed for CN=elsewhere.example, one for localhost that
    has expired, and another CA."""
    d = tmp_path_factory.mktemp("tls")
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={ca}",
                "-keyout", f"{ca}.key", "-out", f"{ca}.pem", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=elsewhere.example",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:elsewhere.example\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "expired.key", "-out", "expired.csr", cwd=d)
    (d / "localhost.ext").write_text("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", "expired.csr", "-CA", "ca.pem", "-CAkey", "ca.key",  # ended a day ago
            "-CAcreateserial", "-days", "-1", "-extfile", "localhost.ext", "-out", "expired.pem", cwd=d)
    return d


@pytest.fixture(scope="module")
def tls_listener(tls):
    yield from listening(tls, "server")


@pytest.fixture(scope="module")
def expired_listener(tls):
    yield from listening(tls, "expired")


def listening(tls, certificate: str):
    """Accepts TLS handshakes on 127.0.0.1, with ``certificate``, until the module ends."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls / f"{certificate}.pem", tls / f"{certificate}.key")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client refused us: what the tests want

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"localhost:{server.getsockname()[1]}"
    done.set()
    thread.join()
    server.close()


def connect(connection):
    with connection.admin(bootstrap_timeout_ms=2000):
        pass


@pytest.mark.parametrize("ca, says", [
    ("other-ca.pem", "the broker's TLS certificate was refused (unable to get local issuer certificate)"),
    ("ca.pem", "the broker's TLS certificate was refused (Hostname mismatch"),
])
def test_a_refused_certificate_is_named_with_what_to_check(tls, tls_listener, ca, says):
    with pytest.raises(AuthenticationFailed) as failed:
        connect(Connection(tls_listener, "SSL", ssl_cafile=str(tls / ca)))
    assert says in str(failed.value) and tls_listener in str(failed.value)
    assert failed.value.exit_code == 5


def test_an_expired_certificate_is_named(tls, expired_listener):
    with pytest.raises(AuthenticationFailed) as failed:
        connect(Connection(expired_listener, "SSL", ssl_cafile=str(tls / "ca.pem")))
    assert "the broker's TLS certificate was refused (certificate has expired)" in str(failed.value)
    assert "must be renewed by its administrator" in str(failed.value)


def test_without_the_workaround_the_cause_is_lost(tls, tls_listener, monkeypatch):
    """kafka-python's own error says only that it could not bootstrap."""
    class Forgetful(kafka_compat.connection_failures):
        def filter(self, record):
            return record.levelno >= logging_level(record)

    def logging_level(record):
        import logging
        return logging.getLogger(record.name).getEffectiveLevel()

    monkeypatch.setattr(kafka_compat, "connection_failures", Forgetful)
    with pytest.raises(Exception) as failed:
        connect(Connection(tls_listener, "SSL", ssl_cafile=str(tls / "other-ca.pem")))
    assert not isinstance(failed.value, AuthenticationFailed)
    assert "Unable to bootstrap" in str(failed.value.__cause__)
