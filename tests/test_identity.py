"""URL normalisation, article keys and content hashes."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

import pytest

from scraper.identity import article_key, content_hash, normalize_url, trusted_canonical
from scraper.models import Article
from scraper.sites import Site


class Numbered(Site):
    """A site whose article id ends the path: /politics/some-slug-a123."""

    name = "numbered"
    domains = ("example.com",)

    def article_key(self, url: str) -> str | None:
        match = re.search(r"-a(\d+)$", urlsplit(url).path)
        return match.group(1) if match else None


class Plain(Site):
    """A site without article keys: identity is the URL."""

    name = "plain"
    domains = ("example.org",)


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://WWW.Example.COM/Path/To", "https://www.example.com/Path/To"),
    ("https://example.com/a#comments", "https://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com./a", "https://example.com/a"),
    ("https://example.com/a?utm_source=tw&utm_medium=social", "https://example.com/a"),
    ("https://example.com/a?fbclid=x&gclid=y&CMP=share_btn&ocid=msn", "https://example.com/a"),
    ("https://example.com/a?UTM_Campaign=x&_ga=1.2&igshid=z", "https://example.com/a"),
    ("http://user@Example.com:80/a", "http://user@example.com/a"),
    ("http://[::1]:80/a", "http://[::1]/a"),
])
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


def test_normalize_url_keeps_other_params_in_order_and_encoding() -> None:
    url = "https://example.com/search?q=a+b&utm_source=x&page=2&id=%2Fz&fbclid=1"
    assert normalize_url(url) == "https://example.com/search?q=a+b&page=2&id=%2Fz"


def test_normalize_url_is_idempotent() -> None:
    once = normalize_url("HTTP://Example.com:80/a?b=1&utm_x=2#f")
    assert normalize_url(once) == once


def test_site_key_from_canonical_wins_over_url() -> None:
    key = article_key(Numbered(), "https://example.com/feed-item?x=1",
                      "https://www.example.com/politics/story-a42")
    assert key == "numbered:42"


def test_site_key_from_url_when_canonical_has_none() -> None:
    key = article_key(Numbered(), "https://example.com/politics/story-a42",
                      "https://example.com/amp/landing")
    assert key == "numbered:42"


def test_slug_change_keeps_the_same_key() -> None:
    old = article_key(Numbered(), "https://example.com/politics/old-headline-a7", None)
    new = article_key(Numbered(), "https://example.com/politics/new-headline-a7", None)
    assert old == new == "numbered:7"


def test_key_falls_back_to_normalized_canonical() -> None:
    key = article_key(Plain(), "https://example.org/a?utm_source=x",
                      "https://www.example.org/story#top")
    assert key == "https://www.example.org/story"


def test_key_falls_back_to_normalized_url_without_canonical() -> None:
    assert article_key(Plain(), "HTTPS://Example.org/story?fbclid=1", None) == (
        "https://example.org/story")


def test_foreign_canonical_is_ignored() -> None:
    # A hostile page must not claim another site's article (or its key).
    assert article_key(Numbered(), "https://evil.test/copy", "https://example.com/x-a1") == (
        "https://evil.test/copy")
    assert article_key(Plain(), "https://evil.test/copy", "https://example.org/story") == (
        "https://evil.test/copy")


@pytest.mark.parametrize(("url", "canonical", "trusted"), [
    ("https://m.example.com/a", "https://www.example.com/a", True),
    ("https://example.com/a", "https://www.example.com/a", True),
    ("https://www.bbc.co.uk/a", "https://bbc.co.uk/a", True),
    ("https://example.com/a", "https://example.net/a", False),
    ("https://bbc.co.uk/a", "https://other.co.uk/a", False),     # public suffix is not a site
    ("https://alice.blogspot.com/a", "https://bob.blogspot.com/a", False),
    ("https://example.com/a", "javascript:alert(1)", False),
    ("https://example.com/a", "/relative/path", False),
])
def test_trusted_canonical(url: str, canonical: str, trusted: bool) -> None:
    assert (trusted_canonical(url, canonical) == canonical) is trusted


def _article(**fields: object) -> Article:
    base: dict[str, object] = {
        "url": "https://example.org/a", "title": "Budget passed",
        "authors": ("Ann Lee", "Bo Chen"), "text": "First paragraph.\n\nSecond paragraph.",
    }
    return Article(**{**base, **fields})  # type: ignore[arg-type]


def test_content_hash_is_sha256_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(_article()))


def test_content_hash_ignores_whitespace_nfc_and_invisible_characters() -> None:
    decomposed = unicodedata.normalize("NFD", "Café budget")
    variant = _article(title=f"  {decomposed}\u200b ", authors=(" Ann\u00a0Lee", "Bo  Chen"),
                       text="First   paragraph.\nSecond\tparagraph.  ")
    assert content_hash(variant) == content_hash(
        _article(title="Café budget", text="First paragraph.\n\nSecond paragraph."))


def test_content_hash_ignores_dates_description_image_and_tags() -> None:
    bumped = _article(modified="2024-05-02T10:00:00+00:00", published="2024-05-01",
                      description="New teaser", image="https://example.org/new.jpg",
                      tags=("politics",), language="en", canonical_url="https://x.test/")
    assert content_hash(bumped) == content_hash(_article())


@pytest.mark.parametrize("change", [
    {"title": "Budget rejected"},
    {"authors": ("Ann Lee",)},
    {"authors": ("Bo Chen", "Ann Lee")},
    {"text": "First paragraph.\n\nSecond paragraph, corrected."},
])
def test_content_hash_changes_with_editorial_content(change: dict[str, object]) -> None:
    assert content_hash(_article(**change)) != content_hash(_article())


def test_content_hash_field_boundaries_are_unambiguous() -> None:
    one_author = _article(authors=("Ann Lee Bo Chen",))
    assert content_hash(one_author) != content_hash(_article(authors=("Ann Lee", "Bo Chen")))
    assert content_hash(_article(title="A", text="B C")) != content_hash(
        _article(title="A B", text="C"))
    assert content_hash(_article(title=None)) == content_hash(_article(title=""))


def test_home_page_canonical_is_not_an_identity() -> None:
    from scraper.identity import trusted_canonical

    assert trusted_canonical("https://example.com/news/a-1", "https://example.com/") is None
    assert trusted_canonical("https://example.com/", "https://example.com/") is not None


def test_canonical_outside_the_sites_article_pattern_is_ignored() -> None:
    class Paths(Site):
        name = "paths"
        domains = ("example.com",)
        article_path = r"^/news/"

    key = article_key(Paths(), "https://example.com/news/a-1", "https://example.com/section/")
    assert key == "https://example.com/news/a-1"
