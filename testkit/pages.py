"""Realistic bloated recipe pages, for the parser's tests and benchmarks.

Real recipe pages weigh 200 KB-2 MB, and the recipe is a small part of that:
the rest is inline scripts, JSON state blobs, CSS, SVG sprites, navigation,
ad slots and related-recipe cards. ``make_page`` wraps one of our small
fixture pages in such bloat, so the bloated page must parse to the same
record as the fixture (its golden ``.json``).

The bloat never carries anything a recipe parser reads (h1, og:title,
itemprop/itemtype, ingredient classes, a Recipe in ld+json), but it does
carry the traps real pages have: ``</div>`` and ``<script`` inside JS strings,
"recipe" and "calories" in JSON that is not ld+json, extra non-Recipe
ld+json blocks.
"""

from __future__ import annotations

import json
import random
import re

from . import ROOT

FIXTURE_PAGES = ROOT / "tests" / "fixtures" / "pages"


def fixture_counts() -> tuple[int, int]:
    """(pages, recipes) in FIXTURE_PAGES: a page whose golden record is an error is no recipe."""
    pages = sorted(FIXTURE_PAGES.glob("*.html"))
    recipes = sum("error" not in json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))
                  for p in pages)
    return len(pages), recipes

# Fixtures that make sense as the core of a big page (UTF-8, one recipe each).
LAYOUTS = (
    "legacy-2018",
    "legacy-2020",
    "jsonld-2020",
    "jsonld-2021",
    "mntl-2024",
    "mntl-2026",
    "user-recipe-2022",
    "wordpress-graph",
    "microdata-other-site",
)

_WORDS = (
    "recipe dinner chicken easy quick healthy vegetarian dessert pasta salad soup "
    "grill bake slow cooker instant pot breakfast lunch holiday budget family kids "
    "calories protein carbs rating review video share save print newsletter"
).split()

_HEAD_END = re.compile(rb"</head\s*>", re.I)
_BODY_START = re.compile(rb"<body\b[^>]*>", re.I)
_BODY_END = re.compile(rb"</body\s*>", re.I)


def make_page(recipe_layout: str, target_size: int, seed: int) -> bytes:
    """The fixture page ``recipe_layout`` bloated to about ``target_size`` bytes."""
    core = (FIXTURE_PAGES / f"{recipe_layout}.html").read_bytes()
    rng = random.Random(f"{recipe_layout}:{seed}")
    budget = max(0, target_size - len(core))
    # Roughly where real pages carry their weight: scripts up top, markup below.
    head = _site_graph(rng).encode() + b"\n" + _bloat(rng, int(budget * 0.35), _HEAD_PIECES)
    top = _bloat(rng, int(budget * 0.25), _BODY_PIECES)
    bottom = _bloat(rng, budget - len(head) - len(top), _BODY_PIECES + _FOOTER_PIECES)
    core = _insert(core, _HEAD_END, head, before=True)
    core = _insert(core, _BODY_START, top, before=False)
    return _insert(core, _BODY_END, bottom, before=True)


def _insert(page: bytes, where: re.Pattern, chunk: bytes, *, before: bool) -> bytes:
    match = where.search(page)
    if match is None:
        return page + chunk
    at = match.start() if before else match.end()
    return page[:at] + chunk + page[at:]


def _bloat(rng: random.Random, size: int, pieces) -> bytes:
    parts, total = [], 0
    while total < size:
        piece = rng.choice(pieces)(rng).encode("utf-8")
        parts.append(piece)
        total += len(piece)
    return b"\n".join(parts)


def _ident(rng: random.Random) -> str:
    return rng.choice("abcdefghijklmnopqrstuvwxyz_$") + "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(1, 7)))


