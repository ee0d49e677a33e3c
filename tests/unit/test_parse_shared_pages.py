"""parse_stage.shared_pages: record batches reach the workers through shared memory, intact."""

from __future__ import annotations

import pytest
from kafka.record.default_records import DefaultRecordBatch

from recipe_alert.kafka_compat import RecordBatch
from recipe_alert.parse_stage.shared_pages import Placed, SharedPages, fetched
from recipe_alert.parse_stage.workers import Parsers, parse_each, parse_page
from testkit.pages import FIXTURE_PAGES
from tests.doubles import record_batch, records


@pytest.fixture
def pages():
    shared = SharedPages(size=1000)
    yield shared
    shared.close()


def batch_of(size: int, fill: bytes = b"p") -> RecordBatch:
    return RecordBatch("raw", 0, 7, 7, fill * size)  # the bytes need not decode here


def test_a_batch_is_read_back_as_it_was_placed_and_records_pass_unchanged(pages):
    entries = [batch_of(300, b"a"), records([b"page"])[0], batch_of(200, b"b")]
    placed = pages.place(entries)
    assert [type(e.data) for e in placed[::2]] == [Placed, Placed]
    assert placed[1] is entries[1]
    assert [fetched(e) for e in placed] == entries


def test_the_ring_wraps_round_once_the_oldest_region_is_given_back(pages):
    first = pages.place([batch_of(400, b"a")])
    pages.place([batch_of(400, b"b")])
    assert pages.place([batch_of(400, b"c")]) is None, "no room: the caller sends the bytes"
    pages.release_oldest()
    third = pages.place([batch_of(400, b"c")])
    assert third[0].data.start == first[0].data.start == 0
    assert fetched(third[0]).data == b"c" * 400
    assert pages.place([batch_of(1001)]) is None


def test_a_worker_parses_placed_batches_as_this_process_would():
    fixtures = [path.read_bytes() for path in sorted(FIXTURE_PAGES.glob("*.html"))[:8]]
    entries = [record_batch(DefaultRecordBatch.CODEC_ZSTD, fixtures[i:i + 2], base=10 * i)
               for i in range(0, 8, 2)]
    expected = parse_each(parse_page, entries)
    parsers = Parsers(1)
    try:
        batch = parsers.submit(entries, owner=None, budget_s=60)
        assert all(isinstance(e.data, Placed) for e in batch.entries)
        got = [parsers.result(batch, i, None) for i in range(len(entries))]
    finally:
        parsers.close()
    def without_times(results):
        return repr([[(record, result) for record, result, _ in entry] for entry in results])

    assert without_times(got) == without_times(expected)
