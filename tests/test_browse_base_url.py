"""Under Datasette's ``base_url``, every link the plugin builds names it once and resolves,
whether requests reach Datasette with the prefix (direct, or a proxy that keeps the path: the
in-process client's way) or without it (a proxy that strips it)."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import feedparser
import httpx
import pytest
from browse_archive import Built, built, get  # noqa: F401 (built: a fixture)
from datasette.app import Datasette
from datasette.utils import PrefixedUrlString

from scraper.browse.serve import build_datasette

BASE = "/prefix/"  # not a database's name nor a route, so doubling cannot pass for a path
HREF = re.compile(r'(?:href|action)="([^"]*)"')
# what the plugin adds to Datasette's own table and query pages: cells linking to its pages
# (render_cell) and the <link rel="alternate"> to the feeds (_scraper_feeds.html)
PLUGIN_LINK = re.compile(r"/-/(?:diff|html)/|\.atom")


@pytest.fixture(scope="module")
def ds(built: Built) -> Datasette:
    build_datasette(built.path)  # registers the plugin
    return Datasette([str(built.path)], settings={"base_url": BASE})


@pytest.fixture(params=["prefix kept", "prefix stripped"])
def proxy(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def fetch(ds: Datasette, path: str, proxy: str) -> httpx.Response:
    """GET ``path`` as it reaches Datasette: the in-process client adds base_url to a path
    itself, not to a PrefixedUrlString (what a proxy that strips the prefix passes on)."""
    return get(ds, PrefixedUrlString(path) if proxy == "prefix stripped" else path)


def hrefs(ds: Datasette, path: str, proxy: str = "prefix kept") -> list[str]:
    """The href and form action values of the HTML page at ``path``."""
    page = fetch(ds, path, proxy)
    assert page.status_code == 200, (path, page.text[:300])
    return [unescape(h) for h in HREF.findall(page.text)]


def feed_links(ds: Datasette, path: str, proxy: str) -> list[str]:
    """Every link of the Atom feed at ``path``: its own, its page's, each entry's."""
    parsed = feedparser.parse(fetch(ds, path, proxy).content)
    assert parsed.bozo == 0 and parsed.entries, path
    return [parsed.feed.id, *(link.href for link in parsed.feed.links),
            *(link.href for entry in parsed.entries for link in entry.links)]


def assert_under_base_once_and_resolves(ds: Datasette, href: str) -> None:
    """``href`` (a path, or a URL of this server) starts with BASE once and answers 200."""
    parts = urlsplit(href)
    assert parts.netloc in ("", "localhost"), href
    assert parts.path.startswith(BASE), href
    assert not parts.path[len(BASE) - 1:].startswith(BASE), f"base_url twice: {href}"
    unprefixed = "/" + parts.path[len(BASE):] + (f"?{parts.query}" if parts.query else "")
    response = get(ds, unprefixed)
    assert response.status_code == 200, (href, response.status_code)


def test_every_link_of_the_diff_page_is_under_base_url_once(ds: Datasette, built: Built,
                                                             proxy: str) -> None:
    for path in (f"/-/diff/{built.edited}", f"/-/diff/{built.edited}?from=1&to=3&full=1",
                 f"/-/diff/{built.steady}"):
        # the page's own links and Datasette's (crumbs, styles); not the archived article's
        # address nor Datasette's footer link to its site
        links = [h for h in hrefs(ds, path, proxy) if urlsplit(h).netloc in ("", "localhost")]
        assert any("/-/html/" in h for h in links) and any(".atom" in h for h in links)
        for href in links:
            assert_under_base_once_and_resolves(ds, href)


@pytest.mark.parametrize("path", ["/archive/changes", "/archive/recent_changes",
                                  "/archive/versions", "/archive/latest_versions"])
def test_links_the_plugin_adds_to_datasettes_pages_are_under_base_url_once(
        ds: Datasette, path: str, proxy: str) -> None:
    links = [h for h in hrefs(ds, path, proxy) if PLUGIN_LINK.search(h)]
    assert any("/-/diff/" in h for h in links)
    for href in links:
        assert_under_base_once_and_resolves(ds, href)


@pytest.mark.parametrize("query", ["", "?site=example", "?article_id=1"])
def test_every_link_of_the_atom_feeds_is_under_base_url_once(ds: Datasette, query: str,
                                                             proxy: str) -> None:
    for href in feed_links(ds, f"/archive/recent_changes.atom{query}", proxy):
        assert_under_base_once_and_resolves(ds, href)


@pytest.mark.parametrize("proxy", [
    pytest.param("prefix kept", marks=pytest.mark.xfail(strict=True, reason=(
        "Datasette 0.65's table view puts base_url twice in its own sort links when the "
        "request path holds it (simonw/datasette#1619, #2759): not the plugin's links"))),
    "prefix stripped"])
def test_datasettes_own_sort_links_on_the_changes_page(ds: Datasette, proxy: str) -> None:
    sorts = [h for h in hrefs(ds, "/archive/changes", proxy) if "_sort" in h]
    assert sorts
    for href in sorts:
        assert_under_base_once_and_resolves(ds, href)
