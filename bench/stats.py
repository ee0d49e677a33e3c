"""The pipeline benchmark's arithmetic: rates, percentiles, counting. No I/O, no clocks."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

MB = 1e6

_DONE_CONSUMED = re.compile(r"done: consumed (\d+)")


@dataclass(frozen=True)
class Rate:
    """``count`` items of ``nbytes`` in total, handled in ``seconds``."""

    count: int
    nbytes: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else math.nan

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / MB / self.seconds if self.seconds > 0 else math.nan

    @classmethod
    def pooled(cls, rates: Iterable["Rate"]) -> "Rate":
        """All of ``rates`` as one: their items over their summed time."""
        rates = list(rates)
        return cls(sum(r.count for r in rates), sum(r.nbytes for r in rates),
                   sum(r.seconds for r in rates))


def ratio(part: float, whole: float) -> float:
    """``part / whole``, NaN when there is nothing to compare with."""
    return part / whole if whole and not math.isnan(whole) else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with ``fraction`` of values at or below it.

    Nearest rank never invents a value between two samples, so a p99 over
    100 samples is the 99th smallest, and a max is a real observation.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class Latency:
    count: int
    p50: float
    p99: float
    max: float


def summarize(values: Sequence[float]) -> Latency:
    return Latency(len(values), percentile(values, 0.50), percentile(values, 0.99),
                   max(values) if values else math.nan)


def alert_latencies_ms(alerts: Iterable[dict], sent_ms: Mapping[str, float]) -> tuple[list[float], int]:
    """(alerted_ms - the send time of each sent URL's first alert, how many sent never alerted)."""
    first = {}
    for alert in alerts:
        url = alert.get("url")
        if url in sent_ms and url not in first:
            first[url] = alert["alerted_ms"] - sent_ms[url]
    return list(first.values()), len(sent_ms) - len(first)


class CatchUp:
    """When the last of ``expected`` records became visible.

    Feed it the number of records each read returned and the time of that read.
    """

    def __init__(self, expected: int):
        self.expected = expected
        self.seen = 0
        self.first_at: float | None = None
        self.done_at: float | None = None

    def add(self, count: int, at: float) -> bool:
        """Count ``count`` more records read at ``at``; True once all are in."""
        if count and self.first_at is None:
            self.first_at = at
        self.seen += count
        if self.done_at is None and self.seen >= self.expected:
            self.done_at = at
        return self.done

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def since(self, at: float, seen_then: int) -> tuple[int, float]:
        """(records, seconds) from ``at``, when ``seen_then`` were in, to the last one."""
        if not self.done:
            return 0, math.nan
        return self.seen - seen_then, self.done_at - at


def consumed_from_log(stderr: str) -> int | None:
    """N from a stage's final ``done: consumed N, ...`` log line, if it printed one."""
    found = _DONE_CONSUMED.findall(stderr)
    return int(found[-1]) if found else None


def bound_by(producer_mb_s: float, client_cpu_mb_s: float) -> tuple[float, str]:
    """(share of the producer's time its per-byte CPU work takes, what bounds it).

    ``client_cpu_mb_s`` is the speed of the work the client must do on every
    byte (compress, then CRC32C the batch) alone, single-threaded. At a
    producer rate P that work fills P / client_cpu_mb_s of the wall time; the
    rest is spent sending and waiting for acks.
    """
    if math.isnan(producer_mb_s) or math.isnan(client_cpu_mb_s) or client_cpu_mb_s <= 0:
        return math.nan, "unknown"
    share = producer_mb_s / client_cpu_mb_s
    if share >= 0.7:
        return share, "client CPU (compression+CRC32C)"
    if share <= 0.3:
        return share, "network/acks/broker"
    return share, "both: client CPU and network/acks/broker"
