"""recipe_alert.urls: one key per recipe, whatever the era or decoration of its URL."""

import pytest

from recipe_alert.urls import find_canonical_url, is_recipe_url, normalize_url

KEY = "https://www.allrecipes.com/recipe/1/x"


@pytest.mark.parametrize("url", [
    "https://www.allrecipes.com/recipe/1/x",
    "http://allrecipes.com/recipe/1/x/",
    "https://WWW.Allrecipes.com:443/recipe/1/x/",
    "https://www.allrecipes.com//recipe//1/x#reviews",
    "https://www.allrecipes.com/recipe/1/x/?utm_source=news&fbclid=abc",
    "//www.allrecipes.com/recipe/1/x",
    " https://www.allrecipes.com/recipe/1/x&#47; ".replace("&#47;", "/"),
])
def test_every_spelling_of_one_recipe_url_gives_one_key(url):
    assert normalize_url(url) == KEY


def test_query_parameters_that_matter_are_kept_in_a_stable_order():
    assert normalize_url("https://site.test/r?b=2&a=1&utm_medium=x") == "https://site.test/r?a=1&b=2"


def test_local_test_servers_keep_plain_http_and_their_port():
    assert normalize_url("http://127.0.0.1:8123/recipe/1/x/") == "http://127.0.0.1:8123/recipe/1/x"
    assert normalize_url("http://localhost:80/recipe/1/x") == "http://localhost/recipe/1/x"


def test_what_is_not_a_web_url_is_left_alone():
    assert normalize_url("file:///tmp/page.html") == "file:///tmp/page.html"
    assert normalize_url("latin1") == "latin1"


@pytest.mark.parametrize("url, recipe", [
    ("https://www.allrecipes.com/recipe/15925/creamy-pesto-shrimp/", True),
    ("https://www.allrecipes.com/recipe/15925", True),
    ("https://www.allrecipes.com/cucumber-dill-salad-recipe-45678", True),
    ("https://www.allrecipes.com/cook/8675309/recipe/3f2a9c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6/", True),
    ("https://www.allrecipes.com/recipes/96/salad/", False),
    ("https://www.allrecipes.com/article/spring-salads/", False),
    ("https://www.allrecipes.com/recipe/abc/x/", False),
])
def test_recipe_urls_have_one_of_the_known_path_shapes(url, recipe):
    assert is_recipe_url(url) is recipe


@pytest.mark.parametrize("head, found", [
    ('<link href="https://a.test/r/1" rel="canonical">', "https://a.test/r/1"),
    ("<link rel=canonical href=https://a.test/r/2>", "https://a.test/r/2"),
    ('<meta property="og:url" content="https://a.test/og">', "https://a.test/og"),
    ('<meta property="og:url" content="https://a.test/og"><link rel="canonical" href="https://a.test/c">',
     "https://a.test/c"),
    ('<link rel="stylesheet" href="/s.css">', None),
])
def test_the_canonical_link_wins_over_og_url(head, found):
    page = f"<html><head>{head}</head><body></body></html>"
    assert find_canonical_url(page) == found
    assert find_canonical_url(page.encode()) == found
