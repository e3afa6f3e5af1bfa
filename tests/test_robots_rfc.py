"""robots.txt in a crawl, as RFC 9309 says: read before anything else on its host, never
skipped; 4xx allows all, 5xx or an unreachable server disallows all for the run."""

from __future__ import annotations

import asyncio
import socket
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
from server import Response, TestServer
from test_crawl import article_html, feed_xml
from test_feed_validators import conditional

from scraper.config import Config, SiteSettings
from scraper.crawl import run_crawl
from scraper.models import Outcome
from scraper.pipeline import Result
from scraper.sites import Site
from scraper.store import Archive

FAST = Config(defaults=SiteSettings(delay=0))


class Hosts(Site):
    """A site spread over local hosts; its domains and feed are set per test."""

    name = "hosts"
    article_path = r"^/news/\d+$"


class Recording(httpx.AsyncHTTPTransport):
    """The real transport, noting every URL the crawl sends a request to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return await super().handle_async_request(request)


async def no_wait(seconds: float) -> None:
    """The crawl's sleep: robots.txt retries and delays are asked for, never waited."""


def crawl(db: Path, site: Site, **kw: object) -> tuple[object, list[Result]]:
    results: list[Result] = []
    with Archive(db) as archive:
        crawl_id = archive.start_crawl([site.name])
        report = asyncio.run(run_crawl(archive, FAST, [site], crawl_id=crawl_id, sleep=no_wait,
                                       on_result=results.append, **kw))
        archive.finish_crawl(crawl_id, dict(report.counts), report.status)
    return report, results


def feed_site(feed_host: TestServer, urls: list[str], *domains: str) -> Hosts:
    """A site whose feed on ``feed_host`` lists ``urls``."""
    items = "".join(f"<item><title>{u}</title><link>{u}</link></item>" for u in urls)
    body = feed_xml(feed_host, []).replace("</channel>", items + "</channel>")
    feed_host.route("/rss", conditional(body.encode(), '"v1"'))  # a 304 when unchanged
    site = Hosts()
    site.domains = domains  # type: ignore[misc]
    site.feeds = (feed_host.url("/rss"),)  # type: ignore[misc]
    return site


def serve_pages(server: TestServer, numbers: range) -> list[str]:
    for n in numbers:
        server.route(f"/news/{n}", Response.html(article_html(n)))
    return [server.url(f"/news/{n}") for n in numbers]


def test_robots_404_allows_every_page_and_is_read_first(tmp_path: Path) -> None:
    with TestServer("127.0.0.2") as host:
        site = feed_site(host, serve_pages(host, range(1, 4)), "127.0.0.2")
        report, _ = crawl(tmp_path / "a.db", site)
        paths = [r.path for r in host.requests]
    assert report.counts["new_version"] == 3
    assert paths[0] == "/robots.txt" and paths.count("/robots.txt") == 1


def test_robots_404_cut_off_in_its_body_still_allows_every_page(tmp_path: Path) -> None:
    # the status decides; the error page's body is only read to keep the connection
    with TestServer("127.0.0.2") as host:
        host.route("/robots.txt", Response.reset_after(b"not found " * 100, 10, status=404))
        site = feed_site(host, serve_pages(host, range(1, 3)), "127.0.0.2")
        report, _ = crawl(tmp_path / "a.db", site)
        assert report.counts["new_version"] == 2
        assert host.hits("/robots.txt") == 1


def test_robots_503_means_nothing_is_fetched_from_that_host_this_run(tmp_path: Path) -> None:
    with TestServer("127.0.0.2") as down, TestServer("127.0.0.3") as up:
        down.route("/robots.txt", Response(503))
        urls = serve_pages(down, range(1, 3)) + serve_pages(up, range(3, 5))
        site = feed_site(up, urls, "127.0.0.2", "127.0.0.3")
        report, results = crawl(tmp_path / "a.db", site)
        # retried (RFC 9309 allows a crawler to), then "disallow all"; no page asked for
        assert [r.path for r in down.requests] == ["/robots.txt"] * 3
        assert report.counts["new_version"] == 2 and report.counts["skipped"] == 2
        blocked = [r for r in results if r.outcome == Outcome.BLOCKED]
        assert [r.url for r in blocked] == urls[:2]
        assert all((r.error or "").startswith("cannot read robots.txt of 127.0.0.2:")
                   and "(HTTP 503)" in (r.error or "") for r in blocked)
        # the next run, robots.txt back: the host's pages were left for it, not lost (the
        # feed, unchanged, is read in full: its validators were not kept)
        down.route("/robots.txt", Response(404))
        report, _ = crawl(tmp_path / "a.db", site)
        assert report.counts["new_version"] == 2 and report.counts["discovered"] == 2
        assert down.hits("/news/1") == down.hits("/news/2") == 1


def closed_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]  # nothing listens once it is closed


def test_robots_txt_of_a_host_that_refuses_connections_disallows_it(tmp_path: Path) -> None:
    gone = f"http://127.0.0.2:{closed_port('127.0.0.2')}"
    transport = Recording()
    with TestServer("127.0.0.3") as up:
        urls = [f"{gone}/news/1", f"{gone}/news/2"] + serve_pages(up, range(3, 4))
        site = feed_site(up, urls, "127.0.0.2", "127.0.0.3")
        report, results = crawl(tmp_path / "a.db", site, transport=transport)
    to_gone = [u for u in transport.urls if u.startswith(gone)]
    assert to_gone == [f"{gone}/robots.txt"] * 2  # a refused connection is tried twice
    assert report.counts["new_version"] == 1 and report.counts["skipped"] == 2
    assert report.counts["error"] == 0
    assert all("connection refused" in (r.error or "") for r in results
               if r.outcome == Outcome.BLOCKED)


def test_no_request_reaches_a_host_before_its_robots_txt_is_answered(tmp_path: Path) -> None:
    release = threading.Event()  # set when the other host's last page is served
    answered_after: list[int] = []  # requests the held host had seen when robots.txt went out

    def held_robots(req: BaseHTTPRequestHandler) -> None:
        release.wait(timeout=30)  # a safety net only: the other host releases it
        write(req, 200, b"User-agent: *\nAllow: /\n", "text/plain")
        answered_after.append(len(req.test_server.requests))  # type: ignore[attr-defined]

    def page_then_release(n: int) -> Response:
        def handler(req: BaseHTTPRequestHandler) -> None:
            write(req, 200, article_html(n).encode(), "text/html; charset=utf-8")
            release.set()
        return Response(handler=handler)

    with TestServer("127.0.0.2") as held, TestServer("127.0.0.3") as other:
        held.route("/robots.txt", Response(handler=held_robots))
        urls = serve_pages(held, range(1, 4)) + serve_pages(other, range(4, 6))
        other.route("/news/6", page_then_release(6))
        site = feed_site(other, urls + [other.url("/news/6")], "127.0.0.2", "127.0.0.3")
        report, _ = crawl(tmp_path / "a.db", site)
        held_paths = [r.path for r in held.requests]
    assert report.counts["new_version"] == 6
    # the other host was worked to the end while this one waited for its robots.txt
    assert answered_after == [1] and held_paths[0] == "/robots.txt"
    assert sorted(held_paths[1:]) == ["/news/1", "/news/2", "/news/3"]


def write(req: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    req.send_response(status)
    req.send_header("Content-Type", content_type)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)
