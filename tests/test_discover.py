"""scraper.discover: feed and sitemap parsing, XML safety, selection, discovery end to end.

Real resources are read in place from ../shared/corpus/feeds/ (``SCRAPER_CORPUS`` overrides):
trafilatura's feeds and sitemaps, and feedparser's test cases, whose ``Expect:`` header is
re-stated as what our Link output must show. Our own fixtures are in tests/fixtures/feeds/.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import re
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from server import Response, TestServer

from scraper import feeds as feeds_module
from scraper.discover import (
    FEED_MAX_ITEMS,
    MAX_BYTES,
    FeedError,
    Link,
    discover,
    fetch_xml,
    links_from_feed,
    links_from_robots,
    links_from_sitemap,
    select,
    sources_of,
)
from scraper.fetch import DEFAULT_POLICY, FetchPolicy, make_client
from scraper.models import HTTPStatus, WrongType
from scraper.robots import Robots
from scraper.sites import Site, site_named
from scraper_sites.themoscowtimes import TheMoscowTimes

# the politeness delay and retry waits are not what these tests are about
pytestmark = pytest.mark.usefixtures("no_waits")

CORPUS = Path(os.environ.get("SCRAPER_CORPUS")
              or Path(__file__).parents[1].parent / "shared" / "corpus")
FEEDS = CORPUS / "feeds"
FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
MT_RSS_SAMPLE = CORPUS / "sites" / "themoscowtimes" / "rss-news-entries-2024-10-10.json"
MT_A80850 = ("https://www.themoscowtimes.com/2023/04/17/"
             "china-minister-hails-strong-russia-ties-in-putin-meeting-a80850")
ADDED = "http://example.com/added"  # the link with_link() gives a feedparser case's entry


def corpus(relative: str) -> bytes:
    """A file of the shared corpus, or a skip saying where the corpus lives."""
    path = FEEDS / relative
    if not path.exists():
        pytest.skip(f"{path} absent: the shared test corpus lives in ../shared/corpus "
                    "next to the project (or set SCRAPER_CORPUS)")
    return path.read_bytes()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def triples(links: list[Link]) -> list[tuple[str, str | None, str | None]]:
    return [(link.url, link.published, link.title) for link in links]


class FakeSleep:
    """Stands in for asyncio.sleep: records each delay, never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class News(Site):
    """A made-up adapter for news.example.com: dated article paths only."""

    name = "news"
    domains = ("news.example.com",)
    article_path = r"^/\d{4}/\d\d/\d\d/[^/]+$"


# --- trafilatura's feeds and sitemaps (real sitemaps.org file, spec-style feeds) ---

def test_atom_feed_gives_entry_links_dated_by_updated() -> None:
    links = links_from_feed(corpus("trafilatura/feed1.atom"), "http://example.org/feed.atom")
    # the second entry has only rel="self" and a urn: id: nothing a reader could open
    assert triples(links) == [("http://example.org/2003/12/13/atom03",
                               "2003-12-13T18:30:02+00:00", "Atom-Powered Robots Run Amok")]
    assert links[0].source == "http://example.org/feed.atom"


def test_rss_feed_gives_the_item_link_not_its_guid() -> None:
    links = links_from_feed(corpus("trafilatura/feed2.rss"))
    assert triples(links) == [("http://www.example.com/blog/post/1",
                               "2009-09-06T16:20:00+00:00", "Example entry")]


def test_sitemap_urlset_gives_every_loc_with_its_lastmod() -> None:
    sitemap = links_from_sitemap(corpus("trafilatura/sitemap.xml"), "https://www.sitemaps.org/s.xml")
    assert len(sitemap.links) == 84 and sitemap.children == []
    assert sitemap.links[0] == Link("https://www.sitemaps.org/", "2016-11-21T00:00:00+00:00",
                                    source="https://www.sitemaps.org/s.xml")
    assert len({link.url for link in sitemap.links}) == 84


def test_gzipped_sitemap_gives_the_same_links() -> None:
    plain = links_from_sitemap(corpus("trafilatura/sitemap.xml"))
    assert links_from_sitemap(corpus("trafilatura/sitemap.xml.gz")) == plain


