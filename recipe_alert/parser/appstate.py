"""Calories in the page's embedded app state.

Vue, Next.js, Nuxt and Laravel pages ship the data they render as JSON: in a
``<script>`` (``__NEXT_DATA__``, ``window.__INITIAL_STATE__ = {...}``, Nuxt's
``__NUXT_DATA__``), in a JS string (Next.js ``self.__next_f.push``), or
HTML-escaped in an attribute (``data-page="{&quot;props&quot;:...}"``). A
recipe's nutrition there is an object with a calories (or kcal) key next to
other nutrient keys; a lone calories key, as related-recipe teasers carry, is
not enough.
"""

from __future__ import annotations

import html
import itertools
import json
import re

from . import fields, jsonld
from .numbers import as_kcal, kcal_value

_Q = rb'(?:"|&quot;|&#34;|\\")'  # a JSON quote, plain, HTML-escaped or JS-escaped
# A "calories" or "kcal" key, unless alone in its object ({"calories": 512}: a teaser's), in
# one C-level pass: pages can carry hundreds of teasers. A value that is an object is kept.
_KEY = re.compile(
    rb'cal(?:(?<=[";]kcal)|(?<=[";]cal)ories)' + _Q + rb'\s*:(?:'
    rb'(?<!{"calories":)(?<!{&quot;calories&quot;:)(?<!{&#34;calories&#34;:)(?<!{\\"calories\\":)'
    rb'|\s*(?:' + _Q + rb'.{0,40}?' + _Q + rb'|[^,{}"&\\]{1,30})\s*,|\s*[{\[])')

_CALORIE_KEYS = {"calories", "calorie", "kcal", "energykcal", "kilocalories"}
_NUTRIENT_KEY = re.compile(
    r"(?:total|dietary|added)?(?:fat|saturated|unsaturated|trans|protein|carb|sugar|fib(?:er|re)|sodium|salt|cholesterol"
    r"|kohlenhydrat|eiwei|fett|zucker|ballaststoff|lipid|glucid|prot[eé]in|grasa|hidrat|az[uú]car)")
_MAX_CONTAINERS, _MAX_KEYS = 20, 50  # bounds the work on pages built to be pathological
_KEY_IN_TEXT = re.compile(r'"(?:calories|kcal)"\s*:')
_ASSIGNED_JSON = re.compile(r"=\s*(?=[{\[])")


def calories(page, title: str | None) -> int | float | None:
    """kcal per serving from app state, or None when there is none or it is not clear which."""
    found = []
    for start, end, kind in _containers(page.raw):
        text = page.decode(page.raw[start:end])
        found += _nutrition(html.unescape(text) if kind == "attribute" else text, kind)
    return _choose(found, fields.normal(title))


