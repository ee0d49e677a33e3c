"""notify_stage.alerts: which recipes alert, and what an alert says."""

import pytest

from recipe_alert.notify_stage.alerts import Alert, read_recipe, recipe_key, should_alert


def recipe(calories, title="Four Cheese Margherita Pizza"):
    return {"title": title, "calories": calories, "url": "https://www.allrecipes.com/recipe/1/x"}


@pytest.mark.parametrize("calories, alert", [
    (201, True), (200.5, True), (200, False), (0, False), (None, False),
    ("551", False), (True, False),
])
def test_only_numeric_calories_above_the_threshold_alert(calories, alert):
    assert should_alert(recipe(calories), 200) is alert


@pytest.mark.parametrize("calories, low, high, alert", [
    (150, 100, None, True), (100, 100, None, True), (99, 100, None, False),
    (450, None, 400, False), (300, None, 400, True), (250, 100, 300, True), (350, 100, 300, False),
])
def test_min_and_max_calories_alert_on_a_range(calories, low, high, alert):
    assert should_alert(recipe(calories), 200, low, high) is alert


@pytest.mark.parametrize("value", [b"", None, b"not json", b"[1, 2]", b"\xff\xfe", b"42"])
def test_unreadable_records_are_not_recipes(value):
    assert read_recipe(value) is None


def test_two_records_of_one_recipe_share_a_key_whatever_the_era_of_its_url():
    old = {"url": "http://allrecipes.com/recipe/1/x/"}
    assert recipe_key(old, None) == recipe_key(recipe(300), b"ignored") == \
        "https://www.allrecipes.com/recipe/1/x"
    assert recipe_key({}, b"the-record-key") == "the-record-key"
    assert recipe_key({}, None) is None


@pytest.mark.parametrize("calories, shown", [(551, "551"), (551.0, "551"), (551.4, "551.4")])
def test_the_line_is_the_tutorials_with_whole_calories_printed_without_decimals(calories, shown):
    assert Alert.of(recipe(calories), 200).line() == \
        f"Alert: Four Cheese Margherita Pizza calories count is {shown}"


def test_an_untitled_recipe_still_alerts_with_a_title():
    assert Alert.of({"calories": 300}, 200).line() == "Alert: (untitled) calories count is 300"


def test_the_alerts_fields_carry_title_calories_url_and_both_timestamps():
    alert = Alert.of(recipe(551.4), 200, key="k", produced_ms=123).as_dict()
    assert alert == {"title": "Four Cheese Margherita Pizza", "calories": 551.4, "per": "serving",
                     "threshold": 200, "url": "https://www.allrecipes.com/recipe/1/x",
                     "produced_ms": 123, "alerted_ms": alert["alerted_ms"]}
    assert alert["alerted_ms"] >= 123