def test_sitemap_index_gives_its_children_cdata_loc_included() -> None:
    sitemap = links_from_sitemap(corpus("trafilatura/sitemap2.xml"))
    assert sitemap.links == []
    assert sitemap.children == ["http://www.example.com/sitemap1.xml.gz",
                                "http://www.example.com/sitemap2.xml.gz"]


def test_hreflang_alternates_add_no_links_and_a_stray_sitemap_is_a_child() -> None:
    sitemap = links_from_sitemap(corpus("trafilatura/sitemap-hreflang.xml"))
    assert [link.url for link in sitemap.links] == [
        "http://www.example.com/english/page.html",
        "http://www.example.com/deutsch/page.html",
        "http://www.example.com/schweiz-deutsch/page.html",
    ]
    assert sitemap.children == ["http://www.example.com/sitemap2.xml.gz"]


def test_json_feed_is_refused_as_not_rss_or_atom() -> None:
    # feedparser 6 reads no JSON Feed; a clear refusal beats an empty list
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        links_from_feed(corpus("trafilatura/feed.json"))


# --- feedparser's cases: each Expect: re-stated for our Link output ---

def with_link(data: bytes) -> bytes:
    """The case with a link added to its first item/entry (most cases have none to show)."""
    data = re.sub(rb"<item>", b"<item><link>" + ADDED.encode() + b"</link>", data, count=1)
    return re.sub(rb"<entry>", b'<entry><link rel="alternate" href="' + ADDED.encode() + b'"/>',
                  data, count=1)


def channel_as_item(data: bytes) -> bytes:
    """The case's channel-level title moved into an item with a link."""
    data = data.replace(b"<channel>", b"<channel><item><link>" + ADDED.encode() + b"</link>", 1)
    return data.replace(b"</channel>", b"</item></channel>", 1)


REFUSED = FeedError
FEEDPARSER_CASES: list[tuple[str, Any, Any]] = [
    ("wellformed/rss/item_link.xml", None, [("http://example.com/", None, None)]),
    ("wellformed/rdf/rdf_item_link.xml", None, [("http://example.com/1", None, None)]),
    ("wellformed/atom10/entry_link_alternate_map_link.xml", None,
     [("http://www.example.com/", None, None)]),
    # feedparser's permalink rule: an entry with an http id and no link uses the id
    ("wellformed/atom10/entry_id.xml", None, [("http://example.com/", None, None)]),
    # one link: the enclosure is not a second article
    ("wellformed/rss/item_enclosure_url.xml", None, [("http://example.com/", None, None)]),
    ("wellformed/rss/item_guid_not_permalink.xml", None, []),
    ("illformed/rss_item_link_corrupted_ampersands.xml", None,
     [("http://link/get?a=1&b=2", None, None)]),
    ("wellformed/rss/item_pubDate.xml", with_link, [(ADDED, "2004-01-01T19:48:21+00:00", None)]),
    ("wellformed/atom/entry_published_parsed.xml", with_link,
     [(ADDED, "2003-12-31T10:14:55+00:00", None)]),
    # no published date: the updated one stands in
    ("wellformed/atom/entry_updated_parsed.xml", with_link,
     [(ADDED, "2003-12-31T10:14:55+00:00", None)]),
    ("wellformed/atom10/entry_title.xml", with_link, [(ADDED, None, "Example Atom")]),
    ("wellformed/media-rss/media_thumbnail.xml", with_link, [(ADDED, None, "Example Atom")]),
    ("entities/hex_entity_x_lowercase.xml", with_link, [(ADDED, None, "A")]),
    ("entities/hellip.xml", channel_as_item, [(ADDED, None, "testing \u2026 entity")]),
    ("entities/8217.xml", channel_as_item, [(ADDED, None, "testing \u2019 entity")]),
    ("encoding/euc-kr.xml", channel_as_item, [(ADDED, None, "\ub144")]),
    ("encoding/bozo_encoding_mismatch_crash.xml", with_link, [(ADDED, None, None)]),
    # ill-formed, nothing with a link: parsed (and terminating) rather than an error
    ("illformed/rss_incomplete_cdata.xml", None, []),
    ("illformed/aaa_illformed.xml", None, []),
    ("illformed/undeclared_namespace.xml", None, []),
    ("illformed/http_high_bit_date.xml", None, []),
    ("wellformed/rss/rss_version_20.xml", None, []),
    ("wellformed/rdf/rss_version_10.xml", None, []),
    ("illformed/rss_empty_document.xml", None, REFUSED),
    # entity declarations are refused even when harmless (feedparser expands the first)
    ("wellformed/rss/entity_in_doctype.xml", None, REFUSED),
    ("wellformed/rdf/doctype_contains_entity_decl.xml", None, REFUSED),
]


