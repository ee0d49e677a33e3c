"""Parser behaviours the golden fixtures do not pin down one by one."""

from __future__ import annotations

import json

import pytest

from recipe_alert.errors import NotARecipe
from recipe_alert.parser import parse_calories, scrape_html


def page(*ldjson: str, head: str = "", body: str = "", script_attrs: str = 'type="application/ld+json"') -> bytes:
    scripts = "".join(f"<script {script_attrs}>{block}</script>" for block in ldjson)
    return f"<html><head>{head}{scripts}</head><body>{body}</body></html>".encode()


def recipe_json(**fields) -> str:
    return json.dumps({"@context": "https://schema.org", "@type": "Recipe", "name": "Test Stew", **fields})


@pytest.mark.parametrize("value, kcal", [
    ("551 kcal", 551),
    ("551.4 calories", 551.4),
    ("551 calories;", 551),
    ("1,234 Calories", 1234),
    ("312,8 kcal", 312.8),
    ("1.234,5 kcal", 1234.5),
    ("1,234.5 kcal", 1234.5),
    ("2306 kJ", 551.1),
    ("2306 kilojoules", 551.1),
    ("551 kcal / 2306 kJ", 551),
    ("2306 kJ (551 kcal)", 551),
    ("Per serving (2 slices): 551 kcal", 551),
    ("Calories: 420", 420),
    ("612&nbsp;kcal", 612),
    ("612\u00a0kcal", 612),
    ("551", 551),
    ("551.0", 551),
    (" 551.44 ", 551.4),
    (551, 551),
    (551.0, 551),
    (551.46, 551.5),
    (0, 0),
    (["551 kcal"], 551),
    ({"@type": "QuantitativeValue", "value": 2306, "unitCode": "KJO"}, 551.1),
    ({"@type": "QuantitativeValue", "value": "551", "unitText": "kcal"}, 551),
    ("250-300 kcal", 250),
    ("1.066,7 kcal", 1066.7),
    ("2 467kJ", 589.6),
])
def test_calories_in_the_shapes_sites_use(value, kcal):
    result = parse_calories(value)
    assert result == kcal
    assert type(result) is type(kcal)


@pytest.mark.parametrize("value", [
    None, "", "n/a", "calories", True, -5, float("nan"), float("inf"), {}, [], [[551]], {"value": {"value": 5}},
    10**400, "9" * 400,
])
def test_unknown_calories_are_none_never_zero(value):
    assert parse_calories(value) is None


def test_record_keys_come_in_the_documented_order():
    record = scrape_html(page(recipe_json(recipeIngredient=["1 egg"])))
    assert list(record) == ["url", "title", "submitter", "description", "calories",
                            "ingredients", "servings", "nutrition", "source"]


def test_missing_calories_are_none_not_zero():
    assert scrape_html(page(recipe_json()))["calories"] is None


def test_canonical_url_wins_over_og_url_and_the_url_argument():
    head = ('<meta property="og:url" content="https://b.example/og">'
            '<link rel="canonical" href="http://allrecipes.com/recipe/1/x/">')
    record = scrape_html(page(recipe_json(), head=head), url="https://c.example/fetched")
    assert record["url"] == "https://www.allrecipes.com/recipe/1/x"


def test_og_url_is_used_when_there_is_no_canonical_link():
    record = scrape_html(page(recipe_json(), head='<meta content="https://b.example/og/" property="og:url">'),
                         url="https://c.example/fetched")
    assert record["url"] == "https://b.example/og"


def test_url_argument_is_the_fallback_and_none_when_absent():
    assert scrape_html(page(recipe_json()), url="https://c.example/fetched/?utm_source=x")["url"] == "https://c.example/fetched"
    assert scrape_html(page(recipe_json()))["url"] is None


def test_unusable_canonical_falls_back_to_the_url_argument():
    head = '<link rel="canonical" href="https://bad.example:port/x">'
    assert scrape_html(page(recipe_json(), head=head), url="https://c.example/x")["url"] == "https://c.example/x"


