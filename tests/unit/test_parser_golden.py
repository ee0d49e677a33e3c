"""Golden files: each fixture page in tests/fixtures/pages parses to its .json.

A fixture whose golden file is ``{"error": "NotARecipe"}`` must raise
NotARecipe. Pages without a canonical URL fall back to the ``url`` argument,
``https://fixtures.example/<name>``.
"""

from __future__ import annotations

import json

import pytest

from recipe_alert.errors import NotARecipe
from recipe_alert.parser import scrape_html
from testkit.pages import FIXTURE_PAGES, LAYOUTS, make_page

RECORD_KEYS = ["url", "title", "submitter", "description", "calories", "ingredients", "servings", "nutrition", "source"]
FIXTURES = sorted(p.stem for p in FIXTURE_PAGES.glob("*.html"))


def fetched_from(name: str) -> str:
    return f"https://fixtures.example/{name}"


def golden(name: str) -> dict:
    return json.loads((FIXTURE_PAGES / f"{name}.json").read_text(encoding="utf-8"))


def scrape_or_error(page: bytes | str, name: str) -> dict:
    try:
        return scrape_html(page, fetched_from(name))
    except NotARecipe:
        return {"error": "NotARecipe"}


def test_every_fixture_has_a_golden_file():
    assert len(FIXTURES) >= 20
    missing = [name for name in FIXTURES if not (FIXTURE_PAGES / f"{name}.json").exists()]
    assert missing == []


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_parses_to_its_golden_record(name):
    expected = golden(name)
    record = scrape_or_error((FIXTURE_PAGES / f"{name}.html").read_bytes(), name)
    assert record == expected
    if "error" not in expected:
        assert list(record) == RECORD_KEYS
        # 551 == 551.0 in Python; the record must keep JSON's int/float apart.
        assert type(record["calories"]) is type(expected["calories"])


@pytest.mark.parametrize("name", [n for n in FIXTURES if "error" not in golden(n)])
def test_text_input_gives_the_same_record_as_bytes(name):
    raw = (FIXTURE_PAGES / f"{name}.html").read_bytes()
    text = raw.decode({"windows-1252": "cp1252", "iso-8859-1": "cp1252", "undeclared-latin": "cp1252",
                       "utf16-bom": "utf-16"}.get(name, "utf-8-sig"))
    assert scrape_html(text, fetched_from(name)) == golden(name)


def test_demo_pizza_is_551_calories():
    record = scrape_html((FIXTURE_PAGES / "mntl-2024.html").read_bytes())
    assert (record["title"], record["calories"]) == ("Four Cheese Margherita Pizza", 551)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_page_bloated_past_1mb_parses_like_its_fixture(layout):
    page = make_page(layout, 1_300_000, seed=1)
    assert len(page) > 1_000_000
    assert scrape_html(page, fetched_from(layout)) == golden(layout)


# Pages whose calories only app state or visible text hold, and the traps around them:
# bloat brings teasers with lone calories keys, "calories" in titles, navigation and ads.
SLOW_PATH = [n for n in FIXTURES if n.startswith(("visible-", "app-state-", "must-not-", "numbers-"))]


@pytest.mark.parametrize("name", SLOW_PATH)
def test_slow_path_page_bloated_to_real_size_parses_like_its_fixture(name):
    page = make_page(name, 400_000, seed=7)
    assert len(page) > 380_000
    assert scrape_html(page, fetched_from(name)) == golden(name)


def test_bloat_is_deterministic_and_sized():
    first, again = make_page("mntl-2024", 300_000, seed=5), make_page("mntl-2024", 300_000, seed=5)
    assert first == again
    assert 300_000 <= len(first) < 400_000
    assert make_page("mntl-2024", 300_000, seed=6) != first
