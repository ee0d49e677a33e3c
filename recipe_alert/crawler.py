"""A polite crawler for recipe pages: yields each page as soon as it is fetched.

No Kafka here: ``producer_raw_recipes.py`` publishes what the crawler yields.

Politeness and safety rules:

- robots.txt is obeyed by default (``urllib.robotparser``), fetched through the
  same session, user agent, timeouts and retries as pages:

  * 2xx: its rules apply, and its ``Crawl-delay`` when larger than ``delay``;
  * 401: everything is disallowed (the convention ``urllib`` follows);
  * 402/403: the site refuses bots, so every URL on it is ``Failed(blocked=True)``
    without being requested;
  * any other 4xx (404, 410...): no rules, everything is allowed;
  * 5xx after retries, a network error or a robots.txt over 512 KiB: the
    host is treated as unreachable (RFC 9309 says to assume "disallow all"),
    so its URLs are ``Failed`` without being requested.

  ``urllib.robotparser`` applies the first matching rule, not the longest one.
- At least ``delay`` seconds (or Crawl-delay) between the end of one request to a
  host and the start of the next, so slow servers are not hit harder.
- Every request has a (connect, read) timeout; bodies are streamed and
  abandoned past ``max_bytes``.
- 429, 5xx and connection errors are retried with exponential backoff, honouring
  ``Retry-After`` up to :data:`MAX_RETRY_WAIT`. DNS failures are not retried.
- Pages and listings are untrusted, so redirects are followed by hand (at most
  :data:`MAX_REDIRECTS` per fetch) and every URL requested is checked, not just
  the first: robots.txt of its own origin; for a page redirect, the site the
  crawl started on (``same_site_only``); and no loopback, private or link-local
  address (cloud metadata) unless the crawl started on one. The check resolves
  names itself, so it does not stop DNS rebinding.

A :class:`Crawler` is not thread-safe.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import re
import socket
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import requests
from bs4 import BeautifulSoup
from urllib3.exceptions import NameResolutionError

from recipe_alert import __version__, tuning
from recipe_alert.errors import ConfigError
from recipe_alert.urls import is_recipe_url, normalize_url

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = f"calorie-alert-crawler/{__version__} (recipe calorie alerts; respects robots.txt)"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
MAX_RETRY_WAIT = 60.0  # seconds; a longer Retry-After is cut to this
BACKOFF_BASE = 1.0  # seconds; doubled on each retry
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
_CHUNK = 64 * 1024
MAX_REDIRECTS = 5  # per fetch; the next one is a failure
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Loopback, private, shared (CGNAT), link-local (169.254.169.254 is cloud metadata) and "this host".
INTERNAL_NETWORKS = tuple(map(ipaddress.ip_network, (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "::/128", "::1/128", "fc00::/7", "fe80::/10",
)))

BLOCKED_ADVICE = (
    "%s refuses automated access (HTTP %d). This is the site's bot protection; retrying will not help. "
    "Use --url or --from-dir with pages saved from a browser, or crawl another recipe site."
)


@dataclass(frozen=True)
class CrawlSettings:
    user_agent: str = DEFAULT_USER_AGENT
    delay: float = 2.0  # seconds between requests to the same host
    timeout: float = 10.0  # connect timeout and read timeout, each
    max_bytes: int = 10 * 1024 * 1024  # larger responses are abandoned
    obey_robots: bool = True
    max_pages: int = 1  # listing pages to follow via next links
    limit: int | None = None  # stop after this many Pages (skips and failures don't count)
    retries: int = tuning(3)  # extra attempts on 429, 5xx and connection errors
    same_site_only: bool = tuning(True)  # follow listing links only on the start URL's site

    def __post_init__(self) -> None:
        rules = [
            ("delay", self.delay >= 0, ">= 0"),
            ("timeout", self.timeout > 0, "> 0"),
            ("max_bytes", self.max_bytes > 0, "> 0"),
            ("max_pages", self.max_pages >= 1, ">= 1"),
            ("limit", self.limit is None or self.limit >= 0, ">= 0"),
            ("retries", self.retries >= 0, ">= 0"),
        ]
        broken = [f"{name} must be {rule} (got {getattr(self, name)!r})" for name, ok, rule in rules if not ok]
        if broken:
            raise ConfigError("; ".join(broken))


@dataclass(frozen=True)
class Page:
    url: str  # final URL, after redirects
    requested_url: str
    status: int
    content_type: str
    body: bytes
    elapsed: float  # seconds, by the crawler's clock


@dataclass(frozen=True)
class Skipped:
    url: str
    reason: str  # "robots", "not-html", "too-big", "off-site", "duplicate" or "not-recipe-url"


@dataclass(frozen=True)
class Failed:
    url: str
    reason: str
    status: int | None
    blocked: bool  # the site refuses bots (402/403)


Outcome = Page | Skipped | Failed


@dataclass
class CrawlStats:
    """Counts of yielded outcomes; ``failed`` includes the ``blocked`` ones."""

    listed: int = 0  # recipe links found on listing pages
    fetched: int = 0
    skipped_robots: int = 0
    skipped_not_html: int = 0
    skipped_too_big: int = 0
    skipped_other: int = 0
    failed: int = 0
    blocked: int = 0


@dataclass(frozen=True)
class _Response:
    url: str
    status: int
    content_type: str
    body: bytes
    skip: str | None  # "not-html" or "too-big": body not (fully) read
    retry_after: str | None
    location: str | None
    elapsed: float


class Crawler:
    def __init__(
        self,
        settings: CrawlSettings = CrawlSettings(),
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        resolve: Callable[[str], Iterable[str]] | None = None,  # host name to addresses
    ):
        self.settings = settings
        self.stats = CrawlStats()
        self._session = session or requests.Session()
        self._clock = clock
        self._sleep = sleep
        self._resolve = resolve or resolve_host
        self._headers = {
            "User-Agent": settings.user_agent,
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
        }
        self._robots: dict[str, RobotFileParser | Failed] = {}  # by origin
        self._host_delay: dict[str, float] = {}  # Crawl-delay, when larger than settings.delay
        self._last_done: dict[str, float] = {}  # clock() when the last request to a host ended
        self._not_before: dict[str, float] = {}  # backoff / Retry-After deadlines
        self._blocked_origins: set[str] = set()

    # -- public ----------------------------------------------------------
    def crawl_category(self, category_url: str) -> Iterator[Outcome]:
        """Fetch listing page(s) and yield the outcome of each recipe link, page by page."""
        return self._counted(self._crawl_category(category_url))

    def fetch_urls(self, urls: Iterable[str]) -> Iterator[Outcome]:
        """Fetch the given URLs (any site) in order, skipping duplicates."""
        return self._counted(self._fetch_urls(urls))

    # -- crawl plans -----------------------------------------------------
    def _crawl_category(self, category_url: str) -> Iterator[Outcome]:
        seen_recipes: set[str] = set()
        seen_listings: set[str] = set()
        listing_url: str | None = category_url
        while listing_url and len(seen_listings) < self.settings.max_pages:
            seen_listings.add(normalize_url(listing_url))
            listing = self._fetch(listing_url, category_url)
            if not isinstance(listing, Page):
                yield listing
                return
            links = extract_recipe_links(listing.body, listing.url)
            self.stats.listed += len(links)
            log.info("Listing %s: %d recipe links", listing.url, len(links))
            for link in links:
                key = normalize_url(link)
                if key in seen_recipes:
                    yield Skipped(link, "duplicate")
                elif self.settings.same_site_only and not same_site(link, category_url):
                    log.info("Not following off-site link %s", link)
                    yield Skipped(link, "off-site")
                else:
                    seen_recipes.add(key)
                    yield self._fetch_recipe(link, category_url)
            listing_url = find_next_page(listing.body, listing.url)
            if listing_url and (normalize_url(listing_url) in seen_listings or not same_site(listing_url, category_url)):
                listing_url = None

    def _fetch_urls(self, urls: Iterable[str]) -> Iterator[Outcome]:
        seen: set[str] = set()
        for url in urls:
            key = normalize_url(url)
            if key in seen:
                yield Skipped(url, "duplicate")
            else:
                seen.add(key)
                yield self._fetch(url)

    def _fetch_recipe(self, url: str, start: str) -> Outcome:
        outcome = self._fetch(url, start)
        # Removed recipes redirect to a listing or the home page.
        if isinstance(outcome, Page) and not is_recipe_url(outcome.url):
            log.info("%s redirected to %s, which is not a recipe; skipped", url, outcome.url)
            return Skipped(url, "not-recipe-url")
        return outcome

    def _counted(self, outcomes: Iterator[Outcome]) -> Iterator[Outcome]:
        """Tally each outcome and stop pulling (fetching) once ``limit`` pages were yielded."""
        limit, pages = self.settings.limit, 0
        if limit is not None and limit <= 0:
            return
        for outcome in outcomes:
            self._tally(outcome)
            yield outcome
            pages += isinstance(outcome, Page)
            if limit is not None and pages >= limit:
                return

    def _tally(self, outcome: Outcome) -> None:
        s = self.stats
        if isinstance(outcome, Page):
            s.fetched += 1
        elif isinstance(outcome, Failed):
            s.failed += 1
            s.blocked += outcome.blocked
        elif outcome.reason == "robots":
            s.skipped_robots += 1
        elif outcome.reason == "not-html":
            s.skipped_not_html += 1
        elif outcome.reason == "too-big":
            s.skipped_too_big += 1
        else:
            s.skipped_other += 1

    # -- one URL ---------------------------------------------------------
    def _fetch(self, url: str, start: str | None = None) -> Outcome:
        """GET a page or listing of a crawl that began at ``start`` (``url`` itself by default)."""
        if urlsplit(url).scheme not in ("http", "https"):
            log.warning("Not fetching %s: only http(s) URLs are supported", url)
            return Failed(url, "not an http(s) URL", None, False)
        got = self._follow(url, start or url, page=True)
        if isinstance(got, Skipped):  # by robots.txt, which logged it
            return replace(got, url=url)
        if isinstance(got, Failed):
            log.warning("GET %s failed: %s", got.url, got.reason)
            return replace(got, url=url)
        if got.status in (402, 403):
            self._report_blocked(_origin(got.url), got.status, got.url)
            return Failed(url, f"site refuses automated access (HTTP {got.status})", got.status, True)
        if not 200 <= got.status < 300:
            log.warning("GET %s failed: HTTP %d", got.url, got.status)
            return Failed(url, f"HTTP {got.status}", got.status, False)
        if got.skip == "not-html":
            log.info("Skipped %s: %s is not HTML", url, got.content_type or "no content type")
            return Skipped(url, "not-html")
        if got.skip == "too-big":
            log.warning("Skipped %s: larger than %d bytes", url, self.settings.max_bytes)
            return Skipped(url, "too-big")
        log.debug("GET %s: %d, %d bytes in %.2f s", url, got.status, len(got.body), got.elapsed)
        return Page(got.url, url, got.status, got.content_type, got.body, got.elapsed)

    def _follow(self, url: str, start: str, *, page: bool) -> _Response | Skipped | Failed:
        """GET a page (or robots.txt), following redirects by hand so that each hop is checked before it is requested.

        A refused hop is a Failed on the URL that redirected there, its reason naming only the target's
        host (the query may hold secrets), or robots.txt's own verdict on the target.
        """
        came_from = None
        for _ in range(MAX_REDIRECTS + 1):
            # RFC 9309 lets robots.txt redirect to another site; its rules then apply to this one.
            why = self._refusal(url, start, redirected=came_from is not None, stay_on_site=page)
            if why:
                return Failed(came_from or url, why, None, False)
            if page and self.settings.obey_robots and (verdict := self._robots_verdict(url)):
                return verdict
            got = self._request(url, html_only=page, cap=self.settings.max_bytes if page else ROBOTS_MAX_BYTES)
            if isinstance(got, Failed) or got.status not in REDIRECT_STATUSES:
                return got
            target = _absolute(got.url, got.location) if got.location else None
            if target is None:
                return Failed(url, f"HTTP {got.status} redirect without a usable Location", got.status, False)
            log.debug("GET %s: HTTP %d to %s", url, got.status, target)
            came_from, url = url, target
        return Failed(came_from, f"too many redirects (more than {MAX_REDIRECTS})", got.status, False)

    def _refusal(self, url: str, start: str, *, redirected: bool, stay_on_site: bool) -> str | None:
        """Why ``url`` must not be requested in a crawl that began at ``start``; None if it may."""
        where = urlsplit(url).netloc.rpartition("@")[2].lower()  # no credentials in reasons and logs
        asked = "redirect" if redirected else "request"
        if redirected and stay_on_site and self.settings.same_site_only and not same_site(url, start):
            return f"redirect to {where} refused: off-site"
        # A local crawl (tests, the demo) may stay local; a page must not point the crawler inwards.
        if self._internal(urlsplit(url).hostname or "") and not self._internal(urlsplit(start).hostname or ""):
            return f"{asked} to {where} refused: internal address"
        return None

    def _internal(self, host: str) -> bool:
        """True if ``host`` is, or resolves to, an internal address (one is enough)."""
        try:
            return is_internal_address(host)
        except ValueError:  # a name, not an address
            return any(map(is_internal_address, self._resolve(host)))

    def _request(self, url: str, *, html_only: bool, cap: int) -> _Response | Failed:
        """One GET (no redirects) with throttling and retries; reads the body only for 2xx replies worth keeping."""
        host = _host(url)
        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            self._wait_turn(host)
            started = self._clock()
            retry_after = None
            try:
                with self._session.get(
                    url,
                    headers=self._headers,
                    timeout=(self.settings.timeout, self.settings.timeout),
                    stream=True,
                    allow_redirects=False,
                ) as resp:
                    outcome = self._receive(resp, started, html_only=html_only, cap=cap)
                retryable = outcome.status == 429 or outcome.status >= 500
                problem = f"HTTP {outcome.status}"
                retry_after = parse_retry_after(outcome.retry_after)
            except requests.RequestException as exc:
                dns_failure = _is_dns_failure(exc)
                problem = _describe(exc, url, self.settings.timeout)
                outcome = Failed(url, problem, None, False)
                retryable = not dns_failure and isinstance(
                    exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
                )
            finally:
                self._last_done[host] = self._clock()
            if not retryable or attempt == attempts:
                return outcome
            wait = min(retry_after if retry_after is not None else BACKOFF_BASE * 2 ** (attempt - 1), MAX_RETRY_WAIT)
            log.warning("GET %s: %s; retry %d of %d in %.1f s", url, problem, attempt, attempts - 1, wait)
            self._not_before[host] = self._clock() + wait
        raise AssertionError("unreachable: CrawlSettings ensures retries >= 0")

    def _receive(self, resp: requests.Response, started: float, *, html_only: bool, cap: int) -> _Response:
        content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        body, skip = b"", None
        if 200 <= resp.status_code < 300:
            if html_only and content_type not in HTML_TYPES:
                skip = "not-html"
            else:
                read = _read_capped(resp, cap)
                body, skip = (read, None) if read is not None else (b"", "too-big")
        return _Response(
            resp.url, resp.status_code, content_type, body, skip, resp.headers.get("Retry-After"),
            resp.headers.get("Location"), self._clock() - started,
        )

    def _wait_turn(self, host: str) -> None:
        delay = self._host_delay.get(host, self.settings.delay)
        ready_at = max(self._last_done.get(host, float("-inf")) + delay, self._not_before.get(host, float("-inf")))
        now = self._clock()
        if ready_at > now:
            self._sleep(ready_at - now)

    # -- robots.txt ------------------------------------------------------
    def _robots_verdict(self, url: str) -> Skipped | Failed | None:
        """None if robots.txt lets us fetch ``url``."""
        origin = _origin(url)
        if origin not in self._robots:
            self._robots[origin] = self._load_robots(origin)
        rules = self._robots[origin]
        if isinstance(rules, Failed):
            return replace(rules, url=url)
        if not rules.can_fetch(self.settings.user_agent, url):
            log.info("robots.txt disallows %s; skipped", url)
            return Skipped(url, "robots")
        return None

    def _load_robots(self, origin: str) -> RobotFileParser | Failed:
        robots_url = origin + "/robots.txt"
        got = self._follow(robots_url, robots_url, page=False)
        rules = RobotFileParser(robots_url)
        if isinstance(got, Failed):
            log.warning("%s unreachable (%s); not crawling %s", robots_url, got.reason, origin)
            return Failed(robots_url, f"robots.txt unreachable: {got.reason}", None, False)
        if got.status in (402, 403):
            self._report_blocked(origin, got.status, robots_url)
            return Failed(robots_url, f"site refuses automated access (HTTP {got.status} on robots.txt)", got.status, True)
        if got.status == 401:
            log.info("%s needs authorisation (HTTP 401); treating everything as disallowed", robots_url)
            rules.disallow_all = True
        elif 400 <= got.status < 500:
            log.info("No robots.txt at %s (HTTP %d); everything allowed", origin, got.status)
            rules.allow_all = True
        elif 200 <= got.status < 300 and got.skip is None:
            rules.parse(got.body.decode("utf-8-sig", "replace").splitlines())
        else:
            why = "larger than 512 KiB" if got.skip else f"HTTP {got.status}"
            log.warning("%s unavailable (%s); not crawling %s", robots_url, why, origin)
            return Failed(robots_url, f"robots.txt unavailable ({why})", got.status, False)
        crawl_delay = rules.crawl_delay(self.settings.user_agent)
        if crawl_delay and float(crawl_delay) > self.settings.delay:
            log.info("%s asks for Crawl-delay %s s; using it", robots_url, crawl_delay)
            self._host_delay[_host(origin)] = float(crawl_delay)
        return rules

    def _report_blocked(self, origin: str, status: int, url: str) -> None:
        if origin in self._blocked_origins:
            log.warning("GET %s: blocked (HTTP %d)", url, status)
        else:
            self._blocked_origins.add(origin)
            log.error(BLOCKED_ADVICE, origin, status)


# -- pure helpers ----------------------------------------------------------

# 2018 cards hold the link inside an h3; 2022+ cards are the link itself.
_CARD_LINKS = "h3.fixed-recipe-card__h3 a[href], a.mntl-card-list-items[href]"
# A class token such as "next", "mntl-pagination__next" or "pagination-next-link".
_NEXT_CLASS = re.compile(r"^(?:.*[_-])?next(?:[_-](?:page|link|button))?$", re.I)
_NEXT_TEXT = re.compile(r"^\s*next(?:\s+page)?\s*[›»>→]?\s*$", re.I)  # "Next", "Next page ›"


def extract_recipe_links(listing_html: bytes, base_url: str) -> list[str]:
    """Absolute recipe-shaped links of a listing page, in page order, one per recipe.

    Recipe cards (2018 and 2022+ layouts) are used when the page has any that
    link to recipes; otherwise every recipe-shaped ``<a href>`` on the page.
    """
    doc = _parse_html(listing_html)
    if doc is None:
        return []
    base = _base_url(doc, base_url)
    for anchors in (doc.select(_CARD_LINKS), doc.find_all("a", href=True)):
        links, seen = [], set()
        for anchor in anchors:
            url = _absolute(base, anchor.get("href"))
            if url and is_recipe_url(url) and normalize_url(url) not in seen:
                seen.add(normalize_url(url))
                links.append(url)
        if links:
            return links
    return []


def find_next_page(listing_html: bytes, base_url: str) -> str | None:
    """The listing's next page: ``rel=next`` first, else a link classed or labelled "next".

    Links to the page itself or to a recipe are never taken for the next page.
    """
    doc = _parse_html(listing_html)
    if doc is None:
        return None
    base = _base_url(doc, base_url)
    by_rel = [el for el in doc.find_all(("link", "a"))
              if "next" in [rel.lower() for rel in el.get("rel") or ()]]
    by_look = [
        a for a in doc.find_all("a")
        if any(map(_NEXT_CLASS.match, a.get("class") or ())) or _NEXT_TEXT.match(a.get_text())
    ]
    here = normalize_url(base_url)
    for el in by_rel + by_look:
        url = _absolute(base, el.get("href"))
        if url and normalize_url(url) != here and not is_recipe_url(url):
            return url
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def same_site(a: str, b: str) -> bool:
    """True if both URLs are on one site: same host, ignoring "www." and the scheme's default port."""
    return _site(a) == _site(b)


