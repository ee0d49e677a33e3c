"""Which recipes alert, and what an alert says. No I/O."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from ..urls import normalize_url


def format_number(value: float) -> str:
    """551 -> '551', 551.4 -> '551.4': the tutorial printed whole numbers."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def calories_of(recipe: dict) -> float | None:
    calories = recipe.get("calories")
    # bool is an int; a record saying `true` is not a calorie count.
    if isinstance(calories, (int, float)) and not isinstance(calories, bool):
        return calories
    return None


def should_alert(recipe: dict, threshold: float, min_calories: float | None = None,
                 max_calories: float | None = None) -> bool:
    """Above ``threshold``; or, with ``min_calories``, at least that; never above ``max_calories``."""
    calories = calories_of(recipe)
    if calories is None:
        return False
    above = calories >= min_calories if min_calories is not None else calories > threshold
    return above and (max_calories is None or calories <= max_calories)


def read_recipe(value: bytes | None) -> dict | None:
    try:
        recipe = json.loads(value) if value else None
    except (ValueError, UnicodeDecodeError):
        return None
    return recipe if isinstance(recipe, dict) else None


def recipe_key(recipe: dict, record_key: bytes | None) -> str | None:
    """What makes two records the same recipe: the normalised URL."""
    if recipe.get("url"):
        return normalize_url(str(recipe["url"]))
    return record_key.decode("utf-8", "replace") if record_key else None


@dataclass(frozen=True)
class Alert:
    """One recipe over the threshold, as every sink receives it."""

    title: str
    calories: float
    threshold: float
    url: str | None
    key: str | None  # recipe_key: what the alert log remembers
    produced_ms: int | None  # when the parsed record was produced
    alerted_ms: int

    @classmethod
    def of(cls, recipe: dict, threshold: float, key: str | None = None,
           produced_ms: int | None = None) -> "Alert":
        return cls(title=recipe.get("title") or "(untitled)", calories=recipe["calories"],
                   threshold=threshold, url=recipe.get("url"), key=key, produced_ms=produced_ms,
                   alerted_ms=int(time.time() * 1000))

    def line(self) -> str:
        """The tutorial's line."""
        return f"Alert: {self.title} calories count is {format_number(self.calories)}"

    def as_dict(self) -> dict:
        return {"title": self.title, "calories": self.calories, "per": "serving",
                "threshold": self.threshold, "url": self.url, "produced_ms": self.produced_ms,
                "alerted_ms": self.alerted_ms}
