"""Helpers for the crash and concurrency tests: a local news site, a crawl child, and a check
that an archive is intact.

- ``serve_site(server, n)`` serves articles /news/1..n (small pages), a feed with the first
  half and a sitemap with the rest, on a TestServer.
- ``CrawlChild`` drives tests/crawl_child.py: one `scraper crawl` per job, each in a fresh
  fork that a test may SIGKILL.
- ``assert_intact(db)`` checks what must hold after any crash.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from string import Template
from typing import Any

from server import Response, TestServer

from scraper.identity import content_hash
from scraper.models import Article
from scraper.store import OUTCOMES, SCHEMA_VERSION, codec

HERE = Path(__file__).parent
TEMPLATES = HERE / "fixtures" / "site"
WAIT_FAILSAFE = 180.0  # seconds; crawls here take one or two
CRAWL_STATUSES = {"running", "finished", "timed_out", "failed", "interrupted"}


def article_html(n: int) -> str:
    """A small article page (about 2 kB): title, author, four paragraphs."""
    # Four paragraphs: on shorter text trafilatura falls back to jusText, 3 times slower.
    body = "\n".join(f"<p>Story {n}, paragraph {i}: the council met on {n} March and voted "
                     f"on the budget for the coming year, after a long debate about schools, "
                     f"roads and the harbour.</p>" for i in range(4))
    return Template((TEMPLATES / "article.html").read_text()).substitute(
        title=f"Story number {n}", published="2024-10-10T12:00:00+00:00", body=body)


def serve_site(server: TestServer, n: int) -> tuple[str, str]:
    """Serve /news/1..n; returns (feed URL, sitemap URL). The feed lists the first half."""
    half = n // 2
    items = "\n".join(
        f"<item><title>Story {i}</title><link>{server.url(f'/news/{i}')}</link>"
        f"<pubDate>Thu, 10 Oct 2099 12:{i:02d}:00 +0000</pubDate></item>"
        for i in range(1, half + 1))
    feed = Template((TEMPLATES / "feed.xml").read_text()).substitute(
        base=server.url(""), items=items)
    urls = "".join(f"<url><loc>{server.url(f'/news/{i}')}</loc></url>"
                   for i in range(half + 1, n + 1))
    sitemap = ('<?xml version="1.0" encoding="UTF-8"?>'
               f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')
    server.route("/rss", Response(200, feed.encode(), {"Content-Type": "application/rss+xml"}))
    server.route("/sitemap.xml", Response(200, sitemap.encode(),
                                          {"Content-Type": "application/xml"}))
    for i in range(1, n + 1):
        server.route(f"/news/{i}", Response.html(article_html(i)))
    return server.url("/rss"), server.url("/sitemap.xml")


class CrawlChild:
    """tests/crawl_child.py in a subprocess: start crawls in forks, learn how they ended.

    A crawl that hangs fails the test after WAIT_FAILSAFE s instead of hanging it.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "crawl_child.py"), tag],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        # A thread reads the child's lines, so that waiting for one can have a failsafe.
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True, name="crawl-child-reader")
        self._reader.start()

    def start(self, **job: Any) -> int:
        """Start one crawl; returns the pid of the fork running it."""
        assert self.proc.stdin
        self.proc.stdin.write(json.dumps(job, default=str) + "\n")
        self.proc.stdin.flush()
        return int(self._next_line()["pid"])

    def wait(self) -> dict[str, int]:
        """How the last crawl started ended: {"pid", "exit"} or {"pid", "signal"}."""
        return self._next_line()

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")  # end of file: the child is gone

    def _next_line(self) -> dict[str, int]:
        try:
            line = self._lines.get(timeout=WAIT_FAILSAFE)
        except queue.Empty:
            self.stray_processes(timeout=0)  # kills the hung crawl
            raise AssertionError(f"a crawl in crawl_child.py said nothing for "
                                 f"{WAIT_FAILSAFE:g} s: it hangs") from None
        if not line:
            raise RuntimeError("crawl_child.py died; see the test's stderr")
        return json.loads(line)

    def stray_processes(self, timeout: float = 20.0) -> list[int]:
        """Processes from this child, other than itself, still alive after ``timeout`` s.

        Extraction workers notice within 0.2 s that their crawl died (crawl._exit_with_parent);
        the timeout is a generous bound for a loaded machine.

        They are killed before returning, so that a failing test leaks nothing.
        """
        deadline = time.monotonic() + timeout
        while True:
            stray = [pid for pid in _pids_with_arg(self.tag) if pid != self.proc.pid]
            if not stray or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for pid in stray:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return stray

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)  # it ends at the end of the child's output
        if self.proc.stdout:
            self.proc.stdout.close()


def _pids_with_arg(arg: str) -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if arg.encode() in cmdline and state != "Z":
                yield int(entry.name)


def rows(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def assert_intact(db: Path) -> None:
    """What must hold after any crash: a sound file, complete versions, sane logs."""
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        schema = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        if schema == 0:  # killed inside the first migration: nothing of it may remain
            assert tables == []
            return
        assert schema == SCHEMA_VERSION
        # the full-text index agrees with the versions table, row for row
        conn.execute("INSERT INTO versions_fts(versions_fts, rank) VALUES ('integrity-check', 1)")
        versions = conn.execute(
            "SELECT article_id, version, content_hash, title, authors, text, word_count,"
            " html_raw, fetched_at, folded FROM versions ORDER BY article_id, version").fetchall()
        last: dict[int, tuple[int, str]] = {}
        for article_id, number, digest, title, authors, text, words, html, fetched, folded \
                in versions:
            article = Article(url="", text=text, title=title, authors=tuple(json.loads(authors)))
            assert content_hash(article) == digest, f"version {article_id}/{number} is torn"
            assert words == len(text.split()) and text.strip()
            assert title and title in codec.decompress(html, "zstd").decode("utf-8")
            datetime.fromisoformat(fetched)
            previous_number, previous_hash = last.get(article_id, (0, ""))
            assert number == previous_number + 1, f"article {article_id} skips a version"
            # a folded version (a false edit reextract found) equals the one before it
            assert folded or digest != previous_hash, (
                f"article {article_id}: two equal versions in a row")
            last[article_id] = (number, previous_hash if folded else digest)
        stored = {(article_id, number) for article_id, number, *_ in versions}
        for url, started, outcome, article_id, number in conn.execute(
                "SELECT url, started_at, outcome, article_id, version FROM fetches"):
            assert url and outcome in OUTCOMES
            datetime.fromisoformat(started)
            if outcome == "new_version":
                assert (article_id, number) in stored
        for (status,) in conn.execute("SELECT status FROM crawls"):
            assert status in CRAWL_STATUSES


def tag_for(path: Path) -> str:
    """A command-line marker unique to this test run."""
    return f"crawl-child-{os.getpid()}-{path.name}"
