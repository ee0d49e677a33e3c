"""At most two batches in hand: one committing while the next is parsed.

A batch is committed only under the group membership it was polled in; a
rebalance drops what is in hand, and its pages are read again.
"""

from __future__ import annotations

import logging
import time

from .. import kafka_compat
from ..errors import TransactionHung
from .records import Output, rewind, rewind_to_committed
from .settings import ParseSettings, ParseStats
from .transactions import Transactions, commit_outputs
from .workers import InFlight, Parsers, collect

log = logging.getLogger(__name__)

# How long a poll may wait while a worker parses the batch in hand: pages
# that come meanwhile are handed on at once, and the batch is committed
# within this of its last page parsed.
WAIT_MS = 2


class Pipeline:
    def __init__(self, settings: ParseSettings, consumer, txns: Transactions, parsers: Parsers,
                 stats: ParseStats, stop):
        self.settings, self.consumer, self.txns, self.parsers = settings, consumer, txns, parsers
        self.stats, self.stop = stats, stop
        self.pending: InFlight | None = None
        self.rewound = {}  # partition -> offset of the last read_again

    def held(self) -> int | None:
        """None with no batch in hand; else how long a poll may wait before the batch needs
        this process: 0 once it is parsed or has a chunk no worker has started."""
        if self.pending is None:
            return None
        return 0 if self.pending.needs_this_process() else WAIT_MS

    def add(self, batch: dict) -> None:
        """Hand a polled batch to the parsers, then commit the one before it.

        An empty batch (nothing new came) goes on with the batch in hand: a
        chunk of it parsed here, or its commit once it is parsed. Committing
        only then, not at once, lets pages that come meanwhile be parsed
        while it commits.
        """
        entries = [entry for partition_entries in batch.values() for entry in partition_entries]
        owner = kafka_compat.settled_membership(self.consumer)
        previous, self.pending = self.pending, None
        if owner is None or (previous is not None and previous.owner != owner):
            # A rebalance under way, or one since ``previous`` was polled: its
            # partitions may belong to another instance now. Whatever is still
            # ours is read again from the first uncommitted page. With no work
            # in hand the next polls wait, which the join needs: kafka-python
            # 3.0 starts it over if it completes between two polls.
            unread = self.read_again(entries, previous)
            if unread:
                log.info("the group is rebalancing; dropped %d uncommitted polled entries", unread)
            return
        if not entries and previous is not None and not self.stop \
                and not previous.advance(self.parsers.parse):
            self.pending = previous
            return
        current = self.parsers.submit(entries, owner, self.settings.batch_time_budget_s) \
            if entries else None
        if previous is None or self.commit(previous, behind=current):
            self.pending = current

    def commit(self, batch: InFlight, behind: InFlight | None) -> bool:
        """Publish ``batch`` (or the part parsed within budget) in one transaction.

        Returns whether all of it was committed. If not, the rest and the batch
        ``behind`` it are dropped and read again; on an error, then it raises.
        """
        outputs, spanned = collect(self.parsers, batch, self.settings, self.stop)
        published: list[Output] = []
        try:
            commit_outputs(self.txns, batch.owner, outputs, published)
        finally:
            unpublished = [out.source for out in outputs[len(published):]] + batch.entries[spanned:]
            if unpublished:
                self.read_again(unpublished, behind)
            self.stats.consumed += len(published)
            self.stats.parsed += sum(out.parsed for out in published)
            self.stats.dead_lettered += sum(not out.parsed for out in published)
        return not unpublished

    def read_again(self, entries: list, dropped: InFlight | None) -> int:
        """Have the next poll return ``entries`` (records or record batches) and those of
        ``dropped``, whose parsing stops.

        Returns how many entries will be read again.
        """
        if dropped is not None:
            dropped.drop()
            entries = entries + dropped.entries
        self.rewound = rewind(self.consumer, entries)
        return len(entries)

    def recover(self, hung: TransactionHung) -> None:
        """Go on after a transaction whose outcome we never heard (its coordinator died, say).

        kafka-python may never finish it: a new producer with the same
        transactional id ends it, committed or aborted, and fences the old
        one; then the pages it held are read again from the offsets the broker
        committed, so none is lost or doubled.
        """
        started = time.monotonic()
        log.warning("%s; ending it with a new producer and reading again from the committed "
                    "offsets", hung)
        self.txns.start()
        rewind_to_committed(self.consumer, self.rewound)
        self.stats.recovered += 1
        log.warning("recovered from the unfinished transaction in %.1f s", time.monotonic() - started)
