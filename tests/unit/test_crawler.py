"""Crawler tests against a local HTTP server, with a fake clock so delays are checked without waiting."""

from __future__ import annotations

import itertools
import logging
import re
import socket
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError

from recipe_alert.crawler import (
    MAX_REDIRECTS,
    MAX_RETRY_WAIT,
    Crawler,
    CrawlSettings,
    Failed,
    Page,
    Skipped,
    extract_recipe_links,
    find_next_page,
    is_internal_address,
    parse_retry_after,
    resolve_host,
    same_site,
)
from recipe_alert.errors import ConfigError
from testkit.httpserver import LocalHTTPServer

HTML = {"Content-Type": "text/html; charset=utf-8"}
ALLOW_ALL = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow:\n")
UUID = "0d9b3c2a-5e4f-4a1b-9c8d-7e6f5a4b3c2d"
PUBLIC = "93.184.215.14"  # any address outside the internal ranges


def dns(table: dict[str, list[str]]):
    """A resolver for the crawler's address check; other names fail to resolve, and no query leaves the machine."""
    return lambda host: table.get(host, [])


def html(body: str, head: str = "") -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


def recipe(title: str) -> tuple[int, dict, bytes]:
    return 200, HTML, html(f"<h1>{title}</h1>")


def legacy_listing(*hrefs: str, head: str = "", extra: str = "") -> bytes:
    cards = "".join(
        f'<article class="fixed-recipe-card"><h3 class="fixed-recipe-card__h3">'
        f'<a href="{h}" class="fixed-recipe-card__title-link"><span>Card</span></a></h3></article>'
        for h in hrefs
    )
    return html(f'<nav><a href="/recipes/">Recipes</a></nav><section>{cards}</section>{extra}', head)


def mntl_listing(*hrefs: str, extra: str = "") -> bytes:
    cards = "".join(
        f'<a class="comp mntl-card-list-items mntl-universal-card card" href="{h}">'
        f'<span class="card__title-text">Card</span></a>'
        for h in hrefs
    )
    return html(f'<div class="mntl-taxonomysc-article-list-group">{cards}</div>{extra}')


