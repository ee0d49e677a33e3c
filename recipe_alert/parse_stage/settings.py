"""What a parse-stage instance is told, and what it counts."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from .. import tuning
from ..connection import Connection


@dataclass(frozen=True)
class ParseSettings:
    connection: Connection
    input_topic: str
    output_topic: str
    dead_letter_topic: str
    group: str
    transactional_id: str
    from_beginning: bool = True
    timeout_ms: int | None = None
    partitions: int = 3
    replication_factor: int = 1
    # Most pages per poll and so per transaction; a backlog of 400 KB pages
    # fills about 100 with the fetch size below (README: Performance).
    batch_size: int = 100
    # Processes that parse pages. One keeps a core busy parsing while this
    # process does the Kafka work; more help when cores outnumber instances.
    workers: int = 1
    # Compressed bytes per partition per fetch: ~25 average pages (a larger
    # record batch still comes, alone: the broker always returns one). 4 MB
    # measured no faster, and took the main process from 175 to 390 MB.
    max_partition_fetch_bytes: int = tuning(2 * 1024 * 1024)
    # Parsing time per transaction. Far below max.poll.interval.ms (5 min) and
    # the transaction timeout (1 min), whatever the pages.
    batch_time_budget_s: float = tuning(10.0)


def default_transactional_id(group: str) -> str:
    """Stable across restarts on one host, so a restarted instance fences its zombie."""
    return f"{group}.{socket.gethostname()}"


@dataclass
class ParseStats:
    consumed: int = 0
    parsed: int = 0
    dead_lettered: int = 0
    transactions: int = 0
    aborted: int = 0
    recovered: int = 0  # transactions given up unfinished, and ended by a new producer
    working_s: float = 0.0  # time with pages in hand: the rate's denominator, idle time left out
    working_since: float | None = None

    def working(self, busy: bool) -> None:
        """Say whether pages are in hand now; the time they are counts."""
        now = time.monotonic()
        if busy and self.working_since is None:
            self.working_since = now
        elif not busy and self.working_since is not None:
            self.working_s += now - self.working_since
            self.working_since = None

    def counters(self) -> list[tuple[str, str, dict, float]]:
        """The summary line's counts, for ``metrics``."""
        transactions = "Transactions of this instance, by outcome"
        return [("parser_pages_consumed", "Raw pages published onward, as recipes or dead letters",
                 {}, self.consumed),
                ("parser_pages_parsed", "Raw pages published as recipes", {}, self.parsed),
                ("parser_pages_dead_lettered", "Raw pages published as dead letters", {},
                 self.dead_lettered),
                ("parser_transactions", transactions, {"outcome": "committed"}, self.transactions),
                ("parser_transactions", transactions, {"outcome": "aborted"}, self.aborted),
                ("parser_transactions", transactions, {"outcome": "given_up"}, self.recovered)]

    def summary(self) -> str:
        working = self.working_s + (time.monotonic() - self.working_since
                                    if self.working_since is not None else 0.0)
        rate = self.consumed / working if working > 0 else 0.0
        return (f"consumed {self.consumed}, parsed {self.parsed}, "
                f"dead-lettered {self.dead_lettered}, in {self.transactions} transaction(s), "
                f"{self.aborted} aborted" + (f", {self.recovered} given up unfinished"
                                             if self.recovered else "")
                + f"; {rate:.1f} pages/s over the {working:.1f} s with pages in hand")