@pytest.mark.parametrize(("case", "transform", "expected"), FEEDPARSER_CASES,
                         ids=[c[0] for c in FEEDPARSER_CASES])
def test_feedparser_case_intent_holds_in_our_links(case: str, transform: Any,
                                                   expected: Any) -> None:
    data = corpus(f"feedparser/{case}")
    data = transform(data) if transform else data
    if expected is REFUSED:
        with pytest.raises(FeedError):
            links_from_feed(data)
    else:
        assert triples(links_from_feed(data)) == expected


# --- our fixtures ---

def test_moscow_pubdate_in_plus_0300_comes_out_in_utc() -> None:
    feed = "https://www.themoscowtimes.com/rss/news"
    links = links_from_feed(fixture("themoscowtimes-news.rss"), feed)
    assert len(links) == 6
    # "Thu, 10 Oct 2024 21:53:52 +0300" is 18:53:52 UTC, not 21:53:52
    assert links[0].published == "2024-10-10T18:53:52+00:00"
    assert links[0].url.endswith("-a86652") and links[0].source.endswith("/rss/news")
    assert links[1].title == ("49 Russians Targeted in Soviet-Style Punitive Psychiatry "
                              "\u2013 Memorial")


def test_moscow_feed_dates_match_the_collected_rss_sample() -> None:
    if not MT_RSS_SAMPLE.exists():
        pytest.skip(f"{MT_RSS_SAMPLE} absent: it lives in ../shared/corpus")
    sample = {e["link"]: e for e in json.loads(MT_RSS_SAMPLE.read_text())}
    links = links_from_feed(fixture("themoscowtimes-news.rss"))
    for link in links:
        assert link.published == sample[link.url]["date_published"]
        assert link.title == sample[link.url]["title"]


def test_moscow_feed_links_are_all_articles_of_the_real_adapter() -> None:
    links = links_from_feed(fixture("themoscowtimes-news.rss"))
    assert select(links, site_named("themoscowtimes")) == links  # already newest first


def test_news_sitemap_dates_come_from_publication_date_with_its_offset() -> None:
    sitemap = links_from_sitemap(fixture("news-sitemap.xml"))
    assert triples(sitemap.links) == [
        # 01:30 at +03:00 on the 11th is still the 10th in UTC
        ("https://news.example.com/2024/10/10/late-night-vote", "2024-10-10T22:30:00+00:00",
         "Parliament & Senate Vote Late Into the Night"),
        # publication_date wins over the later lastmod
        ("https://news.example.com/2024/10/10/markets-close-higher", "2024-10-10T18:00:00+00:00",
         "Markets Close Higher"),
        ("https://news.example.com/2024/10/10/storm-warning", "2024-10-10T13:15:30.250000+00:00",
         "Storm Warning Issued for the Coast"),
        ("https://news.example.com/2024/10/09/city-budget-explained", "2024-10-09T00:00:00+00:00",
         None),
        ("https://news.example.com/tag/politics", "2024-10-10T20:00:00+00:00", None),
    ]