class FakeTime:
    """A clock that only moves when the crawler sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def server():
    with LocalHTTPServer() as srv:
        yield srv


@pytest.fixture
def other_server():
    with LocalHTTPServer() as srv:
        yield srv


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_crawler(fake_time):
    sessions = []

    def make(session: requests.Session | None = None, resolve=dns({"localhost": ["127.0.0.1"]}), **settings) -> Crawler:
        session = session or requests.Session()
        session.trust_env = False  # no proxy from the environment: talk to 127.0.0.1 directly
        sessions.append(session)
        options = {"delay": 2.0, "timeout": 2.0, **settings}
        return Crawler(CrawlSettings(**options), session=session, clock=fake_time.clock, sleep=fake_time.sleep,
                       resolve=resolve)

    yield make
    for session in sessions:
        session.close()


def kinds(outcomes) -> list[tuple[str, str]]:
    """(type, "path" or "path reason") pairs, for compact assertions."""
    return [
        (type(o).__name__, urlsplit(o.url).path + ("" if isinstance(o, Page) else f" {o.reason}"))
        for o in outcomes
    ]


def pieces(data: bytes, size: int = 700) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


# -- pure functions -----------------------------------------------------------

BASE = "https://www.allrecipes.com/recipes/96/salad/"


def test_extract_links_from_2018_cards_resolves_relative_links():
    page = legacy_listing(
        "/recipe/1/greek-salad/",
        "https://www.allrecipes.com/recipe/2/cobb-salad/",
        "../../../recipe/3/taco-salad/",
    )
    assert extract_recipe_links(page, BASE) == [
        "https://www.allrecipes.com/recipe/1/greek-salad/",
        "https://www.allrecipes.com/recipe/2/cobb-salad/",
        "https://www.allrecipes.com/recipe/3/taco-salad/",
    ]


def test_extract_links_from_mntl_cards_ignores_articles_and_galleries():
    page = mntl_listing(
        "/recipe/1/greek-salad/",
        "/article/how-to-wash-lettuce/",
        "/gallery/summer-salads/",
        "/cobb-salad-recipe-8421",
        f"/cook/jane/recipe/{UUID}",
    )
    assert extract_recipe_links(page, BASE) == [
        "https://www.allrecipes.com/recipe/1/greek-salad/",
        "https://www.allrecipes.com/cobb-salad-recipe-8421",
        f"https://www.allrecipes.com/cook/jane/recipe/{UUID}",
    ]


def test_extract_links_prefers_cards_over_other_recipe_links_on_the_page():
    page = mntl_listing("/recipe/1/greek-salad/", extra='<footer><a href="/recipe/99/popular/">x</a></footer>')
    assert extract_recipe_links(page, BASE) == ["https://www.allrecipes.com/recipe/1/greek-salad/"]


def test_extract_links_falls_back_to_recipe_shaped_anchors_without_cards():
    page = html(
        '<a href="/recipe/1/greek-salad/">a</a> <a href="/recipes/96/salad/">category</a>'
        '<a href="mailto:x@example.com">mail</a> <a href="javascript:void(0)">js</a>'
        '<a href="ftp://example.com/recipe/5/x/">ftp</a> <a href="/potato-salad-recipe-77">b</a>'
        '<a href="http://[broken/recipe/6/x/">bad</a>'
    )
    assert extract_recipe_links(page, BASE) == [
        "https://www.allrecipes.com/recipe/1/greek-salad/",
        "https://www.allrecipes.com/potato-salad-recipe-77",
    ]


def test_extract_links_dedupes_by_normal_form_keeping_first_in_page_order():
    page = mntl_listing(
        "/recipe/2/cobb/",
        "http://allrecipes.com/recipe/1/greek-salad/",
        "https://www.allrecipes.com/recipe/1/greek-salad",
        "/recipe/1/greek-salad/?utm_source=x#reviews",
        "/recipe/2/cobb/#top",
    )
    assert extract_recipe_links(page, BASE) == [
        "https://www.allrecipes.com/recipe/2/cobb/",
        "http://allrecipes.com/recipe/1/greek-salad/",
    ]


def test_extract_links_honours_base_href():
    page = html('<a href="recipe/1/greek-salad/">a</a>', head='<base href="https://example.org/">')
    assert extract_recipe_links(page, BASE) == ["https://example.org/recipe/1/greek-salad/"]


@pytest.mark.parametrize("body", [b"", b"   ", b"\x00\xff\xfe", b"<html><body>no links</body></html>"])
def test_extract_links_from_empty_or_linkless_pages_is_empty(body):
    assert extract_recipe_links(body, BASE) == []


@pytest.mark.parametrize(
    "markup, expected",
    [
        (html("", head='<link rel="next" href="?page=2">'), BASE + "?page=2"),
        (html('<a rel="prev" href="?page=1">1</a><a rel="next nofollow" href="?page=3">3</a>'), BASE + "?page=3"),
        (html('<a class="mntl-pagination__next" href="/recipes/96/salad/?page=2">›</a>'), BASE + "?page=2"),
        (html('<div class="pagination"><a href="?page=4"> Next &rsaquo;</a></div>'), BASE + "?page=4"),
        (html('<a href="?page=2" rel="next">2</a><a class="next" href="?page=9">9</a>'), BASE + "?page=2"),
        (html('<a class="pagination-next-link" href="?page=5">5</a>'), BASE + "?page=5"),
        (html('<a class="context-menu" href="/x/">ctx</a><a href="/nextdoor/">Nextdoor</a>'), None),
        (html('<a class="card next-level" href="/l/">Next-Level Nachos</a>'), None),
        (html('<a class="next" href="/recipe/7/next-best-thing/">Next</a>'), None),  # a recipe is no listing
        (html('<link rel="next" href="/recipes/96/salad/#top">'), None),  # points at itself
        (html(""), None),
        (b"", None),
    ],
)
def test_find_next_page(markup, expected):
    assert find_next_page(markup, BASE) == expected


def test_parse_retry_after():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 120 ", now) == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"delay": -1}, "delay must be >= 0 (got -1)"),
        ({"timeout": 0}, "timeout must be > 0"),
        ({"max_bytes": 0}, "max_bytes must be > 0"),
        ({"max_pages": 0}, "max_pages must be >= 1"),
        ({"limit": -2}, "limit must be >= 0"),
        ({"retries": -1}, "retries must be >= 0"),
    ],
)
def test_settings_reject_unusable_values(bad, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        CrawlSettings(**bad)


def test_same_site_treats_www_and_default_ports_as_one_site():
    assert same_site("https://allrecipes.com/recipe/1/a/", "http://www.allrecipes.com:80/recipes/")
    assert same_site("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b")
    assert not same_site("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a")
    assert not same_site("https://www.allrecipes.com/a", "https://www.example.com/a")
    assert not same_site("https://allrecipes.com.evil.test/a", "https://allrecipes.com/a")


# -- crawling a category ------------------------------------------------------


def test_crawl_follows_pagination_across_both_layouts_in_order(server, make_crawler, fake_time):
    server.route("/robots.txt", ALLOW_ALL)
    server.route(
        "/recipes/96/salad/",
        (200, HTML, legacy_listing("/recipe/1/a/", server.url("/recipe/2/b/"), head='<link rel="next" href="?page=2">')),
    )
    server.route(
        "/recipes/96/salad/?page=2",
        (200, HTML, mntl_listing(
            "/c-recipe-3", "/article/tips/", "/recipe/2/b", f"/cook/u1/recipe/{UUID}",
            extra='<a class="mntl-pagination__next" href="?page=3">Next</a>',
        )),
    )
    server.route("/recipes/96/salad/?page=3", (200, HTML, mntl_listing("/recipe/4/d/")))
    for path in ("/recipe/1/a/", "/recipe/2/b/", "/c-recipe-3", f"/cook/u1/recipe/{UUID}", "/recipe/4/d/"):
        server.route(path, recipe(path))
    crawler = make_crawler(max_pages=2)

    outcomes = list(crawler.crawl_category(server.url("/recipes/96/salad/")))

    assert kinds(outcomes) == [
        ("Page", "/recipe/1/a/"),
        ("Page", "/recipe/2/b/"),
        ("Page", "/c-recipe-3"),
        ("Skipped", "/recipe/2/b duplicate"),
        ("Page", f"/cook/u1/recipe/{UUID}"),
    ]
    assert outcomes[0].body == html("<h1>/recipe/1/a/</h1>")
    assert outcomes[0].requested_url == outcomes[0].url == server.url("/recipe/1/a/")
    assert (outcomes[0].status, outcomes[0].content_type) == (200, "text/html")
    assert server.paths() == [
        "/robots.txt",
        "/recipes/96/salad/",
        "/recipe/1/a/",
        "/recipe/2/b/",
        "/recipes/96/salad/?page=2",
        "/c-recipe-3",
        f"/cook/u1/recipe/{UUID}",
    ]
    # The first request waits for nobody; each later one waits the full delay (the fake clock never moves otherwise).
    assert fake_time.sleeps == [2.0] * 6
    assert {r.headers["User-Agent"] for r in server.requests} == {crawler.settings.user_agent}
    assert crawler.settings.user_agent.startswith("calorie-alert-crawler/")
    s = crawler.stats
    assert (s.listed, s.fetched, s.skipped_other, s.failed) == (5, 4, 1, 0)


def test_crawl_stops_at_max_pages(server, make_crawler):
    server.route("/list/", (200, HTML, legacy_listing("/recipe/1/a/", head='<link rel="next" href="/list/?page=2">')))
    server.route("/recipe/1/a/", recipe("a"))
    outcomes = list(make_crawler(max_pages=1, obey_robots=False).crawl_category(server.url("/list/")))
    assert kinds(outcomes) == [("Page", "/recipe/1/a/")]
    assert server.paths() == ["/list/", "/recipe/1/a/"]


def test_crawl_does_not_loop_on_pagination_cycles(server, make_crawler):
    server.route("/list/", (200, HTML, legacy_listing("/recipe/1/a/", head='<link rel="next" href="/list/?page=2">')))
    server.route("/list/?page=2", (200, HTML, legacy_listing("/recipe/2/b/", head='<link rel="next" href="/list/">')))
    server.route("/recipe/1/a/", recipe("a"))
    server.route("/recipe/2/b/", recipe("b"))
    list(make_crawler(max_pages=10, obey_robots=False).crawl_category(server.url("/list/")))
    assert server.paths() == ["/list/", "/recipe/1/a/", "/list/?page=2", "/recipe/2/b/"]


def test_limit_stops_fetching_once_enough_recipes_were_fetched(server, make_crawler):
    server.route(
        "/list/",
        (200, HTML, mntl_listing("/recipe/1/a/", "/recipe/2/b/", "/recipe/3/c/", extra='<a rel="next" href="?p=2">n</a>')),
    )
    for n, slug in ((1, "a"), (2, "b"), (3, "c")):
        server.route(f"/recipe/{n}/{slug}/", recipe(slug))
    crawler = make_crawler(limit=2, max_pages=5, obey_robots=False)
    outcomes = list(crawler.crawl_category(server.url("/list/")))
    assert [type(o) for o in outcomes] == [Page, Page]
    assert server.paths() == ["/list/", "/recipe/1/a/", "/recipe/2/b/"]
    assert crawler.stats.fetched == 2


def test_crawl_yields_pages_as_they_are_fetched(server, make_crawler):
    server.route("/list/", (200, HTML, mntl_listing("/recipe/1/a/", "/recipe/2/b/")))
    server.route("/recipe/1/a/", recipe("a"))
    server.route("/recipe/2/b/", recipe("b"))
    outcomes = make_crawler(obey_robots=False).crawl_category(server.url("/list/"))
    first = next(outcomes)
    assert first.url.endswith("/recipe/1/a/")
    assert server.paths() == ["/list/", "/recipe/1/a/"]  # nothing fetched ahead of the consumer


@pytest.mark.parametrize(
    "reply, expected",
    [
        ((403, HTML, b"denied"), Failed("", "site refuses automated access (HTTP 403)", 403, True)),
        ((404, HTML, b"gone"), Failed("", "HTTP 404", 404, False)),
        ((200, {"Content-Type": "application/json"}, b"{}"), Skipped("", "not-html")),
    ],
)
def test_listing_problems_are_yielded_and_end_the_crawl(server, make_crawler, reply, expected):
    server.route("/list/", reply)
    outcomes = list(make_crawler(obey_robots=False).crawl_category(server.url("/list/")))
    assert outcomes == [replace(expected, url=server.url("/list/"))]


def test_links_to_other_sites_are_not_followed(server, other_server, make_crawler):
    server.route("/list/", (200, HTML, mntl_listing(other_server.url("/recipe/9/elsewhere/"), "/recipe/1/a/")))
    server.route("/recipe/1/a/", recipe("a"))
    other_server.route("/recipe/9/elsewhere/", recipe("elsewhere"))
    crawler = make_crawler(obey_robots=False)
    outcomes = list(crawler.crawl_category(server.url("/list/")))
    assert outcomes[0] == Skipped(other_server.url("/recipe/9/elsewhere/"), "off-site")
    assert isinstance(outcomes[1], Page)
    assert other_server.paths() == []
    assert crawler.stats.skipped_other == 1


def test_links_to_other_sites_are_followed_when_allowed(server, other_server, make_crawler):
    server.route("/list/", (200, HTML, mntl_listing(other_server.url("/recipe/9/elsewhere/"))))
    other_server.route("/robots.txt", ALLOW_ALL)
    other_server.route("/recipe/9/elsewhere/", recipe("elsewhere"))
    outcomes = list(make_crawler(same_site_only=False).crawl_category(server.url("/list/")))
    assert [type(o) for o in outcomes] == [Page]
    assert other_server.paths() == ["/robots.txt", "/recipe/9/elsewhere/"]


def test_redirects_are_followed_and_non_recipe_targets_skipped(server, make_crawler):
    server.route("/list/", (200, HTML, mntl_listing("/recipe/5/moved/", "/recipe/6/deleted/")))
    server.route("/recipe/5/moved/", (301, {"Location": "/moved-recipe-5"}, b""))
    server.route("/moved-recipe-5", recipe("moved"))
    server.route("/recipe/6/deleted/", (301, {"Location": "/recipes/"}, b""))
    server.route("/recipes/", (200, HTML, html("home")))
    outcomes = list(make_crawler(obey_robots=False).crawl_category(server.url("/list/")))
    assert outcomes[0].url == server.url("/moved-recipe-5")
    assert outcomes[0].requested_url == server.url("/recipe/5/moved/")
    assert outcomes[1] == Skipped(server.url("/recipe/6/deleted/"), "not-recipe-url")


# -- robots.txt ---------------------------------------------------------------


def test_recipes_disallowed_by_robots_are_skipped_and_never_requested(server, make_crawler, caplog):
    server.route("/robots.txt", (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /recipe/2/\n"))
    server.route("/list/", (200, HTML, mntl_listing("/recipe/1/a/", "/recipe/2/b/", "/recipe/3/c/")))
    for n, slug in ((1, "a"), (2, "b"), (3, "c")):
        server.route(f"/recipe/{n}/{slug}/", recipe(slug))
    crawler = make_crawler()
    with caplog.at_level(logging.INFO, logger="recipe_alert.crawler"):
        outcomes = list(crawler.crawl_category(server.url("/list/")))
    assert kinds(outcomes) == [("Page", "/recipe/1/a/"), ("Skipped", "/recipe/2/b/ robots"), ("Page", "/recipe/3/c/")]
    assert "/recipe/2/b/" not in server.paths()
    assert crawler.stats.skipped_robots == 1
    assert any("robots.txt disallows" in r.getMessage() and "/recipe/2/b/" in r.getMessage() for r in caplog.records)


def test_robots_group_for_our_user_agent_wins(server, make_crawler):
    robots = b"User-agent: *\nDisallow:\n\nUser-agent: calorie-alert-crawler\nDisallow: /recipe/\n"
    server.route("/robots.txt", (200, {"Content-Type": "text/plain"}, robots))
    server.route("/recipe/1/a/", recipe("a"))
    outcomes = list(make_crawler().fetch_urls([server.url("/recipe/1/a/")]))
    assert outcomes == [Skipped(server.url("/recipe/1/a/"), "robots")]


@pytest.mark.parametrize(
    "crawl_delay, expected_sleeps",
    [(5, [5.0, 5.0]), (1, [2.0, 2.0])],  # Crawl-delay only counts when longer than --delay
)
def test_robots_crawl_delay_is_honoured_when_longer(server, make_crawler, fake_time, crawl_delay, expected_sleeps):
    robots = f"User-agent: *\nCrawl-delay: {crawl_delay}\nDisallow:\n".encode()
    server.route("/robots.txt", (200, {"Content-Type": "text/plain"}, robots))
    server.route("/recipe/1/a/", recipe("a"))
    server.route("/recipe/2/b/", recipe("b"))
    list(make_crawler().fetch_urls([server.url("/recipe/1/a/"), server.url("/recipe/2/b/")]))
    assert fake_time.sleeps == expected_sleeps


@pytest.mark.parametrize(
    "robots_reply, expected, robots_requests",
    [
        ((401, HTML, b"who?"), Skipped("", "robots"), 1),
        ((403, HTML, b"bots go away"), Failed("", "site refuses automated access (HTTP 403 on robots.txt)", 403, True), 1),
        ((402, HTML, b"pay"), Failed("", "site refuses automated access (HTTP 402 on robots.txt)", 402, True), 1),
        ((503, HTML, b"later"), Failed("", "robots.txt unavailable (HTTP 503)", 503, False), 2),
    ],
)
def test_robots_status_decides_access(server, make_crawler, robots_reply, expected, robots_requests):
    server.route("/robots.txt", robots_reply)
    server.route("/recipe/1/a/", recipe("a"))
    url = server.url("/recipe/1/a/")
    outcomes = list(make_crawler(retries=1).fetch_urls([url, server.url("/recipe/1/a/?again=1")]))
    assert outcomes[0] == replace(expected, url=url)
    assert server.count("/robots.txt") == robots_requests  # fetched once per crawl, retried only on 5xx
    assert not any(p.startswith("/recipe/") for p in server.paths())


def test_missing_robots_allows_everything(server, make_crawler):
    server.route("/robots.txt", (404, HTML, b"no such file"))
    server.route("/recipe/1/a/", recipe("a"))
    outcomes = list(make_crawler().fetch_urls([server.url("/recipe/1/a/")]))
    assert [type(o) for o in outcomes] == [Page]
    assert server.paths() == ["/robots.txt", "/recipe/1/a/"]


def test_robots_can_be_ignored(server, make_crawler):
    server.route("/robots.txt", (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /\n"))
    server.route("/recipe/1/a/", recipe("a"))
    outcomes = list(make_crawler(obey_robots=False).fetch_urls([server.url("/recipe/1/a/")]))
    assert [type(o) for o in outcomes] == [Page]
    assert server.paths() == ["/recipe/1/a/"]


# -- redirects: every hop is checked like the first request ------------------


def redirect(location: str, status: int = 302) -> tuple[int, dict, bytes]:
    return status, {"Location": location}, b""


def test_redirect_chains_are_followed_hop_by_hop_up_to_the_limit(server, make_crawler, fake_time):
    statuses = (301, 302, 303, 307, 308)
    assert len(statuses) == MAX_REDIRECTS
    server.route("/robots.txt", ALLOW_ALL)
    for hop, status in enumerate(statuses):
        server.route(f"/recipe/{hop}/x/", redirect(server.url(f"/recipe/{hop + 1}/x/"), status))
    server.route(f"/recipe/{MAX_REDIRECTS}/x/", recipe("moved"))
    [outcome] = make_crawler().fetch_urls([server.url("/recipe/0/x/")])
    assert isinstance(outcome, Page)
    assert (outcome.requested_url, outcome.url) == (server.url("/recipe/0/x/"), server.url("/recipe/5/x/"))
    assert server.paths() == ["/robots.txt"] + [f"/recipe/{hop}/x/" for hop in range(MAX_REDIRECTS + 1)]
    assert fake_time.sleeps == [2.0] * (MAX_REDIRECTS + 1)  # each hop waits its turn like any request


def test_redirect_loops_fail_after_the_limit(server, make_crawler):
    server.route("/recipe/1/a/", redirect("/recipe/1/a/?again"))
    server.route("/recipe/1/a/?again", redirect("/recipe/1/a/"))
    [outcome] = make_crawler(obey_robots=False).fetch_urls([server.url("/recipe/1/a/")])
    assert outcome == Failed(server.url("/recipe/1/a/"), "too many redirects (more than 5)", 302, False)
    assert len(server.paths()) == MAX_REDIRECTS + 1


def test_relative_location_is_resolved_against_the_redirecting_url(server, make_crawler):
    server.route("/recipe/1/a/", redirect("../../2/b/"))
    server.route("/recipe/2/b/", recipe("b"))
    [outcome] = make_crawler(obey_robots=False).fetch_urls([server.url("/recipe/1/a/")])
    assert outcome.url == server.url("/recipe/2/b/")


@pytest.mark.parametrize("headers", [{}, {"Location": ""}, {"Location": "ftp://127.0.0.1/recipe/2/b/"}])
def test_redirect_without_a_usable_location_fails(server, make_crawler, headers):
    server.route("/recipe/1/a/", (303, headers, b""))
    [outcome] = make_crawler(obey_robots=False).fetch_urls([server.url("/recipe/1/a/")])
    assert outcome == Failed(server.url("/recipe/1/a/"), "HTTP 303 redirect without a usable Location", 303, False)


def test_redirect_to_another_site_is_refused(server, other_server, make_crawler, caplog):
    server.route("/list/", (200, HTML, mntl_listing("/recipe/1/a/")))
    server.route("/recipe/1/a/", redirect(other_server.url("/recipe/9/x/?token=s3cret")))
    other_server.route("/recipe/9/x/", recipe("elsewhere"))
    with caplog.at_level(logging.WARNING, logger="recipe_alert.crawler"):
        outcomes = list(make_crawler(obey_robots=False).crawl_category(server.url("/list/")))
    where = f"127.0.0.1:{other_server.port}"
    assert outcomes == [Failed(server.url("/recipe/1/a/"), f"redirect to {where} refused: off-site", None, False)]
    assert other_server.paths() == []
    assert not any("s3cret" in r.getMessage() for r in caplog.records)


def test_redirect_to_another_site_is_followed_when_other_sites_are_allowed(server, other_server, make_crawler):
    server.route("/list/", (200, HTML, mntl_listing("/recipe/1/a/")))
    server.route("/recipe/1/a/", redirect(other_server.url("/recipe/9/x/")))
    other_server.route("/recipe/9/x/", recipe("elsewhere"))
    outcomes = list(make_crawler(obey_robots=False, same_site_only=False).crawl_category(server.url("/list/")))
    assert [o.url for o in outcomes] == [other_server.url("/recipe/9/x/")]


def test_redirect_target_disallowed_by_robots_is_skipped_and_never_requested(server, make_crawler):
    server.route("/robots.txt", (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"))
    server.route("/recipe/1/a/", redirect("/private/recipe/1/a/"))
    server.route("/private/recipe/1/a/", recipe("a"))
    crawler = make_crawler()
    [outcome] = crawler.fetch_urls([server.url("/recipe/1/a/")])
    assert outcome == Skipped(server.url("/recipe/1/a/"), "robots")
    assert server.count("/private/recipe/1/a/") == 0
    assert crawler.stats.skipped_robots == 1


def test_redirect_target_is_checked_against_the_robots_of_its_own_origin(server, other_server, make_crawler):
    server.route("/robots.txt", ALLOW_ALL)
    server.route("/recipe/1/a/", redirect(other_server.url("/recipe/9/x/")))
    other_server.route("/robots.txt", (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /recipe/\n"))
    other_server.route("/recipe/9/x/", recipe("elsewhere"))
    [outcome] = make_crawler(same_site_only=False).fetch_urls([server.url("/recipe/1/a/")])
    assert outcome == Skipped(server.url("/recipe/1/a/"), "robots")
    assert other_server.paths() == ["/robots.txt"]


def test_robots_txt_redirects_are_followed_even_to_another_site(server, other_server, make_crawler):
    server.route("/robots.txt", redirect(other_server.url("/robots.txt"), 301))  # RFC 9309 allows it
    other_server.route("/robots.txt", (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /recipe/\n"))
    [outcome] = make_crawler().fetch_urls([server.url("/recipe/1/a/")])
    assert outcome == Skipped(server.url("/recipe/1/a/"), "robots")
    assert (server.paths(), other_server.paths()) == (["/robots.txt"], ["/robots.txt"])


# "localhost" is really 127.0.0.1 here, but the address check is told it is public: a crawl that started outside.
AS_IF_PUBLIC = {"localhost": [PUBLIC], "metadata.internal": [PUBLIC, "169.254.169.254"]}


@pytest.mark.parametrize(
    "target, where",
    [
        ("{server}/admin/", "127.0.0.1:{port}"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[::ffff:10.0.0.1]/", "[::ffff:10.0.0.1]"),
        ("http://metadata.internal/computeMetadata/v1/", "metadata.internal"),  # any of its addresses is enough
    ],
)
def test_redirect_to_an_internal_address_is_refused_when_the_crawl_started_outside(
    server, make_crawler, target, where
):
    target, where = (t.format(server=server.base_url, port=server.port) for t in (target, where))
    start = f"http://localhost:{server.port}/recipe/1/a/"
    server.route("/recipe/1/a/", redirect(target))
    server.route("/admin/", recipe("secret"))
    crawler = make_crawler(resolve=dns(AS_IF_PUBLIC), obey_robots=False, same_site_only=False, retries=0, timeout=0.5)
    [outcome] = crawler.fetch_urls([start])
    assert outcome == Failed(start, f"redirect to {where} refused: internal address", None, False)
    assert server.paths() == ["/recipe/1/a/"]


def test_robots_txt_redirect_to_an_internal_address_is_refused_when_the_crawl_started_outside(server, make_crawler):
    start = f"http://localhost:{server.port}/recipe/1/a/"
    server.route("/robots.txt", redirect(server.url("/internal-robots.txt")))
    server.route("/internal-robots.txt", ALLOW_ALL)
    [outcome] = make_crawler(resolve=dns(AS_IF_PUBLIC)).fetch_urls([start])
    why = f"robots.txt unreachable: redirect to 127.0.0.1:{server.port} refused: internal address"
    assert outcome == Failed(start, why, None, False)
    assert server.paths() == ["/robots.txt"]


def test_links_to_internal_addresses_are_refused_when_the_crawl_started_outside(server, make_crawler):
    server.route("/list/", (200, HTML, mntl_listing(server.url("/recipe/1/a/"))))
    server.route("/recipe/1/a/", recipe("a"))
    crawler = make_crawler(resolve=dns(AS_IF_PUBLIC), obey_robots=False, same_site_only=False)
    outcomes = list(crawler.crawl_category(f"http://localhost:{server.port}/list/"))
    why = f"request to 127.0.0.1:{server.port} refused: internal address"
    assert outcomes == [Failed(server.url("/recipe/1/a/"), why, None, False)]
    assert server.paths() == ["/list/"]


def test_internal_addresses_are_allowed_when_the_crawl_starts_on_one(server, make_crawler):
    server.route("/recipe/1/a/", redirect(f"http://localhost:{server.port}/recipe/2/b/"))
    server.route("/recipe/2/b/", recipe("b"))
    crawler = make_crawler(obey_robots=False, same_site_only=False)  # localhost resolves to 127.0.0.1
    [outcome] = crawler.fetch_urls([server.url("/recipe/1/a/")])
    assert isinstance(outcome, Page) and outcome.url == f"http://localhost:{server.port}/recipe/2/b/"


@pytest.mark.parametrize(
    "address, internal",
    [
        ("127.0.0.1", True), ("127.8.9.10", True), ("10.1.2.3", True), ("172.16.0.1", True), ("172.31.255.255", True),
        ("192.168.1.1", True), ("169.254.169.254", True), ("100.64.0.1", True), ("0.0.0.0", True), ("::1", True),
        ("::", True), ("fd00::1", True), ("fe80::1%eth0", True), ("::ffff:127.0.0.1", True),
        ("::ffff:169.254.169.254", True),
        ("8.8.8.8", False), ("172.32.0.1", False), ("192.169.0.1", False), ("2606:4700::1111", False),
        ("::ffff:8.8.8.8", False),
    ],
)
def test_is_internal_address(address, internal):
    assert is_internal_address(address) is internal


def test_resolve_host_returns_no_address_when_dns_fails(monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    assert "127.0.0.1" in resolve_host("localhost")  # from /etc/hosts
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert resolve_host("recipes.example") == []  # the request then fails on DNS as it always did


# -- delays -------------------------------------------------------------------


@pytest.mark.parametrize("busy_for, expected_sleeps", [(0.0, [2.0]), (0.5, [1.5]), (5.0, [])])
def test_delay_counts_time_already_spent_elsewhere(server, make_crawler, fake_time, busy_for, expected_sleeps):
    server.route("/recipe/1/a/", recipe("a"))
    server.route("/recipe/2/b/", recipe("b"))
    outcomes = make_crawler(obey_robots=False).fetch_urls([server.url("/recipe/1/a/"), server.url("/recipe/2/b/")])
    next(outcomes)
    fake_time.now += busy_for  # e.g. the producer publishing the page
    next(outcomes)
    assert fake_time.sleeps == expected_sleeps


def test_delay_is_per_host(server, other_server, make_crawler, fake_time):
    server.route("/recipe/1/a/", recipe("a"))
    other_server.route("/recipe/2/b/", recipe("b"))
    list(make_crawler(obey_robots=False).fetch_urls([server.url("/recipe/1/a/"), other_server.url("/recipe/2/b/")]))
    assert fake_time.sleeps == []


# -- errors and retries -------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says(server, make_crawler, fake_time):
    server.route("/recipe/1/a/", (429, {"Retry-After": "7"}, b"slow down"), recipe("a"))
    outcomes = list(make_crawler(obey_robots=False).fetch_urls([server.url("/recipe/1/a/")]))
    assert [type(o) for o in outcomes] == [Page]
    assert fake_time.sleeps == [7.0]
    assert server.count("/recipe/1/a/") == 2


def test_retry_after_http_date_is_capped(server, make_crawler, fake_time):
    far = format_datetime(datetime.now(timezone.utc) + timedelta(days=1), usegmt=True)
    server.route("/recipe/1/a/", (503, {"Retry-After": far}, b"maintenance"), recipe("a"))
    outcomes = list(make_crawler(obey_robots=False).fetch_urls([server.url("/recipe/1/a/")]))
    assert [type(o) for o in outcomes] == [Page]
    assert fake_time.sleeps == [MAX_RETRY_WAIT]


@pytest.mark.parametrize(
    "statuses, expected_sleeps",
    [((500,), [1.0]), ((503, 502), [1.0, 2.0]), ((500, 500, 500), [1.0, 2.0, 4.0])],
)
def test_server_errors_are_retried_with_exponential_backoff(server, make_crawler, fake_time, statuses, expected_sleeps):
    server.route("/recipe/1/a/", *[(s, HTML, b"oops") for s in statuses], recipe("a"))
    outcomes = list(make_crawler(obey_robots=False, delay=0.5, retries=3).fetch_urls([server.url("/recipe/1/a/")]))
    assert [type(o) for o in outcomes] == [Page]
    assert fake_time.sleeps == expected_sleeps


def test_server_errors_fail_after_the_last_retry(server, make_crawler, fake_time):
    server.route("/recipe/1/a/", (500, HTML, b"oops"))
    crawler = make_crawler(obey_robots=False, delay=0.5, retries=2)
    outcomes = list(crawler.fetch_urls([server.url("/recipe/1/a/")]))
    assert outcomes == [Failed(server.url("/recipe/1/a/"), "HTTP 500", 500, False)]
    assert server.count("/recipe/1/a/") == 3
    assert fake_time.sleeps == [1.0, 2.0]
    assert (crawler.stats.failed, crawler.stats.blocked) == (1, 0)


@pytest.mark.parametrize("status", [402, 403])
def test_bot_protection_is_reported_as_blocked_without_retrying(server, make_crawler, caplog, status):
    server.route("/recipe/1/a/", (status, HTML, b"are you a robot?"))
    server.route("/recipe/2/b/", (status, HTML, b"are you a robot?"))
    crawler = make_crawler(obey_robots=False)
    with caplog.at_level(logging.WARNING, logger="recipe_alert.crawler"):
        outcomes = list(crawler.fetch_urls([server.url("/recipe/1/a/"), server.url("/recipe/2/b/")]))
    assert [(o.status, o.blocked) for o in outcomes] == [(status, True), (status, True)]
    assert server.paths() == ["/recipe/1/a/", "/recipe/2/b/"]
    advice = [r for r in caplog.records if "--from-dir" in r.getMessage()]
    assert len(advice) == 1  # explained once per site, not once per URL
    assert "refuses automated access" in advice[0].getMessage() and "--url" in advice[0].getMessage()
    assert (crawler.stats.failed, crawler.stats.blocked) == (2, 2)


def test_404_is_not_retried(server, make_crawler):
    server.route("/recipe/1/a/", (404, HTML, b"gone"))
    outcomes = list(make_crawler(obey_robots=False).fetch_urls([server.url("/recipe/1/a/")]))
    assert outcomes == [Failed(server.url("/recipe/1/a/"), "HTTP 404", 404, False)]
    assert server.count("/recipe/1/a/") == 1


def test_a_stalled_response_times_out_and_is_retried(server, make_crawler, fake_time):
    def stall(exchange):
        exchange.wait(2.0)  # ends early when the server stops
        return recipe("late")

    server.route("/recipe/1/a/", stall)
    outcomes = list(make_crawler(obey_robots=False, timeout=0.5, retries=1).fetch_urls([server.url("/recipe/1/a/")]))
    assert len(outcomes) == 1 and isinstance(outcomes[0], Failed)
    assert "timeout" in outcomes[0].reason and outcomes[0].status is None
    assert server.count("/recipe/1/a/") == 2
    assert fake_time.sleeps == [2.0]  # the --delay is longer than the first backoff step


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_fails_with_one_clear_reason(make_crawler, fake_time, caplog):
    url = f"http://127.0.0.1:{closed_port()}/recipe/1/a/"
    with caplog.at_level(logging.WARNING, logger="recipe_alert.crawler"):
        outcomes = list(make_crawler(obey_robots=False, retries=1, delay=0.0).fetch_urls([url]))
    assert outcomes == [Failed(url, "connection to 127.0.0.1 failed: Connection refused", None, False)]
    assert fake_time.sleeps == [1.0]
    assert any(r.getMessage() == f"GET {url} failed: connection to 127.0.0.1 failed: Connection refused"
               for r in caplog.records)


def test_unreachable_robots_means_the_host_is_not_crawled(make_crawler):
    url = f"http://127.0.0.1:{closed_port()}/recipe/1/a/"
    outcomes = list(make_crawler(retries=0).fetch_urls([url]))
    assert outcomes[0].reason == "robots.txt unreachable: connection to 127.0.0.1 failed: Connection refused"


class DNSFailure(requests.adapters.BaseAdapter):
    """Fails like an unknown host name, without asking a real resolver."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def send(self, request, **kwargs):
        self.calls += 1
        cause = NameResolutionError("no-such-host.test", None, socket.gaierror(-2, "Name or service not known"))
        raise requests.ConnectionError(MaxRetryError(None, request.url, cause), request=request)

    def close(self) -> None:
        pass


