"""sites/themoscowtimes.py: URLs, keys, authors, dates and body of The Moscow Times.

The three pages under fixtures/themoscowtimes/ are written by the team (no real article page
was available offline); they follow the structure recorded in
../shared/corpus/sites/themoscowtimes/NOTES.md and carry the text of seed article a80850.
The RSS links at the end are real (one day of the site's news feed).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from scraper.extract import extract
from scraper.identity import article_key, content_hash
from scraper.models import Article
from scraper.sites import Draft, site_for
from scraper_sites.themoscowtimes import TheMoscowTimes

FIXTURES = Path(__file__).parent / "fixtures" / "themoscowtimes"
# SCRAPER_CORPUS points elsewhere, as in tests/test_sites.py
CORPUS = (Path(os.environ.get("SCRAPER_CORPUS") or Path(__file__).resolve().parents[2] / "shared"
               / "corpus") / "sites" / "themoscowtimes")
RSS_SAMPLE = CORPUS / "rss-news-entries-2024-10-10.json"

BASE = "https://www.themoscowtimes.com"
SEED_URL = f"{BASE}/2023/04/17/china-minister-hails-strong-russia-ties-in-putin-meeting-a80850"
EDITED_URL = (f"{BASE}/2023/04/17/"
              "chinas-defense-minister-hails-strong-russia-ties-in-putin-meeting-a80850")
SEED_PARAGRAPHS = (FIXTURES / "seed-a80850-paragraphs.txt").read_text().splitlines()
INTRO = ("Li Shangfu chose Moscow for his first trip abroad as China's defense minister. "
         "Putin welcomed the military cooperation between the two countries.")
SITE = TheMoscowTimes()


def page(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def extracted(name: str, url: str = SEED_URL, html: str | None = None) -> Article:
    return extract(page(name) if html is None else html, url, SITE)


@pytest.fixture(scope="module")
def updated() -> Article:
    return extracted("seed-two-authors-updated.html")


# --- registry and discovery -----------------------------------------------------------------


@pytest.mark.parametrize("url", [SEED_URL, "https://static.themoscowtimes.com/sitemap/sitemap.xml",
                                 "https://themoscowtimes.com/rss/news"])
def test_site_for_picks_this_adapter_for_the_site_and_its_subdomains(url: str) -> None:
    assert isinstance(site_for(url), TheMoscowTimes)


def test_site_for_does_not_match_a_lookalike_host() -> None:
    assert not isinstance(site_for("https://www.notthemoscowtimes.com/2024/01/01/x-a1"),
                          TheMoscowTimes)


def test_feeds_are_the_section_feeds_and_the_sitemap_is_the_static_index() -> None:
    assert SITE.feeds == tuple(f"{BASE}/rss/{s}" for s in (
        "news", "opinion", "city", "meanwhile", "podcasts", "in-depth", "arts-and-life", "all"))
    assert SITE.sitemaps == ("https://static.themoscowtimes.com/sitemap/sitemap.xml",)
    assert all(SITE.matches(url) for url in SITE.feeds + SITE.sitemaps)


# --- article URLs and keys ------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/2023/04/17/china-minister-hails-strong-russia-ties-in-putin-meeting-a80850",
    "/2024/10/10/toll-from-russian-strike-on-odesa-rises-to-8-a86639/",
    "/archive/putin-signs-new-law-on-foreign-agents",
])
def test_article_path_accepts_dated_and_archive_articles(path: str) -> None:
    assert SITE.is_article_url(BASE + path)


@pytest.mark.parametrize("path", [
    "/", "/news", "/news/24", "/opinion", "/arts-and-life", "/ukraine-war", "/podcasts",
    "/author/afp", "/tag/China", "/rss/news", "/rss/all", "/archive", "/archive/author/afp",
    "/preview/v9trjvwoiw45ibfnhgftr/abc", "/search", "/search/putin",
    "/2023/04/17/china-minister-hails-strong-russia-ties-in-putin-meeting-a80850/amp",
    "/2023/04/17/china-minister-hails-strong-russia-ties-in-putin-meeting-a80850/pdf",
    "/2023/04/17/a-slug-without-an-id", "/2023/04/17",
])
def test_article_path_rejects_everything_else(path: str) -> None:
    assert not SITE.is_article_url(BASE + path)


@pytest.mark.parametrize("url", [
    SEED_URL, EDITED_URL, SEED_URL + "/amp", SEED_URL + "/", SEED_URL + "?utm_source=x#top",
])
def test_article_key_is_the_numeric_id_whatever_the_slug_or_amp(url: str) -> None:
    assert SITE.article_key(url) == "80850"


@pytest.mark.parametrize("url", [
    f"{BASE}/archive/putin-signs-new-law-on-foreign-agents",  # archive ids are another series
    f"{BASE}/author/afp", f"{BASE}/tag/China", f"{BASE}/2023/04/17/a-slug-without-an-id",
])
def test_article_key_is_none_without_a_dated_article_id(url: str) -> None:
    assert SITE.article_key(url) is None


def test_edited_headline_keeps_the_archive_identity(updated: Article) -> None:
    edited = extracted("seed-edited-headline.html", url=EDITED_URL)
    assert edited.canonical_url == EDITED_URL != updated.canonical_url
    old = article_key(SITE, SEED_URL, updated.canonical_url)
    assert old == article_key(SITE, EDITED_URL, edited.canonical_url) == "themoscowtimes:80850"


# --- metadata -------------------------------------------------------------------------------


def test_all_byline_authors_are_found_without_by(updated: Article) -> None:
    # the head (meta author, article:author, JSON-LD) names only AFP
    assert updated.authors == ("AFP", "Elena Fixture")


def test_archive_byline_spans_give_all_authors_too() -> None:
    # on /archive/ pages the names are <span class="byline__author__name">, not links
    html = re.sub(r'<a href="[^"]*/author/[^"]*" class="byline__author__name"[^>]*>(.*?)</a>',
                  r'<span class="byline__author__name">\1</span>',
                  page("seed-two-authors-updated.html"))
    assert html.count('<span class="byline__author__name">') == 2
    assert extracted("", html=html).authors == ("AFP", "Elena Fixture")


def test_published_comes_from_jsonld_not_from_the_updated_byline_time(updated: Article) -> None:
    # the byline says "Updated:" with <time datetime="2023-04-17T13:40:00+03:00">
    assert updated.published is not None
    assert updated.published.startswith("2023-04-17T09:12")
    assert updated.published.endswith("+03:00")


def test_modified_comes_from_date_modified(updated: Article) -> None:
    assert updated.modified == "2023-04-17T13:40:00+03:00"


def test_published_falls_back_to_article_published_time_never_to_the_byline() -> None:
    html = page("seed-two-authors-updated.html").replace('"datePublished"', '"x-datePublished"')
    assert extracted("", html=html).published == "2023-04-17T09:12:00+03:00"
    html = html.replace('property="article:published_time"', 'property="x-published"')
    assert extracted("", html=html).published is None


def test_title_and_tags_come_from_the_head(updated: Article) -> None:
    assert updated.title == "China Minister Hails 'Strong' Russia Ties in Putin Meeting"
    assert updated.tags == ("China", "Putin", "Shoigu")


# --- body -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["seed-two-authors-updated.html", "seed-ad-free-notice.html"])
def test_intro_comes_first_then_every_seed_paragraph(name: str) -> None:
    assert extracted(name).paragraphs == [INTRO, *SEED_PARAGRAPHS]


@pytest.mark.parametrize("unwanted", [
    "Pavel Bednyakov",  # lead image credit
    "(R-L) meet at Moscow's Kremlin",  # lead image caption
    "Li Shangfu walks to the meeting hall", "Kremlin press service",  # in-body image block
    "Read more about", "Shoigu Orders Surprise",  # tags box, related articles
    "please support us", "ad-free since", "Most read", "Ruble Slides", "Share on",
    "Updated:", "By AFP", "Elena Fixture", "All rights reserved",
])
@pytest.mark.parametrize("name", ["seed-two-authors-updated.html", "seed-ad-free-notice.html"])
def test_boilerplate_is_not_in_the_text(name: str, unwanted: str) -> None:
    assert unwanted.casefold() not in extracted(name).text.casefold()


def test_paragraphs_found_outside_the_text_blocks_are_dropped() -> None:
    # whatever trafilatura's heuristics keep, text outside .article__content does not survive
    tree = LexborHTMLParser(page("seed-ad-free-notice.html"))
    notice = "The Moscow Times has been ad-free since July 1, 2024."
    draft = Draft(url=SEED_URL, paragraphs=(SEED_PARAGRAPHS[0], notice,
                                            "Read more about: China, Putin, Shoigu",
                                            SEED_PARAGRAPHS[1]))
    assert SITE.body(tree, draft) == [INTRO, *SEED_PARAGRAPHS[:2]]


def test_trafilatura_body_is_kept_when_none_of_it_matches_the_text_blocks() -> None:
    # a redesign or a text mismatch must not silently empty the article
    tree = LexborHTMLParser(page("seed-two-authors-updated.html"))
    body = ["Text the blocks do not hold.", "Nor this."]
    assert SITE.body(tree, Draft(url=SEED_URL, paragraphs=tuple(body))) == [INTRO, *body]


# --- versions -------------------------------------------------------------------------------


def test_boilerplate_change_keeps_the_content_hash(updated: Article) -> None:
    # the raw pages differ (support box vs ad-free notice, another most-read list)
    assert page("seed-two-authors-updated.html") != page("seed-ad-free-notice.html")
    assert content_hash(extracted("seed-ad-free-notice.html")) == content_hash(updated)


def test_headline_and_paragraph_edit_changes_the_content_hash(updated: Article) -> None:
    edited = extracted("seed-edited-headline.html", url=EDITED_URL)
    assert edited.title == "China's Defense Minister Hails 'Strong' Russia Ties in Putin Meeting"
    assert "which runs until Wednesday, April 19" in edited.text
    assert content_hash(edited) != content_hash(updated)


def test_every_fixture_says_it_is_not_a_real_page() -> None:
    for path in FIXTURES.glob("*.html"):
        assert "NOT A REAL PAGE" in path.read_text(encoding="utf-8")[:400], path.name


# --- the real RSS sample --------------------------------------------------------------------


def rss_links() -> list[str]:
    if not RSS_SAMPLE.exists():
        pytest.skip(f"RSS sample absent: it lives in ../shared/corpus ({RSS_SAMPLE})")
    return [entry["link"] for entry in json.loads(RSS_SAMPLE.read_text(encoding="utf-8"))]


def test_every_real_rss_link_is_an_article_with_a_key() -> None:
    links = rss_links()
    assert len(links) == 16
    for link in links:
        assert SITE.matches(link) and SITE.is_article_url(link), link
        assert (SITE.article_key(link) or "").isdigit(), link


def test_real_rss_slug_change_keeps_one_key() -> None:
    # the feed carried a86639 under two slugs within hours: "...-to-seven-a86639", "...-to-8-a86639"
    odesa = [link for link in rss_links() if link.endswith("-a86639")]
    assert len(odesa) == 2 and odesa[0] != odesa[1]
    assert {SITE.article_key(link) for link in odesa} == {"86639"}
