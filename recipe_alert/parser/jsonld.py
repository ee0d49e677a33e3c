"""The fast path: the Recipe in a page's ``application/ld+json`` blocks, found without a tree."""

from __future__ import annotations

import html
import json
import logging
import re

from . import fields
from .numbers import parse_calories

log = logging.getLogger(__name__)

MAX_TAG = 4096  # bounds the work per hit on garbage input
_SCRIPT_OPEN = re.compile(rb"<script\b[^>]{0,%d}>" % MAX_TAG, re.I)


def find_recipe(blocks) -> tuple[dict | None, dict]:
    """The best Recipe node in the ld+json ``blocks`` (texts) and an @id index."""
    recipes, ids = [], {}
    for block in blocks:
        for node in walk(load_json(block)):
            node_id = node.get("@id")
            if isinstance(node_id, str) and len(node) > 1:
                ids.setdefault(node_id, node)
            if fields.has_type(node.get("@type"), "recipe"):
                recipes.append(node)
    if not recipes:
        return None, ids
    # Several Recipes (e.g. a teaser next to the real one): keep the fullest.
    best = max(recipes, key=lambda r: (bool(r.get("name")), bool(r.get("recipeIngredient")), bool(r.get("nutrition"))))
    return best, ids


def record(recipe: dict, ids: dict) -> dict:
    nutrition = fields.deref(recipe.get("nutrition"), ids)
    if isinstance(nutrition, list):
        nutrition = next((n for n in nutrition if isinstance(n, dict)), None)
    if not isinstance(nutrition, dict):
        nutrition = {}
    return {
        "title": fields.text(recipe.get("name")),
        "submitter": fields.author_name(recipe.get("author"), ids),
        "description": fields.text(recipe.get("description")),
        "calories": parse_calories(nutrition.get("calories")),
        "ingredients": fields.ingredient_list(recipe.get("recipeIngredient") or recipe.get("ingredients")),
        "servings": fields.servings(recipe.get("recipeYield")),
        "nutrition": fields.other_nutrients(nutrition.items()),
        "source": "json-ld",
    }


def ldjson_blocks(raw: bytes):
    """Bodies of ``<script type="application/ld+json">`` elements, no tree built.

    One ``bytes.find`` pass over the page (~0.4 ms per MB); the rare odd-case
    type attribute is left to the tree (``Marks.odd_ldjson``).
    """
    pos = 0
    while (hit := raw.find(b"application/ld+json", pos)) >= 0:
        pos = hit + 19
        tag_start = raw.rfind(b"<", max(0, hit - MAX_TAG), hit)
        tag = _SCRIPT_OPEN.match(raw, tag_start) if tag_start >= 0 else None
        if tag is None or tag.end() <= hit:
            continue  # the words outside a script tag, e.g. in some JS
        end = script_end(raw, tag.end())
        yield raw[tag.end():end]
        pos = max(pos, end)


def script_end(raw: bytes, start: int) -> int:
    pos = start
    while (pos := raw.find(b"</", pos)) >= 0:
        if raw[pos + 2:pos + 8].lower() == b"script":
            return pos
        pos += 2
    return len(raw)


def load_json(text: str):
    """The JSON value in ``text``, repairing what real sites break; None if hopeless."""
    text = text.strip()
    try:
        return json.loads(text, strict=False)  # strict=False: raw newlines/tabs in strings
    except (ValueError, RecursionError):
        pass
    for repair in _REPAIRS:
        text = repair(text)
        try:
            return _loads_all(text)
        except (ValueError, RecursionError):
            continue
    log.debug("ld+json block not recoverable: %.80r", text)
    return None


def _loads_all(text: str):
    """One value, or several concatenated ones (``{..}{..}``, ``{..};``) as a list."""
    decoder, values, pos = json.JSONDecoder(strict=False), [], 0
    while pos < len(text):
        value, pos = decoder.raw_decode(text, pos)
        values.append(value)
        while pos < len(text) and text[pos] in " \t\r\n;,":
            pos += 1
    if not values:
        raise ValueError("empty")
    return values[0] if len(values) == 1 else values


# A JSON string, running to the end of the text when unterminated, so a
# substitution scans the text once (no re-scan from every quote).
_STRING = r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)'
_JSON_STRING_OR_TRAILING_COMMA = re.compile(_STRING + r"|,(\s*+[}\]])", re.S)
JSON_STRING = re.compile(_STRING, re.S)  # also finds JSON held in JS strings (appstate)
_BAD_ESCAPE = re.compile(r'\\([^"\\/bfnrtu])')
_WRAP_START = re.compile(r"\A(?://|/\*)?\s*(?:<!\[CDATA\[|<!--)\s*(?:\*/)?")
_WRAP_END = re.compile(r"(?://|/\*)?\s*(?:\]\]>|-->)\s*(?:\*/)?\Z")


def _strip_wrappers(text: str) -> str:  # // <![CDATA[ ... // ]]>  and  <!-- ... -->
    text = _WRAP_START.sub("", text.strip(), count=1)
    tail_at = max(0, len(text) - 64)  # the closer is at the very end: search only there
    end = _WRAP_END.search(text, tail_at)
    return (text[:end.start()] if end else text).strip()


def _drop_trailing_commas(text: str) -> str:
    return _JSON_STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(0), text)


def _fix_escapes(text: str) -> str:  # JS-style \' and friends are invalid JSON
    return JSON_STRING.sub(lambda m: _BAD_ESCAPE.sub(r"\1", m.group(0)), text)


def _unescape_block(text: str) -> str:  # a block HTML-escaped as a whole: {&quot;@type&quot;:...}
    return html.unescape(text) if "&quot;" in text else text


# Applied cumulatively, cheapest and most common first.
_REPAIRS = (lambda t: t, _strip_wrappers, _drop_trailing_commas, _fix_escapes, _unescape_block, _drop_trailing_commas)


def walk(data):
    """Every dict in a JSON value, in document order (iterative: input can nest deep)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(reversed(node.values()))
        elif isinstance(node, list):
            stack.extend(reversed(node))