def _containers(raw: bytes) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each script body or attribute value holding a nutrient object."""
    spans: list[tuple[int, int, str]] = []
    for m in _KEY.finditer(raw):
        if spans and spans[-1][0] <= m.start() < spans[-1][1]:
            continue
        span = _container(raw, m.start())
        if span is not None:
            spans.append(span)
            if len(spans) == _MAX_CONTAINERS:
                break
    return spans


def _container(raw: bytes, hit: int) -> tuple[int, int, str] | None:
    script = raw.rfind(b"<script", 0, hit)
    if script > raw.rfind(b"</script", 0, hit):
        tag_end = raw.find(b">", script, hit)
        if tag_end < 0 or b"ld+json" in raw[script:tag_end]:
            return None  # ld+json was read already
        kind = "nuxt" if b"__NUXT_DATA__" in raw[script:tag_end] else "script"
        return tag_end + 1, jsonld.script_end(raw, tag_end + 1), kind
    tag = raw.rfind(b"<", 0, hit)
    if tag > raw.rfind(b">", 0, hit):  # inside a tag: the attribute value around the hit
        start = max(raw.rfind(b'="', tag, hit), raw.rfind(b"='", tag, hit))
        if start >= 0:
            end = raw.find(raw[start + 1:start + 2], start + 2)
            if end > hit:
                return start + 2, end, "attribute"
    return None


def _nutrition(text: str, kind: str) -> list[tuple[float, bool, str | None]]:
    """(kcal, per 100 g?, the name of the object it sits in) of each nutrient object in ``text``."""
    found = []
    for value in _json_values(text):
        if kind == "nuxt" and isinstance(value, list):
            found += _devalue_nutrition(value)
            continue
        for node, path, name in _walk(value):
            kcal = _object_kcal(node)
            if kcal is not None:
                found.append((kcal, any("100" in str(k) for k in path), name))
    if not found and '\\"' in text:  # JSON inside JS strings: self.__next_f.push([1, "{\"calories\":..}"])
        for m in jsonld.JSON_STRING.finditer(text):
            if '\\"calories\\"' in m.group(0) or '\\"kcal\\"' in m.group(0):
                try:
                    inner = json.loads(m.group(0))
                except (ValueError, RecursionError):
                    continue
                if isinstance(inner, str):
                    found += _nutrition(inner, "script")
    return found


def _json_values(text: str):
    """The JSON documents in a script or attribute: the whole text, what is assigned, or objects around each key."""
    stripped = text.strip().rstrip(";")
    if stripped[:1] in ("{", "["):
        try:
            yield json.loads(stripped)
            return
        except (ValueError, RecursionError):
            pass
    decoder = json.JSONDecoder()
    for m in _ASSIGNED_JSON.finditer(text):  # window.__INITIAL_STATE__ = {...};
        try:
            value, _ = decoder.raw_decode(text, m.end())
        except (ValueError, RecursionError):
            continue
        if isinstance(value, (dict, list)):
            yield value
            return
    # Anything else: the innermost object around each key (a recipe has a few; bounded for junk).
    for m in itertools.islice(_KEY_IN_TEXT.finditer(text), _MAX_KEYS):
        yield from _object_around(decoder, text, m.start())


def _object_around(decoder, text: str, key_at: int):
    brace = key_at
    for _ in range(20):
        brace = text.rfind("{", max(0, key_at - 4000), brace)
        if brace < 0:
            return
        try:
            value, end = decoder.raw_decode(text, brace)
        except (ValueError, RecursionError):
            continue
        if end > key_at and isinstance(value, dict):
            yield value
            return


def _walk(value):
    """(dict, keys from the root, nearest name or title) for every dict in a JSON value."""
    stack = [(value, (), None)]
    while stack:
        node, path, name = stack.pop()
        if isinstance(node, dict):
            yield node, path, name  # a name on the nutrient object itself is not the recipe's
            own = node.get("name") if isinstance(node.get("name"), str) else node.get("title")
            inner = fields.normal(fields.text(own)) if isinstance(own, str) else name
            stack.extend((v, path + (k,), inner) for k, v in node.items() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, path, name) for v in node if isinstance(v, (dict, list)))


def _object_kcal(node: dict, resolve=lambda v: v) -> float | None:
    """The kcal of a nutrient object: a calories (or kcal) key beside another nutrient's."""
    kcal, nutrients = None, 0
    for key, value in node.items():
        name = re.sub(r"[^a-z]", "", key.lower()) if isinstance(key, str) else ""
        if name in _CALORIE_KEYS:
            kcal = kcal if kcal is not None else kcal_value(resolve(value))
        elif _NUTRIENT_KEY.match(name):
            nutrients += 1
    return kcal if nutrients else None


def _devalue_nutrition(table: list) -> list[tuple[float, bool, str | None]]:
    """Nuxt 3's payload is a flat table: an object's values are indexes into it."""
    def resolve(v):
        return table[v] if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(table) else None
    found = []
    for node in table:
        if isinstance(node, dict):
            kcal = _object_kcal(node, resolve)
            if kcal is not None:
                found.append((kcal, False, None))
    return found


def _choose(found, title: str | None) -> int | float | None:
    per_serving = [f for f in found if not f[1]]
    # An object named after another recipe is a teaser's; one named after ours wins.
    ours = [f for f in per_serving if title is not None and f[2] == title]
    unnamed = [f for f in per_serving if f[2] is None]
    values = {as_kcal(kcal) for kcal, _, _ in (ours or unnamed)}
    values.discard(None)
    return values.pop() if len(values) == 1 else None
