"""Where alerts go. Each sink is one small class behind one interface.

A new ``--format`` is a class here plus its entry in ``FORMATS``, which the
notifier's ``--format`` choices come from. The alert log
(``alert_log.AlertLog``) is a sink too.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TextIO

import requests

from ..urls import redacted, secret_parts
from .alerts import Alert

log = logging.getLogger(__name__)


class Sink:
    """Receives every alert, in order; ``flush`` comes before the batch's offsets are committed."""

    name = "sink"

    def record(self, alert: Alert) -> bool:
        """Deliver ``alert``; False if it could not be delivered (and was reported)."""
        raise NotImplementedError

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class TextLines(Sink):
    """``Alert: <title> calories count is <calories>``, one line per alert."""

    name = "text"
    help = "the tutorial's line"  # in --help

    def __init__(self, out: TextIO):
        self.out = out

    def record(self, alert: Alert) -> bool:
        self.out.write(self.render(alert) + "\n")
        return True

    def render(self, alert: Alert) -> str:
        return alert.line()

    def flush(self) -> None:
        self.out.flush()


class JsonLines(TextLines):
    """One JSON object per alert: title, calories, per, threshold, url and timestamps."""

    name = "json"
    help = "one JSON object per alert"

    def render(self, alert: Alert) -> str:
        return json.dumps(alert.as_dict(), ensure_ascii=False)


FORMATS: dict[str, type[TextLines]] = {"text": TextLines, "json": JsonLines}


class Webhook(Sink):
    """POSTs Slack/Mattermost-style ``{"text": ...}``, with timeout and retries.

    A webhook that keeps failing gets one attempt per alert until it recovers,
    so it slows the stream at most by one timeout per alert.
    """

    name = "webhook"

    def __init__(self, url: str, timeout: float, retries: int, sleep=time.sleep):
        self.url, self.timeout, self.retries, self.sleep = url, timeout, retries, sleep
        self.shown = redacted(url)
        # requests names the URL, or its path and query, in its exception text.
        self._secret_parts = secret_parts(url)
        self.session = requests.Session()
        self.healthy = True

    def record(self, alert: Alert) -> bool:
        text = f"{alert.line()} (per serving)" + (f" {alert.url}" if alert.url else "")
        return self.post(text, alert.as_dict())

    def post(self, text: str, body: dict) -> bool:
        attempts = 1 + (self.retries if self.healthy else 0)
        for attempt in range(attempts):
            if attempt:
                self.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))
            try:
                response = self.session.post(self.url, json={"text": text, "alert": body},
                                             timeout=self.timeout)
                if response.status_code < 300:
                    self.healthy = True
                    return True
                problem = f"HTTP {response.status_code}"
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {self._scrub(str(exc))}"
            log.warning("webhook %s failed (%s), attempt %d of %d",
                        self.shown, problem, attempt + 1, attempts)
        self.healthy = False
        log.error("webhook gave up on: %s", text)
        return False

    def _scrub(self, text: str) -> str:
        for secret in self._secret_parts:
            text = text.replace(secret, "…")
        return text

    def __repr__(self) -> str:
        return f"Webhook({self.shown!r})"

    def close(self) -> None:
        self.session.close()
