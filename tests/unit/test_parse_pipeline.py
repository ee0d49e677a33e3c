"""parse_stage.pipeline: a batch is committed only under the group membership it was polled in.

No Kafka here: a scripted consumer reports the membership kafka-python would,
and a recording stand-in takes the place of the transactional producer. That
the broker refuses offsets under a stale membership is tested for real in
tests/integration/test_exactly_once.py.
"""

from __future__ import annotations

from kafka.errors import KafkaTimeoutError
from kafka.structs import MemberState

from recipe_alert.parse_stage.pipeline import WAIT_MS, Pipeline
from recipe_alert.parse_stage.settings import ParseStats
from recipe_alert.parse_stage.workers import Parsers
from testkit.broker import wait_for
from tests import parsefuncs
from tests.doubles import RAW, SETTINGS, ScriptedConsumer, member, records


class RecordingTransactions:
    """Records each commit; the first ``fail`` commits fail as a broker outage would."""

    def __init__(self, fail: int = 0):
        self.commits = []
        self.fail = fail

    def commit(self, owner, outputs):
        if self.fail:
            self.fail -= 1
            raise KafkaTimeoutError("the broker went away")
        self.commits.append((owner, [out.source.offset for out in outputs]))


def pipeline(consumer, parsers=None, txns=None):
    txns = txns or RecordingTransactions()
    return Pipeline(SETTINGS, consumer, txns, parsers or Parsers(0), ParseStats(), stop=False), txns


def polled(pages):
    return {RAW: pages}


def drain(stage) -> None:
    """What the poll loop does once no more pages come: go on until nothing is in hand."""
    while stage.held() is not None:
        stage.add({})


def test_a_batch_is_committed_under_the_membership_it_was_polled_in():
    consumer = ScriptedConsumer(membership=member(2))
    stage, txns = pipeline(consumer)
    first, second = records([b"a", b"b", b"c"])[:2], records([b"a", b"b", b"c"])[2:]
    stage.add(polled(first))
    stage.add(polled(second))
    drain(stage)
    assert txns.commits == [(member(2), [0, 1]), (member(2), [2])]
    assert consumer.seeks == [] and stage.stats.consumed == 3


def test_a_join_under_way_drops_the_batch_in_hand_and_reads_it_again():
    # The poll sent JoinGroup and returned: the generation is unchanged until
    # the broker answers, yet the join may give these partitions away.
    consumer = ScriptedConsumer(membership=member(2))
    stage, txns = pipeline(consumer)
    stage.add(polled(records([b"a", b"b"])))
    consumer.membership = member(2, MemberState.REBALANCING)
    stage.add({})
    assert txns.commits == [] and consumer.seeks == [(RAW, 0)] and stage.held() is None


def test_a_rebalance_between_two_polls_drops_both_batches():
    consumer = ScriptedConsumer(membership=member(2))
    stage, txns = pipeline(consumer)
    pages = records([b"a", b"b", b"c"])
    stage.add(polled(pages[:2]))
    consumer.membership = member(3)
    stage.add(polled(pages[2:]))
    assert txns.commits == [] and consumer.seeks == [(RAW, 0)] and stage.held() is None
    stage.add(polled(pages))  # read again under the new membership
    drain(stage)
    assert txns.commits == [(member(3), [0, 1, 2])]


def test_pages_polled_while_rejoining_are_not_started():
    consumer = ScriptedConsumer(membership=member(-1, MemberState.REBALANCING))
    stage, txns = pipeline(consumer)
    stage.add(polled(records([b"a"])))
    assert txns.commits == [] and consumer.seeks == [(RAW, 0)] and stage.held() is None


def test_a_failed_transaction_reads_its_pages_and_the_batch_behind_it_again():
    consumer = ScriptedConsumer(membership=member(2))
    stage, txns = pipeline(consumer, txns=RecordingTransactions(fail=1))
    pages = records([b"a", b"b"])
    stage.add(polled(pages[:1]))
    try:
        stage.add(polled(pages[1:]))  # page 0's transaction fails
    except KafkaTimeoutError:
        pass
    else:
        raise AssertionError("the failed transaction was not reported")
    assert consumer.seeks == [(RAW, 0)] and stage.held() is None
    stage.add(polled(pages))
    drain(stage)
    assert txns.commits == [(member(2), [0, 1])] and stage.stats.consumed == 2


def test_while_a_worker_parses_the_batch_in_hand_polls_wait_briefly_and_new_pages_go_in_first():
    consumer = ScriptedConsumer(membership=member(2))
    parsers = Parsers(1, parse=parsefuncs.who_parsed)  # 50 ms a page
    try:
        stage, txns = pipeline(consumer, parsers)
        pages = records([b"a", b"b", b"c"])
        stage.add(polled(pages[:1]))
        wait_for(lambda: stage.pending.futures[0].running(), 60, "the worker to take the page")
        assert stage.held() == WAIT_MS
        stage.add({})  # nothing new yet: the batch in hand is not committed unparsed
        assert txns.commits == [] and stage.held() == WAIT_MS
        stage.add(polled(pages[1:]))  # new pages are handed on before the commit waits
        assert txns.commits == [(member(2), [0])] and stage.pending.entries == pages[1:]
        drain(stage)
        assert txns.commits == [(member(2), [0]), (member(2), [1, 2])]
    finally:
        parsers.close()