def test_illformed_sitemap_keeps_its_complete_entries() -> None:
    sitemap = links_from_sitemap(fixture("sitemap-illformed.xml"))
    # the raw "&" survives; the entry cut off mid-URL is dropped, not guessed at
    assert triples(sitemap.links) == [
        ("https://news.example.com/2024/10/08/q-and-a?page=2&ref=sitemap",
         "2024-10-08T10:00:00+00:00", None),
        ("https://news.example.com/2024/10/08/weather", None, None),
    ]


def test_sitemap_index_that_lists_itself_gives_itself_as_a_child() -> None:
    url = "https://static.themoscowtimes.com/sitemap/sitemap.xml"
    sitemap = links_from_sitemap(fixture("themoscowtimes-sitemap-index.xml"), url)
    assert sitemap.links == [] and url in sitemap.children and len(sitemap.children) == 4


def test_quirky_old_feed_gives_decoded_titles_and_absolute_web_links() -> None:
    links = links_from_feed(fixture("quirks.rss"), "https://news.example.com/rss")
    assert triples(links) == [
        ("https://news.example.com/2024/10/09/prices-rise-again", None, "Prices rise \u2026 again"),
        # a relative link resolved against the feed; EDT is UTC-4
        ("https://news.example.com/2024/10/09/dont-panic", "2024-10-09T12:00:00+00:00",
         "Don\u2019t panic, say Analysts"),
        ("https://news.example.com/2024/10/09/economy", None, "It\u2019s the economy"),
        # the guid-only and javascript: items are gone; the repeat is select()'s to merge
        ("https://news.example.com/2024/10/09/prices-rise-again", None, "Prices rise, repeated"),
    ]


def test_feed_given_as_a_sitemap_is_read_as_a_feed() -> None:
    sitemap = links_from_sitemap(fixture("themoscowtimes-news.rss"))
    assert sitemap.links == links_from_feed(fixture("themoscowtimes-news.rss"))


def test_text_sitemap_gives_one_link_per_line() -> None:
    data = b"https://news.example.com/2024/10/10/a\n\nhttps://news.example.com/2024/10/10/b\n"
    assert [link.url for link in links_from_sitemap(data).links] == [
        "https://news.example.com/2024/10/10/a", "https://news.example.com/2024/10/10/b"]


def test_html_page_is_neither_feed_nor_sitemap() -> None:
    page = b"<!doctype html><html><head><title>Not found</title></head><body></body></html>"
    with pytest.raises(FeedError, match="not a sitemap"):
        links_from_sitemap(page, "https://news.example.com/sitemap.xml")
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        links_from_feed(page, "https://news.example.com/rss")


# --- safety ---

ATTACKS = ["billion-laughs.rss", "external-entity-sitemap.xml"]


@pytest.mark.parametrize("parse", [links_from_feed, links_from_sitemap])
@pytest.mark.parametrize("name", ATTACKS)
def test_entity_declarations_are_refused_never_expanded(name: str, parse: Any) -> None:
    started = time.monotonic()
    with pytest.raises(FeedError, match="entity declarations are refused"):
        parse(fixture(name))
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-32"])
def test_entity_declarations_in_utf16_or_utf32_are_refused_too(codec: str) -> None:
    text = fixture("billion-laughs.rss").decode().replace('encoding="UTF-8"', f'encoding="{codec}"')
    with pytest.raises(FeedError, match="entity declarations are refused"):
        links_from_feed(text.encode(codec))


def test_parsers_expand_nothing_even_without_the_entity_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    never = re.compile(rb"(?!)")  # defence in depth: as if the check had a hole
    monkeypatch.setattr(feeds_module, "_ENTITY", never)
    monkeypatch.setattr(feeds_module, "_DTD_SUBSET", never)
    started = time.monotonic()
    # lxml keeps &xxe; as an unresolved reference; feedparser leaves &lol9; as text
    assert [link.url for link in links_from_sitemap(fixture("external-entity-sitemap.xml")).links
            ] == ["https://news.example.com/2024/10/10/"]
    assert triples(links_from_feed(fixture("billion-laughs.rss"))) == [
        ("https://news.example.com/2024/10/10/lol", None, "&lol9;")]
    assert time.monotonic() - started < 2


