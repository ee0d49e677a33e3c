import pytest

from recipe_alert import config
from recipe_alert.errors import InvalidTopicName


@pytest.mark.parametrize("flag, env, expected", [
    ("flag:1", {"KAFKA_BOOTSTRAP_SERVERS": "env:2"}, "flag:1"),
    (None, {"KAFKA_BOOTSTRAP_SERVERS": "env:2"}, "env:2"),
    (None, {"KAFKA_BOOTSTRAP_SERVERS": ""}, "localhost:9092"),
    (None, {}, "localhost:9092"),
])
def test_bootstrap_precedence_is_flag_then_env_then_default(flag, env, expected):
    assert config.resolve_bootstrap(flag, env) == expected


@pytest.mark.parametrize("name", ["raw_recipes", "a", "A.b-c_9", "x" * 249, "..."])
def test_legal_topic_names_pass(name):
    assert config.validate_topic(name) == name


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
        config.validate_topic(name)
