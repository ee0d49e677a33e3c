"""Field values shared by the JSON-LD and HTML readers: clean text, authors, lists, types."""

from __future__ import annotations

import html
import re
from functools import lru_cache

_TAG = re.compile(r"<[a-zA-Z/!][^<>]*>")
_UI_TEXT = re.compile(r"^(add all( ingredients)? to (shopping )?list|add to (shopping )?list|ingredients:?|deselect all)$", re.I)
_OPEN_QUOTES, _CLOSE_QUOTES = "\"'\u201c\u2018", "\"'\u201d\u2019"


def has_type(types, wanted: str) -> bool:
    """``@type``/``itemtype`` names ``wanted`` (lower case) in any spelling.

    "Recipe", "recipe", ["Article", "Recipe"], "http://schema.org/Recipe",
    "https://schema.org/Recipe/", "schema:Recipe".
    """
    if isinstance(types, str):
        return _type_name(types) == wanted
    return isinstance(types, list) and any(isinstance(t, str) and _type_name(t) == wanted for t in types)


@lru_cache(maxsize=512)  # every node of a page's ld+json is asked; its types repeat
def _type_name(type_: str) -> str:
    return re.split(r"[/#:]", type_.strip().rstrip("/"))[-1].lower()


def deref(value, ids: dict):
    """Follow a bare ``{"@id": ...}`` reference (WordPress @graph style)."""
    if isinstance(value, dict) and set(value) == {"@id"} and isinstance(value["@id"], str):
        return ids.get(value["@id"], value)
    return value


def text(value) -> str | None:
    """A clean one-line string: entities decoded, tags dropped, whitespace collapsed."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        return None
    if "&" in value:
        value = html.unescape(value)
    if "<" in value:
        value = _TAG.sub(" ", value)
    return " ".join(value.split()) or None


def normal(title: str | None) -> str | None:
    """A title as compared: whitespace collapsed, case folded."""
    return " ".join(title.split()).casefold() if title else None


def first(values):
    return values[0] if isinstance(values, list) and values else values


def first_dict(values) -> dict:
    return next((v for v in values if isinstance(v, dict)), {}) if isinstance(values, list) else {}


def author_name(author, ids: dict) -> str | None:
    for one in author if isinstance(author, list) else [author]:
        one = deref(one, ids)
        if isinstance(one, dict):
            one = first(one.get("name"))
        name = text(one)
        if name:
            return name
    return None


def ingredient_list(items) -> list[str]:
    if isinstance(items, str):
        items = items.splitlines()
    if not isinstance(items, list):
        return []
    cleaned = (text(item) for item in items if not isinstance(item, (dict, list)))
    return [item for item in cleaned if item and not _UI_TEXT.match(item)]


def servings(value) -> str | None:
    """recipeYield as text; of ["4", "4 servings"] the descriptive one."""
    if isinstance(value, list):
        texts = [t for t in map(text, value) if t]
        return next((t for t in texts if not t.replace(".", "").isdigit()), texts[0] if texts else None)
    return text(value)


def other_nutrients(items) -> dict[str, str]:
    nutrients = {}
    for key, value in items:
        if isinstance(key, str) and not key.startswith("@") and key != "calories":
            value_text = text(value if not isinstance(value, list) else first(value))
            if value_text:
                nutrients[key] = value_text
    return nutrients


def strip_quotes(value: str | None) -> str | None:
    """Legacy ``.submitter__description`` wraps the text in quotes."""
    if value and len(value) >= 2 and value[0] in _OPEN_QUOTES and value[-1] in _CLOSE_QUOTES:
        inner = value[1:-1]
        if not any(q in inner for q in _OPEN_QUOTES + _CLOSE_QUOTES if q != "'" and q != "\u2019"):
            return inner.strip() or None
    return value