def test_gzip_bomb_is_refused() -> None:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1024 * 1024)
    bomb = b"".join(deflate.compress(chunk) for _ in range(MAX_BYTES // len(chunk) + 1))
    bomb += deflate.flush()
    assert len(bomb) < MAX_BYTES // 500
    with pytest.raises(FeedError, match="gzip bomb"):
        links_from_sitemap(bomb)


def test_oversized_input_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds_module, "MAX_BYTES", 1000)
    with pytest.raises(FeedError, match="cap"):
        links_from_feed(fixture("themoscowtimes-news.rss"))


def huge_feed(items: int) -> bytes:
    body = b"".join(b"<item><title>Story %d</title><link>https://news.example.com/2024/10/10/s-%d"
                    b"</link><pubDate>Thu, 10 Oct 2024 21:53:52 +0300</pubDate></item>" % (i, i)
                    for i in range(items))
    return b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>' + body + (
        b"</channel></rss>")


def test_feed_with_100000_items_is_cut_to_the_item_cap_quickly() -> None:
    data = huge_feed(100_000)
    started = time.monotonic()
    links = links_from_feed(data)
    assert time.monotonic() - started < 5
    assert len(links) == FEED_MAX_ITEMS
    assert links[-1].url.endswith(f"/s-{FEED_MAX_ITEMS - 1}")
    three = links_from_feed(data, max_links=3)
    assert [link.url[-4:] for link in three] == ["/s-0", "/s-1", "/s-2"]


def test_sitemap_with_100000_urls_is_bounded_by_max_links() -> None:
    urls = b"".join(b"<url><loc>https://news.example.com/2024/10/10/s-%d</loc></url>" % i
                    for i in range(100_000))
    data = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + urls + b"</urlset>"
    assert len(links_from_sitemap(data, max_links=500).links) == 500


# --- robots.txt ---

def test_robots_sitemap_lines_are_read_in_order_once() -> None:
    text = ("User-agent: *\nDisallow: /search/\nSitemap: https://a.example/s1.xml\n"
            "sitemap:https://a.example/s2.xml # news\nSITEMAP: https://a.example/s1.xml\n"
            "Sitemap: not-a-url\n")
    assert links_from_robots(text) == ["https://a.example/s1.xml", "https://a.example/s2.xml"]
    robots = CORPUS / "sites" / "themoscowtimes" / "robots.txt"
    if robots.exists():
        assert links_from_robots(robots.read_text()) == [
            "https://static.themoscowtimes.com/sitemap/sitemap.xml"]


# --- select ---

NOW = datetime(2024, 10, 11, 12, 0, tzinfo=UTC)


def test_select_keeps_only_article_urls_on_the_site() -> None:
    links = [*links_from_sitemap(fixture("news-sitemap.xml")).links,
             Link("https://elsewhere.example/2024/10/10/x", None),
             Link("https://sub.news.example.com/2024/10/10/y", None)]
    urls = [link.url for link in select(links, News())]
    assert "https://news.example.com/tag/politics" not in urls  # not an article path
    assert "https://elsewhere.example/2024/10/10/x" not in urls  # another site
    assert "https://sub.news.example.com/2024/10/10/y" in urls  # a subdomain is the site


def test_select_never_returns_known_articles() -> None:
    links = links_from_feed(fixture("themoscowtimes-news.rss"))
    site = site_named("themoscowtimes")
    assert select(links, site, known={links[0].url}) == links[1:]
    # a function can compare article keys: a renamed slug of a known id stays known
    renamed = Link(links[0].url.replace("king-of-the", "king-of"), links[0].published)
    keys = {site.article_key(links[0].url)}
    assert select([renamed], site, known=lambda url: site.article_key(url) in keys) == []


