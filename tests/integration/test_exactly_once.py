"""Nothing lost, nothing doubled: the parse stage under kill -9, SIGTERM and poison input.

Every check counts what a read_committed consumer sees on the parsed and
dead-letter topics: exactly one record per raw offset (provenance headers).
Kill moments are random; the seed is in every failure message (set
CHAOS_SEED to replay one).
"""

import contextlib
import os
import random
import re
import signal

import pytest

from recipe_alert import parse_stage
from recipe_alert.cli import StopSignal
from testkit import chaos
from testkit.broker import CONNECTION, group_state
from testkit.httpserver import LocalHTTPServer
from testkit.pages import make_page

MB = 2**20
RSS_LIMIT = 250 * MB
SEED = int(os.environ.get("CHAOS_SEED", random.randrange(10**6)))


@pytest.fixture(scope="module")
def pages() -> list[chaos.Page]:
    return chaos.corpus(240, seed=SEED)


def assert_one_output_per_record(names, count: int) -> chaos.Tally:
    result = chaos.tally(names)
    assert (result.records_in, result.duplicates, result.missing, result.unexpected) == \
        (count, 0, 0, 0), f"seed {SEED}: {result.figures()}"
    return result


def assert_exactly_once(names, pages: list[chaos.Page]) -> None:
    """One output per raw record, each page where it belongs: recipes parsed, the rest dead-lettered."""
    result = assert_one_output_per_record(names, len(pages))
    assert result.parsed_keys == {p.key for p in pages if p.is_recipe}, f"seed {SEED}"
    assert result.dead_keys == {p.key for p in pages if not p.is_recipe}, f"seed {SEED}"
    assert set(result.dead_reasons) == {"NotARecipe"}, f"seed {SEED}"


def test_kill_9_at_random_moments_neither_loses_nor_doubles(names, pages, tmp_path):
    chaos.publish_raw(names.raw, chaos.page_records(pages))
    # Small transactions: more commit boundaries for the kills to land on, and a
    # parser slow enough that every kill finds work left.
    report = chaos.crash_parser(names, len(pages), kills=4, rng=random.Random(SEED),
                                log_dir=tmp_path, extra_args=("--batch-size", "3"))
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


