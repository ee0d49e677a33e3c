"""Nothing lost, nothing doubled: the parse stage under kill -9, SIGTERM and poison input.

Every check counts what a read_committed consumer sees on the parsed and
dead-letter topics: exactly one record per raw offset (provenance headers).
Kill moments are random; the seed is in every failure message (set
CHAOS_SEED to replay one).
"""

import os
import random
import signal

import pytest

from tests import chaos

MB = 2**20
RSS_LIMIT = 250 * MB
SEED = int(os.environ.get("CHAOS_SEED", random.randrange(10**6)))


@pytest.fixture(scope="module")
def pages() -> list[chaos.Page]:
    return chaos.corpus(240, seed=SEED)


def assert_exactly_once(names, pages):
    result = chaos.tally(names)
    assert (result.records_in, result.duplicates, result.missing, result.unexpected) == \
        (len(pages), 0, 0, 0), f"seed {SEED}: {result.figures()}"
    assert result.parsed_keys == {p.key for p in pages if p.is_recipe}, f"seed {SEED}"
    assert result.dead_keys == {p.key for p in pages if not p.is_recipe}, f"seed {SEED}"
    assert set(result.dead_reasons) == {"NotARecipe"}
    return result


def test_kill_9_at_random_moments_neither_loses_nor_doubles(names, pages, tmp_path):
    chaos.publish_raw(names.raw, chaos.page_records(pages))
    report = chaos.crash_parser(names, len(pages), kills=4, rng=random.Random(SEED),
                                log_dir=tmp_path)
    assert report.kills_with_work_left >= 3, f"seed {SEED}: the kills came too late: {report.figures()}"
    assert_exactly_once(names, pages)
    assert report.peak_rss < RSS_LIMIT, report.figures()


def test_sigterm_mid_stream_commits_what_is_done_and_exits_0(names, pages, tmp_path):
    chaos.publish_raw(names.raw, chaos.page_records(pages))
    script = chaos.Script.start(chaos.PARSER, *chaos.parser_args(names), log_dir=tmp_path)
    try:
        target = random.Random(SEED).randrange(20, len(pages) // 2)
        chaos.wait_for(lambda: chaos.committed(names.parser_group, names.raw) >= target
                       or not script.running(), 120, f"{target} records committed")
        script.signal(signal.SIGTERM)
        assert script.finish(60) == 0, script.tail()
    finally:
        script.kill()
    assert "SIGTERM received" in script.output
    done = chaos.committed(names.parser_group, names.raw)
    assert target <= done < len(pages), "SIGTERM should have come mid-stream"
    # What it committed is on the output topics, once: a restart finishes the rest.
    chaos.crash_parser(names, len(pages), kills=0, rng=random.Random(SEED), log_dir=tmp_path)
    assert_exactly_once(names, pages)
