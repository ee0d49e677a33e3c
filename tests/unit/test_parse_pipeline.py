"""parse_stage.pipeline: a batch is committed only under the group membership it was polled in.

No Kafka here: a scripted consumer reports the membership kafka-python would,
and a recording stand-in takes the place of the transactional producer. That
the broker refuses offsets under a stale membership is tested for real in
tests/integration/test_exactly_once.py.
"""

from __future__ import annotations

from kafka.structs import MemberState

from recipe_alert.parse_stage.pipeline import Pipeline
from recipe_alert.parse_stage.settings import ParseStats
from recipe_alert.parse_stage.workers import Parsers
from tests.doubles import RAW, SETTINGS, ScriptedConsumer, member, records


class RecordingTransactions:
    def __init__(self):
        self.commits = []

    def commit(self, owner, outputs):
        self.commits.append((owner, [out.source.offset for out in outputs]))


def pipeline(consumer):
    txns = RecordingTransactions()
    return Pipeline(SETTINGS, consumer, txns, Parsers(0), ParseStats(), stop=False), txns


def polled(pages):
    return {RAW: pages}


def test_a_batch_is_committed_under_the_membership_it_was_polled_in():
    consumer = ScriptedConsumer(membership=member(2))
    stage, txns = pipeline(consumer)
    first, second = records([b"a", b"b", b"c"])[:2], records([b"a", b"b", b"c"])[2:]
    stage.add(polled(first))
    stage.add(polled(second))
    stage.add({})
    assert txns.commits == [(member(2), [0, 1]), (member(2), [2])]
    assert consumer.seeks == [] and not stage.busy()


def test_a_join_under_way_drops_the_batch_in_hand_and_reads_it_again():
    # The poll sent JoinGroup and returned: the generation is unchanged until
    # the broker answers, yet the join may give these partitions away.
    consumer = ScriptedConsumer(membership=member(2))
    stage, txns = pipeline(consumer)
    stage.add(polled(records([b"a", b"b"])))
    consumer.membership = member(2, MemberState.REBALANCING)
    stage.add({})
    assert txns.commits == [] and consumer.seeks == [(RAW, 0)] and not stage.busy()


def test_a_rebalance_between_two_polls_drops_both_batches():
    consumer = ScriptedConsumer(membership=member(2))
    stage, txns = pipeline(consumer)
    pages = records([b"a", b"b", b"c"])
    stage.add(polled(pages[:2]))
    consumer.membership = member(3)
    stage.add(polled(pages[2:]))
    assert txns.commits == [] and consumer.seeks == [(RAW, 0)] and not stage.busy()
    stage.add(polled(pages))  # read again under the new membership
    stage.add({})
    assert txns.commits == [(member(3), [0, 1, 2])]


def test_pages_polled_while_rejoining_are_not_started():
    consumer = ScriptedConsumer(membership=member(-1, MemberState.REBALANCING))
    stage, txns = pipeline(consumer)
    stage.add(polled(records([b"a"])))
    assert txns.commits == [] and consumer.seeks == [(RAW, 0)] and not stage.busy()
