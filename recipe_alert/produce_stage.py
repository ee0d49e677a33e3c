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

from kafka import codec
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError, MessageSizeTooLargeError

from . import kafka_io
from .crawler import Crawler, CrawlSettings, CrawlStats, Failed, Page, Skipped
from .errors import ConfigError
from .urls import find_canonical_url, normalize_url

log = logging.getLogger(__name__)

DEFAULT_CATEGORY_URL = "https://www.allrecipes.com/recipes/96/salad/"
MAX_MESSAGE_BYTES = "max.message.bytes"
FRAMING_BYTES = 2048  # batch header, key and headers around a page's bytes: an upper bound
MAX_UNACKNOWLEDGED_BYTES = 32 * 1024 * 1024  # pages held in memory while the broker is away


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
    """What was published; what was fetched, skipped or failed is the crawl's count."""

    crawl: CrawlStats = field(default_factory=CrawlStats)
    published: int = 0
    unpublished: int = 0
    bytes_published: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def failed(self) -> int:
        return self.crawl.failed + self.unpublished

    @property
    def exit_code(self) -> int:
        if self.crawl.fetched == 0:
            return 4  # nothing could be fetched: blocked, broken or empty crawl
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


def topic_size_limit(bootstrap: str, topic: str) -> int:
    """The largest record batch, compressed, that the broker accepts on ``topic``."""
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, [MAX_MESSAGE_BYTES])
    with kafka_io.admin(bootstrap) as client:
        found = client.describe_configs([resource], config_filter="all")
    return int(found["topic"][topic][MAX_MESSAGE_BYTES]["value"])


def too_large(body: bytes, compression: str | None, limit: int) -> str | None:
    """Why the broker would refuse ``body``, or None.

    Checked before sending: a record the broker refuses leaves kafka-python's
    idempotent producer failing every later send too.
    """
    if len(body) + FRAMING_BYTES <= limit:
        return None  # fits even uncompressed: don't compress twice
    size = len(getattr(codec, f"{compression}_encode")(body)) if compression else len(body)
    if size + FRAMING_BYTES <= limit:
        return None
    return (f"{size} bytes {f'after {compression} compression ' if compression else ''}"
            f"exceeds the topic's max.message.bytes ({limit})")


class Backlog:
    """Bytes sent but not yet acknowledged.

    kafka-python 3 buffers unsent records without bound, so while the broker
    is away we stop fetching once ``limit`` bytes wait, instead of growing.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.pending = 0
        self._changed = threading.Condition()

    def add(self, size: int) -> None:
        with self._changed:
            self.pending += size

    def done(self, size: int) -> None:
        with self._changed:
            self.pending -= size
            self._changed.notify_all()

    def wait_for_room(self, stop) -> None:
        with self._changed:
            told = False
            while self.pending > self.limit and not stop:
                if not self._changed.wait(1.0) and not told:  # a second without any ack
                    log.info("%.0f MB not yet acknowledged by the broker: waiting before "
                             "fetching more", self.pending / 1e6)
                    told = True


def publish(producer, settings: ProduceSettings, size_limit: int, page: Page, stats: ProduceStats,
            backlog: Backlog) -> None:
    """Send without waiting; the delivery report arrives on the producer's thread."""
    key = page_key(page)
    size = len(page.body)

    def failed(exc):
        stats.undelivered()
        log.error("could not publish %s (%d bytes): %s: %s", key, size, type(exc).__name__, exc)

    def delivered(_meta):
        backlog.done(size)
        stats.delivered(size)

    def undelivered(exc):
        backlog.done(size)
        failed(exc)

    reason = too_large(page.body, settings.compression, size_limit)
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
    kafka_io.ensure_topics(settings.bootstrap, {settings.topic: {}},
                           settings.partitions, settings.replication_factor)
    size_limit = topic_size_limit(settings.bootstrap, settings.topic)
    producer = kafka_io.make_producer(
        settings.bootstrap,
        compression_type=settings.compression,
        max_request_size=kafka_io.MAX_RECORD_BYTES,
        # Retry through a broker restart for up to 5 minutes before giving up on a page.
        delivery_timeout_ms=300_000,
    )
    crawler = Crawler(settings.crawl)
    stats = ProduceStats(crawl=crawler.stats)
    backlog = Backlog(MAX_UNACKNOWLEDGED_BYTES)
    try:
        with progress_bar(settings.progress, settings.crawl.limit) as bar:
            for item in sources(settings, crawler):
                if isinstance(item, Page):
                    publish(producer, settings, size_limit, item, stats, backlog)
                if bar is not None:
                    bar.update(1)
                if stop:
                    log.info("stopping: publishing what was fetched so far")
                    break
                backlog.wait_for_room(stop)
    finally:
        producer.flush()
        producer.close(timeout=30)
    if crawler.stats.fetched == 0 and not stop:
        log.error("no page was fetched: see the reasons above. If the site refuses crawlers, "
                  "save pages from a browser and use --from-dir, or try another recipe site")
    return stats
