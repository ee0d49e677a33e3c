"""Recipe URLs: one normal form per recipe, used as the Kafka message key."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Sites whose bare domain and www-host serve the same pages.
_WWW_ALIASES = {"allrecipes.com"}
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|src)$", re.I)

# Attribute order varies between eras, so match the tag and read attributes separately.
_LINK_OR_META = re.compile(rb"<(?:link|meta)\b[^>]*>", re.I)
_ATTR = re.compile(rb"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")

RECIPE_PATH_SHAPES = (
    re.compile(r"^/recipe/\d+(?:/[^/]+)?/?$"),          # /recipe/<id>/<slug>/
    re.compile(r"^/[^/]+-recipe-\d+/?$"),                # /<slug>-recipe-<id>
    re.compile(r"^/cook/[^/]+/recipe/[0-9a-fA-F-]+/?$"),  # /cook/<user>/recipe/<uuid>
)


def normalize_url(url: str) -> str:
    """Return the normal form of ``url``.

    https, lower-case host, no default port, no fragment, no tracking
    parameters, no trailing slash; ``allrecipes.com`` becomes
    ``www.allrecipes.com``. ``http://allrecipes.com/recipe/1/x/`` and
    ``https://www.allrecipes.com/recipe/1/x`` give the same key.
    """
    url = html.unescape(url.strip())
    if url.startswith("//"):
        url = "https:" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    if host in _WWW_ALIASES:
        host = "www." + host
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = f"{host}:{port}" if port else host
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if len(path) > 1:
        path = path.rstrip("/")
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
               if not _TRACKING_PARAMS.match(k))
    )
    # Local test servers speak plain http; everything else is upgraded.
    if scheme == "http" and host not in ("localhost", "127.0.0.1", "::1"):
        scheme = "https"
    return urlunsplit((scheme, netloc, path, query, ""))


def is_recipe_url(url: str) -> bool:
    """True if the URL's path has one of the known recipe shapes."""
    return any(p.match(urlsplit(url).path) for p in RECIPE_PATH_SHAPES)


def find_canonical_url(page: bytes | str) -> str | None:
    """The page's ``<link rel=canonical>``, else its ``og:url``, or None."""
    if isinstance(page, str):
        page = page.encode("utf-8", "surrogatepass")
    canonical = og_url = None
    for tag in _LINK_OR_META.finditer(page):
        attrs = {
            m.group(1).lower(): (m.group(2) or m.group(3) or m.group(4) or b"")
            for m in _ATTR.finditer(tag.group(0))
        }
        if canonical is None and attrs.get(b"rel", b"").lower() == b"canonical" and attrs.get(b"href"):
            canonical = attrs[b"href"]
            break
        if og_url is None and attrs.get(b"property", b"").lower() == b"og:url" and attrs.get(b"content"):
            og_url = attrs[b"content"]
    found = canonical or og_url
    return found.decode("utf-8", "replace").strip() if found else None


def redacted(url: str) -> str:
    """Only ``url``'s scheme and host, then ``…``: an incoming-webhook URL's path is its secret."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme or '?'}://{parts.hostname or '?'}{port}/…"


def secret_parts(url: str) -> list[str]:
    """What must not be shown of ``url``: all of it, its path and query, its path; longest first."""
    parts = urlsplit(url)
    return [p for p in (url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path)
            if p and p != "/"]
