"""`scraper stats`: what the archive holds, through the command line."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner
from server import Response, TestServer

from scraper.cli import cli
from scraper.store import Archive

# the politeness delay and retry waits are not what these tests are about
pytestmark = pytest.mark.usefixtures("no_waits")

FIXTURES = Path(__file__).parent / "fixtures" / "themoscowtimes"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_stats_counts_articles_versions_fetches_and_crawls(server: TestServer,
                                                            tmp_path: Path) -> None:
    db = str(tmp_path / "archive.db")
    page = (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")
    server.route("/a", Response.html(page))
    server.route("/b", Response.html(page.replace("He added", "He later added")),
                 Response(410, b"gone", {"Content-Type": "text/html"}))
    server.route("/c", Response(404, b"no", {"Content-Type": "text/html"}))
    for path in ("/a", "/b", "/b", "/c"):
        run("archive", server.url(path), "--db", db)
    code, out, err = run("stats", "--db", db, "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["articles"] == 2 and data["versions"] == 2
    assert data["sites"] == {"generic": {"active": 1, "gone": 1}}
    assert data["fetches_last_day"] == {"gone": 2, "new_version": 2}
    assert data["crawls"] == [] and data["bytes"] > 0
    code, out, _ = run("stats", "--db", db)
    assert code == 0 and out.startswith(f"{db}: 2 articles, 2 versions, ")
    assert "generic          1 active, 1 gone" in out and "2 gone, 2 new version" in out


def test_stats_without_an_archive_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    code, out, err = run("stats", "--db", str(tmp_path / "none.db"))
    assert (code, out) == (1, "") and err.startswith("scraper: error: no archive at")
    assert not (tmp_path / "none.db").exists()


def crawl_and_stats(db: Path, site: object,
                    monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict, str]:
    """``scraper crawl`` of ``site`` alone, then the crawl as ``scraper stats`` shows it:
    the crawl's exit code, its entry in ``stats --json`` and its line in ``stats``."""
    from scraper.cli import crawling

    monkeypatch.setattr(crawling, "_crawl_sites", lambda names, configured: [site])
    code = CliRunner().invoke(cli, ["crawl", "--db", str(db)]).exit_code
    out_code, out, err = run("stats", "--db", str(db), "--json")
    assert (out_code, err) == (0, "")
    (crawl,) = json.loads(out)["crawls"]
    out_code, out, err = run("stats", "--db", str(db))
    assert (out_code, err) == (0, "")
    (line,) = [line for line in out.splitlines() if line.startswith("  crawl ")]
    return code, crawl, line


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound (so no one else takes it during
    the test) but never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("feed", ["answers 500", "refuses connections"])
def test_a_crawl_whose_feeds_fail_shows_the_failure_in_its_row_and_in_stats(
        server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        closed_port: int, feed: str) -> None:
    from test_crawl import LocalNews

    server.route("/rss", Response(500, b"down", {"Content-Type": "text/plain"}))
    site = LocalNews()
    site.feeds = ((server.url("/rss") if feed == "answers 500"  # type: ignore[misc]
                   else f"http://127.0.0.1:{closed_port}/rss"),)
    db = tmp_path / "archive.db"
    code, crawl, line = crawl_and_stats(db, site, monkeypatch)
    assert code == 1  # as the crawl's own summary, which says "discovery failed for 1 site"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status, discovery_failed, error FROM crawls").fetchall() \
            == [("finished", 1, 0)]
    assert crawl["discovery_failed"] == 1 and crawl["status"] == "finished"
    assert line.startswith("  crawl 1: finished, started ")
    assert line.endswith(", 0 discovered, discovery failed for 1 site, 0 checked,"
                         " 0 new versions, 0 errors")


def test_a_healthy_crawl_shows_no_discovery_failures_and_no_extra_words(
        server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_crawl import serve_article, site_on

    site = site_on(server, [1], [])
    serve_article(server, 1)
    code, crawl, line = crawl_and_stats(tmp_path / "archive.db", site, monkeypatch)
    assert code == 0
    assert crawl["discovery_failed"] == 0
    assert line.endswith(", 1 discovered, 1 checked, 1 new version, 0 errors")
    assert "discovery" not in line


def test_crawls_of_an_archive_from_before_discovery_failures_were_counted_show_0(
        tmp_path: Path) -> None:
    from scraper.store import MIGRATIONS

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    for migrate in MIGRATIONS[:3]:  # schema 3: crawls had no discovery_failed yet
        migrate(sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO crawls (started_at, finished_at, sites, status, discovered,"
                 " checked, new_version) VALUES ('2024-01-01T00:00:00+00:00',"
                 " '2024-01-01T00:01:00+00:00', '[\"generic\"]', 'finished', 2, 2, 1)")
    conn.close()
    with Archive(db) as archive:  # stats reads only: opening it read-write migrates it
        assert archive.db.conn.execute("SELECT discovery_failed FROM crawls").fetchall() == [(0,)]
    code, out, err = run("stats", "--db", str(db), "--json")
    assert (code, err) == (0, "")
    (crawl,) = json.loads(out)["crawls"]
    assert crawl["discovery_failed"] == 0 and crawl["discovered"] == 2
    code, out, _ = run("stats", "--db", str(db))
    assert code == 0 and "  crawl 1: finished, started 2024-01-01T00:00:00+00:00, 2 discovered," \
        " 2 checked, 1 new version, 0 errors\n" in out
