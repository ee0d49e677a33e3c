"""The consumers' poll loop, shared by the parse stage and the notifier.

When to poll, when to stop, which partitions are held; nothing about what a
record means.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from kafka import ConsumerRebalanceListener

from . import kafka_compat, metrics

log = logging.getLogger(__name__)


class AssignmentLog(ConsumerRebalanceListener):
    """Says which partitions this instance holds after each rebalance, then calls on ``then``."""

    def __init__(self, then: ConsumerRebalanceListener | None = None):
        self.then = then

    def on_partitions_revoked(self, revoked):
        if self.then is not None:
            self.then.on_partitions_revoked(revoked)

    def on_partitions_assigned(self, assigned):
        held = {}
        for tp in sorted(assigned):
            held.setdefault(tp.topic, []).append(str(tp.partition))
        log.info("holding %s", ", ".join(f"{topic}[{','.join(p)}]" for topic, p in held.items())
                 or "no partitions")
        if self.then is not None:
            self.then.on_partitions_assigned(assigned)


def batches(consumer, stop, timeout_ms: int | None, poll_ms: int = 200,
            held: Callable[[], int | None] = lambda: None) -> Iterator[dict]:
    """Polled batches until ``stop``, or until idle for ``timeout_ms``.

    The idle clock runs only while partitions are assigned and the group is
    not rebalancing, so a slow join does not count as "nothing to consume".
    While the caller holds work it goes on with on an empty batch, ``held()``
    says how long a poll may wait before that work needs the caller again
    (None: no work held); empty batches are yielded too, and a stop waits
    until that work is done.
    """
    idle_since = None
    while True:
        wait_ms = held()
        if stop and wait_ms is None:
            return
        batch = {} if stop else consumer.poll(timeout_ms=poll_ms if wait_ms is None else wait_ms)
        metrics.record_lag(consumer)
        if batch or wait_ms is not None:
            idle_since = None
            yield batch
        elif (timeout_ms is None or not consumer.assignment()
              or kafka_compat.settled_membership(consumer) is None):
            idle_since = None
        else:
            idle_since = idle_since or time.monotonic()
            if (time.monotonic() - idle_since) * 1000 >= timeout_ms:
                log.info("nothing to consume for %d ms: stopping", timeout_ms)
                return


def header(headers, name: str) -> str | None:
    """The value of header ``name`` from a record's header list, decoded."""
    for key, value in headers or ():
        if key == name:
            return value.decode("utf-8", "replace") if value is not None else None
    return None
