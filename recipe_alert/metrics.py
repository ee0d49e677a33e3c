"""Prometheus metrics for whoever runs the scripts for days: ``--metrics-addr [HOST:]PORT``.

- The counters behind each script's summary line, read from the same stats
  object at each scrape, so the two never disagree.
- Consumer lag per partition, as the consumer sees it: the partition's high
  watermark minus this consumer's position, refreshed as it polls.
- Histograms of the parse time of each page, each transaction's commit, and
  a parsed recipe's publish to its alert.

Served by ``prometheus_client`` from a thread of the script, on loopback
unless a host is given; nothing is served without the flag.
"""

from __future__ import annotations

import time

from prometheus_client import REGISTRY, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .errors import ConfigError

PREFIX = "recipe_alert"

# Observed whether served or not; served by the stages that observe them (``track``).
PARSE_SECONDS = Histogram(
    f"{PREFIX}_parse_seconds", "Time to parse one raw page, in a worker or the main process",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1, 5), registry=None)
COMMIT_SECONDS = Histogram(
    f"{PREFIX}_transaction_commit_seconds",
    "Time to publish a batch's outputs and offsets in one transaction, committed",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 15), registry=None)
ALERT_LATENCY_SECONDS = Histogram(
    f"{PREFIX}_alert_latency_seconds", "From a parsed recipe's publish to its alert",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60), registry=None)

LAG_EVERY_S = 1.0  # a poll loop refreshes the lag at most this often


class _Counters:
    """Reads the running stage's stats at each scrape: ``stats.counters()`` gives
    (name, help, labels, value) for each counter of its summary line."""

    def __init__(self):
        self.stats = None
        self.lag: dict[tuple[str, int], int] = {}
        self.lag_at = 0.0

    def collect(self):
        families: dict[str, CounterMetricFamily] = {}
        for name, help_text, labels, value in (self.stats.counters() if self.stats else ()):
            family = families.get(name)
            if family is None:
                family = families[name] = CounterMetricFamily(
                    f"{PREFIX}_{name}", help_text, labels=sorted(labels))
            family.add_metric([labels[k] for k in sorted(labels)], value)
        yield from families.values()
        lag = GaugeMetricFamily(f"{PREFIX}_consumer_lag",
                                "Records behind the partition's high watermark, at this consumer's position",
                                labels=["topic", "partition"])
        for (topic, partition), value in sorted(self.lag.items()):
            lag.add_metric([topic, str(partition)], value)
        yield lag


_COUNTERS = _Counters()
REGISTRY.register(_COUNTERS)


def track(stats, *histograms: Histogram) -> None:
    """Report ``stats`` (which has ``counters()``) and the stage's ``histograms`` from now on."""
    _COUNTERS.stats = stats
    for histogram in histograms:
        if histogram not in _served:
            REGISTRY.register(histogram)
            _served.add(histogram)


_served: set[Histogram] = set()


def record_lag(consumer) -> None:
    """Refresh the lag of the consumer's partitions, at most every LAG_EVERY_S."""
    now = time.monotonic()
    if now - _COUNTERS.lag_at < LAG_EVERY_S:
        return
    _COUNTERS.lag_at = now
    lag = {}
    for tp in consumer.assignment():
        end = consumer.highwater(tp)
        position = consumer.position(tp, timeout_ms=0) if end is not None else None
        if position is not None:
            lag[(tp.topic, tp.partition)] = max(0, end - position)
    _COUNTERS.lag = lag


def serve(address: str) -> tuple[str, int]:
    """Serve the metrics on ``[HOST:]PORT`` (loopback by default; port 0: any free one); the address served."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not (port.isdigit() and int(port) < 65536):
        raise ConfigError(f"--metrics-addr {address!r}: give [HOST:]PORT, e.g. 9400 or 0.0.0.0:9400")
    try:
        server, _ = start_http_server(int(port), addr=host)
    except OSError as exc:
        raise ConfigError(f"--metrics-addr {address}: cannot listen there ({exc.strerror})") from exc
    return host, server.server_address[1]