def test_select_drops_links_older_than_max_age_and_keeps_undated_ones() -> None:
    links = [*links_from_sitemap(fixture("news-sitemap.xml")).links,
             Link("https://news.example.com/2024/01/01/undated", None)]
    kept = select(links, News(), max_age=timedelta(hours=24), now=NOW)
    # the cutoff is 2024-10-10T12:00Z: the 9th's budget story goes, the undated one stays
    assert [link.url.rsplit("/", 1)[1] for link in kept] == [
        "late-night-vote", "markets-close-higher", "storm-warning", "undated"]


def test_select_orders_newest_first_and_undated_last_in_input_order() -> None:
    links = [Link("https://news.example.com/2024/10/01/u1", None),
             Link("https://news.example.com/2024/10/01/old", "2024-10-01T08:00:00+00:00"),
             Link("https://news.example.com/2024/10/01/u2", None),
             Link("https://news.example.com/2024/10/01/new", "2024-10-01T09:00:00+02:00"),
             Link("https://news.example.com/2024/10/01/newer", "2024-10-01T07:30:00+00:00")]
    # 09:00+02:00 is 07:00 UTC: older than 07:30 UTC despite the larger wall-clock time
    assert [link.url.rsplit("/", 1)[1] for link in select(links, News())] == [
        "old", "newer", "new", "u1", "u2"]


def test_select_merges_duplicates_keeping_the_first_and_filling_its_date() -> None:
    links = [Link("https://news.example.com/2024/10/01/a", None, "From the sitemap"),
             Link("https://news.example.com/2024/10/01/a", "2024-10-01T08:00:00+00:00", "Feed")]
    assert select(links, News()) == [Link("https://news.example.com/2024/10/01/a",
                                          "2024-10-01T08:00:00+00:00", "From the sitemap")]


def test_select_for_the_generic_site_keeps_the_feed_host_only() -> None:
    source = "https://www.blog.example/feed"
    links = [Link("https://blog.example/post", None, source=source),
             Link("https://ads.example/post", None, source=source),
             Link("https://blog.example/orphan", None)]
    assert [link.url for link in select(links, site_named("generic"))] == ["https://blog.example/post"]


# --- fetching and discover(), against a real local server ---

RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}
XML = {"Content-Type": "application/xml"}


def serve_moscow_times(server: TestServer) -> Site:
    """The Moscow Times' feeds and sitemaps, from fixtures, on the local server."""
    index = fixture("themoscowtimes-sitemap-index.xml").replace(
        b"https://static.themoscowtimes.com/", server.url("/").encode())
    server.route("/rss/news", Response(200, fixture("themoscowtimes-news.rss"), RSS))
    server.route("/rss/opinion", Response(500, b"oops", {"Content-Type": "text/html"}))
    server.route("/sitemap/sitemap.xml", Response(200, index, XML))
    server.route("/sitemap/2024-10.xml.gz", Response(
        200, gzip.compress(fixture("themoscowtimes-sitemap-2024-10.xml")),
        {"Content-Type": "application/x-gzip"}))
    server.route("/sitemap/2023-4.xml", Response(  # gzip as a transfer coding this time
        200, gzip.compress(fixture("themoscowtimes-sitemap-2023-4.xml")),
        {"Content-Type": "text/xml", "Content-Encoding": "gzip"}))

    class LocalMoscowTimes(TheMoscowTimes):
        feeds = (server.url("/rss/news"), server.url("/rss/opinion"))
        sitemaps = (server.url("/sitemap/sitemap.xml"),)

    return LocalMoscowTimes()


async def run_discover(site: Site, sleep: FakeSleep | None = None,
                       policy: FetchPolicy = DEFAULT_POLICY, **options: Any) -> list[Link]:
    async with make_client(policy) as client:
        return await discover(client, site, policy, robots=Robots(), sleep=sleep or FakeSleep(),
                              **options)


