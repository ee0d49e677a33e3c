"""Whatever the input, scrape_html returns a well-formed record or raises NotARecipe.

scrape_html turns an unexpected exception into NotARecipe and logs it at
ERROR; these tests also fail when that safety net fires, so a parser bug
cannot hide behind it.
"""

from __future__ import annotations

import json
import logging
import math
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipe_alert.errors import NotARecipe
from recipe_alert.parser import scrape_html
from testkit.pages import FIXTURE_PAGES

RECORD_KEYS = ["url", "title", "submitter", "description", "calories", "ingredients", "servings", "nutrition", "source"]
SOURCES = {"json-ld", "microdata", "legacy-html", "html", "app-state", "visible-text"}
FIXTURE_BYTES = [p.read_bytes() for p in sorted(FIXTURE_PAGES.glob("*.html"))]

fuzz = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class _ErrorRecorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@contextmanager
def no_parser_errors_logged():
    recorder, logger = _ErrorRecorder(), logging.getLogger("recipe_alert.parser")
    logger.addHandler(recorder)
    try:
        yield
    finally:
        logger.removeHandler(recorder)
    assert [r.getMessage() for r in recorder.records] == []


def check(page, url=None) -> dict | None:
    """scrape_html's result if well-formed, None for NotARecipe; fails on anything else."""
    with no_parser_errors_logged():
        try:
            record = scrape_html(page, url)
        except NotARecipe as exc:
            assert str(exc)  # a short human reason
            return None
    assert_well_formed(record)
    return record


def is_clean_text(value) -> bool:
    return isinstance(value, str) and value != "" and value == " ".join(value.split())


def assert_well_formed(record: dict) -> None:
    assert list(record) == RECORD_KEYS
    assert record["url"] is None or isinstance(record["url"], str)
    assert is_clean_text(record["title"])
    for key in ("submitter", "description", "servings"):
        assert record[key] is None or is_clean_text(record[key])
    calories = record["calories"]
    assert calories is None or (type(calories) in (int, float) and math.isfinite(calories) and calories >= 0)
    assert isinstance(record["ingredients"], list) and all(map(is_clean_text, record["ingredients"]))
    assert all(isinstance(k, str) and is_clean_text(v) for k, v in record["nutrition"].items())
    assert record["source"] in SOURCES
    json.dumps(record)  # it goes to Kafka as JSON


@fuzz
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data):
    check(data)


@fuzz
@given(st.text(max_size=2048), st.one_of(st.none(), st.text(max_size=50)))
def test_arbitrary_text_and_url(text, url):
    check(text, url)


@st.composite
def mangled_fixture(draw):
    page = bytearray(draw(st.sampled_from(FIXTURE_BYTES)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["truncate", "flip", "splice", "insert", "delete"]))
        at = draw(st.integers(0, len(page)))
        if action == "truncate":
            del page[at:]
        elif action == "flip" and page:
            page[min(at, len(page) - 1)] ^= draw(st.integers(1, 255))
        elif action == "splice":
            other = draw(st.sampled_from(FIXTURE_BYTES))
            start = draw(st.integers(0, len(other)))
            page[at:] = other[start:]
        elif action == "insert":
            page[at:at] = draw(st.sampled_from([b"<", b">", b'"', b"</script>", b"<script type=\"application/ld+json\">",
                                                b"{", b"}", b",", b"\\", b"&", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf",
                                                b"itemscope", b'itemprop="calories"', b"<!--"]))
        elif action == "delete":
            del page[at:at + draw(st.integers(1, 200))]
    return bytes(page)


@fuzz
@given(mangled_fixture())
def test_mangled_fixtures(page):
    check(page, "https://fixtures.example/mangled")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
    | st.sampled_from(["551 kcal", "1,234 Calories", "312,8 kcal", "2306 kJ", "Recipe", ["Recipe"], "&amp;", "<b>x</b>"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["@type", "@id", "@graph", "name", "author", "nutrition", "calories", "recipeIngredient",
                         "recipeYield", "description", "mainEntity", "value", "unitCode", "x"]),
        children, max_size=5),
    max_leaves=25)


@fuzz
@given(st.dictionaries(
    st.sampled_from(["name", "author", "description", "nutrition", "recipeIngredient", "ingredients", "recipeYield", "@id"]),
    json_values, max_size=8))
def test_any_json_in_a_recipe_node(fields):
    block = json.dumps({"@type": "Recipe", **fields}).replace("</", "<\\/")
    check(f'<html><head><script type="application/ld+json">{block}</script></head><body><h1>T</h1></body></html>')


@fuzz
@given(json_values)
def test_any_json_ld_block(value):
    block = json.dumps(value).replace("</", "<\\/")
    check(f'<script type="application/ld+json">{block}</script><h1>T</h1>'.encode())


def test_deep_nesting_is_not_a_crash():
    deep_json = "[" * 50_000 + "]" * 50_000
    check(f'<script type="application/ld+json">{deep_json}</script>')
    check("<div itemscope itemprop='x'>" * 5_000 + "<span itemprop='calories'>5</span>")


@pytest.mark.parametrize("block", [
    '{"@type": "Recipe", "name": "' + '\\"' * 200_000,  # unterminated string full of escapes
    '{"@type": "Recipe", "name": "x"' + " " * 200_000 + "x",  # long whitespace run before junk
    '{"@type": "Recipe", "name": "x"' + ", " * 100_000 + "x",
])
def test_pathological_broken_json_finishes(block):
    # Each of these once made a repair regex quadratic: minutes instead of milliseconds.
    assert check(f'<script type="application/ld+json">{block}</script>') is None


def test_pathological_markup_finishes():
    check(b"<meta" * 5_000 + b"<h1>x</h1>")
    check("<html><body><h1>" + "<a" * 50_000 + "</h1>" + '<span class="recipe-ingred_txt">1 egg</span>')


@pytest.mark.parametrize("body", [
    "<p>Calories" + " " * 60_000 + "x</p>",  # once made a label pattern backtrack for minutes
    '<div data-x="' + "{&quot;calories&quot;: 1, &quot;fat&quot;: 2, " * 10_000 + '"></div>',
    "<script>" + '{"calories": 1, "fat": 2}' * 20_000 + "</script>",
    "<div>" + "<div>Calories</div>" * 20_000 + "</div>",
    "<table><tr><td>Calories</td>" + "<td>5</td>" * 20_000 + "</tr></table>",
])
def test_pathological_nutrition_text_finishes(body):
    recipe = json.dumps({"@type": "Recipe", "name": "T"})
    assert check(f'<script type="application/ld+json">{recipe}</script><h1>T</h1>{body}') is not None