def test_dns_failure_is_not_retried(make_crawler, fake_time, caplog):
    session = requests.Session()
    adapter = DNSFailure()
    session.mount("http://no-such-host.test/", adapter)
    url = "http://no-such-host.test/recipe/1/a/"
    with caplog.at_level(logging.WARNING, logger="recipe_alert.crawler"):
        outcomes = list(make_crawler(session=session, retries=3).fetch_urls([url]))
    reason = "cannot resolve host 'no-such-host.test' (DNS lookup failed)"
    assert outcomes == [Failed(url, f"robots.txt unreachable: {reason}", None, False)]
    assert adapter.calls == 1
    assert fake_time.sleeps == []
    assert any(reason in r.getMessage() for r in caplog.records)


# -- what is kept -------------------------------------------------------------


def big_body(size: int) -> bytes:
    return html("x" * size)


@pytest.mark.parametrize(
    "responder",
    [
        pytest.param((200, HTML, big_body(5000)), id="content-length"),
        # Declares a huge body and sends none: reading it would hit the timeout instead.
        pytest.param((200, {**HTML, "Content-Length": str(10**12)}, b""), id="declared-only"),
        pytest.param(lambda ex: ex.send_chunked(200, HTML, pieces(big_body(5000))), id="chunked"),
        # 64 MB: endless as far as a 4000-byte cap is concerned, yet finite if the cap ever breaks.
        pytest.param(lambda ex: ex.send_chunked(200, HTML, itertools.repeat(b"<p>x</p>" * 512, 16384)), id="endless"),
        pytest.param(lambda ex: ex.send_unframed(200, HTML, big_body(5000)), id="no-length"),
    ],
)
def test_responses_over_max_bytes_are_abandoned(server, make_crawler, responder):
    server.route("/recipe/1/a/", responder)
    crawler = make_crawler(obey_robots=False, max_bytes=4000, timeout=0.5, retries=0)
    outcomes = list(crawler.fetch_urls([server.url("/recipe/1/a/")]))
    assert outcomes == [Skipped(server.url("/recipe/1/a/"), "too-big")]
    assert crawler.stats.skipped_too_big == 1


