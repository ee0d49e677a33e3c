"""The pipeline benchmark's arithmetic (bench/stats.py); no broker, no clocks."""

import math

import pytest

from bench.stats import (CatchUp, Rate, alert_latencies_ms, bound_by, consumed_from_log, percentile,
                         ratio, summarize)


def test_rate_counts_items_and_megabytes_per_second():
    rate = Rate(count=500, nbytes=200_000_000, seconds=4.0)
    assert rate.per_s == 125
    assert rate.mb_per_s == 50


def test_a_rate_over_no_time_is_not_a_number():
    assert math.isnan(Rate(10, 10, 0).per_s)


def test_pooled_rates_weigh_each_run_by_its_time():
    fast, slow = Rate(1000, 400, 2.0), Rate(1000, 400, 3.0)
    pooled = Rate.pooled([fast, slow])
    assert (pooled.count, pooled.nbytes, pooled.seconds) == (2000, 800, 5.0)
    assert pooled.per_s == 400  # not the mean of 500 and 333


def test_ratio_of_nothing_is_not_a_number():
    assert ratio(50, 200) == 0.25
    assert math.isnan(ratio(50, 0))


def test_percentiles_are_nearest_rank_observations():
    values = list(range(100, 0, -1))  # 1..100, unsorted
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.5], 0.99) == 7.5


def test_p99_of_few_samples_is_their_max():
    assert percentile([1, 2, 30], 0.99) == 30


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_percentile_refuses_fractions_outside_0_1(fraction):
    with pytest.raises(ValueError):
        percentile([1, 2], fraction)


def test_summary_of_no_latencies_is_empty_not_an_error():
    summary = summarize([])
    assert summary.count == 0
    assert math.isnan(summary.p99) and math.isnan(summary.max)


def test_summary_reports_p50_p99_and_max():
    summary = summarize([5.0] * 98 + [40.0, 900.0])
    assert (summary.count, summary.p50, summary.p99, summary.max) == (100, 5.0, 40.0, 900.0)


def alert(url, alerted):
    return {"url": url, "produced_ms": None, "alerted_ms": alerted}


def test_latency_pairs_each_sent_url_with_its_first_alert():
    alerts = [alert("warm-up", 500), alert("a", 1004), alert("b", 1030),
              alert("a", 2000)]  # a repeat must not count twice
    latencies, missing = alert_latencies_ms(alerts, {"a": 1000, "b": 1010, "c": 1020})
    assert sorted(latencies) == [4, 20]
    assert missing == 1


def test_catch_up_stops_the_clock_at_the_read_that_completes_the_count():
    clock = CatchUp(expected=10)
    assert not clock.add(0, at=1.0)
    assert not clock.add(4, at=2.0)
    assert clock.add(6, at=3.5)
    assert clock.add(3, at=9.0)  # later reads change nothing
    assert (clock.first_at, clock.done_at) == (2.0, 3.5)
    assert clock.since(at=2.5, seen_then=4) == (9, 3.5 - 2.5)


def test_catch_up_not_done_has_no_rate():
    clock = CatchUp(expected=3)
    clock.add(2, at=1.0)
    count, seconds = clock.since(at=0.5, seen_then=0)
    assert count == 0 and math.isnan(seconds)


def test_consumed_count_comes_from_the_last_done_line():
    log = ("2026-01-01 INFO parse: parsing a -> b\n"
           "2026-01-01 INFO recipe_alert: done: consumed 517, parsed 510, dead-lettered 7, ...\n")
    assert consumed_from_log(log) == 517
    assert consumed_from_log("killed before it said anything\n") is None


def test_what_bounds_a_producer_follows_the_share_of_time_its_cpu_work_takes():
    assert bound_by(producer_mb_s=30, client_cpu_mb_s=35)[1] == "client CPU (compression+CRC32C)"
    assert bound_by(producer_mb_s=30, client_cpu_mb_s=400)[1] == "network/acks/broker"
    share, verdict = bound_by(producer_mb_s=75, client_cpu_mb_s=150)
    assert share == 0.5 and verdict.startswith("both")
    assert bound_by(math.nan, 400)[1] == "unknown"

