"""A URL that robots.txt blocks, as a new user meets it: the line says what happened, an
unknown host is asked once, and the attempt is a ``fetches`` row (outcome ``blocked``) from
`scraper archive` and from the crawl alike.

No test resolves a name for real: an unknown host is a ``socket.gaierror`` (EAI_NONAME)
raised by a patched ``getaddrinfo`` or a ``MockTransport``, as glibc raises it offline.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from server import Response, TestServer
from test_robots_rfc import crawl, feed_site, serve_pages

from scraper import fetch as fetch_module
from scraper.cli import cli
from scraper.fetch import make_client
from scraper.models import Outcome
from scraper.robots import Robots
from scraper.store import utc_now

NO_NAME = "[Errno -2] Name or service not known"


def no_such_name(*args: Any, **kwargs: Any) -> Any:
    """What getaddrinfo raises for a name that does not exist (or on a machine offline)."""
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def fetch_rows(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM fetches ORDER BY id")]


def test_robots_txt_of_an_unknown_host_is_asked_once_and_says_it_cannot_reach_it() -> None:
    asked: list[str] = []

    def unknown(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        raise httpx.ConnectError(NO_NAME) from socket.gaierror(
            socket.EAI_NONAME, "Name or service not known")

    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    robots = Robots(sleep=record)

    async def go() -> bool:
        async with make_client(transport=httpx.MockTransport(unknown)) as client:
            return await robots.allowed(client, "https://news.invalid/a", "TestBot/1.0")

    assert asyncio.run(go()) is False
    # as fetch does for a page: no retry makes a name exist
    assert asked == ["https://news.invalid/robots.txt"] and waits == []
    assert robots.unavailable("https://news.invalid/b") == (
        f"cannot reach news.invalid to read its robots.txt ({NO_NAME}); not fetched, "
        "try again later")


def test_a_temporary_dns_failure_of_robots_txt_is_still_retried() -> None:
    asked: list[str] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if len(asked) == 1:  # EAI_AGAIN: the resolver did not answer, the name may exist
            raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution") \
                from socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return httpx.Response(404)

    async def record(seconds: float) -> None:
        pass

    robots = Robots(sleep=record)

    async def go() -> bool:
        async with make_client(transport=httpx.MockTransport(flaky)) as client:
            return await robots.allowed(client, "https://news.invalid/a", "TestBot/1.0")

    assert asyncio.run(go()) is True and len(asked) == 2


def test_archive_of_an_unknown_host_says_so_at_once_and_records_a_blocked_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        return no_such_name() if name.endswith(".invalid") else real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(fetch_module, "pause", record)
    url = "https://www.news.invalid/2024/01/01/some-article-a80850"
    db = tmp_path / "a.db"
    result = CliRunner().invoke(cli, ["archive", "--db", str(db), url])
    assert result.exit_code == 1, result.output
    why = (f"cannot reach www.news.invalid to read its robots.txt ({NO_NAME}); not fetched, "
           "try again later")
    assert result.stderr.splitlines()[-1].partition(" ")[2] == f"{url}  blocked: {why}"
    assert waits == []  # was 2 s and 4 s before the 2nd and 3rd robots.txt attempts
    rows = fetch_rows(db)
    assert [(r["url"], r["outcome"], r["error"], r["status"]) for r in rows] == [
        (url, "blocked", why, None)]
    stats = CliRunner().invoke(cli, ["stats", "--json", "--db", str(db)])
    assert '"blocked"' in stats.stdout


def test_archive_of_a_disallowed_url_records_a_blocked_fetch(
    server: TestServer, tmp_path: Path
) -> None:
    server.route("/robots.txt", Response(200, b"User-agent: *\nDisallow: /private/\n"))
    url = server.url("/private/story")
    db = tmp_path / "a.db"
    result = CliRunner().invoke(cli, ["archive", "--db", str(db), "--delay", "0", url])
    assert result.exit_code == 1 and server.hits("/private/story") == 0
    rows = fetch_rows(db)
    assert [(r["url"], r["outcome"], r["error"]) for r in rows] == [
        (url, "blocked", f"robots.txt disallows {url}")]


def test_crawl_records_a_blocked_fetch_for_each_url_of_a_host_without_robots_txt(
    tmp_path: Path,
) -> None:
    with TestServer("127.0.0.2") as down, TestServer("127.0.0.3") as up:
        down.route("/robots.txt", Response(503))
        up.route("/robots.txt", Response(200, b"User-agent: *\nDisallow: /news/4\n"))
        urls = serve_pages(down, range(1, 3)) + serve_pages(up, range(3, 5))
        site = feed_site(up, urls, "127.0.0.2", "127.0.0.3")
        db = tmp_path / "a.db"
        report, results = crawl(db, site)
        assert down.hits("/news/1") == down.hits("/news/2") == up.hits("/news/4") == 0
    blocked = {r.url: r.error for r in results if r.outcome == Outcome.BLOCKED}
    rows = {r["url"]: (r["outcome"], r["error"]) for r in fetch_rows(db)
            if r["outcome"] == "blocked"}
    # unreachable (two URLs) and disallowed (one): each a row saying why, as its result does
    assert rows == {url: ("blocked", why) for url, why in blocked.items()}
    assert set(rows) == {urls[0], urls[1], urls[3]}
    assert rows[urls[0]][1].startswith("cannot read robots.txt of 127.0.0.2:")
    # not tried: skipped, as before
    assert report.counts["skipped"] == 2


def test_known_articles_of_a_host_whose_robots_txt_fails_wait_for_their_next_check(
    tmp_path: Path,
) -> None:
    # left due, a host that stays down would add a row per article on every run and take
    # the re-check budget from the sites that answer
    with TestServer("127.0.0.2") as host:
        host.route("/robots.txt", Response(404))
        site = feed_site(host, serve_pages(host, range(1, 3)), "127.0.0.2")
        db = tmp_path / "a.db"
        assert crawl(db, site)[0].counts["new_version"] == 2
        host.route("/robots.txt", Response(503))
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE articles SET next_check = '2000-01-01T00:00:00+00:00'")
        report, _ = crawl(db, site)
        assert report.counts["skipped"] == 2
        with sqlite3.connect(db) as conn:
            ids = {a for (a,) in conn.execute("SELECT id FROM articles")}
            due = conn.execute("SELECT count(*) FROM articles WHERE next_check <= ?",
                               [utc_now()]).fetchone()[0]
        blocked = [r for r in fetch_rows(db) if r["outcome"] == "blocked"]
        assert {r["article_id"] for r in blocked} == ids and due == 0
        crawl(db, site)  # at once again: nothing is due, nothing more is written
        assert len([r for r in fetch_rows(db) if r["outcome"] == "blocked"]) == 2


def test_a_queued_crawl_records_the_blocked_fetch_as_a_local_crawl_does(tmp_path: Path) -> None:
    from scraper.config import Config
    from scraper.queue.coordinate import apply_url
    from scraper.queue.messages import Job, UrlResult
    from scraper.sites import site_named
    from scraper.store import Archive

    url, why = "https://news.invalid/a", "cannot reach news.invalid to read its robots.txt (x)"
    skipped = UrlResult(Job(url, "generic"), "skipped", "2026-01-01T00:00:00Z", 0,
                        outcome=Outcome.BLOCKED, error=why)
    with Archive(tmp_path / "a.db") as archive:
        result = apply_url(archive, skipped, site_named("generic"), Config())
        # delivered twice (a coordinator that died before acknowledging): one row
        apply_url(archive, skipped, site_named("generic"), Config(), redelivered=True)
    assert result is not None and (result.outcome, result.error) == (Outcome.BLOCKED, why)
    assert [(r["url"], r["outcome"], r["error"]) for r in fetch_rows(tmp_path / "a.db")] == [
        (url, "blocked", why)]


def test_scraper_archive_says_it_in_one_line_not_two(tmp_path: Path) -> None:
    # the console script, as a user runs it: its "scraper" logger writes warnings to stderr
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        home = f"127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once it is closed
    done = subprocess.run(
        [sys.executable, "-c", "from scraper.cli import main; main()", "archive", "--delay", "0",
         "--db", str(tmp_path / "a.db"), f"http://{home}/news/1"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert [line.partition(" ")[2] for line in done.stderr.splitlines()] == [
        f"http://{home}/news/1  blocked: cannot reach {home} to read its robots.txt "
        "(connection refused); not fetched, try again later"]


def test_archive_of_an_archived_url_whose_robots_txt_fails_links_its_blocked_row(
    server: TestServer, tmp_path: Path, no_waits: list[float]
) -> None:
    url = serve_pages(server, range(1, 2))[0]
    db = tmp_path / "a.db"
    archive = ["archive", "--db", str(db), "--delay", "0", url]
    assert CliRunner().invoke(cli, archive).exit_code == 0
    server.route("/robots.txt", Response(503))
    assert CliRunner().invoke(cli, archive).exit_code == 1
    with sqlite3.connect(db) as conn:
        (article,) = conn.execute("SELECT id FROM articles").fetchone()
    rows = [r for r in fetch_rows(db) if r["outcome"] == "blocked"]
    assert [(r["url"], r["article_id"]) for r in rows] == [(url, article)]


def test_a_forgotten_url_whose_robots_txt_fails_stays_forgotten_and_unnamed(
    server: TestServer, tmp_path: Path, no_waits: list[float]
) -> None:
    url = serve_pages(server, range(1, 2))[0]
    db = tmp_path / "a.db"
    archived = CliRunner().invoke(cli, ["archive", "--db", str(db), "--delay", "0", url])
    assert archived.exit_code == 0
    assert CliRunner().invoke(cli, ["forget", url, "--db", str(db), "--yes"]).exit_code == 0
    server.route("/robots.txt", Response(503))
    result = CliRunner().invoke(cli, ["archive", "--db", str(db), "--delay", "0", url])
    assert "forgotten on" in result.stderr and "robots.txt" not in result.stderr
    with sqlite3.connect(db) as conn:  # `forget` leaves only a tombstone: no row names it
        assert conn.execute("SELECT count(*) FROM fetches WHERE url = ?", [url]).fetchone() == (0,)
