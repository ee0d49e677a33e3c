"""notify_stage.alert_log: whose alert a record of the log is.

Reading and writing the log on the real broker, records of older versions included,
is tested in tests/integration/test_alert_subscribers.py.
"""

import pytest

from recipe_alert.notify_stage.alert_log import alerted_recipe, log_key

URL = "https://www.allrecipes.com/recipe/1/x"


def test_a_groups_record_counts_for_that_group_only():
    key = log_key("webhook", URL)
    assert alerted_recipe(key, "webhook") == URL
    assert alerted_recipe(key, "printer") is None


def test_every_instance_of_a_group_writes_the_same_key_so_compaction_keeps_one():
    assert log_key("g", URL) == log_key("g", URL) == b'["g","https://www.allrecipes.com/recipe/1/x"]'
    assert log_key("g", URL) != log_key("h", URL)


@pytest.mark.parametrize("group", ["a,b", 'quo"te', "ünï", "[x]", ""])
def test_any_group_name_reads_back(group):
    assert alerted_recipe(log_key(group, URL), group) == URL
    assert alerted_recipe(log_key(group, URL), group + "x") is None


@pytest.mark.parametrize("old_key", [URL.encode(), b"some-record-key", b'"a json string"', b"[1, 2]",
                                     b'["only one"]', b"{not json"])
def test_a_record_keyed_by_the_recipe_alone_counts_for_every_group(old_key):
    # Written by a version that did not say which group alerted: no group may repeat it.
    assert alerted_recipe(old_key, "webhook") == old_key.decode()
    assert alerted_recipe(old_key, "printer") == old_key.decode()


def test_a_record_without_a_key_marks_nothing():
    assert alerted_recipe(None, "g") is None
    assert alerted_recipe(b"", "g") is None
