"""Publish raw recipe pages to Kafka, each as soon as it is fetched."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kafka.errors import KafkaError

from . import kafka_io
from .crawler import Crawler, CrawlSettings, Failed, Page, Skipped
from .errors import ConfigError
from .urls import find_canonical_url, normalize_url

log = logging.getLogger(__name__)

DEFAULT_CATEGORY_URL = "https://www.allrecipes.com/recipes/96/salad/"


@dataclass(frozen=True)
class ProduceSettings:
    bootstrap: str
    topic: str = "raw_recipes"
    category_url: str = DEFAULT_CATEGORY_URL
    urls: tuple[str, ...] = ()
    from_dir: str | None = None
    crawl: CrawlSettings = field(default_factory=CrawlSettings)
    partitions: int = 3
    replication_factor: int = 1
    compression: str = kafka_io.PAGE_COMPRESSION
    progress: bool = False


@dataclass
class ProduceStats:
    fetched: int = 0
    published: int = 0
    failed: int = 0
    skipped: int = 0
    blocked: int = 0
    bytes_published: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def exit_code(self) -> int:
        if self.fetched == 0:
            return 4  # nothing could be fetched: blocked, broken or empty crawl
        return 1 if self.failed else 0

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (f"fetched {self.fetched}, published {self.published}, failed {self.failed}, "
                f"skipped {self.skipped} ({self.blocked} blocked); "
                f"{self.bytes_published / 1e6:.1f} MB in {elapsed:.1f} s")

    def delivered(self, size: int) -> None:
        with self._lock:
            self.published += 1
            self.bytes_published += size

    def undelivered(self) -> None:
        with self._lock:
            self.failed += 1


def pages_from_dir(directory: str) -> Iterator[Page]:
    """Saved pages: every ``*.html``/``*.htm`` file below ``directory``, in name order."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(f"--from-dir {directory!r} is not a directory")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".html", ".htm") and p.is_file())
    if not files:
        raise ConfigError(f"--from-dir {directory!r} holds no .html files")
    for path in files:
        body = path.read_bytes()
        yield Page(url=path.resolve().as_uri(), requested_url=str(path), status=200,
                   content_type="text/html", body=body, elapsed=0.0)


def page_key(page: Page) -> str:
    """The canonical URL the page states about itself, else where it was fetched."""
    return normalize_url(find_canonical_url(page.body) or page.url)


def sources(settings: ProduceSettings, crawler: Crawler) -> Iterable[Page | Skipped | Failed]:
    if settings.from_dir:
        return pages_from_dir(settings.from_dir)
    if settings.urls:
        return crawler.fetch_urls(settings.urls)
    return crawler.crawl_category(settings.category_url)


def progress_bar(enabled: bool, total: int | None):
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm import tqdm

    return tqdm(total=total, unit="page", file=sys.stderr, dynamic_ncols=True)


def publish(producer, topic: str, page: Page, stats: ProduceStats) -> None:
    """Send without waiting; the delivery report arrives on the producer's thread."""
    key = page_key(page)
    size = len(page.body)

    def failed(exc):
        stats.undelivered()
        log.error("could not publish %s (%d bytes): %s: %s", key, size, type(exc).__name__, exc)

    try:
        future = producer.send(topic, key=key, value=page.body,
                               headers=[("source-url", page.url.encode())])
    except KafkaError as exc:  # e.g. larger than max_request_size: refused before sending
        failed(exc)
        return
    future.add_callback(lambda _meta: stats.delivered(size))
    future.add_errback(failed)


def run(settings: ProduceSettings, stop) -> ProduceStats:
    kafka_io.ensure_topics(settings.bootstrap, {settings.topic: {}},
                           settings.partitions, settings.replication_factor)
    producer = kafka_io.make_producer(
        settings.bootstrap,
        compression_type=settings.compression,
        max_request_size=kafka_io.MAX_RECORD_BYTES,
        # Retry through a broker restart for up to 5 minutes before giving up on a page.
        delivery_timeout_ms=300_000,
    )
    crawler = Crawler(settings.crawl)
    stats = ProduceStats()
    try:
        with progress_bar(settings.progress, settings.crawl.limit) as bar:
            for item in sources(settings, crawler):
                if isinstance(item, Page):
                    stats.fetched += 1
                    publish(producer, settings.topic, item, stats)
                elif isinstance(item, Failed):
                    stats.undelivered()
                    stats.blocked += item.blocked
                else:
                    stats.skipped += 1
                if bar is not None:
                    bar.update(1)
                if stop:
                    log.info("stopping: publishing what was fetched so far")
                    break
    finally:
        producer.flush()
        producer.close(timeout=30)
    if stats.fetched == 0 and not stop:
        log.error("no page was fetched: see the reasons above. If the site refuses crawlers, "
                  "save pages from a browser and use --from-dir, or try another recipe site")
    return stats
