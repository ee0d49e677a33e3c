"""The three scripts as subprocesses, end to end, against the real broker."""

import json
import signal
import time

from recipe_alert.notify_stage.alerts import Alert, should_alert
from recipe_alert.parser import scrape_html
from recipe_alert.urls import is_recipe_url, normalize_url
from testkit import ROOT
from testkit.broker import CONNECTION, header, read_topic, run_script, start_script
from testkit.httpserver import LocalHTTPServer
from testkit.pages import make_page

SITE = ROOT / "samples" / "site"
NOT_A_RECIPE = b"""<!doctype html><html><head><title>10 salads for spring</title>
<link rel="canonical" href="https://www.allrecipes.com/recipe/901/spring-salads/"></head>
<body><h1>10 salads for spring</h1><p>An article, not a recipe.</p></body></html>"""


def sample_pages() -> dict[str, bytes]:
    """Path -> body of every bundled recipe page."""
    pages = {}
    for path in sorted(SITE.rglob("index.html")):
        url_path = "/" + str(path.parent.relative_to(SITE)) + "/"
        if is_recipe_url(url_path):
            pages[url_path] = path.read_bytes()
    return pages


def listing(paths) -> bytes:
    cards = "".join(
        f'<a class="comp mntl-card-list-items mntl-universal-card" href="{p}">'
        f'<span class="card__title-text">{p}</span></a>' for p in paths)
    return f"<!doctype html><html><body><h1>Salads</h1>{cards}</body></html>".encode()


def test_crawl_parse_alert_end_to_end(names):
    pages = sample_pages()
    pages["/recipe/900/bloated-margherita/"] = make_page("mntl-2024", 1_300_000, seed=7)
    assert len(pages["/recipe/900/bloated-margherita/"]) > 1024 * 1024
    with LocalHTTPServer(directory=SITE) as server:
        server.route("/recipes/1/test-salads/", (200, {}, listing([*pages, "/recipe/901/spring-salads/"])))
        server.route("/recipe/901/spring-salads/", (200, {}, NOT_A_RECIPE))
        for path, body in pages.items():
            server.route(path, (200, {}, body))

        produced = run_script("producer_raw_recipes.py", "--topic", names.raw,
                              "--category-url", server.url("/recipes/1/test-salads/"),
                              "--delay", "0")
        assert produced.returncode == 0, produced.stderr
        assert f"fetched {len(pages) + 1}, published {len(pages) + 1}, failed 0" in produced.stderr
        base_url = server.base_url
        fetched_paths = [p for p in server.paths() if p != "/robots.txt" and "recipes/1" not in p]
        assert sorted(fetched_paths) == sorted([*pages, "/recipe/901/spring-salads/"])

    parsed = run_script("producer_consumer_parse_recipes.py", "--input-topic", names.raw,
                        "--output-topic", names.parsed, "--dead-letter-topic", names.dead,
                        "--group", names.parser_group, "--timeout-ms", "2000")
    assert parsed.returncode == 0, parsed.stderr

    expected = {}
    for path, body in pages.items():
        recipe = scrape_html(body, base_url + path)
        expected[recipe["url"]] = recipe
    records = read_topic(names.parsed, expected=len(expected))
    assert {r.key.decode(): json.loads(r.value) for r in records} == expected
    raw_offsets = {(header(r, "source-partition"), header(r, "source-offset")) for r in records}
    assert len(raw_offsets) == len(records)

    dead = read_topic(names.dead, expected=1)
    assert len(dead) == 1
    assert dead[0].value == NOT_A_RECIPE
    assert dead[0].key.decode() == normalize_url("https://www.allrecipes.com/recipe/901/spring-salads/")
    assert header(dead[0], "error-class") == "NotARecipe"
    assert header(dead[0], "source-topic") == names.raw

    alerted = run_script("consumer_notification.py", "--topic", names.parsed,
                         "--group", names.notifier_group, "--alerts-topic", names.alerts,
                         "--timeout-ms", "2000")
    assert alerted.returncode == 0, alerted.stderr
    lines = alerted.stdout.splitlines()
    assert "Alert: Four Cheese Margherita Pizza calories count is 551" in lines
    assert sorted(lines) == sorted(Alert.of(r, 200).line() for r in expected.values()
                                   if should_alert(r, 200))
    assert any(r["calories"] is not None and r["calories"] <= 200 for r in expected.values()), \
        "the samples should include a recipe under the threshold"
    assert any(r["calories"] is None for r in expected.values())


def test_notifier_resumes_after_its_committed_offset(names):
    first = [json.dumps({"title": f"Dish {i}", "calories": 300 + i, "url": f"https://x.test/{i}"})
             for i in range(3)]
    producer = CONNECTION.producer()
    for value in first:
        producer.send(names.parsed, value.encode())
    producer.flush()
    run1 = run_script("consumer_notification.py", "--topic", names.parsed,
                      "--group", names.notifier_group, "--alerts-topic", names.alerts,
                      "--repeat-alerts", "--timeout-ms", "1500")
    assert run1.stdout.splitlines() == [f"Alert: Dish {i} calories count is {300 + i}" for i in range(3)]
    producer.send(names.parsed, json.dumps({"title": "Later", "calories": 999}).encode())
    producer.flush()
    producer.close()
    run2 = run_script("consumer_notification.py", "--topic", names.parsed,
                      "--group", names.notifier_group, "--alerts-topic", names.alerts,
                      "--repeat-alerts", "--timeout-ms", "1500")
    assert run2.stdout.splitlines() == ["Alert: Later calories count is 999"]


def test_sigterm_stops_the_parser_cleanly(names):
    proc = start_script("producer_consumer_parse_recipes.py", "--input-topic", names.raw,
                        "--output-topic", names.parsed, "--dead-letter-topic", names.dead,
                        "--group", names.parser_group)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until it is consuming
        line = proc.stderr.readline()
        if "parsing" in line or not line:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "SIGTERM received" in err


def test_a_blocked_crawl_explains_itself_and_exits_4(names):
    with LocalHTTPServer() as server:
        server.route("/robots.txt", (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"))
        server.route("/recipes/96/salad/", (402, {}, b"Payment Required"))
        result = run_script("producer_raw_recipes.py", "--topic", names.raw, "--delay", "0",
                            "--category-url", server.url("/recipes/96/salad/"))
    assert result.returncode == 4
    assert "refuses automated access (HTTP 402)" in result.stderr
    assert "--from-dir" in result.stderr
    assert "fetched 0, published 0" in result.stderr
    assert read_topic(names.raw, timeout_s=5) == []
