"""The parse stage: raw pages in; recipes and dead letters out, exactly once.

Each batch is one Kafka transaction holding its outputs, its dead letters and
the consumed offsets, so a crash at any moment leaves either the whole batch
or none of it.

Pages are decompressed and parsed in worker processes while this process
polls the next batch and commits the previous one, so Kafka's share of the
work overlaps parsing instead of adding to it. Parsing ends before a transaction opens, and a batch
stops early when its parsing budget is spent (the rest is read again), so
neither transactions nor the gaps between polls grow with slow or huge pages.

Its parts, in the order a batch meets them:

- ``settings``: what an instance is told, and what it counts;
- ``workers``: the worker processes that decode and parse pages, and a
  batch's results gathered within its budget;
- ``shared_pages``: the shared memory through which polled record batches
  reach the workers, undecoded (``kafka_compat.hand_on_undecoded``);
- ``records``: what each raw record becomes (its recipe or its dead letter,
  with provenance headers), the offsets to commit, and reading pages again;
- ``transactions``: the transactional producer, and committing a batch's
  outputs with its offsets;
- ``pipeline``: at most two batches in hand, one committing while the next
  is parsed, and what a rebalance does to them;
- ``stage``: the run loop, from start-up to shutdown.
"""

from .settings import ParseSettings, ParseStats, default_transactional_id
from .stage import run

__all__ = ["ParseSettings", "ParseStats", "default_transactional_id", "run"]
