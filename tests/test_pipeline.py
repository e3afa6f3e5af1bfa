"""One URL through fetch → extract → store (scraper.pipeline.archive_url): identity and state
across re-checks, and failures that must stay confined to their URL."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from string import Template

from server import Response, TestServer

from scraper import fetch as fetch_module
from scraper.fetch import make_client
from scraper.models import Page
from scraper.pipeline import archive_url, extract_page
from scraper.sites import Site, site_named
from scraper.store import Archive

FIXTURES = Path(__file__).parent / "fixtures" / "site"


def html(title: str = "Story number 1", extra: str = "", canonical: str = "") -> str:
    body = "\n".join(f"<p>The council met on {i} March and voted on the budget for the "
                     f"coming year, after a long debate about schools and roads.</p>"
                     for i in range(1, 5))
    page = Template((FIXTURES / "article.html").read_text()).substitute(
        title=title, published="2024-10-10T12:00:00+00:00", body=body + extra)
    if canonical:
        page = page.replace("<head>", f'<head>\n<link rel="canonical" href="{canonical}">')
    return page


async def _no_wait(seconds: float) -> None:
    return None


def archive(db: Path, url: str, site: Site | None = None, extractor=None):
    async def go():
        with Archive(db) as store:
            async with make_client() as client:
                kwargs = {"extractor": extractor} if extractor else {}
                return await archive_url(client, store, url, robots=None,
                                         site=site or site_named("generic"), sleep=_no_wait,
                                         **kwargs)
    return asyncio.run(go())


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_an_adapter_that_raises_fails_only_its_url(server: TestServer, tmp_path: Path) -> None:
    server.route("/a", Response.html(html()))
    db = tmp_path / "archive.db"

    async def broken(page: Page, site: Site):
        raise AttributeError("'list' object has no attribute 'strip'")

    result = archive(db, server.url("/a"), extractor=broken)
    assert result.outcome == "no_article"
    assert "extraction failed" in result.error and "AttributeError" in result.error
    assert rows(db, "SELECT outcome FROM fetches") == [("no_article",)]
    assert archive(db, server.url("/a")).outcome == "new_version"  # the next one goes on


def test_failing_known_article_is_rescheduled_and_its_fetch_points_at_it(
        server: TestServer, tmp_path: Path) -> None:
    server.route("/a", Response.html(html()), Response(503, b"busy"))
    db = tmp_path / "archive.db"
    archive(db, server.url("/a"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE articles SET next_check = '2000-01-01T00:00:00+00:00'")
    result = archive(db, server.url("/a"))
    assert result.outcome == "error" and result.status == 503
    (next_check, checks), = rows(db, "SELECT next_check, check_count FROM articles")
    assert next_check > "2000-01-01" and checks == 2
    assert rows(db, "SELECT outcome, article_id FROM fetches ORDER BY id") == [
        ("new_version", 1), ("error", 1)]


def test_known_article_keeps_its_identity_when_its_canonical_url_changes(
        server: TestServer, tmp_path: Path) -> None:
    first, moved = server.url("/news/old-slug"), server.url("/news/new-slug")
    server.route("/news/old-slug", Response.html(html(canonical=first)),
                 Response.html(html(title="Story number 1, updated", canonical=moved)))
    db = tmp_path / "archive.db"
    assert archive(db, first).outcome == "new_version"
    result = archive(db, first)
    assert (result.outcome, result.version) == ("new_version", 2)
    assert rows(db, "SELECT count(*) FROM articles") == [(1,)]


def test_gone_article_that_comes_back_is_active_again(server: TestServer,
                                                      tmp_path: Path) -> None:
    page = Response.html(html())
    server.route("/a", page, Response(404, b"missing"), page)
    db = tmp_path / "archive.db"
    archive(db, server.url("/a"))
    assert archive(db, server.url("/a")).outcome == "gone"
    assert rows(db, "SELECT state, next_check FROM articles") == [("gone", None)]
    assert archive(db, server.url("/a")).outcome == "unchanged"  # the same bytes again
    (state, next_check), = rows(db, "SELECT state, next_check FROM articles")
    assert state == "active" and next_check is not None


def test_the_extractor_gets_the_page_as_bytes_and_an_unchanged_page_is_never_decoded(
        server: TestServer, tmp_path: Path, monkeypatch) -> None:
    server.route("/a", Response.html(html()))
    db = tmp_path / "archive.db"
    seen: list[Page] = []

    async def recording(page: Page, site: Site):
        seen.append(page)
        return extract_page(page, site)

    assert archive(db, server.url("/a"), extractor=recording).outcome == "new_version"
    assert seen[0].html == "" and seen[0].raw == html().encode()  # decoded by the extractor

    def no_decoding(raw: bytes, content_type: str):
        raise AssertionError("an unchanged page was decoded")

    monkeypatch.setattr(fetch_module, "decode_html", no_decoding)
    again = archive(db, server.url("/a"), extractor=recording)
    assert again.outcome in ("unchanged", "not_modified")
    assert len(seen) == 1
