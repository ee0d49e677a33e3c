"""A small local HTTP server for tests (stdlib only, 127.0.0.1, free port, own thread).

    with LocalHTTPServer(directory="samples/site") as server:
        server.route("/recipes/1/x/", (200, {"Content-Type": "text/html"}, b"<html>..."))
        server.route("/flaky", (500, {}, b""), (200, {}, b"ok"))   # served in turn, last repeats
        server.route("/custom", lambda exchange: (200, {}, exchange.path.encode()))
        requests.get(server.url("/flaky"))
        server.paths()             # ["/flaky"]
        server.requests[0].at      # time.monotonic() when the request arrived

A route's reply is a ``(status, headers, body)`` tuple or a callable taking an
:class:`Exchange`; the callable returns such a tuple, or ``None`` after writing
its own reply (``exchange.send_chunked(...)`` for streamed bodies). Without a
``Content-Type`` header a tuple reply is sent as ``text/html; charset=utf-8``.
Requests that match no route are served from ``directory`` (``index.html`` for
directory paths), else answered 404.
"""

from __future__ import annotations

import mimetypes
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterable, Union
from urllib.parse import unquote, urlsplit

Reply = tuple[int, dict[str, str], bytes]
Responder = Union[Reply, Callable[["Exchange"], Union[Reply, None]]]

# The client hanging up mid-reply is normal in tests (timeouts, size caps).
_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class LoggedRequest:
    at: float  # time.monotonic() when the request line was read
    method: str
    path: str  # path and query, as sent
    headers: dict[str, str]


class Exchange:
    """One request, as seen by a callable route."""

    def __init__(self, handler: BaseHTTPRequestHandler, server: LocalHTTPServer):
        self._handler = handler
        self.server = server
        self.method = handler.command
        self.path = handler.path
        self.headers = dict(handler.headers.items())
        self.body = handler.request_body

    def wait(self, seconds: float) -> bool:
        """Stall up to ``seconds``, ending early when the server stops (keeps tests bounded)."""
        return self.server.stopping.wait(seconds)

    def _start(self, status: int, headers: dict[str, str]) -> BaseHTTPRequestHandler:
        h = self._handler
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()
        return h

    def send_chunked(self, status: int, headers: dict[str, str], chunks: Iterable[bytes]) -> None:
        """Stream ``chunks`` with chunked transfer encoding; stops quietly if the client hangs up."""
        h = self._start(status, {**headers, "Transfer-Encoding": "chunked"})
        try:
            for chunk in chunks:
                if self.server.stopping.is_set():
                    break
                if chunk:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.wfile.write(b"0\r\n\r\n")
        except _CLIENT_GONE:
            h.close_connection = True

    def send_unframed(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """Reply with neither Content-Length nor chunking: the body ends when the connection closes."""
        h = self._start(status, {**headers, "Connection": "close"})
        h.close_connection = True
        try:
            h.wfile.write(body)
        except _CLIENT_GONE:
            pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked replies, like real servers
    timeout = 5  # idle keep-alive connections must not outlive the test for long
    server: _Server

    def do_GET(self) -> None:
        self.server.owner._dispatch(self)

    do_HEAD = do_POST = do_GET

    def log_message(self, format: str, *args) -> None:  # quiet: the request log replaces it
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # don't wait for keep-alive connections on close
    owner: LocalHTTPServer

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], _CLIENT_GONE):
            super().handle_error(request, client_address)


class LocalHTTPServer:
    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory).resolve() if directory else None
        self.requests: list[LoggedRequest] = []
        self.stopping = threading.Event()
        self._routes: dict[str, list[Responder]] = {}
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> LocalHTTPServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="LocalHTTPServer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- setup and inspection --------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def route(self, path: str, *responders: Responder) -> None:
        """Serve ``path`` (exact path+query, else path alone) with the responders in turn; the last repeats."""
        if not responders:
            raise ValueError("route() needs at least one responder")
        with self._lock:
            self._routes[path] = list(responders)
            self._served[path] = 0

    def paths(self) -> list[str]:
        """Paths (with query) requested so far, in arrival order."""
        with self._lock:
            return [r.path for r in self.requests]

    def count(self, path: str) -> int:
        return self.paths().count(path)

    # -- serving ---------------------------------------------------------
    def _dispatch(self, handler: _Handler) -> None:
        # Read the request body even when no route looks at it, so keep-alive stays in sync.
        length = int(handler.headers.get("Content-Length") or 0)
        handler.request_body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(
                LoggedRequest(time.monotonic(), handler.command, handler.path, dict(handler.headers.items()))
            )
            responder = self._next_responder(handler.path)
        if responder is None:
            reply = self._static(handler.path)
        elif callable(responder):
            reply = responder(Exchange(handler, self))
        else:
            reply = responder
        if reply is not None:
            self._send(handler, *reply)

    def _next_responder(self, raw_path: str) -> Responder | None:
        for key in (raw_path, urlsplit(raw_path).path):
            if key in self._routes:
                responders = self._routes[key]
                turn = min(self._served[key], len(responders) - 1)
                self._served[key] += 1
                return responders[turn]
        return None

    def _static(self, raw_path: str) -> Reply:
        if self.directory is None:
            return 404, {}, b"not found"
        target = (self.directory / unquote(urlsplit(raw_path).path).lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(self.directory) or not target.is_file():
            return 404, {}, b"not found"
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/"):
            ctype += "; charset=utf-8"
        return 200, {"Content-Type": ctype}, target.read_bytes()

    @staticmethod
    def _send(handler: _Handler, status: int, headers: dict[str, str], body: bytes) -> None:
        handler.send_response(status)
        names = {name.lower() for name in headers}
        for name, value in headers.items():
            handler.send_header(name, value)
        if "content-type" not in names:
            handler.send_header("Content-Type", "text/html; charset=utf-8")
        if "content-length" not in names:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            try:
                handler.wfile.write(body)
            except _CLIENT_GONE:
                handler.close_connection = True
