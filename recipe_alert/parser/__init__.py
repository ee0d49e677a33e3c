"""Read one recipe out of a raw HTML page. Pure: no I/O.

Real pages weigh 200 KB-2 MB, almost all scripts and markup, so the order of
work matters:

1. Fast path (``jsonld``): find ``application/ld+json`` blocks with a bytes
   search (no tree, no decoding of the page) and ``json.loads`` them; repair a
   block only when it does not load. Most recipe pages end here.
2. Slow path (``tree``), only when no JSON-LD Recipe was found: build one lxml
   tree and read microdata, the legacy Allrecipes selectors (2017-2020) and the
   2022 user-recipe page, which has no Recipe schema at all.
3. Only when neither gave calories: microdata or legacy markup next to the
   JSON-LD, then nutrition in the page's embedded app state (``appstate``),
   then the nutrition the page shows as text (``visible``).

``scrape_html`` raises ``NotARecipe`` for a page without a recipe and nothing
else, whatever the input.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin, urlsplit

from recipe_alert.errors import NotARecipe
from recipe_alert.urls import find_canonical_url, normalize_url

from . import appstate, jsonld, tree, visible
from .numbers import parse_calories
from .page import Page

__all__ = ["parse_calories", "scrape_html"]

log = logging.getLogger(__name__)

# Cheap tests on the raw bytes before building a tree just for calories (a literal
# prefix lets re skip ahead: ~0.3 ms per MB, against ~4 ms for an alternation).
_MICRODATA_CALORIES = re.compile(rb"""itemprop\s*=\s*["']?calories""")


def scrape_html(page: bytes | str, url: str | None = None) -> dict:
    """The recipe on ``page`` as a flat record, keys in this order:

    url (the page's canonical URL, else ``url``, normalised; None unless an
    absolute http(s) URL), title, submitter, description, calories (kcal per
    serving, int or float, None when unknown), ingredients (list), servings,
    nutrition (other NutritionInformation fields as text), source.

    source says how calories were read: "json-ld", "microdata", "legacy-html"
    (the 2017-2020 Allrecipes summary), "app-state" or "visible-text"; with
    no calories, how the recipe was read ("html": the user-recipe page).

    Raises ``NotARecipe`` when the page holds no recipe.
    """
    try:
        return _scrape(Page(page), url)
    except NotARecipe:
        raise
    except Exception as exc:  # a parser bug must not stop a consumer loop
        log.error("parser failed on %s", url, exc_info=True)
        raise NotARecipe(f"unreadable page ({type(exc).__name__})") from exc


def _scrape(page: Page, url: str | None) -> dict:
    recipe, ids = jsonld.find_recipe(page.decode(block) for block in jsonld.ldjson_blocks(page.raw))
    if recipe is None and page.marks is not None:  # e.g. type="application/LD+JSON"
        recipe, ids = jsonld.find_recipe(page.marks.odd_ldjson)
    if recipe is not None:
        record = jsonld.record(recipe, ids)
        if record["title"] is None:
            record["title"] = tree.html_title(page.marks)
    else:
        record = tree.record(page.marks)
    if not record["title"]:
        raise NotARecipe("recipe has no title")
    if record["calories"] is None:
        _calories_elsewhere(page, record)
    return {"url": _page_url(page, url), **record}


def _calories_elsewhere(page: Page, record: dict) -> None:
    """Fill in calories that the recipe's own markup lacks, and say where they came from."""
    from_jsonld = record["source"] == "json-ld"
    kcal = source = None
    if from_jsonld and (b"calorie-count" in page.raw or _MICRODATA_CALORIES.search(page.raw)):
        kcal, source = tree.html_calories(page.marks)
    if kcal is None:
        kcal, source = appstate.calories(page, record["title"]), "app-state"
    if kcal is None and (not from_jsonld or visible.worth_a_tree(page.raw)):
        kcal, source = visible.calories(page.marks, record), "visible-text"
    if kcal is not None:
        record["calories"], record["source"] = kcal, source


def _page_url(page: Page, fetched_from: str | None) -> str | None:
    fetched = _web_url(fetched_from)
    canonical = _canonical_url(page.raw)
    if canonical:
        try:  # a relative canonical is relative to where the page was fetched
            canonical = urljoin(fetched, canonical.strip()) if fetched else canonical
        except ValueError:
            canonical = None
    return _web_url(canonical) or fetched


def _web_url(candidate: str | None) -> str | None:
    """``candidate`` normalised if it is an absolute http(s) URL, else None (a Kafka key may be anything)."""
    if not candidate or not candidate.strip():
        return None
    try:
        url = normalize_url(candidate)
        parts = urlsplit(url)
        return url if parts.scheme in ("http", "https") and parts.hostname else None
    except ValueError:  # e.g. a port that is not a number
        log.debug("unusable URL %r", candidate)
        return None


def _canonical_url(raw: bytes) -> str | None:
    """``find_canonical_url`` fed only the tags that name it.

    Heads carry hundreds of KB of scripts; finding the distinctive words is
    much cheaper than scanning every tag (canonical still wins over og:url).
    """
    for marker in (b"canonical", b"og:url"):
        pos = 0
        while (hit := raw.find(marker, pos)) >= 0:
            pos = hit + len(marker)
            start, end = raw.rfind(b"<", max(0, hit - jsonld.MAX_TAG), hit), raw.find(b">", hit, hit + jsonld.MAX_TAG)
            found = find_canonical_url(raw[start:end + 1]) if start >= 0 and end >= 0 else None
            if found:
                return found
    return None
