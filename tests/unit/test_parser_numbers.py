"""Numbers as people write them: every format reads back as the value it was written from.

Each format is checked through ``parse_calories`` (JSON-LD and microdata
values) and through a page that shows the value only as text.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recipe_alert.parser import parse_calories, scrape_html

KJ_PER_KCAL = 4.184


def grouped(whole: int, sep: str) -> str:
    return f"{whole:,}".replace(",", sep)


def written(tenths: int, fmt: str) -> str:
    """``tenths``/10 as ``fmt`` writes it; a whole number has no decimal part."""
    whole, tenth = divmod(tenths, 10)
    plain = str(whole)
    if fmt == "plain":
        return plain + (f".{tenth}" if tenth else "")
    if fmt == "decimal comma":
        return plain + (f",{tenth}" if tenth else "")
    thousands, decimal = {
        "1,066.7": (",", "."), "1.066,7": (".", ","), "1 066,7": (" ", ","), "1\u00a0066,7": ("\u00a0", ","),
        "1\u2009066,7": ("\u2009", ","), "1\u202f066,7": ("\u202f", ","), "1.066.7": (".", "."),
    }[fmt]
    return grouped(whole, thousands) + (f"{decimal}{tenth}" if tenth else "")


FORMATS = ["plain", "decimal comma", "1,066.7", "1.066,7", "1 066,7", "1\u00a0066,7", "1\u2009066,7",
           "1\u202f066,7", "1.066.7"]
tenths = st.integers(min_value=0, max_value=60_000)  # 0-6000 kcal, one decimal at most
relaxed = settings(max_examples=150, deadline=None)


def expected(tenths_: int):
    value = tenths_ / 10
    return int(value) if value.is_integer() else value


def page_showing(text: str) -> str:
    recipe = json.dumps({"@type": "Recipe", "name": "Test Stew", "recipeIngredient": ["1 egg"]})
    return (f'<html><head><script type="application/ld+json">{recipe}</script></head><body><h1>Test Stew</h1>'
            f'<div class="nutrition"><p>{text}</p><p>Fat: 12 g</p></div></body></html>')


@pytest.mark.parametrize("text, kcal", [
    ("1.066,7 kcal", 1066.7),
    ("1 066,7 kcal", 1066.7),
    ("1,066.7 kcal", 1066.7),
    ("1\u2009066 kcal", 1066),
    ("1\u00a0066 kcal", 1066),
    ("1.066.7 kcal", 1066.7),  # garbled: a thousands dot, then a decimal one
    ("1.066 kcal", 1066),  # a calorie figure has no third decimal
    ("0,125 kcal", 0.1),
    ("2 467kJ", 589.6),
    ("250-300 kcal", 250),
    ("250 \u2013 300 kcal", 250),
    ("1234.567 kcal", 1234.6),  # four digits before the dot: not a thousands separator
])
def test_numbers_as_people_write_them(text, kcal):
    assert parse_calories(text) == kcal


@relaxed
@given(tenths, st.sampled_from(FORMATS))
def test_every_format_round_trips_through_parse_calories(value, fmt):
    assert parse_calories(f"{written(value, fmt)} kcal") == expected(value)


@relaxed
@given(tenths, st.sampled_from(FORMATS))
def test_every_format_round_trips_through_visible_text(value, fmt):
    record = scrape_html(page_showing(f"Calories: {written(value, fmt)} kcal"))
    assert (record["calories"], record["source"]) == (expected(value), "visible-text")


@relaxed
@given(st.integers(min_value=0, max_value=25_000), st.sampled_from(["plain", "1 066,7", "1\u00a0066,7", "1.066,7"]))
def test_kilojoules_read_as_kcal(kj, fmt):
    kcal = round(kj / KJ_PER_KCAL, 1)
    kcal = int(kcal) if kcal.is_integer() else kcal
    assert parse_calories(f"{written(kj * 10, fmt)}kJ") == kcal
    assert scrape_html(page_showing(f"Energy: {written(kj * 10, fmt)} kJ"))["calories"] == kcal


@relaxed
@given(tenths, st.integers(min_value=1, max_value=500), st.sampled_from(["-", "\u2013", " to "]))
def test_a_range_reads_as_its_first_value(low, width, dash):
    text = f"{written(low, 'plain')}{dash}{written(low + width * 10, 'plain')} kcal"
    assert parse_calories(text) == expected(low)
    assert scrape_html(page_showing(f"Calories: {text}"))["calories"] == expected(low)
