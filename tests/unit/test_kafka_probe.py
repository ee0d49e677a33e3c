"""scripts/kafka_probe.py against small socket servers on 127.0.0.1 (and a real broker if up)."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import struct
import threading
from pathlib import Path

import pytest

PROBE_PATH = Path(__file__).resolve().parents[2] / "scripts" / "kafka_probe.py"
_spec = importlib.util.spec_from_file_location("kafka_probe", PROBE_PATH)
kafka_probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kafka_probe)
Verdict = kafka_probe.Verdict


def api_versions_payload(correlation_id: int, api_keys=(0, 1, 3, 18), error_code: int = 0) -> bytes:
    body = struct.pack(">hi", error_code, len(api_keys))
    body += b"".join(struct.pack(">hhh", key, 0, 4) for key in api_keys)
    return struct.pack(">i", correlation_id) + body


def read_request(conn: socket.socket) -> bytes:
    (size,) = struct.unpack(">i", conn.recv(4, socket.MSG_WAITALL))
    return conn.recv(size, socket.MSG_WAITALL)


@contextlib.contextmanager
def serve_once(handler):
    """Listen on an ephemeral loopback port; handler(conn) serves the first connection."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)

    def run():
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                handler(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        thread.join(timeout=10)


def fake_broker(conn):
    request = read_request(conn)
    api_key, version, correlation_id = struct.unpack_from(">hhi", request)
    assert (api_key, version) == (18, 0)
    payload = api_versions_payload(correlation_id)
    conn.sendall(struct.pack(">i", len(payload)) + payload)


def http_server(conn):
    read_request(conn)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def wrong_correlation(conn):
    read_request(conn)
    payload = api_versions_payload(correlation_id=-1)
    conn.sendall(struct.pack(">i", len(payload)) + payload)


def hang_up(conn):
    read_request(conn)


def silent(conn):
    read_request(conn)
    conn.recv(1)  # returns when the probe gives up and closes


def test_request_is_a_size_prefixed_api_versions_v0():
    frame = kafka_probe.api_versions_request(1234, client_id=b"abc")
    (size,) = struct.unpack_from(">i", frame)
    assert size == len(frame) - 4
    assert struct.unpack_from(">hhih", frame, 4) == (18, 0, 1234, 3)
    assert frame.endswith(b"abc")


@pytest.mark.parametrize(
    "payload, expected",
    [
        (api_versions_payload(7), True),
        (api_versions_payload(7, error_code=35), True),  # broker without v0 still answers in v0 layout
        (api_versions_payload(8), False),
        (api_versions_payload(7, error_code=2), False),
        (api_versions_payload(7, api_keys=(0, 1)), False),
        (api_versions_payload(7) + b"\0", False),
        (api_versions_payload(7)[:-2], False),
        (b"HTTP/1.1", False),
    ],
)
def test_response_recognition(payload, expected):
    assert kafka_probe.is_api_versions_response(payload, 7) is expected


@pytest.mark.parametrize(
    "address, expected",
    [
        ("localhost:9092", ("localhost", 9092)),
        ("broker", ("broker", 9092)),
        ("127.0.0.1:19092", ("127.0.0.1", 19092)),
        ("[::1]:9093", ("::1", 9093)),
        ("[::1]", ("::1", 9092)),
    ],
)
def test_parse_address(address, expected):
    assert kafka_probe.parse_address(address) == expected


@pytest.mark.parametrize(
    "handler, verdict",
    [
        (fake_broker, Verdict.KAFKA),
        (http_server, Verdict.NOT_KAFKA),
        (wrong_correlation, Verdict.NOT_KAFKA),
        (hang_up, Verdict.NO_ANSWER),
        (silent, Verdict.NO_ANSWER),
    ],
)
def test_probe_verdicts(handler, verdict):
    with serve_once(handler) as port:
        assert kafka_probe.probe("127.0.0.1", port, timeout=1.0) is verdict


def test_nothing_listens_on_a_closed_port():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    assert kafka_probe.probe("127.0.0.1", port, timeout=1.0) is Verdict.NOTHING_LISTENS


def test_exit_code_is_the_verdict():
    with serve_once(fake_broker) as port:
        assert kafka_probe.main([f"127.0.0.1:{port}", "--timeout", "2", "--quiet"]) == 0
    with serve_once(http_server) as port:
        assert kafka_probe.main([f"127.0.0.1:{port}", "--quiet"]) == 3
