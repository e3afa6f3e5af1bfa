"""Atom feeds of changes: /archive/recent_changes.atom, per site and per article."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import feedparser
import pytest
from browse_archive import get
from datasette.app import Datasette

from scraper.browse.serve import build_datasette, prepare_archive
from scraper.models import Article, Page
from scraper.store import Archive

ATOM = "{http://www.w3.org/2005/Atom}"
FEED = "/archive/recent_changes.atom"
A1 = "https://alpha.example/news/budget-a1"
A2 = "https://alpha.example/news/weather-a2"
B1 = "https://beta.example/world/summit-b1"
B1_TEXT = "Leaders met in Geneva.\n\nTalks went on late."


@dataclass(frozen=True)
class Feeds:
    path: Path
    a1: int  # article ids
    a2: int
    b1: int


def t(day: int, hour: int = 9) -> str:
    """A fixed fetch time in March 2025 (UTC)."""
    return f"2025-03-{day:02d}T{hour:02d}:00:00+00:00"


def save(archive: Archive, site: str, url: str, text: str, when: str, title: str,
         authors: tuple[str, ...] = ("Ann Lee",)) -> int:
    """Store one version of the article at ``url`` on ``site``; its article id."""
    article = Article(url=url, text=text, title=title, authors=authors, site=site)
    page = Page(url=url, final_url=url, status=200, html=f"<p>{title}</p>")
    return archive.save(article, page, site_name=site, key=f"{site}:{url[-2:]}",
                        fetched_at=when).article_id


def build(path: Path) -> Feeds:
    """Two sites; four changes (A1 v2, B1 v2, A1 v3, B1 v3), a folded A1 v4, firsts A2, B1."""
    with Archive(path) as archive:
        a1 = save(archive, "alpha", A1, "The budget passed.", t(1), "Budget passed")
        a2 = save(archive, "alpha", A2, "Rain all week.", t(2), "Rain")
        b1 = save(archive, "beta", B1, B1_TEXT, t(2, 10), "Summit opens")
        save(archive, "alpha", A1, "The budget passed.", t(3), "Budget passed after late vote")
        save(archive, "beta", B1, B1_TEXT, t(4), "Summit opens", authors=("Ann Lee", "Bo Chen"))
        save(archive, "alpha", A1, "The budget passed late on Tuesday.", t(5),
             "Budget passed after late vote")
        save(archive, "alpha", A1, "The budget passed late on Tuesday!", t(6),
             "Budget passed after late vote")
        save(archive, "beta", B1, B1_TEXT + "\n\nNo deal was reached.", t(7), "Summit ends",
             authors=("Ann Lee", "Bo Chen"))
    with closing(sqlite3.connect(path)) as conn, conn:
        # What `scraper reextract` does to a false edit: folded, kept, no version any more.
        conn.execute("UPDATE versions SET folded = 1 WHERE article_id = ? AND version = 4", [a1])
    prepare_archive(path)
    return Feeds(path, a1, a2, b1)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Feeds:
    return build(tmp_path_factory.mktemp("atom") / "archive.db")


@pytest.fixture(scope="module")
def ds(feeds: Feeds) -> Datasette:
    return build_datasette(feeds.path)


def read(ds: Datasette, path: str = FEED) -> feedparser.FeedParserDict:
    """The feed at ``path``, parsed; it must be served as Atom and parse without a bozo flag."""
    response = get(ds, path)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def changes(feed: feedparser.FeedParserDict) -> list[tuple[int, int, int]]:
    """(article id, from, to) of each entry's diff link, in the feed's order."""
    out = []
    for entry in feed.entries:
        m = re.fullmatch(r"http://localhost/-/diff/(\d+)\?from=(\d+)&to=(\d+)", entry.link)
        assert m, entry.link
        out.append((int(m[1]), int(m[2]), int(m[3])))
    return out


def test_one_entry_per_change_newest_first(ds: Datasette, feeds: Feeds) -> None:
    feed = read(ds)
    # not the first versions (A2 has only one), not the folded A1 v4 (no (a1, 3, 4))
    assert changes(feed) == [(feeds.b1, 2, 3), (feeds.a1, 2, 3), (feeds.b1, 1, 2),
                             (feeds.a1, 1, 2)]
    assert [e.updated for e in feed.entries] == [t(7), t(5), t(4), t(3)]
    assert [e.title for e in feed.entries] == [
        "Summit ends", "Budget passed after late vote", "Summit opens",
        "Budget passed after late vote"]
    assert feed.feed.updated == t(7)
    # the same rows as the changes view, which is where they come from
    with closing(sqlite3.connect(feeds.path)) as conn:
        view = conn.execute("SELECT article_id, previous_version, version FROM changes"
                            " ORDER BY fetched_at DESC").fetchall()
    assert changes(feed) == [tuple(r) for r in view]


def test_entries_summarise_what_changed(ds: Datasette, feeds: Feeds) -> None:
    by_change = dict(zip(changes(read(ds)), read(ds).entries))
    headline = by_change[(feeds.a1, 1, 2)].summary
    assert "Headline: “Budget passed” → “Budget passed after late vote”." in headline
    assert "Byline" not in headline and "Body" not in headline
    byline = by_change[(feeds.b1, 1, 2)].summary
    assert "Byline: Ann Lee → Ann Lee, Bo Chen." in byline and "Headline" not in byline
    body = by_change[(feeds.b1, 2, 3)]
    assert "Body: 4 words added, 0 words removed." in body.summary
    assert "Headline: “Summit opens” → “Summit ends”." in body.summary
    assert [a.name for a in body.authors] == ["Ann Lee", "Bo Chen"]
    assert body.tags[0].term == "beta"
    words = by_change[(feeds.a1, 2, 3)].summary  # "passed." → "passed late on Tuesday."
    with closing(sqlite3.connect(feeds.path)) as conn:
        added, removed = conn.execute(
            "SELECT words_added, words_removed FROM changes WHERE article_id = ? AND version = 3",
            [feeds.a1]).fetchone()
    assert f"Body: {added} words added, {removed} word{'s' if removed != 1 else ''} removed." in words


def test_site_and_article_feeds(ds: Datasette, feeds: Feeds) -> None:
    beta = read(ds, f"{FEED}?site=beta")
    assert changes(beta) == [(feeds.b1, 2, 3), (feeds.b1, 1, 2)]
    assert {e.tags[0].term for e in beta.entries} == {"beta"}
    assert beta.feed.title == "News archive: changes on beta"
    a1 = read(ds, f"{FEED}?article_id={feeds.a1}")
    assert changes(a1) == [(feeds.a1, 2, 3), (feeds.a1, 1, 2)]
    assert a1.feed.title == "Changes to “Budget passed after late vote”"
    assert changes(read(ds, f"{FEED}?site=alpha&article_id={feeds.a1}")) == changes(a1)
    empty = read(ds, f"{FEED}?article_id={feeds.a2}")  # one version: no change, still a feed
    assert empty.entries == [] and empty.feed.updated == t(2)


def test_every_entry_links_a_diff_page(ds: Datasette, feeds: Feeds) -> None:
    feed = read(ds)
    for entry, (_, old, new) in zip(feed.entries, changes(feed)):
        link = urlsplit(entry.link)
        page = get(ds, f"{link.path}?{link.query}")
        assert page.status_code == 200, entry.link
        assert f"Version {old} (" in page.text and f"→ version {new} (" in page.text
    alternate = urlsplit(feed.feed.link)
    assert get(ds, alternate.path).status_code == 200  # the changes view


def test_entry_ids_are_stable(feeds: Feeds, tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    path.write_bytes(feeds.path.read_bytes())
    ds = build_datasette(path)
    first = read(ds)
    ids = [e.id for e in first.entries]
    assert len(set(ids)) == len(ids) and all(i.startswith("urn:uuid:") for i in ids)
    assert [e.id for e in read(ds).entries] == ids
    assert read(ds).feed.id == first.feed.id == "http://localhost/archive/recent_changes.atom"
    with Archive(path) as archive:  # a new article: a first version is no change
        save(archive, "beta", "https://beta.example/world/vote-b2", "Polls open.", t(8), "Vote")
    assert [e.id for e in read(ds).entries] == ids
    with Archive(path) as archive:  # a new change of another article comes first
        save(archive, "alpha", A2, "Rain all week, then snow.", t(9), "Snow")
    again = read(ds)
    assert [e.id for e in again.entries] == [again.entries[0].id, *ids]
    assert again.entries[0].id not in ids and again.entries[0].title == "Snow"
    # and the per-article feed gives each change the same id as the archive's feed
    assert [e.id for e in read(ds, f"{FEED}?article_id={feeds.b1}").entries] == [ids[0], ids[2]]


def test_feed_has_what_rfc_4287_requires(ds: Datasette, feeds: Feeds) -> None:
    for path in (FEED, f"{FEED}?site=alpha", f"{FEED}?article_id={feeds.a2}"):
        root = ElementTree.fromstring(get(ds, path).content)
        assert root.tag == f"{ATOM}feed"
        for name in ("id", "title", "updated"):
            assert len(root.findall(f"{ATOM}{name}")) == 1, (path, name)
        datetime.fromisoformat(root.findtext(f"{ATOM}updated") or "")
        self_links = [x for x in root.findall(f"{ATOM}link") if x.get("rel") == "self"]
        assert [x.get("href") for x in self_links] == [f"http://localhost{path}"]
        feed_author = root.find(f"{ATOM}author/{ATOM}name") is not None
        assert feed_author  # so an entry without a byline is valid too
        for entry in root.findall(f"{ATOM}entry"):
            for name in ("id", "title", "updated", "summary"):
                assert len(entry.findall(f"{ATOM}{name}")) == 1, (path, name)
            datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "")
            assert entry.find(f"{ATOM}link").get("href", "").startswith("http://localhost/-/diff/")


def test_pages_link_their_feeds(ds: Datasette, feeds: Feeds) -> None:
    def alternates(path: str) -> list[str]:
        page = get(ds, path)
        assert page.status_code == 200
        head = page.text.split("</head>")[0]
        return re.findall(r'<link rel="alternate" type="application/atom\+xml"[^>]* href="([^"]+)"',
                          head)

    assert alternates("/archive/changes") == [FEED]
    assert alternates("/archive/changes?site=beta") == [FEED, f"{FEED}?site=beta"]
    assert alternates("/archive/recent_changes") == [FEED]
    diff_feed = f"{FEED}?article_id={feeds.a1}"
    assert alternates(f"/-/diff/{feeds.a1}") == [diff_feed]
    assert alternates("/archive/versions") == []  # only the pages of changes
    for href in (FEED, f"{FEED}?site=beta", diff_feed):
        read(ds, href)


@pytest.mark.parametrize(("query", "status", "message"), [
    ("?article_id=abc", 400, "must be an article id"),
    ("?article_id=-1", 400, "must be an article id"),
    ("?article_id=1.5", 400, "must be an article id"),
    ("?article_id=" + "9" * 30, 400, "must be an article id"),
    ("?article_id=9223372036854775808", 400, "must be an article id"),
    ("?article_id=999", 404, "No article 999"),
    ("?site=nope", 404, "No site &#39;nope&#39;"),
    ("?site=%3Cb%3Ex", 404, "No site &#39;&lt;b&gt;x&#39;"),
    ("?site=beta&article_id=1", 404, "is not on site &#39;beta&#39;"),
])
def test_bad_parameters_get_a_clear_answer(ds: Datasette, query: str, status: int,
                                           message: str) -> None:
    response = get(ds, FEED + query)
    assert response.status_code == status
    assert message in response.text


def test_an_unknown_database_is_not_found(ds: Datasette) -> None:
    assert get(ds, "/nope/recent_changes.atom").status_code == 404


def test_control_characters_in_a_headline_do_not_break_the_feed(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    with Archive(path) as archive:
        article_id = save(archive, "alpha", A1, "Text.", t(1), "Calm")
        save(archive, "alpha", A1, "Text.", t(2), "Bad\x0bhead\x01line")
    prepare_archive(path)
    feed = read(build_datasette(path), f"{FEED}?article_id={article_id}")
    assert [e.title for e in feed.entries] == ["Badheadline"]


def test_links_name_the_database_when_several_archives_are_served(
        feeds: Feeds, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.write_bytes(feeds.path.read_bytes())
    build_datasette(feeds.path)  # registers the plugin
    ds = Datasette([str(feeds.path), str(other)])
    feed = read(ds, "/other/recent_changes.atom?site=beta")
    assert len(feed.entries) == 2
    for entry in feed.entries:
        link = urlsplit(entry.link)
        assert link.query.endswith("&db=other")
        assert get(ds, f"{link.path}?{link.query}").status_code == 200


def test_links_keep_datasettes_base_url(feeds: Feeds) -> None:
    build_datasette(feeds.path)  # registers the plugin
    ds = Datasette([str(feeds.path)], settings={"base_url": "/news/"})
    feed = read(ds)  # the in-process client adds base_url to the path itself
    assert feed.feed.id == "http://localhost/news/archive/recent_changes.atom"
    assert all(e.link.startswith("http://localhost/news/-/diff/") for e in feed.entries)
    assert 'href="/news/archive/recent_changes.atom"' in get(ds, "/archive/changes").text
