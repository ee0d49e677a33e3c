"""The produce stage: recipe pages in (crawled, or from a directory); raw HTML out, each as soon as it is fetched."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kafka.errors import AuthorizationError, KafkaError, MessageSizeTooLargeError

from . import kafka_compat, metrics, tuning
from .connection import MAX_RECORD_BYTES, PAGE_COMPRESSION, Connection
from .crawler import Crawler, CrawlSettings, CrawlStats, Failed, Page, Skipped
from .errors import ConfigError, NothingFetched
from .topics import ensure_topics, size_limit
from .urls import find_canonical_url, normalize_url

log = logging.getLogger(__name__)

DEFAULT_CATEGORY_URL = "https://www.allrecipes.com/recipes/96/salad/"
MAX_UNACKNOWLEDGED_BYTES = 32 * 1024 * 1024  # pages held in memory while the broker is away


@dataclass(frozen=True)
class ProduceSettings:
    connection: Connection
    topic: str = "raw_recipes"
    category_url: str = DEFAULT_CATEGORY_URL
    urls: tuple[str, ...] = ()
    from_dir: str | None = None
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    partitions: int = 3
    replication_factor: int = 1
    compression: str = tuning(PAGE_COMPRESSION)
    progress: bool = False


@dataclass
class ProduceStats:
    """What was published; what was fetched, skipped or failed is the crawl's count."""

    crawl: CrawlStats = field(default_factory=CrawlStats)
    published: int = 0
    unpublished: int = 0
    bytes_published: int = 0
    denied: bool = False  # an ACL refused a write: every later page would be refused too
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def failed(self) -> int:
        return self.crawl.failed + self.unpublished

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def summary(self) -> str:
        c = self.crawl
        elapsed = max(time.monotonic() - self.started, 1e-9)
        skipped = c.skipped_robots + c.skipped_not_html + c.skipped_too_big + c.skipped_other
        return (f"fetched {c.fetched}, published {self.published}, failed {self.failed} "
                f"({c.blocked} blocked, {self.unpublished} not accepted by Kafka); "
                f"listed {c.listed}, skipped {skipped} (robots {c.skipped_robots}, "
                f"not HTML {c.skipped_not_html}, too big {c.skipped_too_big}, "
                f"other {c.skipped_other}); {self.bytes_published / 1e6:.1f} MB in {elapsed:.1f} s")

    def counters(self) -> list[tuple[str, str, dict, float]]:
        """The summary line's counts, for ``metrics``."""
        c = self.crawl
        failed = "Pages not published, by why"
        skipped = "Recipe links not fetched, by why"
        return [("producer_pages_listed", "Recipe links found on listing pages", {}, c.listed),
                ("producer_pages_fetched", "Recipe pages fetched", {}, c.fetched),
                ("producer_pages_published", "Pages Kafka acknowledged", {}, self.published),
                ("producer_bytes_published", "Bytes of the pages Kafka acknowledged", {},
                 self.bytes_published),
                ("producer_pages_failed", failed, {"reason": "blocked"}, c.blocked),
                ("producer_pages_failed", failed, {"reason": "fetch"}, c.failed - c.blocked),
                ("producer_pages_failed", failed, {"reason": "kafka"}, self.unpublished),
                ("producer_pages_skipped", skipped, {"reason": "robots"}, c.skipped_robots),
                ("producer_pages_skipped", skipped, {"reason": "not_html"}, c.skipped_not_html),
                ("producer_pages_skipped", skipped, {"reason": "too_big"}, c.skipped_too_big),
                ("producer_pages_skipped", skipped, {"reason": "other"}, c.skipped_other)]

    def delivered(self, size: int) -> None:
        with self._lock:
            self.published += 1
            self.bytes_published += size

    def undelivered(self) -> None:
        with self._lock:
            self.unpublished += 1


