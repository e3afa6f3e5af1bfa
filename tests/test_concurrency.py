"""Concurrent writers: a crawl and several `scraper archive` processes on one archive at once
lose nothing, and no "database is locked" ever reaches the user.

Real processes throughout: `python -m scraper archive` for the hand-run archiving, a fork
of tests/crawl_child.py for the crawl (with its extraction process pool), and
tests/store_child.py for processes that open a brand-new file at the same instant.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
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

HERE = Path(__file__).parent
CRAWLED = 24  # /news/1..24 are in the site's feed and sitemap
ARTICLES = 36  # /news/25..36 are only archived by hand
ARCHIVERS = 5
CRAWL_UA = "crawl-under-test/1.0"


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[TestServer, str, str]]:
    with TestServer() as server:
        feed, sitemap = serve_site(server, CRAWLED)
        for n in range(CRAWLED + 1, ARTICLES + 1):
            server.route(f"/news/{n}", Response.html(article_html(n)))
        yield server, feed, sitemap


def scraper_process(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scraper", *args], cwd=HERE.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_crawl_and_archive_processes_at_once_lose_nothing_and_never_say_locked(
        site: tuple[TestServer, str, str], tmp_path: Path) -> None:
    server, feed, sitemap = site
    db = tmp_path / "archive.db"
    urls = [server.url(f"/news/{n}") for n in range(1, ARTICLES + 1)]
    # An archive that already exists, so readers can run from the start.
    seeded = CliRunner().invoke(cli, ["archive", urls[0], "--db", str(db), "--site", "generic"])
    assert seeded.exit_code == 0, seeded.output
    config = tmp_path / "scraper.toml"
    config.write_text(f'[crawl]\ndelay = 0\nuser_agent = "{CRAWL_UA}"\n')
    child = CrawlChild(tag_for(tmp_path))
    try:
        seen_before = len(server.requests)
        # Every archiver takes every URL, each starting at another place in the list:
        # the same articles are saved by several processes within milliseconds.
        orders = [urls[i * 7 % ARTICLES:] + urls[:i * 7 % ARTICLES] for i in range(ARCHIVERS)]
        archivers = [scraper_process("archive", *order, "--db", str(db), "--site", "generic")
                     for order in orders]
        readers = [scraper_process(command, urls[0], "--db", str(db))
                   for command in ("history", "show", "diff")]
        # Start the crawl when the archivers' first requests arrive, so all run together.
        wait_for(lambda: len(server.requests) > seen_before + ARCHIVERS)
        child.start(db=str(db), config=str(config), log=str(tmp_path / "crawl.log"),
                    feed=feed, sitemap=sitemap, pool=True)
        crawl_ended = child.wait()
        outputs = [p.communicate(timeout=120) for p in archivers + readers]
    finally:
        child.close()
    crawl_log = (tmp_path / "crawl.log").read_text()
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
    start = time.time() + 2.0  # after every process has imported the scraper
    children = [subprocess.Popen(
        [sys.executable, str(HERE / "store_child.py"), str(start), "0.08", *dbs],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    results = [child.communicate(timeout=60) for child in children]
    for child, (out, err) in zip(children, results):
        assert child.returncode == 0 and err == "", err
        assert [json.loads(line)["error"] for line in out.splitlines()] == [None] * rounds
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
