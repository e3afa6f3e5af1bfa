"""URL normalisation, article keys and content hashes."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import unicodedata
from pathlib import Path
from string import Template
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner
from server import Response, TestServer

from scraper.cli import cli
from scraper.identity import (
    _is_tracking,
    article_key,
    content_hash,
    normalize_url,
    trusted_canonical,
)
from scraper.models import Article
from scraper.sites import Site

# the politeness delay and retry waits are not what these tests are about
pytestmark = pytest.mark.usefixtures("no_waits")

FIXTURES = Path(__file__).parent / "fixtures" / "site"


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


def test_a_mirror_named_with_its_adapter_takes_the_sites_identity_from_its_canonical() -> None:
    # `archive --site numbered http://127.0.0.1:8000/saved.html`: the user vouches for it
    assert article_key(Numbered(), "http://127.0.0.1:8000/saved.html",
                       "https://www.example.com/x-a1", mirror=True) == "numbered:1"
    # but never another site's domains, nor its home page
    assert article_key(Numbered(), "http://127.0.0.1:8000/saved.html",
                       "https://example.org/x-a1", mirror=True) == (
        "http://127.0.0.1:8000/saved.html")
    assert article_key(Numbered(), "http://127.0.0.1:8000/saved.html",
                       "https://example.com/", mirror=True) == "http://127.0.0.1:8000/saved.html"


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


# --- percent-encoding and IDNA hosts, as browsers write them -----------------------------


@pytest.mark.parametrize(("spelling", "same_as"), [
    ("http://host/news/éditorial-été.html",
     "http://host/news/%C3%A9ditorial-%C3%A9t%C3%A9.html"),
    ("http://host/news/%c3%a9ditorial.html", "http://host/news/%C3%A9ditorial.html"),
    ("http://host/%7Euser/%41rticle", "http://host/~user/Article"),
    ("http://host/a?q=été&p=1", "http://host/a?q=%C3%A9t%C3%A9&p=1"),
    ("http://host/a b", "http://host/a%20b"),
    ("http://bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://BÜCHER.Example/a", "http://xn--bcher-kva.example/a"),
    ("https://faß.de/", "https://xn--fa-hia.de/"),  # UTS #46 non-transitional, as browsers
])
def test_every_spelling_of_a_url_normalises_to_one_identity(spelling: str, same_as: str) -> None:
    assert normalize_url(spelling) == normalize_url(same_as) == same_as


@pytest.mark.parametrize("url", [
    "http://host/a%2Fb",       # an escaped "/" is not a path separator: decoding it lies
    "http://host/a?x=%26y%3D1",  # an escaped "&" or "=" is data, not a parameter boundary
    "http://host/100%",         # a "%" that starts no escape is left alone
    "http://host/a+b?q=a+b",
])
def test_reserved_escapes_and_stray_percents_are_kept(url: str) -> None:
    assert normalize_url(url) == url


def corpus_urls() -> list[str]:
    """The ``url`` of every page of the shared corpus (real article URLs)."""
    root = Path(os.environ.get("SCRAPER_CORPUS")
                or Path(__file__).parents[1].parent / "shared" / "corpus") / "sites"
    urls = []
    for path in sorted(root.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            urls.append(data["url"])
    return urls


def test_stored_keys_of_existing_archives_still_match() -> None:
    urls = corpus_urls()
    if not urls:
        pytest.skip("the shared corpus (../shared/corpus or SCRAPER_CORPUS) is absent")
    for url in urls:
        key = normalize_url(url)  # what an archive made before stores (no escapes changed)
        assert normalize_url(key) == key, url
        assert key == _old_normalize(url), url


def _old_normalize(url: str) -> str:
    """normalize_url before escapes and IDNA were normalised: for pure-ASCII, clean URLs."""
    parts = urlsplit(url.strip())
    port = f":{parts.port}" if parts.port not in (None, 80, 443) else ""
    kept = [p for p in parts.query.split("&") if p and not _is_tracking(p.partition("=")[0])]
    return urlunsplit((parts.scheme.lower(), (parts.hostname or "").rstrip(".") + port,
                       parts.path or "/", "&".join(kept), ""))


def test_archive_of_both_spellings_is_one_article_fetched_twice(
    server: TestServer, tmp_path: Path
) -> None:
    page = Template((FIXTURES / "article.html").read_text()).substitute(
        title="Éditorial d'été", published="2024-07-01T08:00:00+00:00",
        body="\n".join(f"<p>Paragraphe {i} de l'éditorial : le conseil a voté le budget de "
                       f"l'année prochaine après un long débat.</p>" for i in range(5)))
    server.route("/news/%C3%A9ditorial-%C3%A9t%C3%A9.html", Response.html(page))
    raw = server.url("/news/éditorial-été.html")
    encoded = server.url("/news/%C3%A9ditorial-%C3%A9t%C3%A9.html")
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(cli, ["archive", "--db", str(db), raw, encoded])
    assert result.exit_code == 0, result.output
    # each line after its ISO time (stamped: the output is not a terminal)
    assert [line.partition(" ")[2] for line in result.stdout.splitlines()] == [
        f"{raw}  new version 1", f"{encoded}  unchanged"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM fetches").fetchone() == (2,)
        assert conn.execute("SELECT article_key FROM articles").fetchone() == (
            normalize_url(encoded),)
