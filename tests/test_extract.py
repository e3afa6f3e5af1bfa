"""The extraction pipeline on pages the team wrote: JSON-LD, meta tags, author and date rules."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import ClassVar

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from scraper import extract
from scraper.metadata import clean_authors, normalize_date
from scraper.models import ExtractError, NotAnArticle
from scraper.sites import Draft, Site

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
URL = "https://www.example.org/politik/haushalt-2025-123"


def page(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_jsonld_graph_gives_title_dates_and_tags() -> None:
    article = extract(page("graph-jsonld.html"), url=URL)
    assert article.title == "Stadtrat beschließt Haushalt"
    assert article.published == "2024-11-05T09:30:00+01:00"
    assert article.modified == "2024-11-05T14:02:00+01:00"
    assert article.tags == ("Politik", "Haushalt", "Stadtrat")
    assert article.language == "de"
    assert article.image == "https://example.org/img/rat.jpg"
    assert article.description == "Der Stadtrat hat den Haushalt für 2025 beschlossen."


def test_authors_are_names_without_titles_emails_or_duplicates() -> None:
    article = extract(page("graph-jsonld.html"), url=URL)
    assert article.authors == ("Anna Schmidt", "Jonas Weber")


def test_body_is_paragraphs_separated_by_blank_lines_without_chrome() -> None:
    article = extract(page("graph-jsonld.html"), url=URL)
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0].startswith("Der Stadtrat hat am Dienstagabend")
    assert paragraphs[-1].startswith("Die Opposition kritisierte")
    assert "Start" not in article.text and "© Beispiel" not in article.text


class _Seen(Site):
    """An adapter that records what its hooks were given and rewrites title, tags and body."""

    name = "seen"
    calls: ClassVar[list[tuple[str, Draft]]] = []

    def metadata(self, tree: HTMLParser, draft: Draft) -> Draft:
        self.calls.append(("metadata", draft))
        return replace(draft, title="Adapter title", tags=("Adapter tag",))

    def body(self, tree: HTMLParser, draft: Draft) -> list[str]:
        self.calls.append(("body", draft))
        return ["", *reversed(draft.paragraphs)]


def test_adapter_hooks_get_a_typed_draft_metadata_first_then_body() -> None:
    site = _Seen()
    site.calls.clear()
    article = extract(page("graph-jsonld.html"), url=URL, site=site)
    (first, draft), (second, after) = site.calls
    assert (first, second) == ("metadata", "body")
    assert draft.title == "Stadtrat beschließt Haushalt" and draft.url == URL
    assert draft.authors and draft.paragraphs and draft.published
    assert after.title == "Adapter title"  # body() sees what metadata() decided
    with pytest.raises(FrozenInstanceError):
        draft.title = "x"  # type: ignore[misc]
    assert article.title == "Adapter title" and article.tags == ("Adapter tag",)
    assert article.text.split("\n\n") == list(reversed(draft.paragraphs))  # empties dropped
    assert article.site == "seen"


def test_canonical_url_is_the_pages_own_claim() -> None:
    article = extract(page("graph-jsonld.html"), url=URL + "?ref=home")
    assert article.url == URL + "?ref=home"  # as requested
    assert article.canonical_url == URL + "?utm_source=x"  # identity strips utm_ later


def test_relative_canonical_url_is_resolved_against_the_page_url() -> None:
    html = page("graph-jsonld.html").replace(
        "https://www.example.org/politik/haushalt-2025-123?utm_source=x", "/politik/h-123")
    assert extract(html, url=URL).canonical_url == "https://www.example.org/politik/h-123"


def test_to_dict_is_json_ready() -> None:
    data = extract(page("graph-jsonld.html"), url=URL).to_dict()
    assert data["authors"] == ["Anna Schmidt", "Jonas Weber"] and isinstance(data["tags"], list)


def test_page_without_article_text_raises_never_returns_none() -> None:
    with pytest.raises(ExtractError, match="no article text"):
        extract(page("no-text.html"), url="https://example.org/section")


def test_captcha_page_is_not_an_article() -> None:
    with pytest.raises(NotAnArticle, match=r"not an article: captcha page \(its title says "
                                           r"'Just a moment\.\.\.'\)"):
        extract(page("captcha.html"), url="https://example.org/story")


@pytest.mark.parametrize("raw, expected", [
    (["By Jane Doe"], ["Jane Doe"]),
    (["Jane Doe and John Roe"], ["Jane Doe", "John Roe"]),
    (["Jane Doe, John Roe & Max Mustermann"], ["Jane Doe", "John Roe", "Max Mustermann"]),
    (["Jane Doe | Staff Writer"], ["Jane Doe"]),
    (["Jane Doe, Political Correspondent"], ["Jane Doe"]),
    (["jane@example.com"], []),
    (["Follow", "Jane Doe", "JANE DOE"], ["Jane Doe"]),
    (["https://example.com/author/jane"], []),
    (["Associated Press"], ["Associated Press"]),
    (["Von Anna Schmidt"], ["Anna Schmidt"]),
    (["Di Caprio", "Von Trapp", "Par Lagerkvist", "von der Leyen"],
     ["Di Caprio", "Von Trapp", "Par Lagerkvist", "von der Leyen"]),
])
def test_clean_authors(raw: list[str], expected: list[str]) -> None:
    assert clean_authors(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("2024-04-30T16:38:37+02:00", "2024-04-30T16:38:37+02:00"),
    ("2024-04-30T14:38:37Z", "2024-04-30T14:38:37+00:00"),
    ("2024-04-30T16:38:37.000+0200", "2024-04-30T16:38:37+02:00"),
    ("2024-04-30 16:38:37 +0200", "2024-04-30T16:38:37+02:00"),
    ("Thu, 10 Oct 2024 21:53:52 +0300", "2024-10-10T21:53:52+03:00"),
    ("2024-04-30", "2024-04-30"),  # no time given: no time invented
    ("2024-04-30T16:38:37", "2024-04-30T16:38:37"),  # no offset given: none invented
    ("yesterday", None),
    ("", None),
])
def test_normalize_date(raw: str, expected: str | None) -> None:
    assert normalize_date(raw) == expected
