"""recipe_alert.topics: the topic names Kafka accepts. Creating topics is tested against the broker."""

import pytest

from recipe_alert.errors import InvalidTopicName
from recipe_alert.topics import validate_topic


@pytest.mark.parametrize("name", ["raw_recipes", "a", "A.b-c_9", "x" * 249, "..."])
def test_legal_topic_names_pass(name):
    assert validate_topic(name) == name


@pytest.mark.parametrize("name, reason", [
    ("", "empty"),
    (".", "not allowed"),
    ("..", "not allowed"),
    ("x" * 250, "at most 249"),
    ("raw recipes", "' '"),
    ("raw/recipes", "'/'"),
    ("recettes-crème", "'è'"),
])
def test_illegal_topic_names_are_refused_with_the_reason(name, reason):
    with pytest.raises(InvalidTopicName, match=reason):
        validate_topic(name)
