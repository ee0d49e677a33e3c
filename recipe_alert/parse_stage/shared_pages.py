"""Where record batches wait for the worker processes: one block of shared memory they all map.

A task then carries where its batches are, not their bytes: through a pipe,
each 120 KB batch was pickled, copied into the pipe 64 KB at a time and out
of it again, waking the worker for each piece.

The block is a ring, used by this process's main thread only: each polled
batch's bytes take one region, written once, and regions are given back
oldest first, once no task reads them. A batch that finds no room sends its
bytes the old way.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from multiprocessing import resource_tracker, shared_memory

from ..kafka_compat import RecordBatch

# Two batches in hand, about 7 MB of compressed pages each (a poll drains one
# fetch of ParseSettings' 4 x 2 MB); a third waits for room or takes the pipe.
# Every byte of the ring ends up in the main process's RSS and the worker's.
SIZE = 16 * 2**20


@dataclass(frozen=True)
class Placed:
    """Where a record batch's bytes are in the shared block."""

    start: int
    length: int


class SharedPages:
    def __init__(self, size: int = SIZE):
        self.memory = shared_memory.SharedMemory(create=True, size=size)
        self.size = size
        self._regions: deque[tuple[int, int]] = deque()  # (start, end), oldest first
        global _attached
        _attached = self.memory  # this process parses placed batches too

    @property
    def name(self) -> str:
        return self.memory.name

    def place(self, entries: list) -> list | None:
        """``entries`` with each ``RecordBatch``'s bytes moved into a new region; None if no room."""
        total = sum(len(e.data) for e in entries if isinstance(e, RecordBatch))
        start = self._room(total) if total else None
        if start is None:
            return None
        self._regions.append((start, start + total))
        placed, at = [], start
        for entry in entries:
            if isinstance(entry, RecordBatch):
                self.memory.buf[at:at + len(entry.data)] = entry.data
                entry = replace(entry, data=Placed(at, len(entry.data)))
                at += entry.data.length
            placed.append(entry)
        return placed

    def _room(self, size: int) -> int | None:
        if not self._regions:
            return 0 if size <= self.size else None
        tail, head = self._regions[0][0], self._regions[-1][1]
        if head > tail:  # in use: [tail, head); free: after head, else before tail
            if self.size - head >= size:
                return head
            return 0 if tail >= size else None
        return head if tail - head >= size else None  # in use: [tail, ...) and [0, head)

    def release_oldest(self) -> None:
        self._regions.popleft()

    def close(self) -> None:
        self.memory.close()
        self.memory.unlink()


_attached: shared_memory.SharedMemory | None = None  # the block placed batches are read from


def attach(name: str) -> None:
    """Map the main process's block, in a worker (at its start, before any other thread)."""
    global _attached
    # Python 3.11 registers every attachment with the resource tracker the
    # main process shares with its workers. Unregistering afterwards would
    # drop the main process's own registration too, and with it the clean-up
    # of the block after a kill -9; so the worker does not register.
    register, resource_tracker.register = resource_tracker.register, lambda name, rtype: None
    try:
        _attached = shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register


def fetched(entry):
    """``entry`` with its bytes again, if they were placed in the shared block."""
    if not (isinstance(entry, RecordBatch) and isinstance(entry.data, Placed)):
        return entry
    start, end = entry.data.start, entry.data.start + entry.data.length
    return replace(entry, data=bytes(_attached.buf[start:end]))
