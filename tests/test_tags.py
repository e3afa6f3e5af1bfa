"""Tags through ``scraper extract FILE --url URL`` on real corpus pages: one tag per tag
(the Guardian writes three in one comma-separated string), words and not wire codes
(Reuters' keywords are "AER,AERO,AIR,..."), and BBC's topic links where the page has them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import cli
from scraper.metadata import tag_list

ROOT = Path(__file__).parents[1]
CORPUS = Path(os.environ.get("SCRAPER_CORPUS") or ROOT.parent / "shared" / "corpus") / "sites"


def extract_page(site: str, stem: str) -> tuple[dict, dict]:
    """(golden JSON, ``scraper extract`` output) for one corpus page; skips without the corpus."""
    page = CORPUS / site / f"{stem}.html.gz"
    if not page.exists():
        pytest.skip(f"corpus page absent: it lives in ../shared/corpus ({page})")
    gold = json.loads(page.with_name(f"{stem}.json").read_text(encoding="utf-8"))
    result = CliRunner().invoke(cli, ["extract", str(page), "--url", gold["url"]])
    assert result.exit_code == 0, result.output
    return gold, json.loads(result.stdout)


GUARDIAN = ("theguardian",
            "2024-02-24-death-toll-in-valencia-fire-rises-to-10-as-remains-of-last-missing-"
            "person-found")
REUTERS = [
    ("reuters", "2023-05-16-nepal-says-no-proof-flydubai-plane-suffered-bird-strike-2023-04-25"),
    ("reuters", "2024-03-07-israeli-tank-likely-scenario-fired-machine-gun-reporters-after-"
                "deadly-shelling"),
]
BBC = [("bbc", "2024-08-01-explainers-63159607"), ("bbc", "2026-04-25-clymn8zyrp9o")]


def test_a_comma_separated_tag_string_is_split_into_tags() -> None:
    _, article = extract_page(*GUARDIAN)  # <meta property="article:tag" content="Spain,Europe,...">
    assert article["tags"] == ["Spain", "Europe", "World news"]


@pytest.mark.parametrize(("site", "stem"), REUTERS, ids=["2023", "2024"])
def test_wire_codes_are_not_tags_and_the_sections_are(site: str, stem: str) -> None:
    gold, article = extract_page(site, stem)
    # the page's keywords are codes ("AER,AERO,...,PACKAGE:WORLD-NEWS"); its section and
    # channel list ("Business;Asia Pacific;World") are the tags a reader sees
    assert not [t for t in article["tags"] if "," in t or t.isupper()], article["tags"]
    assert article["tags"] == gold["tags"]


@pytest.mark.parametrize(("site", "stem"), BBC, ids=["2024-layout", "2026-layout"])
def test_bbc_tags_are_the_topic_links_under_the_article(site: str, stem: str) -> None:
    gold, article = extract_page(site, stem)
    assert article["tags"] == gold["tags"]


@pytest.mark.parametrize(("site", "stem", "kept"), [
    ("voanews", "2024-04-28-america-s-child-care-crisis-is-holding-back-moms-without-college-"
                "degrees-7585813", ["USA", "United States"]),
    ("apnews", "2024-09-03-trump-harris-presidential-election-2024-labor-day",
     ["Kamala Harris", "U.S. Democratic Party", "2024 United States presidential election"]),
])
def test_real_tags_in_capitals_stay(site: str, stem: str, kept: list[str]) -> None:
    _, article = extract_page(site, stem)
    assert [t for t in kept if t in article["tags"]] == kept, article["tags"]


def test_one_letter_keywords_and_case_duplicates_are_dropped() -> None:
    # AP's keywords hold "p" and "n", and both "U.S. news" and "U.S. News"
    _, article = extract_page("apnews", "2024-09-03-trump-harris-presidential-election-2024-"
                                        "labor-day")
    assert not [t for t in article["tags"] if len(t) < 2], article["tags"]
    folded = [t.casefold() for t in article["tags"]]
    assert len(folded) == len(set(folded)), article["tags"]


@pytest.mark.parametrize(("value", "tags"), [
    ("Spain,Europe,World news", ["Spain", "Europe", "World news"]),
    (["NATO", "EU", "UN", "USA"], ["NATO", "EU", "UN", "USA"]),  # a few acronyms are words
    ("AER,AERO,AIR,AIRL,AIRS08,CRSH,DIS,GEN", []),  # a list of codes is no tags at all
    (["Bitcoin", "source:tagname:CNBC US Source", "p"], ["Bitcoin"]),
])
def test_tag_list_splits_and_refuses_codes(value: object, tags: list[str]) -> None:
    assert tag_list(value) == tags


FIXTURES = ROOT / "tests" / "fixtures" / "tags"


@pytest.mark.parametrize(("name", "url", "tags"), [
    ("comma-tags", "https://www.example.org/world/2024/feb/24/ferry-strike-ends",
     ["Spain", "Europe", "World news"]),
    ("reuters-sections",
     "https://www.reuters.com/business/harbour-operator-posts-record-quarter-2024-03-07/",
     ["Business", "Asia Pacific", "World"]),
    ("bbc-topic-links", "https://www.bbc.com/news/articles/c0harbour1x",
     ["Harbours", "Ferries", "Local government"]),
], ids=["comma-string", "reuters-codes", "bbc-topic-links"])
def test_tags_of_team_written_pages(name: str, url: str, tags: list[str]) -> None:
    # the same three shapes as the corpus pages above, in pages of our own: no corpus needed
    result = CliRunner().invoke(cli, ["extract", str(FIXTURES / f"{name}.html"), "--url", url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tags"] == tags
