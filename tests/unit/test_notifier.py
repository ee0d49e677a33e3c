import json

import pytest

from recipe_alert.notifier import format_alert, read_recipe, should_alert


def recipe(calories, title="Four Cheese Margherita Pizza"):
    return {"title": title, "calories": calories, "url": "https://www.allrecipes.com/recipe/1/x"}


def test_text_alert_is_the_tutorials_exact_line():
    assert format_alert(recipe(551), "text", 200) == \
        "Alert: Four Cheese Margherita Pizza calories count is 551"


@pytest.mark.parametrize("calories, shown", [(551, "551"), (551.0, "551"), (551.4, "551.4")])
def test_whole_calories_print_without_decimals(calories, shown):
    assert format_alert(recipe(calories), "text", 200).endswith(f"count is {shown}")


def test_json_alert_carries_title_calories_and_url():
    alert = json.loads(format_alert(recipe(551.4), "json", 200, produced_ms=123))
    assert alert["title"] == "Four Cheese Margherita Pizza"
    assert alert["calories"] == 551.4
    assert alert["url"] == "https://www.allrecipes.com/recipe/1/x"
    assert alert["per"] == "serving"
    assert alert["produced_ms"] == 123
    assert alert["alerted_ms"] >= 123


@pytest.mark.parametrize("calories, alert", [
    (201, True), (200.5, True), (200, False), (0, False), (None, False),
    ("551", False), (True, False),
])
def test_only_numeric_calories_above_the_threshold_alert(calories, alert):
    assert should_alert(recipe(calories), 200) is alert


@pytest.mark.parametrize("value", [b"", None, b"not json", b"[1, 2]", b"\xff\xfe", b"42"])
def test_unreadable_records_are_not_recipes(value):
    assert read_recipe(value) is None
