"""Per-host concurrency from the config file, end to end: `concurrency = 64` puts that many
requests to one host in flight at once, and their outcomes are stored (in write batches)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from server import Response, TestServer
from test_crawl import article_html, crawl, rows, site_on

from scraper.config import load_config

IN_FLIGHT = 24  # articles, every one held until all of them have been asked for
FAILSAFE = 60.0  # seconds; the barrier normally opens in milliseconds


def test_config_concurrency_puts_that_many_requests_to_one_host_in_flight(
        server: TestServer, tmp_path: Path) -> None:
    # No page is answered until IN_FLIGHT requests wait at once: reached by construction,
    # and a crawl sending fewer at a time breaks the barrier after the failsafe.
    barrier = threading.Barrier(IN_FLIGHT, timeout=FAILSAFE)
    broken: list[str] = []

    def page(n: int) -> Response:
        body = article_html(n).encode()

        def answer(req: BaseHTTPRequestHandler) -> None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                broken.append(req.path)
            req.send_response(200)
            req.send_header("Content-Type", "text/html; charset=utf-8")
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body)

        return Response(handler=answer)

    paths = [f"/news/{n}" for n in range(1, IN_FLIGHT + 1)]
    site = site_on(server, [], paths)
    for n, path in enumerate(paths, 1):
        server.route(path, page(n))
    config_file = tmp_path / "scraper.toml"
    config_file.write_text("[crawl]\ndelay = 0\nconcurrency = 64\n")
    config = load_config(config_file)
    assert config.for_site(site.name).concurrency == 64
    db = tmp_path / "archive.db"
    report = crawl(db, site, config)
    assert broken == [], f"fewer than {IN_FLIGHT} requests were in flight at once"
    assert report.counts["new_version"] == IN_FLIGHT
    assert rows(db, "SELECT count(*) FROM versions") == [(IN_FLIGHT,)]
    assert rows(db, "SELECT count(*) FROM fetches WHERE outcome = 'new_version'") == [
        (IN_FLIGHT,)]


@pytest.mark.parametrize("concurrency", [4, 16])
def test_a_host_s_connections_are_kept_alive_at_any_concurrency(
        tmp_path: Path, concurrency: int) -> None:
    # robots.txt opens the host's pool while its concurrency is still 1: the pool must not
    # stay sized for one kept-alive connection, or every further request opens a new one
    # (a TCP, and on a real site a TLS, handshake per page); and the host's small pools
    # (scraper.pools) together never open more connections than requests in flight
    articles = 3 * concurrency
    with TestServer(keep_alive=True) as server:
        paths = [f"/news/{n}" for n in range(1, articles + 1)]
        site = site_on(server, [], paths)
        for n, path in enumerate(paths, 1):
            server.route(path, Response.html(article_html(n)))
        config_file = tmp_path / "scraper.toml"
        config_file.write_text(f"[crawl]\ndelay = 0\nconcurrency = {concurrency}\n")
        report = crawl(tmp_path / "archive.db", site, load_config(config_file))
        assert report.counts["new_version"] == articles
        assert len(server.requests) == articles + 3  # robots.txt, the feed, the sitemap
        assert server.connections <= concurrency