@pytest.mark.parametrize("key", ["latin1", "recipe-42", "file:///tmp/page.html", "mailto:chef@example.com",
                                 "https://", "  "])
def test_url_is_none_when_neither_the_page_nor_the_key_gives_a_web_url(key):
    # Another producer's Kafka key is not always a URL; the record must not pass it off as one.
    assert scrape_html(page(recipe_json()), url=key)["url"] is None


def test_a_canonical_that_is_not_a_url_gives_way_to_the_url_argument():
    head = '<link rel="canonical" href="latin1">'
    assert scrape_html(page(recipe_json(), head=head), url="latin1")["url"] is None
    head = '<meta property="og:url" content="javascript:void(0)">'
    assert scrape_html(page(recipe_json(), head=head), url="https://c.example/r")["url"] == "https://c.example/r"


def test_a_relative_canonical_is_relative_to_where_the_page_was_fetched():
    head = '<link rel="canonical" href="/recipes/stew/">'
    assert scrape_html(page(recipe_json(), head=head), url="http://c.example/r?id=1")["url"] == \
        "https://c.example/recipes/stew"
    assert scrape_html(page(recipe_json(), head=head))["url"] is None


def test_title_falls_back_to_og_title_then_h1():
    nameless = json.dumps({"@type": "Recipe", "recipeIngredient": ["1 egg"]})
    with_og = page(nameless, head='<meta property="og:title" content="Og &amp; Title">', body="<h1>Heading</h1>")
    assert scrape_html(with_og)["title"] == "Og & Title"
    assert scrape_html(page(nameless, body="<h1> Heading\n Text </h1>"))["title"] == "Heading Text"


def test_recipe_without_any_title_is_not_a_recipe():
    with pytest.raises(NotARecipe, match="title"):
        scrape_html(page(json.dumps({"@type": "Recipe", "recipeIngredient": ["1 egg"]})))


def test_fullest_of_several_recipes_wins():
    teaser = json.dumps({"@type": "Recipe", "name": "Teaser"})
    full = recipe_json(recipeIngredient=["1 egg"], nutrition={"calories": "90 kcal"})
    record = scrape_html(page(teaser, full))
    assert (record["title"], record["calories"]) == ("Test Stew", 90)


@pytest.mark.parametrize("author, name", [
    ("Ann Lee", "Ann Lee"),
    ({"@type": "Person", "name": "Ann Lee"}, "Ann Lee"),
    ([{"@type": "Person", "name": ""}, {"@type": "Person", "name": "Ann Lee"}], "Ann Lee"),
    ({"@type": "Organization", "name": ["Ann Lee"]}, "Ann Lee"),
    ({"@id": "#nobody"}, None),
    (42, "42"),
])
def test_submitter_from_every_author_shape(author, name):
    assert scrape_html(page(recipe_json(author=author)))["submitter"] == name


def test_servings_prefers_the_descriptive_yield():
    assert scrape_html(page(recipe_json(recipeYield=["6", "6 servings"])))["servings"] == "6 servings"
    assert scrape_html(page(recipe_json(recipeYield=6)))["servings"] == "6"


def test_ui_text_and_empty_items_are_not_ingredients():
    items = ["1 egg", "", "  ", "Add all ingredients to list", "Add to shopping list", "2  cups\n flour", None, {"x": 1}]
    assert scrape_html(page(recipe_json(recipeIngredient=items)))["ingredients"] == ["1 egg", "2 cups flour"]


def test_ingredients_given_as_one_text_are_split_by_line():
    record = scrape_html(page(recipe_json(recipeIngredient="1 egg\n2 cups flour\n")))
    assert record["ingredients"] == ["1 egg", "2 cups flour"]


def test_nutrition_keeps_other_fields_as_text():
    nutrition = {"@type": "NutritionInformation", "calories": "551 kcal", "fatContent": "26 g",
                 "proteinContent": 28, "sugarContent": None, "sodiumContent": ""}
    assert scrape_html(page(recipe_json(nutrition=nutrition)))["nutrition"] == {"fatContent": "26 g", "proteinContent": "28"}