@pytest.mark.parametrize(
    "responder",
    [
        pytest.param((200, HTML, big_body(3900)), id="content-length"),
        pytest.param(lambda ex: ex.send_chunked(200, HTML, pieces(big_body(3900))), id="chunked"),
        pytest.param(lambda ex: ex.send_unframed(200, HTML, big_body(3900)), id="no-length"),
    ],
)
def test_responses_within_max_bytes_are_kept_whole(server, make_crawler, responder):
    server.route("/recipe/1/a/", responder)
    outcomes = list(make_crawler(obey_robots=False, max_bytes=4000).fetch_urls([server.url("/recipe/1/a/")]))
    assert [o.body for o in outcomes] == [big_body(3900)]


@pytest.mark.parametrize(
    "content_type, kept",
    [
        ("application/json", False),
        ("application/pdf", False),
        ("text/plain; charset=utf-8", False),
        ("application/xhtml+xml", True),
        ("TEXT/HTML;charset=ISO-8859-1", True),
    ],
)
def test_only_html_is_kept(server, make_crawler, content_type, kept):
    server.route("/recipe/1/a/", (200, {"Content-Type": content_type}, b"<html></html>"))
    crawler = make_crawler(obey_robots=False)
    [outcome] = crawler.fetch_urls([server.url("/recipe/1/a/")])
    if kept:
        assert isinstance(outcome, Page)
    else:
        assert outcome == Skipped(server.url("/recipe/1/a/"), "not-html")
    assert crawler.stats.skipped_not_html == (0 if kept else 1)