def pages_from_dir(directory: str, stats: CrawlStats) -> Iterator[Page]:
    """Saved pages: every ``*.html``/``*.htm`` file below ``directory``, in name order."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"--from-dir {directory!r} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".html", ".htm") and p.is_file())
    if not files:
        raise ConfigError(f"--from-dir {directory!r} holds no .html files")
    for path in files:
        body = path.read_bytes()
        stats.fetched += 1
        yield Page(url=path.resolve().as_uri(), requested_url=str(path), status=200,
                   content_type="text/html", body=body, elapsed=0.0)


def page_key(page: Page) -> str:
    """The canonical URL the page states about itself, else where it was fetched."""
    return normalize_url(find_canonical_url(page.body) or page.url)


def sources(settings: ProduceSettings, crawler: Crawler) -> Iterable[Page | Skipped | Failed]:
    if settings.from_dir:
        return pages_from_dir(settings.from_dir, crawler.stats)
    if settings.urls:
        return crawler.fetch_urls(settings.urls)
    return crawler.crawl_category(settings.category_url)


def progress_bar(enabled: bool, total: int | None):
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm import tqdm

    return tqdm(total=total, unit="page", file=sys.stderr, dynamic_ncols=True)


def send_page(producer, settings: ProduceSettings, limit: int, page: Page, stats: ProduceStats,
              backlog: kafka_compat.Backlog) -> None:
    """Send without waiting; the delivery report arrives on the producer's thread."""
    key = page_key(page)
    size = len(page.body)

    def failed(exc):
        stats.undelivered()
        if isinstance(exc, AuthorizationError):
            stats.denied = True
            return  # said once, by run()
        log.error("could not publish %s (%d bytes): %s: %s", key, size, type(exc).__name__, exc)

    def delivered(_meta):
        backlog.done(size)
        stats.delivered(size)

    def undelivered(exc):
        backlog.done(size)
        failed(exc)

    reason = kafka_compat.oversized(page.body, settings.compression, limit)
    if reason:
        failed(MessageSizeTooLargeError(reason))
        return
    try:
        future = producer.send(settings.topic, key=key.encode(), value=page.body,
                               headers=[("source-url", page.url.encode())])
    except KafkaError as exc:  # e.g. larger than max_request_size
        failed(exc)
        return
    backlog.add(size)
    future.add_callback(delivered)
    future.add_errback(undelivered)


def run(settings: ProduceSettings, stop) -> ProduceStats:
    ensure_topics(settings.connection, {settings.topic: {}},
                  settings.partitions, settings.replication_factor)
    limit = size_limit(settings.connection, settings.topic)
    producer = settings.connection.producer(
        compression_type=settings.compression,
        max_request_size=MAX_RECORD_BYTES,
        # Retry through a broker restart for up to 5 minutes before giving up on a page.
        delivery_timeout_ms=300_000,
    )
    crawler = Crawler(settings.crawl)
    stats = ProduceStats(crawl=crawler.stats)
    metrics.track(stats)
    backlog = kafka_compat.Backlog(MAX_UNACKNOWLEDGED_BYTES)
    try:
        with progress_bar(settings.progress, settings.crawl.limit) as bar:
            for item in sources(settings, crawler):
                if isinstance(item, Page):
                    send_page(producer, settings, limit, item, stats, backlog)
                if bar is not None:
                    bar.update(1)
                if stats.denied:
                    break
                if stop:
                    log.info("stopping: publishing what was fetched so far")
                    break
                backlog.wait_for_room(stop)
    finally:
        producer.flush()
        producer.close(timeout=30)
    if stats.denied:
        error = settings.connection.denied("Write", "topic", settings.topic)
        error.stats = stats
        raise error
    if crawler.stats.fetched == 0:
        raise NothingFetched(
            "stopped before any page was fetched" if stop else
            "no page was fetched: see the reasons above. If the site refuses crawlers, "
            "save pages from a browser and use --from-dir, or try another recipe site", stats)
    return stats
