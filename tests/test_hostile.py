"""Hostile content: refused or bounded, always with a recorded reason, never a crash or a hang.

Feeds and sitemaps go through ``discover()`` against the local server: a hostile source is
skipped with a warning that gives the reason, and the site's other sources are still read.
Pages go through ``archive_url`` (helpers in ``faults.py``), so the reason is in the
``fetches`` row. Pathological documents too regular to be worth a file (100,000 nested
``<div>``s, 100,000 feed items) are generated here; the rest are in tests/fixtures/.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from faults import (
    FIXTURES,
    SECONDS,
    MiB,
    archive,
    check,
    drip,
    fixture,
    gzip_bomb,
    page,
    stored_text,
)
from server import Response, TestServer

from scraper import feeds as feeds_module
from scraper.discover import FEED_MAX_ITEMS, FeedError, Link, discover
from scraper.fetch import FetchPolicy, make_client
from scraper.robots import Robots
from scraper.sites import Site

pytestmark = pytest.mark.slow  # robustness tests: -m "not slow" skips them

FEEDS = FIXTURES.parent / "feeds"  # the XML attacks discover's own tests use
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
XML = {"Content-Type": "application/xml"}
ARTICLE = page("article.html")
ARTICLE_SENTENCE = "The harbour bridge reopened to traffic on Thursday morning"
GOOD_FEED_LINKS = ["harbour-bridge-reopens", "ferry-winter-timetable", "storm-waves"]


class News(Site):
    """news.example.com, whose feeds and sitemaps the tests serve from 127.0.0.1."""

    name = "news"
    domains = ("news.example.com",)
    article_path = r"^/\d{4}/\d\d/\d\d/[^/]+$"


def site(server: TestServer, feeds: tuple[str, ...] = (), sitemaps: tuple[str, ...] = ()) -> Site:
    class Local(News):
        pass

    Local.feeds = tuple(server.url(path) for path in feeds)
    Local.sitemaps = tuple(server.url(path) for path in sitemaps)
    return Local()


def served(name: str, server: TestServer, folder: Path = FIXTURES) -> bytes:
    """A fixture with ``$server`` replaced by the server's URL."""
    return (folder / name).read_bytes().replace(b"$server", server.url("").rstrip("/").encode())


async def _no_wait(seconds: float) -> None:
    pass


def run_discover(target: Site, **options: Any) -> tuple[list[Link], float, int]:
    """discover() with no real waits: the links, the seconds it took, tracemalloc's peak."""
    policy = {k: options.pop(k) for k in ("total_timeout",) if k in options}

    async def go() -> list[Link]:
        async with make_client() as client:
            async with asyncio.timeout(30):
                return await discover(client, target, FetchPolicy(**policy), robots=None,
                                      sleep=_no_wait, **options)

    tracemalloc.start()
    started = time.monotonic()
    try:
        links = asyncio.run(go())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return links, time.monotonic() - started, peak


def slugs(links: list[Link]) -> list[str]:
    return [link.url.rsplit("/", 1)[1] for link in links]


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


@pytest.fixture(autouse=True)
def _discover_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="scraper.discover")


# --- feeds and sitemaps: entities, DTDs ------------------------------------------------------


