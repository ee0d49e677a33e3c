"""The producer script through a broker restart: every page delivered exactly once.

Named to run last in the integration suite (pytest runs files in name order):
the restart disrupts every other test talking to the broker at that moment.
The broker is up again when the test ends, pass or fail.
"""

import os

import pytest

from testkit import chaos
from testkit.httpserver import LocalHTTPServer

pytestmark = pytest.mark.plaintext_broker

RSS_LIMIT = 250 * 2**20


def test_producer_delivers_every_page_once_through_a_broker_restart(names, tmp_path):
    if chaos.broker_mode() is None and os.environ.get("CI") != "true":
        pytest.skip("the broker was not started by scripts/kafka-local.sh: it can't be restarted")
    pages = chaos.corpus(150, seed=7, non_recipe_share=0)
    with LocalHTTPServer() as server:
        urls = chaos.serve(server, pages)
        report = chaos.produce_with_broker_restarts(names, urls, restarts=1, log_dir=tmp_path)
    assert report.broker_restarts == 1, "the producer should still run when the broker is back"
    assert report.exit_code == 0, report.output[-3000:]
    assert f"fetched {len(pages)}, published {len(pages)}, failed 0" in report.output
    counts = chaos.key_counts(names.raw)
    assert counts == {page.key: 1 for page in pages}
    assert report.peak_rss < RSS_LIMIT