def test_fetch_urls_skips_duplicates_and_non_http_urls(server, make_crawler):
    server.route("/recipe/1/a/", recipe("a"))
    urls = [server.url("/recipe/1/a/"), server.url("/recipe/1/a#reviews"), "ftp://example.com/recipe/1/a/"]
    outcomes = list(make_crawler(obey_robots=False).fetch_urls(urls))
    assert [type(o) for o in outcomes] == [Page, Skipped, Failed]
    assert outcomes[1] == Skipped(urls[1], "duplicate")
    assert outcomes[2] == Failed(urls[2], "not an http(s) URL", None, False)
    assert server.paths() == ["/recipe/1/a/"]


def test_fetch_urls_respects_limit(server, make_crawler):
    server.route("/recipe/1/a/", (404, HTML, b""))
    server.route("/recipe/2/b/", recipe("b"))
    server.route("/recipe/3/c/", recipe("c"))
    urls = [server.url(p) for p in ("/recipe/1/a/", "/recipe/2/b/", "/recipe/3/c/")]
    outcomes = list(make_crawler(obey_robots=False, limit=1).fetch_urls(urls))
    assert [type(o) for o in outcomes] == [Failed, Page]  # the limit counts fetched pages
    assert server.paths() == ["/recipe/1/a/", "/recipe/2/b/"]


