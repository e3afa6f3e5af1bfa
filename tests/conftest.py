"""Shared fixtures: a real local HTTP server, and a guard that keeps tests off the internet.

pytest puts this directory on ``sys.path`` (tests/ has no ``__init__.py``), so test
modules import the server helpers as ``from server import Response, TestServer``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from server import TestServer


@pytest.fixture
def server() -> Iterator[TestServer]:
    """A started TestServer on 127.0.0.1, shut down after the test."""
    with TestServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail fast on any connection to a non-loopback address: tests never touch the internet."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise ConnectionRefusedError(f"tests must not touch the network: {address}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(scope="session", autouse=True)
def _no_config_of_the_user(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests run in an empty directory with no SCRAPER_CONFIG or SCRAPER_DB: a
    ``scraper.toml`` that a user wrote in the project's directory, as the README shows, or
    their environment must not change what the tests see. Session-wide, so that module
    fixtures that build an archive get it too; subprocesses inherit both."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("SCRAPER_CONFIG", "SCRAPER_DB"):
            patch.delenv(name, raising=False)
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        yield


@pytest.fixture(autouse=True)
def _no_declared_sites_left_behind() -> Iterator[None]:
    """Sites a test's config file declared (a process-wide registry) end with the test."""
    yield
    from scraper.sites import declare

    declare(())


@pytest.fixture
def local_news(server: TestServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A site ``localnews`` on 127.0.0.1 serving /news/1..4 (two in a feed dated 2099, two in
    an undated sitemap: ``local_site.serve_site``), known by name to every command."""
    from local_site import serve_site

    from scraper import sites
    from scraper.sites import Site

    class LocalNews(Site):
        name = "localnews"
        domains = ("127.0.0.1",)
        article_path = r"^/news/\d+$"

    feed, sitemap = serve_site(server, 4)
    site = LocalNews()
    site.feeds, site.sitemaps = (feed,), (sitemap,)  # type: ignore[misc]
    known = (site, *sites.all_sites())
    monkeypatch.setattr(sites, "all_sites", lambda: known)
    return site


@pytest.fixture
def no_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Commands run in this process skip their politeness and retry waits (the seconds they
    asked for are recorded): for tests whose subject is not the waiting. A command waits
    through ``scraper.fetch.pause``; tests of the waits themselves do not use this."""
    from scraper import fetch

    asked: list[float] = []

    async def instant(seconds: float) -> None:
        asked.append(seconds)

    monkeypatch.setattr(fetch, "pause", instant)
    return asked
