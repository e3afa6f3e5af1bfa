"""Faults for the test server (``server.py``): each builder is one way a real site fails.

    >>> server.route("/a", *failing(503, times=2, then=Response.html(page("article.html"))))
    >>> server.route("/b", throttled("7"), Response.html(page("article.html")))
    >>> server.route("/c", drip(body, every=0.02))           # one byte at a time, forever
    >>> sent = Sent(); server.route("/d", huge_body(50 << 20, sent))

Every builder returns a ``server.Response`` (or a tuple of them, to splat into ``route``).
The pages are fixture files in tests/fixtures/faults/, written by the team. Handlers that
wait (a stall, a drip) wait on the server's ``stopping`` event, so none outlives its test.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from server import Response

__all__ = [
    "FIXTURES", "Sent", "drip", "empty", "failing", "fixture", "gzip_bomb", "huge_body",
    "mislabelled", "page", "stalled", "throttled", "truncated_gzip", "typed",
]

FIXTURES = Path(__file__).parent / "fixtures" / "faults"
HTML = {"Content-Type": "text/html; charset=utf-8"}
_CHUNK = 64 * 1024


def fixture(name: str) -> bytes:
    """The bytes of a fixture file under tests/fixtures/faults/."""
    return (FIXTURES / name).read_bytes()


def page(name: str) -> str:
    """A fixture page as text (every HTML fixture is stored as UTF-8)."""
    return fixture(name).decode("utf-8")


def throttled(retry_after: str) -> Response:
    """429 Too Many Requests with a Retry-After header (seconds or an HTTP date)."""
    return Response(429, b"Too Many Requests", {"Content-Type": "text/plain",
                                                "Retry-After": retry_after})


def failing(status: int, times: int, then: Response | None = None) -> tuple[Response, ...]:
    """``status`` ``times`` times, then ``then`` (if given; otherwise the error repeats)."""
    body = f"<html><body><h1>{status} error</h1></body></html>".encode()
    return (Response(status, body, HTML),) * times + ((then,) if then else ())


def stalled(body: bytes, sent: int) -> Response:
    """Headers promising all of ``body``, its first ``sent`` bytes, then silence."""

    def write(req: BaseHTTPRequestHandler) -> None:
        _headers(req, len(body))
        req.wfile.write(body[:sent])
        req.wfile.flush()
        req.test_server.stopping.wait()  # type: ignore[attr-defined]

    return Response(handler=write)


def drip(body: bytes, every: float) -> Response:
    """``body`` (with its full Content-Length) one byte every ``every`` seconds.

    Each byte arrives well within any read timeout, so only a deadline on the whole
    response ends it.
    """

    def write(req: BaseHTTPRequestHandler) -> None:
        _headers(req, len(body))
        stopping: threading.Event = req.test_server.stopping  # type: ignore[attr-defined]
        for i in range(len(body)):
            req.wfile.write(body[i:i + 1])
            req.wfile.flush()
            if stopping.wait(every):
                return

    return Response(handler=write)


def truncated_gzip(body: bytes, cut: int = 40) -> Response:
    """``body`` gzipped as a Content-Encoding, with its last ``cut`` bytes missing."""
    data = gzip.compress(body)[:-cut]
    return Response(200, data, {**HTML, "Content-Encoding": "gzip"})


def gzip_bomb(size: int) -> Response:
    """``size`` zero bytes gzipped (about 1000:1) as a Content-Encoding, built in 1 MiB steps."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    data = b"".join([z.compress(block) for _ in range(size >> 20)] + [z.flush()])
    return Response(200, data, {**HTML, "Content-Encoding": "gzip"})


class Sent:
    """How many body bytes a streaming handler got onto the wire (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = 0

    def add(self, n: int) -> None:
        with self._lock:
            self._bytes += n

    @property
    def bytes(self) -> int:
        with self._lock:
            return self._bytes


def huge_body(size: int, sent: Sent, *, declare_length: bool = True) -> Response:
    """An HTML page of ``size`` bytes streamed in 64 KiB chunks, never held in memory.

    With ``declare_length`` the headers say how big it is; without, the body simply runs
    until the connection closes. ``sent`` counts what the client let us write.
    """
    head = b"<!DOCTYPE html><html><head><title>Big</title></head><body>"
    filler = (b"<p>" + b"lorem ipsum dolor sit amet " * 20 + b"</p>\n") * 128
    chunk = filler[:_CHUNK]

    def write(req: BaseHTTPRequestHandler) -> None:
        _headers(req, size if declare_length else None)
        req.wfile.write(head)
        sent.add(len(head))
        left = size - len(head)
        while left > 0:
            piece = chunk if left >= len(chunk) else chunk[:left]
            req.wfile.write(piece)  # raises once the client has hung up
            sent.add(len(piece))
            left -= len(piece)

    return Response(handler=write)


def typed(name: str, content_type: str) -> Response:
    """A fixture file served as ``content_type``."""
    return Response(200, fixture(name), {"Content-Type": content_type})


def mislabelled(text: str, encoding: str, declared: str) -> Response:
    """``text`` encoded in ``encoding`` but declared ``charset=declared`` in Content-Type."""
    return Response(200, text.encode(encoding), {"Content-Type": f"text/html; charset={declared}"})


def empty() -> Response:
    """200 OK, text/html, and not one byte of body."""
    return Response(200, b"", HTML)


def _headers(req: BaseHTTPRequestHandler, length: int | None) -> None:
    req.send_response(200)
    req.send_header("Content-Type", "text/html; charset=utf-8")
    if length is not None:
        req.send_header("Content-Length", str(length))
    req.end_headers()