# -- the bundled demo site ----------------------------------------------------

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "site"


def test_crawls_the_bundled_demo_site(make_crawler):
    with LocalHTTPServer(directory=SAMPLES) as site:
        crawler = make_crawler()
        outcomes = list(crawler.crawl_category(site.url("/recipes/96/salad/")))
        assert kinds(outcomes) == [
            ("Page", "/recipe/12345/four-cheese-margherita-pizza/"),
            ("Page", "/recipe/23456/grilled-chicken-caesar-salad/"),
            ("Page", "/recipe/34567/quinoa-black-bean-salad/"),
            ("Page", "/cucumber-dill-salad-recipe-45678"),
            ("Page", "/recipe/56789/warm-lentil-salad/"),
            ("Page", "/cook/8675309/recipe/3f2a9c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6"),
        ]
        pizza = outcomes[0]
        assert b"Four Cheese Margherita Pizza" in pizza.body and b'"551 kcal"' in pizza.body
        assert b'href="https://www.allrecipes.com/recipe/12345/four-cheese-margherita-pizza/"' in pizza.body
        assert site.paths()[:2] == ["/robots.txt", "/recipes/96/salad/"]
        assert not any("/article/" in p or "/gallery/" in p for p in site.paths())


def test_directory_serving_stays_inside_the_directory():
    with LocalHTTPServer(directory=SAMPLES / "recipes") as site, requests.Session() as session:
        session.trust_env = False
        assert session.get(site.url("/96/salad/"), timeout=5).status_code == 200
        assert session.get(site.url("/96/salad/index.html"), timeout=5).headers["Content-Type"].startswith("text/html")
        assert session.get(site.url("/missing/"), timeout=5).status_code == 404
        # samples/site/robots.txt exists, one level above the served directory.
        assert session.get(site.url("/%2e%2e/robots.txt"), timeout=5).status_code == 404