@pytest.mark.parametrize("block", [
    '{"@type": "Recipe", "name": "Test Stew",}',                              # trailing comma
    '{"@type": "Recipe", "name": "Test\nStew"}',                             # raw newline
    '{"@type": "Recipe",\t"name": "Test\tStew"}',                            # raw tab
    '<!--\n{"@type": "Recipe", "name": "Test Stew"}\n-->',                   # HTML comment wrapper
    '/* <![CDATA[ */ {"@type": "Recipe", "name": "Test Stew"} /* ]]> */',    # C-comment CDATA
    '{"@type": "Recipe", "name": "Test Stew"};',                             # trailing semicolon
    '{"@type": "Organization"}\n{"@type": "Recipe", "name": "Test Stew"}',   # two values in one block
    '{"@type": "Recipe", "name": "Test Stew", "description": "it\\\'s good"}',  # JS escape \'
    '{&quot;@type&quot;: &quot;Recipe&quot;, &quot;name&quot;: &quot;Test Stew&quot;}',
])
def test_broken_json_ld_is_recovered_when_the_intent_is_clear(block):
    record = scrape_html(page(block))
    assert (record["title"], record["source"]) == ("Test Stew", "json-ld")


def test_trailing_comma_repair_leaves_commas_inside_strings_alone():
    block = '{"@type": "Recipe", "name": "Test Stew", "description": "a, ] b, } c",}'
    assert scrape_html(page(block))["description"] == "a, ] b, } c"


def test_unrecoverable_json_ld_is_skipped_not_fatal():
    broken = '{"@type": "Recipe", "name": "Lost'
    assert scrape_html(page(broken, recipe_json()))["title"] == "Test Stew"
    with pytest.raises(NotARecipe):
        scrape_html(page(broken))


@pytest.mark.parametrize("shape", [
    lambda r: r,
    lambda r: [{"@type": "BreadcrumbList"}, r],
    lambda r: {"@context": "https://schema.org", "@graph": [{"@type": "WebPage"}, r]},
    lambda r: {"@type": "WebPage", "mainEntity": r},
    lambda r: {"@type": "WebPage", "mainEntityOfPage": r},
    lambda r: [{"@graph": [{"@type": "Article", "mainEntity": [r]}]}],
])
@pytest.mark.parametrize("recipe_type", ["Recipe", ["Recipe"], "http://schema.org/Recipe", "https://schema.org/Recipe",
                                         "schema:Recipe", ["NewsArticle", "Recipe"], "recipe", "RECIPE",
                                         "https://schema.org/recipe", "http://schema.org/Recipe/", " schema:recipe ",
                                         ["http://schema.org/HowTo", "https://schema.org/Recipe"]])
def test_recipe_is_found_in_every_json_ld_shape(shape, recipe_type):
    recipe = {"@type": recipe_type, "name": "Test Stew", "nutrition": {"calories": "10 kcal"}}
    record = scrape_html(page(json.dumps(shape(recipe))))
    assert (record["title"], record["calories"]) == ("Test Stew", 10)


def test_graph_author_reference_is_resolved_across_blocks():
    person = json.dumps({"@type": "Person", "@id": "#ann", "name": "Ann Lee"})
    assert scrape_html(page(recipe_json(author={"@id": "#ann"}), person))["submitter"] == "Ann Lee"


def test_odd_case_script_type_is_still_read():
    record = scrape_html(page(recipe_json(), script_attrs='TYPE="Application/LD+JSON"'))
    assert (record["title"], record["source"]) == ("Test Stew", "json-ld")


def test_ld_json_words_outside_a_script_tag_are_ignored():
    js = '<script>var t = "application/ld+json"; var r = {"@type": "Recipe", "name": "Fake"};</script>'
    with pytest.raises(NotARecipe):
        scrape_html(f"<html><head>{js}</head><body><p>no recipe</p></body></html>".encode())


def test_json_ld_recipe_without_calories_takes_them_from_microdata():
    body = '<span itemprop="calories">321 calories</span>'
    record = scrape_html(page(recipe_json(), body=body))
    assert (record["calories"], record["source"]) == (321, "microdata")


