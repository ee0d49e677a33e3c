"""produce_stage: what is sent for each page, and what is counted. Sending for real is tested against the broker."""

import logging
import random

import pytest
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError
from kafka.future import Future

from recipe_alert.connection import Connection
from recipe_alert.crawler import CrawlStats, Page
from recipe_alert.errors import ConfigError
from recipe_alert.kafka_compat import Backlog
from recipe_alert.produce_stage import ProduceSettings, ProduceStats, page_key, pages_from_dir, send_page

SETTINGS = ProduceSettings(connection=Connection("unused:9092"), topic="raw")
LIMIT = 1024 * 1024


def page(body: bytes, url: str = "http://allrecipes.com/recipe/1/x/") -> Page:
    return Page(url=url, requested_url=url, status=200, content_type="text/html", body=body,
                elapsed=0.0)


class RecordingProducer:
    """Keeps each send and its future; ``refuse`` makes send() itself raise."""

    def __init__(self, refuse: Exception | None = None):
        self.sent, self.refuse = [], refuse

    def send(self, topic, key, value, headers):
        if self.refuse:
            raise self.refuse
        future = Future()
        self.sent.append((topic, key, value, headers, future))
        return future


def test_a_page_is_keyed_by_its_canonical_url_normalised():
    canonical = b'<html><head><link rel="canonical" href="http://allrecipes.com/recipe/2/y/"></head></html>'
    assert page_key(page(canonical)) == "https://www.allrecipes.com/recipe/2/y"
    assert page_key(page(b"<html></html>")) == "https://www.allrecipes.com/recipe/1/x"


def test_a_page_is_sent_with_its_source_and_counted_only_once_acknowledged():
    producer, stats, backlog = RecordingProducer(), ProduceStats(), Backlog(LIMIT)
    send_page(producer, SETTINGS, LIMIT, page(b"<html>pizza</html>"), stats, backlog)
    [(topic, key, value, headers, future)] = producer.sent
    assert (topic, key, value) == ("raw", b"https://www.allrecipes.com/recipe/1/x", b"<html>pizza</html>")
    assert headers == [("source-url", b"http://allrecipes.com/recipe/1/x/")]
    assert (stats.published, backlog.pending) == (0, len(value))
    future.success(None)
    assert (stats.published, stats.bytes_published, backlog.pending) == (1, len(value), 0)
    assert stats.exit_code == 0


def test_a_page_kafka_fails_to_deliver_is_counted_failed_and_named(caplog):
    producer, stats, backlog = RecordingProducer(), ProduceStats(), Backlog(LIMIT)
    send_page(producer, SETTINGS, LIMIT, page(b"<html>pizza</html>"), stats, backlog)
    producer.sent[0][-1].failure(KafkaTimeoutError("delivery timed out"))
    assert (stats.published, stats.failed, backlog.pending, stats.exit_code) == (0, 1, 0, 1)
    assert "could not publish https://www.allrecipes.com/recipe/1/x" in caplog.text


@pytest.mark.parametrize("producer, reason", [
    (RecordingProducer(), "exceeds the topic's max.message.bytes"),
    (RecordingProducer(refuse=MessageSizeTooLargeError("over max_request_size")), "over max_request_size"),
])
def test_a_page_too_large_for_kafka_is_never_sent_but_reported(producer, reason, caplog):
    stats = ProduceStats()
    body = random.Random(0).randbytes(2 * LIMIT)  # 2 MB that zstd cannot shrink
    limit = LIMIT if not producer.refuse else 16 * LIMIT
    with caplog.at_level(logging.ERROR):
        send_page(producer, SETTINGS, limit, page(body), stats, Backlog(LIMIT))
    assert (producer.sent, stats.unpublished) == ([], 1)
    assert reason in caplog.text


def test_saved_pages_are_read_in_name_order_and_counted_as_fetched(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/2.html", "1.HTM", "notes.txt", "3.html"):
        (tmp_path / name).write_bytes(name.encode())
    stats = CrawlStats()
    pages = list(pages_from_dir(str(tmp_path), stats))
    assert [p.body for p in pages] == [b"1.HTM", b"3.html", b"b/2.html"]
    assert stats.fetched == 3 and all(p.url.startswith("file://") for p in pages)


@pytest.mark.parametrize("make, problem", [
    (lambda d: d / "missing", "is not a directory"),
    (lambda d: d, "holds no .html files"),
])
def test_a_directory_without_pages_is_a_config_error(tmp_path, make, problem):
    with pytest.raises(ConfigError, match=problem):
        list(pages_from_dir(str(make(tmp_path)), CrawlStats()))
