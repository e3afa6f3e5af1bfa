"""Faults for the test server (``server.py``): each builder is one way a real site fails.

    >>> server.route("/a", *failing(503, times=2, then=Response.html(page("article.html"))))
    >>> server.route("/b", throttled("7"), Response.html(page("article.html")))
    >>> server.route("/c", drip(body, every=0.02))           # one byte at a time, forever
    >>> sent = Sent(); server.route("/d", huge_body(50 << 20, sent))

Every builder returns a ``server.Response`` (or a tuple of them, to splat into ``route``).
The pages are fixture files in tests/fixtures/faults/, written by the team. Handlers that
wait (a stall, a drip) wait on the server's ``stopping`` event, so none outlives its test.

``archive(server, path, db)`` runs one URL through ``archive_url`` (with a ``FakeSleep``,
under a hang guard) and reads back its ``fetches`` row; ``check`` asserts on the result.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import sqlite3
import threading
import time
import tracemalloc
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from server import Response, TestServer

from scraper.fetch import FetchPolicy, make_client
from scraper.pipeline import Outcome, archive_url
from scraper.robots import Robots
from scraper.store import Archive

__all__ = [
    "FIXTURES",
    "SECONDS",
    "Archived",
    "FakeSleep",
    "MiB",
    "Sent",
    "archive",
    "check",
    "drip",
    "empty",
    "failing",
    "fixture",
    "gzip_bomb",
    "huge_body",
    "mislabelled",
    "page",
    "stalled",
    "stored_text",
    "throttled",
    "truncated_gzip",
    "typed",
]

FIXTURES = Path(__file__).parent / "fixtures" / "faults"
HTML = {"Content-Type": "text/html; charset=utf-8"}
MiB = 1 << 20
SECONDS = 10  # wall-clock bound for every fault: generous, since most take well under 1 s
HANG = 30  # a fault that hangs fails its test here instead of hanging the suite
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


# --- running a URL through the pipeline ------------------------------------------------------


class FakeSleep:
    """Stands in for asyncio.sleep: records each wait, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class Archived:
    """What one ``archive_url`` call did: its outcome, its fetches row, what it cost."""

    outcome: Outcome
    row: dict[str, Any]  # the fetches row it recorded
    versions: int  # versions in the whole archive afterwards
    waits: list[float]
    seconds: float
    peak: int  # tracemalloc's peak in bytes (0 unless measured)


def archive(server: TestServer, path: str, db: Path, *, read_timeout: float = 5,
            total_timeout: float = 120, robots: Robots | None = None,
            measure_memory: bool = False) -> Archived:
    """Archive ``path`` on ``server`` into ``db`` and read back what was recorded."""
    sleep = FakeSleep()

    policy = FetchPolicy(read_timeout=read_timeout, total_timeout=total_timeout)

    async def go(store: Archive) -> Outcome:
        async with make_client(policy) as client:
            async with asyncio.timeout(HANG):
                return await archive_url(client, store, server.url(path), policy, robots=robots,
                                         sleep=sleep)

    with Archive(db) as store:
        if measure_memory:
            tracemalloc.start()
        started = time.monotonic()
        try:
            outcome = asyncio.run(go(store))
            peak = tracemalloc.get_traced_memory()[1] if measure_memory else 0
        finally:
            if measure_memory:
                tracemalloc.stop()
        seconds = time.monotonic() - started
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        row = dict(conn.execute("SELECT * FROM fetches ORDER BY id DESC LIMIT 1").fetchone())
        versions = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    return Archived(outcome, row, versions, sleep.waits, seconds, peak)


def check(done: Archived, *, outcome: str, status: int | None, attempts: int,
          error: str | None = None, versions: int = 0) -> None:
    """The fetches row and the Outcome agree and say what the fault should give."""
    row = done.row
    assert (row["outcome"], row["status"], row["attempts"]) == (outcome, status, attempts), row
    assert done.outcome.outcome == outcome and done.outcome.error == row["error"]
    if error is None:
        assert row["error"] is None
    else:
        assert row["error"] and "\n" not in row["error"], row["error"]
        assert re.search(error, row["error"]), row["error"]
    assert done.versions == versions
    assert done.seconds < SECONDS, f"took {done.seconds:.1f}s"


def stored_text(db: Path) -> str:
    """The text of the newest version in the archive."""
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT text FROM versions ORDER BY id DESC").fetchone()[0])


def _headers(req: BaseHTTPRequestHandler, length: int | None) -> None:
    req.send_response(200)
    req.send_header("Content-Type", "text/html; charset=utf-8")
    if length is not None:
        req.send_header("Content-Length", str(length))
    req.end_headers()
