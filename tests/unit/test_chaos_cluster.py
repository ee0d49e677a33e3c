"""bench/chaos_cluster.py: how a script's pauses and resumptions are read from its progress samples."""

from bench.chaos_cluster import Track


def track(*samples: tuple[float, int, bool]) -> Track:
    progress = Track("parser")
    for sample in samples:
        progress.add(*sample)
    return progress


def test_a_pause_counts_only_while_work_waits():
    # Idle 0-10 s (nothing waiting), then work from 10 s, done at 14 s; a stall 20-27 s.
    progress = track((0, 5, False), (10, 5, True), (14, 9, False),
                     (20, 9, True), (25, 9, True), (27, 12, True), (28, 15, False))
    assert progress.longest_pause == 7
    assert progress.stalled_for(30) == 0


def test_a_script_still_stalled_is_stalled_since_work_began_to_wait():
    progress = track((0, 3, False), (4, 3, True), (9, 3, True))
    assert progress.stalled_for(130) == 126
    assert progress.longest_pause == 5


def test_resuming_is_timed_from_the_event_or_from_when_work_next_waited():
    progress = track((0, 1, True), (2, 1, True), (6, 1, True), (7, 4, True),
                     (10, 4, False), (15, 4, True), (18, 6, True))
    assert progress.resumed_after(1) == 5      # work waited all along: 2 s .. 7 s
    assert progress.resumed_after(8) == 3      # idle until 15 s, advanced at 18 s
    assert progress.resumed_after(20) is None  # no advance since
    assert progress.resumed_after(-1) is None  # before the first sample
