"""parse_stage.records: what each raw record becomes, what a batch commits, and what is read again."""

from kafka import TopicPartition
from kafka.structs import OffsetAndMetadata

from recipe_alert.consuming import header
from recipe_alert.errors import NotARecipe
from recipe_alert.parse_stage.records import REASON_LIMIT, dead_letter, next_offsets, rewind, to_output
from tests.doubles import RAW, SETTINGS, Record, ScriptedConsumer, records


def test_a_recipe_is_keyed_by_its_record_key_else_its_url_and_names_its_source():
    keyed, unkeyed = Record("raw", 2, 7, b"k", b"page"), Record("raw", 2, 8, None, b"page")
    out = to_output(keyed, SETTINGS, ("https://x.test/r", b"{}"))
    assert (out.topic, out.key, out.value, out.parsed) == ("parsed", b"k", b"{}", True)
    assert [(header(out.headers, h)) for h in ("source-topic", "source-partition", "source-offset")] == \
        ["raw", "2", "7"]
    assert to_output(unkeyed, SETTINGS, ("https://x.test/r", b"{}")).key == b"https://x.test/r"
    assert to_output(unkeyed, SETTINGS, (None, b"{}")).key is None


def test_a_page_that_is_not_a_recipe_is_dead_lettered_with_its_page_and_the_reason():
    record = Record("raw", 0, 3, b"k", b"<html>an article</html>")
    out = to_output(record, SETTINGS, NotARecipe("no Recipe found " + "x" * 1000))
    assert (out.topic, out.key, out.value, out.parsed) == ("dead", b"k", record.value, False)
    assert header(out.headers, "error-class") == "NotARecipe"
    assert len(header(out.headers, "error-reason")) == REASON_LIMIT
    assert header(out.headers, "source-offset") == "3"
    assert dead_letter(record, SETTINGS, NotARecipe("x"), keep_value=False).value == b""


def test_a_batch_commits_the_offset_after_its_last_record_of_each_partition():
    outputs = [to_output(r, SETTINGS, (None, b"{}")) for r in
               [Record("raw", 0, 5, None, b""), Record("raw", 1, 9, None, b""), Record("raw", 0, 6, None, b"")]]
    assert next_offsets(outputs) == {TopicPartition("raw", 0): OffsetAndMetadata(7, "", -1),
                                     TopicPartition("raw", 1): OffsetAndMetadata(10, "", -1)}


def test_pages_are_read_again_from_the_earliest_of_each_partition_still_held():
    consumer = ScriptedConsumer()
    lost = Record("raw", 1, 4, None, b"")  # its partition went to another instance
    rewind(consumer, [*records([b"a", b"b", b"c"])[2:], lost, *records([b"a", b"b"])[1:]])
    assert consumer.seeks == [(RAW, 1)]
