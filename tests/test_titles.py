"""The headline on pages without an adapter (scraper/metadata/titles.py), one rule per test,
on small pages the team wrote (tests/fixtures/names/)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from scraper import extract
from scraper.cli import cli

PAGES = Path(__file__).parent / "fixtures" / "names"
URL = "https://news.example.org/2025/06/17/harbour-ferry"


def title_of(name: str) -> str | None:
    return extract((PAGES / name).read_text(encoding="utf-8"), url=URL).title


def test_visible_h1_beats_a_different_seo_og_title() -> None:
    # og:title, twitter:title and the JSON-LD headline agree on the SEO title; the <h1> the
    # reader sees is reworded but agrees with them, so it is the headline
    page = PAGES / "og-title-differs.html"
    result = CliRunner().invoke(cli, ["extract", str(page), "--url", URL])
    assert result.exit_code == 0, result.output
    title = json.loads(result.stdout)["title"]
    assert title == "Council approves a second ferry route to the islands"


def test_h1_that_is_only_the_site_logo_is_no_headline() -> None:
    expected = "Harbour council approves new ferry route to the islands"
    assert title_of("h1-is-site-name.html") == expected


def test_title_loses_its_site_name_suffix_but_keeps_its_own_dash() -> None:
    expected = "Ferries - council approves a second route to the islands"
    assert title_of("title-suffix.html") == expected


def test_h1_with_a_date_glued_on_gives_way_to_the_title_it_contains() -> None:
    assert title_of("h1-with-date.html") == "Harbour council approves new ferry route"


def test_double_escaped_og_title_gives_way_to_the_clean_h1() -> None:
    # og:title is written &amp;quot;: decoding it once leaves &quot;, which no reader sees
    assert title_of("double-escaped.html") == 'Mayor says "no" to harbour tower'


def test_jsonld_entities_are_decoded_exactly_once() -> None:
    # &amp; -> &, &#8216; -> ‘, and &amp;amp; -> &amp; (the page's own text), never to &
    expected = "Q&A: what the \u2018&amp;\u2019 sign on the new ferry means"
    assert title_of("jsonld-entities.html") == expected
