#!/usr/bin/env python3
"""Tell whether a Kafka broker answers on host:port, using only the standard library.

Sends one ApiVersions v0 request over a raw socket: every Kafka broker since 0.10
answers it (a broker that dropped v0 still replies in v0 layout, with error 35).

Exit codes (used by scripts/kafka-local.sh):
  0  a Kafka broker answered
  1  nothing listens (connection refused, or host unreachable)
  2  something listens but gave no answer in time (e.g. a broker still starting)
  3  something answered that is not Kafka

Usage: python3 scripts/kafka_probe.py [host:port] [--timeout S]
"""
from __future__ import annotations

import argparse
import enum
import logging
import os
import socket
import struct
import time

log = logging.getLogger("kafka_probe")

API_VERSIONS_KEY = 18
UNSUPPORTED_VERSION = 35
# An ApiVersions v0 response is a few hundred bytes; a bigger "size" means it is not Kafka
# (for instance "HTTP" read as a big-endian int32).
MAX_RESPONSE_BYTES = 64 * 1024


class Verdict(enum.IntEnum):
    KAFKA = 0
    NOTHING_LISTENS = 1
    NO_ANSWER = 2
    NOT_KAFKA = 3


def parse_address(address: str, default_port: int = 9092) -> tuple[str, int]:
    """'host:port', 'host' or '[v6]:port' -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or "]" in port:
        host, port = address, str(default_port)
    return host.strip("[]") or "localhost", int(port)


def api_versions_request(correlation_id: int, client_id: bytes = b"kafka-probe") -> bytes:
    """A size-prefixed ApiVersions v0 request (header v1, empty body)."""
    header = struct.pack(">hhih", API_VERSIONS_KEY, 0, correlation_id, len(client_id)) + client_id
    return struct.pack(">i", len(header)) + header


def is_api_versions_response(payload: bytes, correlation_id: int) -> bool:
    """True if payload (the frame without its size prefix) is an ApiVersions v0 answer."""
    if len(payload) < 10:
        return False
    answered_id, error_code, count = struct.unpack_from(">ihi", payload)
    if answered_id != correlation_id or error_code not in (0, UNSUPPORTED_VERSION):
        return False
    # v0 body: error_code, then `count` entries of (api_key, min_version, max_version).
    if count < 1 or len(payload) != 10 + 6 * count:
        return False
    api_keys = {struct.unpack_from(">h", payload, 10 + 6 * i)[0] for i in range(count)}
    return API_VERSIONS_KEY in api_keys


def _read_exactly(sock: socket.socket, size: int, deadline: float) -> bytes:
    """Read size bytes; short result if the peer hangs up. Raises socket.timeout at deadline."""
    chunks, received = [], 0
    while received < size:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(size - received)
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return b"".join(chunks)


def probe(host: str = "localhost", port: int = 9092, timeout: float = 2.0) -> Verdict:
    """Connect, ask ApiVersions, and classify whatever happens within timeout seconds."""
    deadline = time.monotonic() + timeout
    correlation_id = int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:  # refused, unresolvable, or connect timed out
        log.info("nothing listens on %s:%d (%s)", host, port, exc)
        return Verdict.NOTHING_LISTENS
    with sock:
        try:
            sock.sendall(api_versions_request(correlation_id))
            size_prefix = _read_exactly(sock, 4, deadline)
            if len(size_prefix) < 4:
                log.info("%s:%d hung up without answering", host, port)
                return Verdict.NO_ANSWER
            (size,) = struct.unpack(">i", size_prefix)
            if not 0 < size <= MAX_RESPONSE_BYTES:
                log.info("%s:%d answered with something that is not Kafka", host, port)
                return Verdict.NOT_KAFKA
            payload = _read_exactly(sock, size, deadline)
        except socket.timeout:
            log.info("%s:%d accepted the connection but did not answer in %.1fs", host, port, timeout)
            return Verdict.NO_ANSWER
        except OSError as exc:  # reset by peer and the like
            log.info("%s:%d dropped the connection (%s)", host, port, exc)
            return Verdict.NO_ANSWER
    if is_api_versions_response(payload, correlation_id):
        log.info("a Kafka broker answers on %s:%d", host, port)
        return Verdict.KAFKA
    log.info("%s:%d answered with something that is not Kafka", host, port)
    return Verdict.NOT_KAFKA


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("address", nargs="?", default="localhost:9092", help="host:port (default localhost:9092)")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds for the whole exchange (default 2)")
    parser.add_argument("--quiet", "-q", action="store_true", help="only the exit code")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="kafka_probe: %(message)s")
    host, port = parse_address(args.address)
    return int(probe(host, port, args.timeout))


if __name__ == "__main__":
    raise SystemExit(main())