def test_billion_laughs_feed_is_skipped_with_its_reason_and_the_good_feed_read(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/bomb.rss", Response(200, (FEEDS / "billion-laughs.rss").read_bytes(), RSS))
    server.route("/feed.rss", Response(200, fixture("feed.rss"), RSS))
    links, seconds, peak = run_discover(site(server, feeds=("/bomb.rss", "/feed.rss")))
    assert slugs(links) == GOOD_FEED_LINKS
    assert [w for w in warnings(caplog) if "/bomb.rss" in w and
            "entity declarations are refused, never expanded" in w]
    assert seconds < SECONDS and peak < 16 * MiB


def test_external_entity_sitemap_is_skipped_and_no_file_is_read(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    xxe = (FEEDS / "external-entity-sitemap.xml").read_bytes()
    server.route("/xxe.xml", Response(200, xxe, XML))
    server.route("/feed.rss", Response(200, fixture("feed.rss"), RSS))
    links, _, _ = run_discover(site(server, feeds=("/feed.rss",), sitemaps=("/xxe.xml",)))
    assert slugs(links) == GOOD_FEED_LINKS  # nothing from the attack, not even a mangled URL
    assert [w for w in warnings(caplog) if "/xxe.xml" in w and "entity declarations" in w]
    assert not any("root:" in link.url or "passwd" in link.url for link in links)


def test_external_dtd_in_a_feed_or_a_sitemap_is_never_fetched(server: TestServer) -> None:
    server.route("/dtd.rss", Response(200, served("external-dtd.rss", server), RSS))
    server.route("/dtd.xml", Response(200, served("external-dtd-sitemap.xml", server), XML))
    server.route("/evil.dtd", Response(200, b'<!ENTITY ext "pwned">', XML))
    links, _, _ = run_discover(site(server, feeds=("/dtd.rss",), sitemaps=("/dtd.xml",)))
    assert server.hits("/evil.dtd") == 0
    assert slugs(links) == ["harbour-bridge-reopens", "ferry-winter-timetable"]
    assert not any("pwned" in (link.title or "") for link in links)


def test_site_with_only_hostile_sources_fails_with_their_reason(server: TestServer) -> None:
    server.route("/bomb.rss", Response(200, (FEEDS / "billion-laughs.rss").read_bytes(), RSS))
    server.route("/xxe.xml", Response(200, (FEEDS / "external-entity-sitemap.xml").read_bytes(),
                                      XML))
    with pytest.raises(FeedError, match=r"all 2 feeds and sitemaps of news failed; first: "
                                        r"entity declarations are refused"):
        run_discover(site(server, feeds=("/bomb.rss",), sitemaps=("/xxe.xml",)))


# --- sitemap indexes that never end ----------------------------------------------------------


def test_sitemap_index_that_includes_itself_is_read_once(server: TestServer) -> None:
    server.route("/sitemap-index.xml", Response(200, served("sitemap-index-self.xml", server),
                                                XML))
    server.route("/sitemap-news.xml", Response(200, (FEEDS / "news-sitemap.xml").read_bytes(),
                                               XML))
    links, seconds, _ = run_discover(site(server, sitemaps=("/sitemap-index.xml",)))
    assert server.hits("/sitemap-index.xml") == 1 and server.hits("/sitemap-news.xml") == 1
    assert slugs(links) == ["late-night-vote", "markets-close-higher", "storm-warning",
                            "city-budget-explained"]
    assert seconds < SECONDS


def test_endless_chain_of_sitemap_indexes_stops_at_max_sitemaps(server: TestServer) -> None:
    for n in range(100):  # each index names the next: /index-0.xml -> /index-1.xml -> ...
        body = (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap>'
                f'<loc>{server.url(f"/index-{n + 1}.xml")}</loc></sitemap></sitemapindex>')
        server.route(f"/index-{n}.xml", Response(200, body.encode(), XML))
    server.route("/feed.rss", Response(200, fixture("feed.rss"), RSS))
    links, _, _ = run_discover(site(server, feeds=("/feed.rss",), sitemaps=("/index-0.xml",)),
                               max_sitemaps=5)
    assert sum(server.hits(f"/index-{n}.xml") for n in range(100)) == 5
    assert slugs(links) == GOOD_FEED_LINKS


# --- feeds and sitemaps: size, floods, nesting, drips, bombs ----------------------------------


def huge_feed(items: int) -> bytes:
    body = b"".join(b"<item><title>Story %d</title><link>https://news.example.com/2024/10/10/s-%d"
                    b"</link><pubDate>Thu, 10 Oct 2024 21:53:52 +0300</pubDate></item>" % (i, i)
                    for i in range(items))
    return (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>' + body
            + b"</channel></rss>")


def test_feed_with_100000_links_gives_at_most_max_links_in_bounded_time_and_memory(
    server: TestServer,
) -> None:
    data = huge_feed(100_000)  # 14 MB
    server.route("/huge.rss", Response(200, data, RSS))
    target = site(server, feeds=("/huge.rss",))
    links, seconds, peak = run_discover(target)
    assert len(links) == FEED_MAX_ITEMS  # the item cap, below discover's max_links
    assert seconds < SECONDS and peak < 5 * len(data), f"{seconds:.1f}s, {peak / MiB:.0f} MiB"
    links, _, _ = run_discover(target, max_links=50)
    assert len(links) == 50


def test_feed_nested_100000_elements_deep_is_refused_with_its_reason(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    n = 100_000
    deep = huge_feed(1).replace(b"</item>", b"<x>" * n + b"</x>" * n + b"</item>")
    server.route("/deep.rss", Response(200, deep, RSS))
    server.route("/feed.rss", Response(200, fixture("feed.rss"), RSS))
    links, seconds, _ = run_discover(site(server, feeds=("/deep.rss", "/feed.rss")))
    assert slugs(links) == GOOD_FEED_LINKS
    assert [w for w in warnings(caplog) if "/deep.rss" in w and
            re.search(r"\d+ XML elements in the feed, over the 100000 cap", w)]
    assert seconds < 3  # refused by counting, before feedparser's ~7 s


def test_sitemap_flooded_with_elements_is_refused_with_its_reason(
    server: TestServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds_module, "SITEMAP_MAX_ELEMENTS", 10_000)  # 2,000,000 takes 7 s
    flood = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>'
             b"https://news.example.com/2024/10/10/a</loc></url>" + b"<x/>" * 20_000 + b"</urlset>")
    server.route("/flood.xml", Response(200, flood, XML))
    server.route("/feed.rss", Response(200, fixture("feed.rss"), RSS))
    links, _, _ = run_discover(site(server, feeds=("/feed.rss",), sitemaps=("/flood.xml",)))
    assert slugs(links) == GOOD_FEED_LINKS
    assert [w for w in warnings(caplog) if "/flood.xml" in w and
            "over 10000 XML elements in the sitemap" in w]


def test_dripping_feed_is_given_up_at_the_total_timeout_and_the_others_read(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route("/drip.rss", drip(fixture("feed.rss"), every=0.02))
    server.route("/feed.rss", Response(200, fixture("feed.rss"), RSS))
    links, seconds, _ = run_discover(site(server, feeds=("/drip.rss", "/feed.rss")),
                                     total_timeout=0.5)
    assert slugs(links) == GOOD_FEED_LINKS
    assert [w for w in warnings(caplog) if "/drip.rss" in w and
            "no complete response within 0.5s" in w]
    assert server.hits("/drip.rss") == 1 and seconds < 3


def test_gzipped_sitemap_bomb_is_refused_at_the_50_mb_cap(
    server: TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    bomb = gzip_bomb(64 * MiB).body  # a .xml.gz file: the body itself is gzip
    server.route("/sitemap.xml.gz", Response(200, bomb, {"Content-Type": "application/x-gzip"}))
    server.route("/feed.rss", Response(200, fixture("feed.rss"), RSS))
    links, seconds, peak = run_discover(site(server, feeds=("/feed.rss",),
                                             sitemaps=("/sitemap.xml.gz",)))
    assert slugs(links) == GOOD_FEED_LINKS
    assert [w for w in warnings(caplog) if "/sitemap.xml.gz" in w and "gzip bomb?" in w]
    assert seconds < SECONDS and peak < 128 * MiB, f"peak {peak / MiB:.0f} MiB"


# --- pages -----------------------------------------------------------------------------------


def test_100000_nested_divs_are_refused_quickly_with_the_reason(
    server: TestServer, db: Path
) -> None:
    n = 100_000  # selectolax alone took 85 s on this before the depth check
    server.route("/story", Response.html(ARTICLE.replace(
        "</article>", "<div>" * n + "deep" + "</div>" * n + "</article>")))
    done = archive(server, "/story", db)
    check(done, outcome="no_article", status=200, attempts=1,
          error=r"HTML nested more than 250 levels deep on .*/story: refused")
    assert done.seconds < 3


def test_article_nested_100_deep_is_still_archived(server: TestServer, db: Path) -> None:
    server.route("/story", Response.html(ARTICLE.replace(
        '<div class="article-body">', '<div class="article-body">' + "<div>" * 100).replace(
        "</div>\n  <aside", "</div>" * 100 + "</div>\n  <aside")))
    check(archive(server, "/story", db), outcome="new_version", status=200, attempts=1,
          versions=1)
    assert ARTICLE_SENTENCE in stored_text(db)


def test_page_of_100000_elements_is_refused_quickly_with_the_reason(
    server: TestServer, db: Path
) -> None:
    # 1.1 MB of one-word paragraphs: trafilatura took 66 s before the size check
    server.route("/story", Response.html(ARTICLE.replace(
        "</article>", "<p>word</p>" * 100_000 + "</article>")))
    done = archive(server, "/story", db)
    check(done, outcome="no_article", status=200, attempts=1,
          error=r"more than 30000 HTML elements on .*/story: refused")
    assert done.seconds < 3


def test_article_on_one_unbroken_megabyte_line_is_archived_in_bounded_time(
    server: TestServer, db: Path
) -> None:
    state = json.dumps({"story": "harbour-bridge", "blob": "x" * MiB})  # inline app state
    minified = " ".join(ARTICLE.split()).replace(
        "</head>", f"<script>window.__STATE__={state}</script></head>")
    assert "\n" not in minified and len(minified) > MiB
    server.route("/story", Response.html(minified))
    check(archive(server, "/story", db), outcome="new_version", status=200, attempts=1,
          versions=1)
    text = stored_text(db)
    assert ARTICLE_SENTENCE in text and "xxxxxxxx" not in text


def test_megabyte_of_one_unbroken_word_is_bounded_in_time(server: TestServer, db: Path) -> None:
    # not refused (a run without spaces may be CJK prose), but bounded, and recorded
    server.route("/story", Response.html(f"<html><body><p>{'a' * MiB}</p></body></html>"))
    done = archive(server, "/story", db)
    check(done, outcome="new_version", status=200, attempts=1, versions=1)
    assert len(stored_text(db)) == MiB and done.row["elapsed_ms"] < SECONDS * 1000


def test_megabyte_line_of_text_without_markup_is_no_article(server: TestServer, db: Path) -> None:
    server.route("/story", Response.html("lorem ipsum " * (MiB // 12)))
    check(archive(server, "/story", db), outcome="no_article", status=200, attempts=1,
          error=r"no article text found")


@pytest.mark.parametrize("json_ld", [
    "[" * 100_000 + "]" * 100_000,  # json.loads: RecursionError
    '{"@type": "NewsArticle", "author": ' + "[" * 900 + '"A"' + "]" * 900 + "}",
    '{"@type": {"@id": "NewsArticle"}, "headline": "Hostile"}',  # unhashable @type
    '{"@type": [["NewsArticle"]], "keywords": [{"a": 1}]}',
], ids=["100000-deep", "author-900-deep", "object-type", "nested-list-type"])
def test_hostile_json_ld_is_ignored_and_the_article_archived(
    server: TestServer, db: Path, json_ld: str
) -> None:
    script = f'<script type="application/ld+json">{json_ld}</script>'
    server.route("/story", Response.html(ARTICLE.replace("</head>", script + "</head>")))
    check(archive(server, "/story", db), outcome="new_version", status=200, attempts=1,
          versions=1)
    assert ARTICLE_SENTENCE in stored_text(db)


def test_robots_txt_gzip_bomb_is_inflated_only_to_its_cap(server: TestServer, db: Path) -> None:
    bomb = gzip_bomb(256 * MiB)  # 256 KB on the wire; httpx alone held 144 MiB of it
    server.route("/robots.txt", Response(200, bomb.body, {"Content-Type": "text/plain",
                                                          "Content-Encoding": "gzip"}))
    server.route("/story", Response.html(ARTICLE))
    done = archive(server, "/story", db, robots=Robots(), measure_memory=True)
    check(done, outcome="new_version", status=200, attempts=1, versions=1)
    assert done.peak < 16 * MiB, f"peak {done.peak / MiB:.0f} MiB"