def test_discover_reads_feeds_and_the_sitemap_index_newest_first(
    server: TestServer, caplog: pytest.LogCaptureFixture,
) -> None:
    site = serve_moscow_times(server)
    sleep = FakeSleep()
    with caplog.at_level(logging.WARNING, logger="scraper.discover"):
        links = asyncio.run(run_discover(site, sleep))
    paths = [r.path for r in server.requests if r.path != "/robots.txt"]
    # the failing feed is retried (without waiting), then skipped; the index's children
    # newest-named first ("2024-10" before "2024-9"), the index itself not fetched again
    assert paths == ["/rss/news"] + ["/rss/opinion"] * 4 + [
        "/sitemap/sitemap.xml", "/sitemap/2024-10.xml.gz", "/sitemap/2024-9.xml",
        "/sitemap/2023-4.xml"]
    assert len(sleep.delays) == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("/rss/opinion" in w and "HTTP 500" in w for w in warnings)
    assert any("/sitemap/2024-9.xml" in w and "HTTP 404" in w for w in warnings)
    feed = links_from_feed(fixture("themoscowtimes-news.rss"))
    october = re.findall(r"<loc>(.*?)</loc>",
                         fixture("themoscowtimes-sitemap-2024-10.xml").decode())
    dated = [link.url for link in feed]
    # the feed's dated links first, newest first; then the sitemaps' undated ones in order
    expected = dated + [url for url in october if url not in dated] + [MT_A80850]
    assert [link.url for link in links] == expected
    assert [link.published for link in links[:6]] == [link.published for link in feed]
    assert links[0].title == feed[0].title and links[0].source == site.feeds[0]


def test_discover_visits_at_most_max_sitemaps(server: TestServer) -> None:
    site = serve_moscow_times(server)
    links = asyncio.run(run_discover(site, max_sitemaps=2))
    assert server.hits("/sitemap/2024-9.xml") == server.hits("/sitemap/2023-4.xml") == 0
    assert MT_A80850 not in [link.url for link in links] and len(links) == 16


def test_max_sitemaps_is_a_budget_per_declared_sitemap(server: TestServer) -> None:
    site = serve_moscow_times(server)
    server.route("/other/sitemap.xml", Response(200, fixture("news-sitemap.xml"), XML))

    class TwoSitemaps(type(site)):  # type: ignore[misc]
        sitemaps = (*site.sitemaps, server.url("/other/sitemap.xml"))

    asyncio.run(run_discover(TwoSitemaps(), max_sitemaps=2))
    # the first index uses its two (itself and its newest child); the second still gets read
    assert server.hits("/sitemap/2024-10.xml.gz") == 1 and server.hits("/sitemap/2023-4.xml") == 0
    assert server.hits("/other/sitemap.xml") == 1


def test_discover_stops_at_max_links(server: TestServer) -> None:
    links = asyncio.run(run_discover(serve_moscow_times(server), max_links=3))
    assert len(links) == 3 and server.hits("/sitemap/sitemap.xml") == 0


def test_discover_does_not_follow_an_index_to_other_hosts(
    server: TestServer, caplog: pytest.LogCaptureFixture,
) -> None:
    site = serve_moscow_times(server)
    index = fixture("themoscowtimes-sitemap-index.xml").replace(
        b"https://static.themoscowtimes.com/", server.url("/").encode()).replace(
        b"</sitemapindex>",
        b"<sitemap><loc>http://169.254.169.254/latest/meta-data/</loc></sitemap></sitemapindex>")
    server.route("/sitemap/sitemap.xml", Response(200, index, XML))
    with caplog.at_level(logging.INFO, logger="scraper.discover"):
        links = asyncio.run(run_discover(site))
    # a request would have been refused by the test guard, retried, then logged as skipped
    assert not any("169.254" in record.getMessage() for record in caplog.records)
    assert len(links) == 17


def test_discover_uses_robots_sitemaps_when_the_site_declares_none(server: TestServer) -> None:
    robots = f"User-agent: *\nDisallow: /private/\nSitemap: {server.url('/news-sitemap.xml')}\n"
    server.route("/robots.txt", Response(200, robots.encode(), {"Content-Type": "text/plain"}))
    server.route("/news-sitemap.xml", Response(200, fixture("news-sitemap.xml"), XML))

    class LocalNews(News):
        feeds = (server.url("/private/feed"),)  # disallowed: skipped, never requested

    links = asyncio.run(run_discover(LocalNews()))
    assert [link.url.rsplit("/", 1)[1] for link in links] == [
        "late-night-vote", "markets-close-higher", "storm-warning", "city-budget-explained"]
    assert server.hits("/private/feed") == 0


