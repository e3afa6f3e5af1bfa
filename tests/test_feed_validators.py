"""Conditional GETs of feeds and sitemaps: an unchanged feed is a 304 and is not parsed, and
a feed's validators are kept only once every link it listed was dealt with."""

from __future__ import annotations

import asyncio
import sqlite3
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from server import Response, TestServer
from test_crawl import article_html, crawl, feed_xml, serve_article, sitemap_xml

from scraper import discover as discover_module
from scraper.config import Config, SiteSettings
from scraper.sites import Site
from scraper.store import Archive
from scraper.store.feeds import drop_feed_validators, feed_validators, save_feed_validators


class LocalNews(Site):
    name = "localnews"
    domains = ("127.0.0.1",)
    article_path = r"^/news/\d+$"


def conditional(body: bytes, etag: str, content_type: str = "application/rss+xml") -> Response:
    """``body`` with an ETag; a request that already has it gets a 304."""

    def handler(req: BaseHTTPRequestHandler) -> None:
        if req.headers.get("If-None-Match") == etag:
            req.send_response(304)
            req.send_header("ETag", etag)
            req.end_headers()
            return
        req.send_response(200)
        req.send_header("Content-Type", content_type)
        req.send_header("ETag", etag)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    return Response(handler=handler)


def feed_site(server: TestServer, numbers: list[int], etag: str = '"v1"') -> LocalNews:
    server.route("/rss", conditional(feed_xml(server, numbers).encode(), etag))
    site = LocalNews()
    site.feeds = (server.url("/rss"),)  # type: ignore[misc]
    return site


def feed_asks(server: TestServer) -> list[str | None]:
    """The If-None-Match of each request for the feed, in order."""
    return [r.headers.get("if-none-match") for r in server.requests if r.path == "/rss"]


def stored(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT url, etag FROM feed_validators ORDER BY url").fetchall()


def test_an_unchanged_feed_is_a_304_and_is_not_parsed(server: TestServer, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    site = feed_site(server, [1, 2])
    for n in (1, 2):
        serve_article(server, n)
    db = tmp_path / "a.db"
    assert crawl(db, site).counts["new_version"] == 2
    assert stored(db) == [(server.url("/rss"), '"v1"')]

    def no_parsing(*args: object, **kw: object) -> None:
        raise AssertionError("an unchanged feed must not be parsed")

    monkeypatch.setattr(discover_module, "links_from_feed", no_parsing)
    report = crawl(db, site)
    assert report.counts["discovered"] == 0 and report.counts["discovery_failed"] == 0
    assert feed_asks(server) == [None, '"v1"']


def test_a_feed_whose_links_were_not_all_archived_keeps_no_validators(
        server: TestServer, tmp_path: Path) -> None:
    site = feed_site(server, [1, 2, 3])
    serve_article(server, 1)
    serve_article(server, 2, Response(500, b"busy"), Response.html(article_html(2)))
    serve_article(server, 3)
    db = tmp_path / "a.db"
    config = Config(defaults=SiteSettings(delay=0))

    async def no_wait(seconds: float) -> None:
        pass

    first = crawl(db, site, config, sleep=no_wait)
    # /news/2 failed on every attempt of the first run (500 repeats until the last reply)
    assert first.counts["new_version"] + first.counts["error"] == 3
    if first.counts["error"]:
        assert stored(db) == []  # a 304 next time would lose /news/2
    second = crawl(db, site, config, sleep=no_wait)
    assert first.counts["new_version"] + second.counts["new_version"] == 3


def test_a_run_cut_short_by_max_time_keeps_no_validators(server: TestServer,
                                                         tmp_path: Path) -> None:
    site = feed_site(server, [1, 2, 3])

    def never(req: BaseHTTPRequestHandler) -> None:
        req.test_server.stopping.wait()  # type: ignore[attr-defined]

    # the feed's newest, fetched first
    serve_article(server, 3, Response(handler=never), Response.html(article_html(3)))
    for n in (1, 2):
        serve_article(server, n)
    db = tmp_path / "a.db"

    async def no_wait(seconds: float) -> None:
        pass

    first = crawl(db, site, max_time=1.0, sleep=no_wait)  # /news/3 holds it past the deadline
    assert first.status == "timed_out" and first.counts["new_version"] < 3
    assert stored(db) == []
    second = crawl(db, site, sleep=no_wait)
    assert first.counts["new_version"] + second.counts["new_version"] == 3
    assert feed_asks(server) == [None, None]  # read in full again: nothing lost
    assert stored(db) == [(server.url("/rss"), '"v1"')]  # now all were dealt with


def test_a_sitemap_index_is_always_read_in_full_its_children_conditionally(
        server: TestServer, tmp_path: Path) -> None:
    child = sitemap_xml(server, ["/news/1", "/news/2"]).encode()
    server.route("/child.xml", conditional(child, '"c1"', "application/xml"))
    index = ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns='
             '"http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>'
             f'{server.url("/child.xml")}</loc></sitemap></sitemapindex>').encode()
    server.route("/index.xml", conditional(index, '"i1"', "application/xml"))
    for n in (1, 2):
        serve_article(server, n)
    site = LocalNews()
    site.sitemaps = (server.url("/index.xml"),)  # type: ignore[misc]
    db = tmp_path / "a.db"
    assert crawl(db, site).counts["new_version"] == 2
    assert stored(db) == [(server.url("/child.xml"), '"c1"')]
    crawl(db, site)
    asks = {r.path: r.headers.get("if-none-match") for r in server.requests}
    assert asks["/index.xml"] is None and asks["/child.xml"] == '"c1"'


def test_validators_round_trip_in_the_store(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        save_feed_validators(archive, {"https://a.example/rss": ('"x"', None),
                                       "https://a.example/s.xml": (None, "Mon, 01 Jan 2024")})
        save_feed_validators(archive, {"https://a.example/rss": ('"y"', None)})
        assert feed_validators(archive, ["https://a.example/rss", "https://b.example/"]) == {
            "https://a.example/rss": ('"y"', None)}
        drop_feed_validators(archive, ["https://a.example/rss"])
        assert feed_validators(archive) == {
            "https://a.example/s.xml": (None, "Mon, 01 Jan 2024")}
    asyncio.run(asyncio.sleep(0))
