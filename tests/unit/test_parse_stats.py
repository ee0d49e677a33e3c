"""parse_stage.settings.ParseStats: the summary's rate counts only the time pages were in hand."""

import time

from recipe_alert.parse_stage.settings import ParseStats


def test_the_rate_leaves_out_the_time_with_nothing_to_do(monkeypatch):
    clock = iter([100.0, 101.0, 150.0, 150.5, 250.0])  # work 1 s, idle 49 s, work 0.5 s, idle
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    stats = ParseStats(consumed=30)
    stats.working(True)
    stats.working(False)
    stats.working(True)
    stats.working(False)
    assert stats.summary().endswith("; 20.0 pages/s over the 1.5 s with pages in hand")


def test_time_still_at_work_counts_up_to_now(monkeypatch):
    clock = iter([10.0, 12.0])
    monkeypatch.setattr(time, "monotonic", lambda: next(clock))
    stats = ParseStats(consumed=8)
    stats.working(True)
    assert stats.summary().endswith("; 4.0 pages/s over the 2.0 s with pages in hand")
