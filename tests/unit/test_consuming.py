"""consuming.batches: the poll loop's control flow, with a scripted stand-in for the consumer.

What Kafka does is tested against the real broker in tests/integration; this
pins down only when the loop waits, what it yields and when it stops.
"""

from recipe_alert.cli import StopSignal
from recipe_alert.consuming import batches
from tests.doubles import ScriptedConsumer


def test_an_idle_caller_gets_only_batches_with_records_and_polls_wait():
    consumer = ScriptedConsumer({}, {"p": [1]}, {}, {"p": [2]})
    got = []
    for batch in batches(consumer, StopSignal(), timeout_ms=None, poll_ms=200):
        got.append(batch)
        if len(got) == 2:
            break
    assert got == [{"p": [1]}, {"p": [2]}]
    assert set(consumer.timeouts) == {200}


def held(work, wait_ms=0):
    return lambda: wait_ms if work else None


def test_a_caller_holding_work_gets_empty_batches_too_and_polls_wait_only_as_long_as_it_says():
    consumer = ScriptedConsumer({"p": [1]}, {}, {"p": [2]})
    work = []
    got = []
    for batch in batches(consumer, StopSignal(), timeout_ms=None, poll_ms=200, held=held(work, 2)):
        got.append(batch)
        if batch:
            work.append(batch)  # in hand until an empty batch lets it finish
        else:
            work.clear()
        if len(got) == 4:
            break
    assert got == [{"p": [1]}, {}, {"p": [2]}, {}]
    assert consumer.timeouts == [200, 2, 200, 2]


def test_a_stop_waits_for_the_work_in_hand_without_polling_again():
    consumer = ScriptedConsumer({"p": [1]})
    stop = StopSignal()
    work = []
    got = []
    for batch in batches(consumer, stop, timeout_ms=None, held=held(work)):
        got.append(batch)
        if batch:
            work.append(batch)
            stop.set()
        else:
            work.clear()
    assert got == [{"p": [1]}, {}]
    assert len(consumer.timeouts) == 1


def test_idle_for_the_timeout_ends_the_loop_but_not_while_busy():
    consumer = ScriptedConsumer({"p": [1]})
    work = []
    got = []
    for batch in batches(consumer, StopSignal(), timeout_ms=1, poll_ms=0, held=held(work)):
        got.append(batch)
        if batch:
            work.append(batch)
        else:
            work.clear()
    assert got == [{"p": [1]}, {}]


def test_the_idle_clock_does_not_run_while_the_group_rebalances():
    # kafka-python keeps the old assignment while it rejoins, and a join can
    # take seconds (the other members rejoin at their next heartbeat).
    consumer = ScriptedConsumer(rebalancing=5)
    assert list(batches(consumer, StopSignal(), timeout_ms=0, poll_ms=0)) == []
    assert len(consumer.timeouts) == 6  # stopped at the first idle poll once stable