@contextlib.contextmanager
def second_instance_while_frozen(names, total: int, first_args: tuple, second_args: tuple,
                                 until, what: str, tmp_path):
    """A parser stopped (SIGSTOP) mid-stream while a second one starts.

    Once ``until(committed_when_frozen)`` holds, the first goes on (SIGCONT);
    yields (first, second) for the test to wait on.
    """
    first = chaos.Script.start(chaos.PARSER, *chaos.parser_args(names, *first_args), log_dir=tmp_path)
    second = None
    try:
        target = random.Random(SEED).randrange(10, total // 4)
        chaos.wait_for(lambda: chaos.committed(names.parser_group, names.raw) >= target
                       or not first.running(), 120, f"{target} records committed")
        first.signal(signal.SIGSTOP)
        frozen_at = chaos.committed(names.parser_group, names.raw)
        second = chaos.Script.start(chaos.PARSER, *chaos.parser_args(names, *second_args),
                                    log_dir=tmp_path)
        chaos.wait_for(lambda: until(frozen_at) or not second.running(), 120, what)
        first.signal(signal.SIGCONT)
        yield first, second
    finally:
        for script in (first, second):
            if script is not None:
                script.signal(signal.SIGCONT)
                script.kill()


def test_a_restarted_instance_fences_its_frozen_zombie(names, pages, tmp_path):
    """The frozen instance still holds its batch; its successor has the same transactional id."""
    chaos.publish_raw(names.raw, chaos.page_records(pages))
    # One page per transaction: work is left when the freeze comes, and the one
    # commit the zombie may have had in flight is told apart from the successor's.
    one = ("--batch-size", "1", "--timeout-ms", "3000")
    with second_instance_while_frozen(
            names, len(pages), one, one,
            lambda frozen_at: chaos.committed(names.parser_group, names.raw) >= frozen_at + 2,
            "the successor to make progress", tmp_path) as (zombie, successor):
        assert zombie.finish(120) == 3, zombie.tail()
        assert successor.finish(120) == 0, successor.tail()
    assert "was taken over by another instance" in zombie.output
    assert_exactly_once(names, pages)


def test_a_second_instance_joining_mid_stream_neither_loses_nor_doubles(names, pages, tmp_path):
    """The join rebalances the group while the first instance has batches in hand."""
    # Work enough to outlast the first instance's next heartbeat (every 3 s),
    # which is how it learns of the join.
    backlog = pages * 2
    chaos.publish_raw(names.raw, chaos.page_records(backlog))
    args = ("--batch-size", "1", "--timeout-ms", "3000")
    with CONNECTION.admin() as admin, second_instance_while_frozen(
            names, len(backlog), args, (*args, "--transactional-id", names.parser_group + ".1"),
            lambda _: group_state(admin, names.parser_group)[0] == "PreparingRebalance",
            "the second instance to ask to join", tmp_path) as (first, second):
        assert first.finish(120) == 0, first.tail()
        assert second.finish(120) == 0, second.tail()
    # How many partitions each held, rebalance after rebalance. (The second
    # may be given a partition the first has drained: held, not consumed.)
    held = [[len(p.split(",")) for p in re.findall(rf"holding {re.escape(names.raw)}\[([\d,]+)\]", s.output)]
            for s in (first, second)]
    assert held[1] and min(held[0]) < held[0][0], \
        f"seed {SEED}: the partitions should have been shared, but were held {held}"
    assert_exactly_once(names, backlog)


def test_poison_records_end_in_the_dead_letter_topic_and_the_stream_goes_on(names, tmp_path):
    recipe = chaos.corpus(1, seed=SEED, non_recipe_share=0)[0]
    big_recipe = make_page("mntl-2024", 5 * MB, seed=1)
    noise = random.Random(SEED).randbytes(5 * MB)  # incompressible: too large for a 1 MB topic
    poison = {
        b"png": b"\x89PNG\r\n\x1a\n" + noise[:50_000],
        b"empty": b"",
        b"null-value": None,
        b"bad-utf8": b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc" * 1000,
        b"\xff\xfekey-not-utf8": b"<html><body>hello</body></html>",
        b"noise-5mb": noise,
    }
    good = {
        None: recipe.body,  # null key: keyed by the recipe's own URL instead
        b"big-recipe-5mb": big_recipe,
        b"recipe-with-bad-utf8": recipe.body.replace(b"</h1>", b"\xff\xfe\xc3</h1>", 1),
        b"last": recipe.body,  # after all the poison: the stream did not stop
    }
    # The raw topic admits 8 MB records (a deployment that raised it); the outputs stay at 1 MB.
    chaos.publish_raw(names.raw, [*poison.items(), *good.items()],
                      topic_config={"max.message.bytes": str(8 * MB)})
    chaos.crash_parser(names, len(poison) + len(good), kills=0, rng=random.Random(SEED),
                       log_dir=tmp_path)

    result = assert_one_output_per_record(names, len(poison) + len(good))
    assert result.parsed_keys == {recipe.key, "big-recipe-5mb", "recipe-with-bad-utf8", "last"}
    dead = {r.key: r for r in chaos.scan(names.dead)}
    assert dead.keys() == set(poison)
    reasons = {key: chaos.header(r, "error-class") for key, r in dead.items()}
    assert reasons == {**{key: "NotARecipe" for key in poison}, b"noise-5mb": "MessageSizeTooLargeError"}
    assert dead[b"noise-5mb"].value == b""  # refused with its value: kept without it, reason given
    assert "refused by Kafka" in chaos.header(dead[b"noise-5mb"], "error-reason")
    assert dead[b"png"].value == poison[b"png"]  # other dead letters keep the page


def test_a_spent_parsing_budget_commits_what_is_parsed_and_reads_the_rest_again(names):
    """Slow pages: with no budget at all, each transaction holds one page, none lost or doubled."""
    few = chaos.corpus(30, seed=SEED)
    chaos.publish_raw(names.raw, chaos.page_records(few))
    settings = chaos.stage_settings(names, timeout_ms=3000, batch_time_budget_s=0)
    stats = parse_stage.run(settings, StopSignal())
    assert (stats.consumed, stats.transactions) == (len(few), len(few))
    assert_exactly_once(names, few)


def test_sigint_stops_the_producer_with_every_fetched_page_published_once(names, tmp_path):
    few = chaos.corpus(80, seed=SEED)
    with LocalHTTPServer() as server:
        urls = chaos.serve(server, few)
        script = chaos.Script.start(chaos.PRODUCER, "--topic", names.raw, "--url", *urls,
                                    "--delay", "0.05", "--no-progress", log_dir=tmp_path)
        try:
            chaos.wait_for(lambda: not script.running() or chaos.records_on(names.raw) >= 10,
                           120, "10 pages on the raw topic")
            script.signal(signal.SIGINT)
            assert script.finish(60) == 0, script.tail()
        finally:
            script.kill()
    summary = re.search(r"fetched (\d+), published (\d+), failed (\d+)", script.output)
    fetched, published, failed = map(int, summary.groups())
    assert 10 <= published == fetched < len(few) and failed == 0, summary.group(0)
    counts = chaos.key_counts(names.raw)
    assert set(counts.values()) == {1} and len(counts) == published


def test_the_producer_reports_a_page_the_broker_refuses_and_delivers_the_rest(names, tmp_path):
    few = chaos.corpus(40, seed=SEED)
    noise = random.Random(SEED).randbytes(5 * MB)  # 5 MB that zstd cannot shrink below 1 MB
    with LocalHTTPServer() as server:
        urls = chaos.serve(server, few)
        server.route("/recipe/99/noise/", (200, {}, b"<html><body>" + noise + b"</body></html>"))
        urls.insert(len(urls) // 2, server.url("/recipe/99/noise/"))
        script = chaos.Script.start(chaos.PRODUCER, "--topic", names.raw, "--url", *urls,
                                    "--delay", "0", "--no-progress", log_dir=tmp_path)
        code = script.finish(120)
    assert code == 1, script.tail()  # 1: some pages failed
    assert f"fetched {len(few) + 1}, published {len(few)}, failed 1" in script.output
    refused = [line for line in script.output.splitlines() if "could not publish" in line]
    assert len(refused) == 1 and "/recipe/99/noise " in refused[0] and "max.message.bytes" in refused[0]
    assert chaos.key_counts(names.raw) == {page.key: 1 for page in few}
    assert script.peak_rss < RSS_LIMIT