def test_source_says_where_the_calories_came_from():
    legacy = '<span class="calorie-count"><span>287</span> <span class="calorie-count__desc"> cals</span></span>'
    assert scrape_html(page(recipe_json(), body=legacy))["source"] == "legacy-html"
    shown = '<div class="nutrition"><p>Calories: 287</p></div>'
    assert scrape_html(page(recipe_json(), body=shown))["source"] == "visible-text"
    assert scrape_html(page(recipe_json(nutrition={"calories": "287 kcal"}), body=shown))["source"] == "json-ld"
    # No calories anywhere: how the recipe was read.
    assert scrape_html(page(recipe_json()))["source"] == "json-ld"


@pytest.mark.parametrize("nutrition_type", ["NutritionInformation", "nutritioninformation",
                                            "https://schema.org/NutritionInformation", "schema:NutritionInformation"])
def test_microdata_nutrition_type_in_any_spelling(nutrition_type):
    body = f"""<div itemscope itemtype="http://schema.org/recipe"><h2 itemprop="name">Bean Chili</h2>
      <div itemprop="nutrition" itemscope itemtype="{nutrition_type}"><span itemprop="calories">300 kcal</span></div>
      </div>"""
    assert scrape_html(f"<html><body>{body}</body></html>")["calories"] == 300


def test_entities_and_tags_in_json_strings_are_cleaned():
    record = scrape_html(page(recipe_json(description="<p>Mac &amp; cheese,&#32;<b>fast</b></p>")))
    assert record["description"] == "Mac & cheese, fast"


def test_microdata_scope_keeps_nested_items_apart():
    body = """<div itemscope itemtype="https://schema.org/Recipe">
      <span itemprop="author" itemscope itemtype="https://schema.org/Person"><b itemprop="name">Ann Lee</b></span>
      <h2 itemprop="name">Bean Chili</h2>
      <li itemprop="recipeIngredient">1 can beans</li>
      <div itemprop="nutrition" itemscope itemtype="https://schema.org/NutritionInformation">
        <span itemprop="calories">300 kcal</span><span itemprop="fiberContent">9 g</span></div>
    </div>"""
    record = scrape_html(f"<html><body>{body}</body></html>")
    assert record == {
        "url": None, "title": "Bean Chili", "submitter": "Ann Lee", "description": None, "calories": 300,
        "ingredients": ["1 can beans"], "servings": None, "nutrition": {"fiberContent": "9 g"}, "source": "microdata",
    }


def test_legacy_description_keeps_inner_quotes():
    body = ('<h1 class="recipe-summary__h1">Stew</h1><div class="submitter__description">"Say "hi" first"</div>'
            '<span class="recipe-ingred_txt added">1 egg</span>')
    assert scrape_html(f"<html><body>{body}</body></html>")["description"] == '"Say "hi" first"'


@pytest.mark.parametrize("html_page, reason", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"<!-- nothing -->", "empty"),
    (b"<html><body><h1>Just an article</h1><p>text</p></body></html>", "no JSON-LD Recipe"),
    (page('{"@type": "Article", "headline": "x"}'), "no JSON-LD Recipe"),
])
def test_pages_without_a_recipe_raise_with_a_reason(html_page, reason):
    with pytest.raises(NotARecipe, match=reason):
        scrape_html(html_page)


def test_undecodable_bytes_do_not_crash():
    raw = page(recipe_json(description="caf\u00e9")).replace(b"caf\xc3\xa9", b"caf\xff\xfe\xc3")
    record = scrape_html(b'<meta charset="utf-8">' + raw)
    assert record["title"] == "Test Stew"
    assert record["description"].startswith("caf")


@pytest.mark.parametrize("charset", ["utf-16", "base64", "rot13", "x-unknown", "undefined", "utf-7"])
def test_odd_charset_declarations_do_not_crash(charset):
    record = scrape_html(f'<meta charset="{charset}">'.encode() + page(recipe_json()))
    assert record["title"] == "Test Stew"


def test_a_non_page_argument_is_not_a_recipe():
    with pytest.raises(NotARecipe):
        scrape_html(12345)  # type: ignore[arg-type]
