"""The recipes already alerted, per consumer group, mirrored from a compacted topic.

Every notifier records its alerts there before committing its offsets, and
reads the topic back when it is given partitions, so notifiers on any
machine in one group agree on what was already alerted. A group is one
subscriber: each group alerts each recipe once, whatever other groups did.

A record's key is the JSON array ``[group, recipe]`` (recipe: the normalised
URL), so compaction keeps one record per group and recipe. Versions before
this one keyed a record by the recipe alone, not saying which group alerted:
such a record counts for every group, so that no group repeats an alert after
an upgrade.
"""

from __future__ import annotations

import json
import logging
import time

from kafka import ConsumerRebalanceListener, TopicPartition

from ..errors import BrokerError
from .alerts import Alert
from .sinks import Sink

log = logging.getLogger(__name__)

ALERTS_TOPIC_CONFIG = {"cleanup.policy": "compact"}


def log_key(group: str, recipe: str) -> bytes:
    """The key of ``group``'s record of ``recipe``; the same bytes from every instance."""
    return json.dumps([group, recipe], separators=(",", ":")).encode()


def alerted_recipe(key: bytes | None, group: str) -> str | None:
    """The recipe a record keyed ``key`` marks as alerted for ``group``, or None."""
    if not key:
        return None
    text = key.decode("utf-8", "replace")
    try:
        pair = json.loads(text)
    except ValueError:
        pair = None
    if isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair):
        return pair[1] if pair[0] == group else None
    return text  # keyed by the recipe alone (an older version): alerted for every group


class AlertLog(Sink):
    """The set of recipes ``group`` already alerted, with the reader and producer that keep it."""

    name = "alert log"
    TIMEOUT_S = 60  # to see the topic, and to read it to its end

    def __init__(self, connection, topic: str, group: str):
        self.topic, self.group = topic, group
        self.alerted: set[str] = set()
        self.stale = True  # until read to its end, and again after each assignment
        self._reader = connection.reader()
        try:
            deadline = time.monotonic() + self.TIMEOUT_S
            # A topic just created may take a moment to show in this client's metadata.
            while not (partitions := self._reader.partitions_for_topic(topic)):
                self._give_up_after(deadline, "see its partitions")
                time.sleep(0.2)
            self._partitions = [TopicPartition(topic, p) for p in sorted(partitions)]
            self._reader.assign(self._partitions)
            self._reader.seek_to_beginning(*self._partitions)
            self._producer = connection.producer(linger_ms=0)
        except BaseException:
            self._reader.close()
            raise

    def _give_up_after(self, deadline: float, doing: str) -> None:
        if time.monotonic() > deadline:
            raise BrokerError(
                f"could not {doing} of alerts topic {self.topic!r} within {self.TIMEOUT_S} s")

    def catch_up(self) -> None:
        """Read every alert written so far, by any notifier."""
        deadline = time.monotonic() + self.TIMEOUT_S
        ends = self._reader.end_offsets(self._partitions)
        while any(self._reader.position(tp) < end for tp, end in ends.items()):
            self._give_up_after(deadline, "read the alerts")
            for records in self._reader.poll(timeout_ms=500).values():
                for record in records:
                    if (recipe := alerted_recipe(record.key, self.group)) is not None:
                        self.alerted.add(recipe)
        self.stale = False
        log.debug("%d recipe(s) already alerted for group %r", len(self.alerted), self.group)

    def seen(self, key: str | None) -> bool:
        return key in self.alerted

    def record(self, alert: Alert) -> bool:
        if alert.key is not None:
            self.alerted.add(alert.key)
            self._producer.send(self.topic, key=log_key(self.group, alert.key),
                                value=json.dumps({**alert.as_dict(), "group": self.group}).encode())
        return True

    def flush(self) -> None:
        self._producer.flush()  # the log holds this batch's alerts before its offsets commit

    def close(self) -> None:
        self._producer.close(timeout=10)
        self._reader.close()


class CatchUpOnAssign(ConsumerRebalanceListener):
    """Partitions moved from another notifier: learn what it alerted before alerting.

    The reading happens in the poll loop, not here: a listener runs inside
    kafka-python's event loop, and blocks its heartbeats for as long as it runs.
    """

    def __init__(self, alert_log: AlertLog):
        self.alert_log = alert_log

    def on_partitions_revoked(self, revoked):
        pass

    def on_partitions_assigned(self, assigned):
        self.alert_log.stale = True