def _phrase(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def _inline_script(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(40, 400)):
        a, b, c = _ident(rng), _ident(rng), _ident(rng)
        lines.append(rng.choice((
            f"var {a}=function({b},{c}){{return {b}&&{b}.{c}||{rng.randint(0, 999)}}};",
            f"{a}.{b}=\"{_phrase(rng, 3)}\";",
            f"if({a}<{b}.length&&{c}>0){{{a}++}}",
            f"{a}.innerHTML='<div class=\"{b}\">'+{c}+'</div>';",
            f"document.write('<scr'+'ipt src=\"/js/{a}.js\"></scr'+'ipt>');",
            f"window['{a}']=window['{a}']||[];window['{a}'].push({{event:'{b}',ts:{rng.randint(10**9, 10**10)}}});",
        )))
    return "<script>\n" + "\n".join(lines) + "\n</script>"


def _state_blob(rng: random.Random) -> str:
    items = [{
        "id": rng.randint(1, 10**7),
        "title": _phrase(rng, 4),
        "type": rng.choice(["recipe", "article", "gallery"]),
        "url": f"https://www.allrecipes.com/recipe/{rng.randint(1000, 300000)}/{_ident(rng)}/",
        "nutrition": {"calories": rng.randint(50, 900)},
        "tags": [_ident(rng) for _ in range(rng.randint(2, 8))],
    } for _ in range(rng.randint(20, 250))]
    payload = json.dumps({"props": {"pageProps": {"items": items, "ads": {"slots": rng.randint(3, 12)}}}})
    return f'<script id="__STATE_{_ident(rng)}" type="application/json">{payload}</script>'


def _style(rng: random.Random) -> str:
    rules = "".join(
        f".{_ident(rng)}-{_ident(rng)}{{margin:{rng.randint(0, 40)}px;color:#{rng.randint(0, 0xffffff):06x};"
        f"font:{rng.randint(10, 30)}px/1.4 sans-serif}}\n"
        for _ in range(rng.randint(50, 400)))
    return f"<style>{rules}</style>"


def _breadcrumb_ldjson(rng: random.Random) -> str:
    crumbs = [{"@type": "ListItem", "position": i + 1, "item": {"@id": f"https://www.allrecipes.com/recipes/{rng.randint(1, 999)}/", "name": _phrase(rng, 2)}}
              for i in range(rng.randint(2, 4))]
    return ('<script type="application/ld+json">'
            + json.dumps({"@context": "http://schema.org", "@type": "BreadcrumbList", "itemListElement": crumbs})
            + "</script>")


def _site_graph(rng: random.Random) -> str:
    """The site-wide ld+json most recipe pages carry beside the Recipe: an SEO plugin's
    @graph of the page, the site and its publisher, with the readers' comments.

    Real pages' ld+json weighs tens of KB; parsing it is most of the JSON-LD
    path's time (about 0.6 ms a page, where the Recipe alone takes 0.25 ms).
    """
    site = f"https://{_ident(rng)}.example"
    page = f"{site}/{_ident(rng)}/"
    people = [{"@type": "Person", "@id": f"{site}/#/schema/person/{rng.randint(1, 10**9)}",
               "name": _phrase(rng, 2), "url": f"{site}/author/{_ident(rng)}/",
               "image": {"@type": "ImageObject", "url": f"{site}/avatar/{_ident(rng)}.jpg"}}
              for _ in range(rng.randint(1, 3))]
    comments = [{"@type": "Comment", "@id": f"{page}#comment-{rng.randint(1, 10**6)}",
                 "dateCreated": f"20{rng.randint(15, 26)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                 "description": _phrase(rng, rng.randint(10, 90)) + " &amp; " + _phrase(rng, 5),
                 "author": {"@type": "Person", "name": _phrase(rng, 2), "url": f"{site}/u/{_ident(rng)}"}}
                for _ in range(rng.randint(30, 90))]
    graph = [
        {"@type": "Article", "@id": f"{page}#article", "isPartOf": {"@id": page},
         "author": {"@id": people[0]["@id"]}, "headline": _phrase(rng, 6),
         "datePublished": "2024-05-01T08:00:00+00:00", "wordCount": rng.randint(500, 3000),
         "commentCount": len(comments), "publisher": {"@id": f"{site}/#organization"},
         "keywords": [_phrase(rng, 2) for _ in range(rng.randint(3, 12))],
         "articleSection": [_phrase(rng, 1) for _ in range(rng.randint(1, 4))],
         "comment": comments},
        {"@type": "WebPage", "@id": page, "url": page, "name": _phrase(rng, 6),
         "isPartOf": {"@id": f"{site}/#website"}, "breadcrumb": {"@id": f"{page}#breadcrumb"},
         "potentialAction": [{"@type": "ReadAction", "target": [page]}]},
        {"@type": "BreadcrumbList", "@id": f"{page}#breadcrumb", "itemListElement": [
            {"@type": "ListItem", "position": i + 1, "name": _phrase(rng, 2), "item": f"{site}/{_ident(rng)}/"}
            for i in range(rng.randint(2, 4))]},
        {"@type": "WebSite", "@id": f"{site}/#website", "url": site, "name": _phrase(rng, 2),
         "potentialAction": [{"@type": "SearchAction", "query-input": "required name=search_term_string",
                              "target": {"@type": "EntryPoint", "urlTemplate": f"{site}/?s={{search_term_string}}"}}]},
        {"@type": "Organization", "@id": f"{site}/#organization", "name": _phrase(rng, 2), "url": site,
         "logo": {"@type": "ImageObject", "url": f"{site}/logo.png", "width": 512, "height": 512},
         "sameAs": [f"https://{net}.example/{_ident(rng)}" for net in ("facebook", "instagram", "pinterest", "youtube")]},
        *people,
    ]
    return ('<script type="application/ld+json" class="yoast-schema-graph">'
            + json.dumps({"@context": "https://schema.org", "@graph": graph}) + "</script>")


def _svg_sprite(rng: random.Random) -> str:
    symbols = "".join(
        f'<symbol id="icon-{_ident(rng)}" viewBox="0 0 24 24"><path d="M'
        + " ".join(f"{rng.uniform(0, 24):.3f},{rng.uniform(0, 24):.3f}" for _ in range(rng.randint(20, 120)))
        + 'Z"/></symbol>'
        for _ in range(rng.randint(5, 40)))
    return f'<svg xmlns="http://www.w3.org/2000/svg" style="display:none">{symbols}</svg>'


def _nav(rng: random.Random) -> str:
    links = "".join(
        f'<li class="mntl-nav__item"><a class="mntl-nav__link" href="/recipes/{rng.randint(1, 99999)}/{_ident(rng)}/" '
        f'data-tracking="{_ident(rng)}">{_phrase(rng, 2)}</a></li>'
        for _ in range(rng.randint(20, 150)))
    return f'<nav class="mntl-nav" id="{_ident(rng)}"><ul class="mntl-nav__list">{links}</ul></nav>'


def _ad_slot(rng: random.Random) -> str:
    name = _ident(rng)
    return (f'<div id="{name}" class="comp mntl-ad mntl-gpt-adunit gpt leaderboard" data-ad-width="728" '
            f'data-ad-height="90" data-targeting=\'{{"pos":"{name}","rd":"{rng.randint(1, 9)}"}}\'>'
            f'<div class="wrapper"><div class="mntl-ad__inner"></div></div></div>')


def _related_cards(rng: random.Random) -> str:
    cards = "".join(
        f'<a class="comp mntl-card-list-items mntl-universal-card mntl-document-card" '
        f'href="https://www.allrecipes.com/recipe/{rng.randint(1000, 300000)}/{_ident(rng)}/">'
        f'<div class="card__media"><img src="https://images.example/{_ident(rng)}.jpg" alt="" loading="lazy" width="272" height="182"></div>'
        f'<div class="card__content"><span class="card__title"><span class="card__title-text">{_phrase(rng, 4)}</span></span>'
        f'<div class="mntl-recipe-star-rating"><svg class="icon star"><use href="#icon-star"></use></svg></div>'
        f'<span class="recipe-card-meta__rating-count-number">{rng.randint(1, 9999)} Ratings</span></div></a>'
        for _ in range(rng.randint(4, 24)))
    return f'<div class="comp mntl-three-post__inner">{cards}</div>'


def _comment(rng: random.Random) -> str:
    return f"<!-- {_phrase(rng, rng.randint(3, 30))} -->"


_HEAD_PIECES = (_inline_script, _inline_script, _state_blob, _style, _breadcrumb_ldjson, _comment)
_BODY_PIECES = (_nav, _ad_slot, _ad_slot, _related_cards, _related_cards, _svg_sprite, _inline_script, _comment)
_FOOTER_PIECES = (_state_blob, _inline_script)
