"""Authors on pages without an adapter (scraper/metadata/authors.py), one rule per test, on a
small page the team wrote (tests/fixtures/names/article.html) whose head and byline each test
fills in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper import extract
from scraper.cli import cli

TEMPLATE = Path(__file__).parent / "fixtures" / "names" / "article.html"
URL = "https://news.example.org/2025/06/17/harbour-ferry"


def page(head: str = "", byline: str = "") -> str:
    return TEMPLATE.read_text(encoding="utf-8").replace("{head}", head).replace("{byline}", byline)


def authors_of(head: str = "", byline: str = "") -> list[str]:
    return list(extract(page(head, byline), url=URL).authors)


def ld(author: object) -> str:
    data = {"@context": "https://schema.org", "@type": "NewsArticle", "author": author}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


@pytest.mark.parametrize("byline, name", [
    ("By Jane Doe", "Jane Doe"),
    ("Von Anna Schmidt", "Anna Schmidt"),
    ("Par Jean Dupont", "Jean Dupont"),
    ("Af Jens Hansen", "Jens Hansen"),
    ("Door Jan de Vries", "Jan de Vries"),
    ("Di Mario Rossi", "Mario Rossi"),
    ("Por Ana García", "Ana García"),
    ("Av Ola Nordmann", "Ola Nordmann"),
    ("Przez Jan Kowalski", "Jan Kowalski"),
    ("Автор: Иван Петров", "Иван Петров"),
    ("Written by Jane Doe", "Jane Doe"),
])
def test_byline_word_is_stripped(byline: str, name: str) -> None:
    assert authors_of(byline=f'<p class="byline" itemprop="author">{byline}</p>') == [name]


def test_byline_word_that_is_part_of_a_name_stays() -> None:
    assert authors_of(byline='<p itemprop="author">Von Trapp</p>') == ["Von Trapp"]


@pytest.mark.parametrize("value", [
    "Jane Doe and John Roe", "Jane Doe und John Roe", "Jane Doe et John Roe",
    "Jane Doe y John Roe", "Jane Doe, John Roe", "Jane Doe & John Roe",
])
def test_two_names_are_split(value: str) -> None:
    assert authors_of(f'<meta name="author" content="{value}">') == ["Jane Doe", "John Roe"]


def test_email_url_profile_path_handle_staff_and_follow_are_dropped() -> None:
    author = ["Jane Doe", "jane.doe@example.org", "https://news.example.org/staff/jane",
              "/author/john-roe", "@johnroe", "Staff", "Follow", "www.example.org"]
    assert authors_of(ld(author)) == ["Jane Doe"]


def test_job_title_after_a_comma_is_dropped() -> None:
    head = '<meta name="author" content="Jane Doe, Senior Political Correspondent">'
    assert authors_of(head) == ["Jane Doe"]


def test_agency_and_person_kept_site_name_dropped() -> None:
    author = [{"@type": "Person", "name": "Jane Doe"},
              {"@type": "Organization", "name": "Reuters"},
              {"@type": "Organization", "name": "Example Gazette"}]
    assert authors_of(ld(author)) == ["Jane Doe", "Reuters"]


def test_site_name_alone_is_kept() -> None:
    site_only = ld({"@type": "Organization", "name": "Example Gazette"})
    assert authors_of(site_only) == ["Example Gazette"]


def test_site_name_gives_way_to_a_person_in_a_later_source() -> None:
    head = ld({"@type": "Organization", "name": "Example Gazette"}) \
        + '<meta name="parsely-author" content="Jane Doe">'
    assert authors_of(head) == ["Jane Doe"]


def test_each_name_once_in_page_order() -> None:
    assert authors_of(ld(["John Roe", "Jane Doe", "john roe"])) == ["John Roe", "Jane Doe"]


def test_jsonld_outranks_meta_author() -> None:
    head = ld({"@type": "Person", "name": "Jane Doe"}) + '<meta name="author" content="Web Desk">'
    assert authors_of(head) == ["Jane Doe"]


def test_microdata_author_with_nested_name() -> None:
    byline = ('<div itemprop="author" itemscope itemtype="https://schema.org/Person">'
              '<span itemprop="name">Jane Doe</span> <span itemprop="jobTitle">Harbour reporter'
              '</span> <p>Jane has covered the harbour for ten years.</p></div>')
    assert authors_of(byline=byline) == ["Jane Doe"]


def test_microdata_authors_of_teasers_are_ignored() -> None:
    byline = ('<div itemscope itemtype="https://schema.org/NewsArticle">'
              '<span itemprop="author">Jane Doe</span></div>'
              '<aside><div itemscope itemtype="https://schema.org/NewsArticle">'
              '<span itemprop="author">Other Writer</span></div></aside>')
    assert authors_of(byline=byline) == ["Jane Doe"]


def test_rel_author_link() -> None:
    byline = '<p class="byline">By <a rel="author" href="/author/jane-doe">Jane Doe</a></p>'
    assert authors_of(byline=byline) == ["Jane Doe"]


def test_article_author_url_is_skipped_for_a_name() -> None:
    head = ('<meta property="article:author" content="https://www.facebook.com/janedoe">'
            '<meta name="sailthru.author" content="Jane Doe">')
    assert authors_of(head) == ["Jane Doe"]


def test_article_author_name_is_used() -> None:
    assert authors_of('<meta property="article:author" content="Jane Doe">') == ["Jane Doe"]


def test_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(page(ld({"@type": "Person", "name": "Af Jens Hansen"})), encoding="utf-8")
    result = CliRunner().invoke(cli, ["extract", str(path), "--url", URL])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["authors"] == ["Jens Hansen"]
