"""The visible-text and app-state readers: what they read, and the numbers they never read.

The golden fixtures pin one page per shape; here, hypothesis mixes the
recipe's own nutrition block with every kind of trap, in any order, with
other values, and checks that only the block's value comes out.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recipe_alert.parser import page as page_module
from recipe_alert.parser import scrape_html

# Places on a recipe page where a calorie-like number is never the recipe's.
# Each is wrapped in its own <section>, so a heading's reach ends with it.
TRAPS = [
    '<nav><a href="/light">Calories: {v}</a></nav>',
    '<form action="/search"><label>Calories</label> <output>{v} \u2013 900</output></form>',
    '<div class="recipe-filters"><span>Calories</span><span>{v}</span></div>',
    '<div class="related-recipes"><p>Calories: {v}</p></div>',
    '<h2>You may also like</h2><div><p>Calories: {v}</p></div>',
    '<div id="comments"><p>Calories: {v} by my count</p></div>',
    '<div class="ad-slot"><span>Calories</span><span>{v}</span></div>',
    '<aside><p>Calories: {v}</p></aside>',
    '<footer><p>Calories: {v}</p></footer>',
    '<p>Percent Daily Values are based on a {v} calorie diet.</p>',
    '<p>{v} calories a day is used for general nutrition advice.</p>',
    '<div class="tile"><h4>Other Dish</h4><p>Calories: {v}</p></div>'
    '<div class="tile"><h4>Another Dish</h4><p>Calories: {v}</p></div>',
    '<p class="badge">{v} kcal</p>',
    '<p><a href="/x">Light meals under {v} calories</a> <span>12 ratings</span></p>',
    '<div class="nutrition"><h4>Per 100 g</h4><p>Calories: {v} kcal</p></div>',
    '<script type="application/json">{{"related": [{{"name": "Other Dish", '
    '"nutrition": {{"calories": {v}, "fat": 3}}}}]}}</script>',
]
# The recipe's own nutrition block, in the shapes the reader knows.
BLOCKS = [
    '<div class="nutrition"><p>Calories: {v}</p><p>Fat: 12 g</p></div>',
    '<div class="recipe-nutrition"><span>Calories</span><span>{v}</span><span>Fat</span><span>12 g</span></div>',
    '<h3>Nutrition per serving</h3><dl><dt>Kalorien</dt><dd>{v} kcal</dd><dt>Fett</dt><dd>12 g</dd></dl>',
    '<table class="nutrition-facts"><tr><th>Calories</th><td>{v}</td></tr><tr><th>Fat</th><td>12 g</td></tr></table>',
    '<div class="valeurs"><p>\u00c9nergie (kcal) : {v}</p></div>',
    '<div class="nutrition-info"><p>Per serving: {v} kcal; 12 g fat</p></div>',
]
values = st.integers(min_value=1, max_value=4000)
relaxed = settings(max_examples=120, deadline=None)


def recipe_page(body: str) -> str:
    recipe = json.dumps({"@type": "Recipe", "name": "Test Stew", "recipeIngredient": ["1 egg"]})
    return (f'<html><head><script type="application/ld+json">{recipe}</script></head>'
            f"<body><h1>Test Stew</h1>{body}</body></html>")


@st.composite
def traps(draw, avoid: int | None = None):
    chosen = draw(st.lists(st.sampled_from(TRAPS), min_size=1, max_size=6))
    trap_values = st.integers(min_value=1, max_value=4000).filter(lambda w: w != avoid)
    return [f"<section>{trap.format(v=draw(trap_values))}</section>" for trap in chosen]


@relaxed
@given(values, st.sampled_from(BLOCKS), st.data())
def test_only_the_nutrition_blocks_value_is_read_whatever_surrounds_it(kcal, block, data):
    around = data.draw(traps(avoid=kcal))
    at = data.draw(st.integers(min_value=0, max_value=len(around)))
    body = "".join(around[:at]) + f"<section>{block.format(v=kcal)}</section>" + "".join(around[at:])
    record = scrape_html(recipe_page(body))
    assert (record["calories"], record["source"]) == (kcal, "visible-text")


@relaxed
@given(traps())
def test_traps_alone_give_no_calories(around):
    record = scrape_html(recipe_page("".join(around)))
    assert (record["calories"], record["source"]) == (None, "json-ld")


def test_structured_calories_win_and_no_tree_is_built(monkeypatch):
    def no_tree(*args, **kwargs):
        raise AssertionError("the JSON-LD fast path built a tree")

    monkeypatch.setattr(page_module.etree, "fromstring", no_tree)
    recipe = json.dumps({"@type": "Recipe", "name": "Test Stew", "nutrition": {"calories": "310 kcal"}})
    html = (f'<script type="application/ld+json">{recipe}</script>'
            '<div class="nutrition"><p>Calories: 999</p></div>')
    record = scrape_html(html)
    assert (record["calories"], record["source"]) == (310, "json-ld")


def test_a_page_with_no_sign_of_calories_builds_no_tree(monkeypatch):
    def no_tree(*args, **kwargs):
        raise AssertionError("a tree was built for a page that shows no calories")

    monkeypatch.setattr(page_module.etree, "fromstring", no_tree)
    record = scrape_html(recipe_page("<p>Serves 4. Bake for 40 minutes.</p>"))
    assert (record["title"], record["calories"]) == ("Test Stew", None)


@pytest.mark.parametrize("body, kcal", [
    # A value above its label, as stat widgets show it; the next item's number is not it.
    ('<ul><li><div>454</div><div>Calories</div></li><li><div>4</div><div>Servings</div></li></ul>', 454),
    # Two bare numbers beside a bare label: which one is unclear.
    ('<div><div>4</div><div>Calories</div><div>454</div></div>', None),
    # ... unless one carries the unit, or the label ends with a colon.
    ('<div><div>4</div><div>Calories</div><div>454 kcal</div></div>', 454),
    ('<div><div>4</div><div>Calories:</div><div>454</div></div>', 454),
    # A unit after the label is not a label: "kcal 20 g" is fat.
    ('<div class="nutrition"><p>454 kcal 20 g fat</p></div>', 454),
    ('<div class="nutrition"><p>Calories 454</p><p>Calories from Fat 180</p></div>', 454),
    # An energy label needs a unit: "Energy 454" may be kJ.
    ('<p>Energy: 454</p>', None),
    ('<p>Energy: 1900 kJ</p>', 454.1),
    # Whole-recipe figures give way to the per-serving one.
    ('<div class="nutrition"><p>Calories: 1816 kcal per recipe</p><p>Calories: 454 kcal</p></div>', 454),
    # Hidden elements are not shown, so not read.
    ('<div class="nutrition" hidden><p>Calories: 454</p></div>', None),
    ('<div class="nutrition" style="display: none"><p>Calories: 454</p></div>', None),
])
def test_visible_text_decisions(body, kcal):
    assert scrape_html(recipe_page(body))["calories"] == kcal


def test_the_recipe_card_is_preferred_to_loose_text_elsewhere():
    body = ('<p>Calories: 120</p>'
            '<div class="tasty-recipes"><h2>Test Stew</h2><div class="tasty-recipes-nutrition">'
            '<span class="tasty-recipes-label">Calories:</span> <span class="tasty-recipes-calories">454</span>'
            '</div></div>')
    assert scrape_html(recipe_page(body))["calories"] == 454


@pytest.mark.parametrize("state, kcal", [
    # An object named after the recipe beats the related ones.
    ({"recipe": {"name": "Test Stew", "nutrition": {"calories": 454, "fat": 20}},
      "related": [{"name": "Pie", "nutrition": {"calories": 300, "fat": 9}}]}, 454),
    # A lone calories key (a teaser's) is not nutrition.
    ({"items": [{"title": "Pie", "nutrition": {"calories": 300}}]}, None),
    # Unnamed objects that disagree: unclear.
    ({"a": {"calories": 454, "fat": 20}, "b": {"calories": 300, "fat": 9}}, None),
    # Per 100 g gives way to per serving, and alone is not enough.
    ({"nutrition": {"per100g": {"calories": 120, "fat": 3}, "perServing": {"calories": 450, "fat": 9}}}, 450),
    ({"nutrition": {"per100g": {"calories": 120, "fat": 3}}}, None),
    ({"nutrition": {"calories": {"value": 454, "unit": "kcal"}, "protein": {"value": 30, "unit": "g"}}}, 454),
])
def test_app_state_decisions(state, kcal):
    body = f'<script type="application/json">{json.dumps(state)}</script>'
    record = scrape_html(recipe_page(body))
    assert record["calories"] == kcal
    assert record["source"] == ("app-state" if kcal is not None else "json-ld")


def test_app_state_in_a_js_string_is_read():
    flight = json.dumps('5:["$","div",null,' + json.dumps({"recipe": {"name": "Test Stew", "nutrition": {
        "calories": 454, "fat": 20}}}) + "]")
    record = scrape_html(recipe_page(f"<script>self.__next_f.push([1,{flight}])</script>"))
    assert (record["calories"], record["source"]) == (454, "app-state")
