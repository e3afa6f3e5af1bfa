"""Concurrent writers: a crawl and several `scraper archive` processes on one archive at once
lose nothing, and no "database is locked" ever reaches the user.

Real processes throughout: `python -m scraper archive` for the hand-run archiving, a fork
of tests/crawl_child.py for the crawl (with its extraction process pool), and
tests/store_child.py for processes that open a brand-new file at the same instant.
"At once" is reached by construction, not by timing: the site holds every archiver at its
first article until the crawl asks for its own first article, and the store children open
each file on a "go" the test sends to all of them together.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from local_site import CrawlChild, article_html, assert_intact, rows, serve_site, tag_for
from server import Response, TestServer

from scraper.store import connection as store_connection
from scraper.cli import cli
from scraper.models import StoreError
from scraper.store import Archive, utc_now

pytestmark = pytest.mark.slow  # robustness tests: -m "not slow" skips them

HERE = Path(__file__).parent
CRAWLED = 24  # /news/1..24 are in the site's feed and sitemap
ARTICLES = 36  # /news/25..36 are only archived by hand
ARCHIVERS = 5
CRAWL_UA = "crawl-under-test/1.0"
FAILSAFE = 60.0  # seconds a held archiver waits for the crawl, which normally takes one


class MeetingPoint(TestServer):
    """Once armed, holds every other client at its first article until the crawl asks for one.

    The crawl is told apart by its User-Agent (CRAWL_UA).
    """

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()
        self._armed = False
        self.held = 0
        self.crawl_arrived = threading.Event()

    def arm(self) -> None:
        with self._changed:
            self._armed = True

    def wait_held(self, n: int) -> None:
        """Wait until ``n`` clients are held (failing after FAILSAFE s)."""
        with self._changed:
            assert self._changed.wait_for(lambda: self.held >= n, FAILSAFE), \
                f"only {self.held} of {n} archivers reached the site in {FAILSAFE:g} s"

    def stop(self) -> None:
        self.crawl_arrived.set()  # no held request may outlive the server
        super().stop()

    def _next(self, method: str, path: str, headers: dict[str, str]) -> Response:
        response = super()._next(method, path, headers)
        if not self._armed or not path.startswith("/news/") or self.crawl_arrived.is_set():
            return response
        if headers.get("user-agent") == CRAWL_UA:
            self.crawl_arrived.set()
            return response
        with self._changed:
            self.held += 1
            self._changed.notify_all()
        self.crawl_arrived.wait(FAILSAFE)  # each request has its own thread: only it waits
        return response


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[MeetingPoint, str, str]]:
    with MeetingPoint() as server:
        feed, sitemap = serve_site(server, CRAWLED)
        for n in range(CRAWLED + 1, ARTICLES + 1):
            server.route(f"/news/{n}", Response.html(article_html(n)))
        yield server, feed, sitemap


def scraper_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scraper", *args], cwd=HERE.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_crawl_and_archive_processes_at_once_lose_nothing_and_never_say_locked(
        site: tuple[MeetingPoint, str, str], tmp_path: Path) -> None:
    server, feed, sitemap = site
    db = tmp_path / "archive.db"
    urls = [server.url(f"/news/{n}") for n in range(1, ARTICLES + 1)]
    # An archive that already exists, so readers can run from the start.
    seeded = CliRunner().invoke(cli, ["archive", urls[0], "--db", str(db), "--site", "generic"])
    assert seeded.exit_code == 0, seeded.output
    config = tmp_path / "scraper.toml"
    config.write_text(f'[crawl]\ndelay = 0\nuser_agent = "{CRAWL_UA}"\n')
    child = CrawlChild(tag_for(tmp_path))
    server.arm()
    try:
        # Every archiver takes every URL, each starting at another place in the list:
        # the same articles are saved by several processes within milliseconds.
        orders = [urls[i * 7 % ARTICLES:] + urls[:i * 7 % ARTICLES] for i in range(ARCHIVERS)]
        archivers = [scraper_process("archive", *order, "--db", str(db), "--site", "generic",
                                     "--delay", "0")
                     for order in orders]
        readers = [scraper_process(command, urls[0], "--db", str(db))
                   for command in ("history", "show", "diff")]
        # Every archiver waits at its first article until the crawl fetches its own first
        # article, so all of them run together with the crawl.
        server.wait_held(ARCHIVERS)
        child.start(db=str(db), config=str(config), log=str(tmp_path / "crawl.log"),
                    feed=feed, sitemap=sitemap, pool=True)
        crawl_ended = child.wait()
        outputs = [p.communicate(timeout=120) for p in archivers + readers]
    finally:
        child.close()
    crawl_log = (tmp_path / "crawl.log").read_text()
    assert server.crawl_arrived.is_set(), "the archivers ran out of patience, not together"
    assert crawl_ended.get("exit") == 0, crawl_log
    for process, (out, err) in zip(archivers + readers, outputs):
        assert "locked" not in err and "Traceback" not in err, err
    for process, (out, err) in zip(archivers, outputs):
        assert process.returncode == 0 and err == "", err
    assert [p.returncode for p in readers] == [0, 0, 0]
    assert "nothing to compare yet" in outputs[-1][0]  # diff: one version so far
    assert "locked" not in crawl_log and "Traceback" not in crawl_log, crawl_log

    assert_intact(db)
    # nothing lost: every request made is a fetch row, every article one version
    crawl = rows(db, "SELECT status, checked, new_version FROM crawls")
    assert len(crawl) == 1 and crawl[0][0] == "finished"
    _, crawl_checked, crawl_new = crawl[0]
    assert rows(db, "SELECT count(*) FROM fetches")[0][0] == 1 + ARCHIVERS * ARTICLES + \
        crawl_checked
    lines = Counter(line.rsplit("  ", 1)[1] for out, _ in outputs[:ARCHIVERS]
                    for line in out.splitlines())
    assert set(lines) <= {"new version 1", "unchanged"}
    assert lines["new version 1"] + crawl_new == ARTICLES - 1  # the seeded one is not new
    archived = rows(db, "SELECT a.url, count(v.id) FROM articles a JOIN versions v"
                        " ON v.article_id = a.id GROUP BY a.id")
    assert sorted(archived) == sorted((url, 1) for url in urls)


def test_processes_opening_one_new_file_at_the_same_instant_all_migrate_it_safely(
        tmp_path: Path) -> None:
    rounds, processes = 30, 6
    dbs = [str(tmp_path / f"new-{r}.db") for r in range(rounds)]
    children = [subprocess.Popen(
        [sys.executable, str(HERE / "store_child.py"), *dbs], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    try:
        for child in children:  # every process has imported the scraper
            assert child.stdout
            line = child.stdout.readline()
            assert json.loads(line or "{}") == {"ready": True}, f"store_child.py said {line!r}"
        errors: list[list[str | None]] = [[] for _ in children]
        for _ in dbs:
            # Each round starts when every process is waiting for it: all open the file
            # together, however long the round before took on a loaded machine.
            for child in children:
                assert child.stdin and child.stdout
                child.stdin.write("go\n")
                child.stdin.flush()
            for child, seen in zip(children, errors):
                assert child.stdout
                seen.append(json.loads(child.stdout.readline() or "{}").get("error", "died"))
    finally:
        results = [child.communicate(timeout=60) for child in children]
    for child, seen, (_, err) in zip(children, errors, results):
        assert child.returncode == 0 and err == "", err
        assert seen == [None] * rounds
    for db in dbs:
        assert_intact(Path(db))
        with closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("SELECT count(*) FROM fetches").fetchone()[0] == processes
            names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master")]
            assert len(names) == len(set(names)) and "versions" in names


def test_write_lock_held_past_the_busy_timeout_is_one_store_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "archive.db"
    Archive(db).close()
    monkeypatch.setattr(store_connection, "BUSY_TIMEOUT_S", 0.2)
    with closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another process that never lets go
        with Archive(db) as archive:
            started = time.monotonic()
            with pytest.raises(StoreError, match="database is locked"):
                archive.record_fetch("http://127.0.0.1/x", started_at=utc_now(), elapsed_ms=0,
                                     status=200, outcome="unchanged")
            assert time.monotonic() - started < 5
        other.execute("ROLLBACK")
    assert rows(db, "SELECT count(*) FROM fetches") == [(0,)]