def test_discover_fails_when_every_feed_and_sitemap_fails(server: TestServer) -> None:
    class Broken(News):
        feeds = (server.url("/gone"),)

    with pytest.raises(FeedError, match="the one feed or sitemap of news failed"):
        asyncio.run(run_discover(Broken()))


def test_fetch_xml_refuses_a_non_feed_content_type(server: TestServer) -> None:
    server.route("/feed", Response(200, b"\x89PNG", {"Content-Type": "image/png"}))

    async def go() -> bytes:
        async with make_client() as client:
            return await fetch_xml(client, server.url("/feed"), robots=None, sleep=FakeSleep())

    with pytest.raises(WrongType, match="image/png is not a feed or sitemap"):
        asyncio.run(go())


def test_fetch_xml_gives_up_after_the_retries_with_the_http_error(server: TestServer) -> None:
    server.route("/feed", Response(503, b"busy", {"Retry-After": "7"}))
    sleep = FakeSleep()

    async def go() -> bytes:
        async with make_client() as client:
            return await fetch_xml(client, server.url("/feed"), robots=None, sleep=sleep)

    with pytest.raises(HTTPStatus, match="after 4 attempts"):
        asyncio.run(go())
    assert sleep.delays == [7.0, 7.0, 7.0]


def test_discover_spaces_its_requests_by_the_delay(server: TestServer) -> None:
    site = serve_moscow_times(server)
    sleep = FakeSleep()
    asyncio.run(run_discover(site, sleep, FetchPolicy(delay=1.5)))
    # six documents read (2 feeds, the index, 3 monthly files; the failing feed's retries
    # are its own backoff waits): one 1.5 s wait before each but the first
    assert sleep.delays.count(1.5) == 5


FRESH_MT = "https://www.themoscowtimes.com/2024/10/11/a-fresh-story-a86001"


def serve_news_sitemap(server: TestServer, news: str = "") -> None:
    """/news-sitemap.xml listing FRESH_MT, with ``news`` (news: elements) in its entry."""
    server.route("/news-sitemap.xml", Response(200, (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"<url><loc>{FRESH_MT}</loc>{news}</url></urlset>").encode(), XML))


def test_sources_are_typed_and_read_feeds_then_news_sitemaps_then_archive_sitemaps(
    server: TestServer,
) -> None:
    site = serve_moscow_times(server)
    serve_news_sitemap(server, "<news:news><news:publication_date>2024-10-11T08:00:00Z"
                               "</news:publication_date></news:news>")

    class Typed(type(site)):  # type: ignore[misc]
        news_sitemaps = (server.url("/news-sitemap.xml"),)

    assert [(s.kind, s.url.rsplit("/", 1)[1]) for s in sources_of(Typed())] == [
        ("feed", "news"), ("feed", "opinion"), ("news_sitemap", "news-sitemap.xml"),
        ("sitemap", "sitemap.xml")]
    links = asyncio.run(run_discover(Typed(), max_sitemaps=1))
    paths = [r.path for r in server.requests if r.path != "/robots.txt"]
    assert paths.index("/news-sitemap.xml") < paths.index("/sitemap/sitemap.xml")
    assert server.hits("/sitemap/2024-10.xml.gz") == 0  # the archive index's budget: itself
    assert links[0].url == FRESH_MT  # the newest


def test_a_news_sitemap_is_read_before_an_archive_index_can_fill_max_links(
    server: TestServer,
) -> None:
    site = serve_moscow_times(server)
    serve_news_sitemap(server)

    class Typed(type(site)):  # type: ignore[misc]
        feeds = ()
        news_sitemaps = (server.url("/news-sitemap.xml"),)

    links = asyncio.run(run_discover(Typed(), max_links=1))
    assert [link.url for link in links] == [FRESH_MT]
    assert server.hits("/sitemap/sitemap.xml") == 0
