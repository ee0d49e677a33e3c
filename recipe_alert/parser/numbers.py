"""Numbers as people write them, and kcal per serving from schema.org values."""

from __future__ import annotations

import html
import math
import re

KJ_PER_KCAL = 4.184

# 454, 551.4, 312,8 and thousands separated by a dot, a comma or any space
# (1.066,7  1,066.7  1 066,7  2 467), including the garbled 1.066.7.
NUMBER = r"(?<![\d.,])(?:\d{1,3}(?:(?:[.,]|[ \u00a0\u2009\u202f])\d{3})+(?:[.,]\d+)?(?!\d)|\d+(?:[.,]\d+)?)"
# "250-300 kcal": the first value is kept.
RANGE_TAIL = r"(?:\s*(?:-|\u2013|\u2014|to|bis)\s*" + NUMBER + ")?"
# Energy units, longest first; kJ-like ones are told apart by ``unit_factor``.
ENERGY_UNIT = (r"(?:kcal|kilocalories?|kilokalorien|calor[ií]as?|calories|calorie(?:ën)?|kalorien|kalorier|kalorii"
               r"|kalorie|cals?|kj|kilojoules?|kilojoule)(?![^\W\d_])")

_ENERGY = re.compile(f"({NUMBER}){RANGE_TAIL}\\s*({ENERGY_UNIT})?", re.I)
_SPACES = re.compile(r"[ \u00a0\u2009\u202f]")


def parse_calories(value) -> int | float | None:
    """kcal per serving from a schema.org ``calories`` value, or None.

    Accepts numbers, numeric strings, "551 kcal", "551.4 calories",
    "1,234 Calories", "312,8 kcal", "2306 kJ", "250-300 kcal", lists and
    QuantitativeValue dicts. Integral values come back as int, others
    rounded to 0.1.
    """
    return as_kcal(kcal_value(value))


def as_kcal(kcal: float | None) -> int | float | None:
    """The record's form of a kcal figure: None unless finite and >= 0, int when integral."""
    if kcal is None or not math.isfinite(kcal) or kcal < 0:
        return None
    kcal = round(kcal, 1)
    return int(kcal) if kcal.is_integer() else kcal


def number(token: str) -> float | None:
    """The value of one NUMBER match: 1.066,7 / 1,066.7 / 1 066,7 / 1.066.7 are 1066.7."""
    token = _SPACES.sub("", token)
    seps = [i for i, c in enumerate(token) if c in ".,"]
    if seps:
        last = seps[-1]
        groups = re.split("[.,]", token)
        grouped = 1 <= len(groups[0]) <= 3 and not token.startswith("0") and all(len(g) == 3 for g in groups[1:])
        if grouped and len({token[i] for i in seps}) == 1:
            decimal = None  # 1,234  1.066  1.234.567: a calorie figure has no third decimal
        else:
            decimal = last  # 1.066,7  1,066.7  1.066.7  312,8  0,125
        whole = "".join(c for i, c in enumerate(token[:decimal]) if c not in ".,")
        token = whole if decimal is None else whole + "." + token[decimal + 1:]
    try:
        return float(token)
    except ValueError:
        return None


def unit_factor(unit: str | None) -> float | None:
    """kcal per unit: 1 for kcal and calories, 1/4.184 for kJ, None when there is no unit."""
    if not unit:
        return None
    return 1 / KJ_PER_KCAL if unit.lower().startswith(("kj", "kilojoule")) else 1.0


def energies(text: str) -> list[tuple[float, float | None]]:
    """(number, unit_factor) of each figure in ``text``, in order."""
    found = []
    for m in _ENERGY.finditer(text):
        value = number(m.group(1))
        if value is not None:
            found.append((value, unit_factor(m.group(2))))
    return found


def preferred_kcal(found: list[tuple[float, float | None]]) -> float | None:
    """"551 kcal / 2306 kJ": a kcal figure first, then kJ, then a bare number."""
    for wanted in (1.0, 1 / KJ_PER_KCAL, None):
        for value, factor in found:
            if factor == wanted:
                return value * (factor or 1.0)
    return None


def kcal_value(value) -> float | None:
    """kcal in a schema.org-style value, unrounded (see ``parse_calories``)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if abs(value) < 1e300 else None  # huge ints overflow float()
    if isinstance(value, list):
        flat = not any(isinstance(v, (list, dict)) for v in value)
        return next((k for k in map(kcal_value, value) if k is not None), None) if flat else None
    if isinstance(value, dict):  # QuantitativeValue, or {"value": .., "unit": ..} in app state
        amount = value.get("value", value.get("@value", value.get("amount")))
        kcal = kcal_value(amount) if not isinstance(amount, (dict, list)) else None
        unit = str(value.get("unitCode") or value.get("unitText") or value.get("unit") or "").lower()
        return kcal / KJ_PER_KCAL if kcal is not None and unit in ("kjo", "kj") else kcal
    if not isinstance(value, str):
        return None
    return preferred_kcal(energies(html.unescape(value)))
