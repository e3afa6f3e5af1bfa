"""Publication and modification times on pages without an adapter, one page per source or rule."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper import extract
from scraper.cli import cli
from scraper.models import Article

FIXTURES = Path(__file__).parent / "fixtures" / "dates"
URL = "https://news.example.org/harbour/ferry-pier-second-opinion"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def page(name: str, url: str = URL, now: datetime = NOW) -> Article:
    return extract((FIXTURES / name).read_text(encoding="utf-8"), url=url, now=now)


def test_local_evening_time_keeps_its_offset_and_day_through_the_cli() -> None:
    result = CliRunner().invoke(cli, ["extract", str(FIXTURES / "local-offset.html"),
                                       "--url", URL])
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    # 21:45 in Paris is 20:45 UTC: stored as the page states it, never converted
    assert got["published"] == "2024-03-10T21:45:00+01:00"
    assert got["modified"] == "2024-03-11T08:05:00+01:00"



def test_only_a_date_modified_is_never_the_publication_time() -> None:
    article = page("modified-only.html")
    assert article.modified == "2021-05-04T10:20:00+02:00"
    assert article.published is None

    # fetched before even the second date: nothing is left
    assert page("future.html", now=datetime(2019, 1, 1, tzinfo=timezone.utc)).published is None


def test_the_url_date_is_the_last_resort() -> None:
    url = "https://news.example.org/2019/06/28/ferry-pier-second-opinion/"
    assert page("url-only.html", url=url).published == "2019-06-28"
    assert page("url-only.html").published is None







@pytest.mark.parametrize("name", [
    "parsely-pub-date", "sailthru.date", "article.published", "publish-date", "publishdate",
    "pubdate", "dc.date.issued", "dcterms.issued", "dcterms.created", "dc.date", "date",
    "og:article:published_time", "datePublished",
])
def test_meta_names_of_the_publication_time(name: str) -> None:
    html = (FIXTURES / "meta-name.html").read_text(encoding="utf-8").replace("NAME", name)
    assert extract(html, url=URL, now=NOW).published == "2019-07-01T17:47:46+02:00"


def test_dcterms_modified_is_the_modification_time_only() -> None:
    html = (FIXTURES / "meta-name.html").read_text(encoding="utf-8").replace(
        "NAME", "dcterms.modified")
    article = extract(html, url=URL, now=NOW)
    assert article.modified == "2019-07-01T17:47:46+02:00"
    assert article.published is None








def test_the_date_in_the_url_never_outranks_an_earlier_or_same_day_page_date() -> None:
    # an address keeps the day it was made (an event's, a story filed before its dateline,
    # a zone apart): the page's stated time is the publication, the URL only the last resort
    for url in ("https://news.example.org/2019/06/16/ferry-pier-second-opinion/",
                "https://news.example.org/2019/06/18/ferry-pier-second-opinion/",
                "https://news.example.org/2019/09/01/ferry-pier-second-opinion/",
                "https://news.example.org/2017-07-12-ferry-pier-second-opinion/"):
        assert page("republished.html", url=url).published == "2019-06-17T18:28:00+02:00", url


def test_a_permalinks_date_outranks_a_later_page_date_as_the_first_publication() -> None:
    # a CMS writes /2017/7/12/slug once, at first publication; a post re-saved two years
    # later states 2019: its first publication is the permalink's day
    for url in ("https://news.example.org/2017/07/12/ferry-pier-second-opinion/",
                "https://news.example.org/home/2017/7/12/ferry-pier-second-opinion"):
        assert page("republished.html", url=url).published == "2017-07-12", url


def test_a_comment_time_is_not_the_article_time() -> None:
    # the article states no date: a reader's comment under it gives none either
    assert page("comment-only-dates.html").published is None


# Found in review: each failed before its fix.
def test_layout_wrappers_named_responsive_or_sidebar_are_not_comments() -> None:
    assert page("responsive-wrapper.html").published == "2016-05-16T19:30:00+02:00"




def test_an_edit_time_alone_is_not_the_publication_time() -> None:
    assert page("edited-line.html").published != "2016-05-20T09:00:00"


def test_an_offset_after_a_space_still_parses_with_the_anchored_pattern() -> None:
    from scraper.metadata import normalize_date

    assert normalize_date("2016-05-16 19:30:00 +0200") == "2016-05-16T19:30:00+02:00"
    assert normalize_date("2016-05-16T19:30:00-0730") == "2016-05-16T19:30:00-07:30"


# One page per source or rule: (rule, page, the publication time it must give)
PUBLISHED = [
    ("a_time_without_zone_stays_without_offset", "no-zone.html", "2014-12-27T12:06:00"),
    ("a_date_after_now_is_dropped_for_the_next_source", "future.html", "2020-02-03T04:05:00+00:00"),
    ("jsonld_outranks_opengraph", "jsonld-first.html", "2015-10-15T02:19:15.607000+00:00"),
    ("jsonld_wrapped_in_cdata_is_read", "jsonld-cdata.html", "2018-04-05T06:00:00"),
    ("slashed_date_with_time_is_read", "slashed.html", "2023-02-21T21:20:00"),
    # a theme's microdata repeats the modification time; article:published_time is right
    ("opengraph_outranks_microdata", "og-before-microdata.html", "2015-09-17T16:57:43+01:00"),
    ("microdata_time_element", "microdata.html", "2016-05-16T11:30:00-04:00"),
    ("time_element_in_the_article_header", "header-time.html", "2019-06-28T13:49:45+00:00"),
    ("a_time_element_contradicting_its_own_text_is_not_trusted",
     "time-contradicts.html", "2019-06-29"),
    ("visible_dateline_text_gives_the_time", "dateline.html", "2015-03-03T16:05:00"),
    ("a_day_is_completed_by_a_later_source_with_the_time",
     "day-then-time.html", "2016-01-20T21:50:25"),
    ("htmldate_fallback_keeps_the_time_it_finds",
     "htmldate-time.html", "2019-06-28T13:49:45+02:00"),
    ("htmldate_fallback_day_without_invented_midnight", "htmldate-day.html", "2019-06-28"),
    ("a_dateline_zone_abbreviation_becomes_its_offset",
     "dateline-zone.html", "2018-07-24T14:15:00-04:00"),
    ("a_dateline_zone_written_utc_plus_keeps_its_sign",
     "utc-plus.html", "2016-05-16T19:30:00+02:00"),
    # "May 2016" has no day: the datetime attribute stands, not May <today's day>
    ("text_without_a_day_never_gets_todays_day",
     "month-only-text.html", "2016-05-16T19:30:00+02:00"),
]


@pytest.mark.parametrize(("page_name", "published"), [case[1:] for case in PUBLISHED],
                         ids=[case[0] for case in PUBLISHED])
def test_the_publication_time_each_source_gives(page_name: str, published: str | None) -> None:
    assert page(page_name).published == published