def _site(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".").removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    return host, port if port not in (80, 443) else None


def resolve_host(host: str) -> list[str]:
    """The addresses ``host`` resolves to; none if DNS fails, so the request then fails as it always did."""
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError):
        return []


def is_internal_address(address: str) -> bool:
    """True for loopback, private, link-local and unspecified addresses, IPv4-mapped IPv6 forms included."""
    ip = ipaddress.ip_address(address)
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return any(ip in net for net in INTERNAL_NETWORKS)


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _parse_html(body: bytes) -> BeautifulSoup | None:
    """Listing pages are few and small next to the crawl delay: readable CSS selectors win."""
    soup = BeautifulSoup(body, "lxml")
    return soup if soup.find() is not None else None


def _base_url(doc: BeautifulSoup, page_url: str) -> str:
    base = doc.find("base", href=True)
    return urljoin(page_url, base["href"].strip()) if base is not None else page_url


def _absolute(base: str, href: str | None) -> str | None:
    """``href`` resolved against ``base``, without fragment; None unless http(s)."""
    try:
        url = urldefrag(urljoin(base, (href or "").strip())).url
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None


def _read_capped(resp: requests.Response, cap: int) -> bytes | None:
    """The body, or None if it is larger than ``cap`` bytes (declared or streamed)."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        return None
    chunks, size = [], 0
    for chunk in resp.iter_content(_CHUNK):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _is_dns_failure(exc: requests.RequestException) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, (NameResolutionError, socket.gaierror))


def _describe(exc: requests.RequestException, url: str, timeout: float) -> str:
    """One plain line for a network error."""
    host = urlsplit(url).hostname
    text = str(exc)
    if _is_dns_failure(exc):
        return f"cannot resolve host {host!r} (DNS lookup failed)"
    if isinstance(exc, requests.ConnectTimeout):
        return f"could not connect to {host} within {timeout:g} s"
    if isinstance(exc, requests.Timeout) or "timed out" in text.lower():
        return f"{host} sent nothing for {timeout:g} s (read timeout)"
    if isinstance(exc, requests.ConnectionError):
        errno_text = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
        return f"connection to {host} failed" + (f": {errno_text.group(1).strip()}" if errno_text else "")
    return f"{type(exc).__name__}: {text}"
