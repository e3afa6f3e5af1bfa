"""Dates: the page's publication and modification times, as ISO 8601 as the page states them.

Order of trust for the publication time (the first source that gives a valid date wins):

1. JSON-LD ``datePublished`` of the page's article objects;
2. OpenGraph / ``article:published_time`` and its spellings;
3. microdata ``itemprop="datePublished"`` (``<meta content>``, ``<time datetime>``, or text):
   after OpenGraph, as themes put it on the modification time or a wrong offset (measured);
4. the other meta names (``parsely-pub-date``, ``sailthru.date``, ``pubdate``, ``publish-date``,
   Dublin Core ``dc.date.issued`` / ``dcterms.issued`` / ``dcterms.created`` / ``dc.date``,
   ``date``, ...);
5. ``<time datetime>`` (or a microformat ``published`` title) in the article's header or byline;
6. visible dateline text in the header or byline ("Published May 16, 2016, 7:30 PM");
7. JSON-LD ``dateCreated`` (when the draft was started: only when nothing better exists);
8. htmldate (trafilatura's date, asked with ``original_date`` and a format that keeps the time);
9. the URL's date (``/2016/05/16/``), as a last resort.

One exception: a permalink's date folders (``/2017/7/12/slug``), written once at first
publication, outrank a stated day more than a day later (a re-saved old post).

A source that gives only the day is completed by a later source that gives a time on that
same day. The modification time comes from JSON-LD ``dateModified``, microdata and the
``article:modified_time`` family only, and is never taken as the publication time (htmldate
falls back to it when a page has no other date: such an answer is dropped).

Times keep the offset the page states (never converted to UTC); a time without a zone stays
without one (wall-clock); a date later than ``now`` (the fetch time) is dropped.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from .jsonld import first_str

# htmldate's answer keeps the time (and offset) when it finds one; a day alone comes back as
# midnight, which is read as "no time" below
HTMLDATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

# lower-cased meta name/property/itemprop, in order of trust (surveyed on the dev corpus)
_OG_PUBLISHED = ("article:published_time", "og:article:published_time", "article:published",
                 "og:published_time", "og:datepublished", "article:publicationdate",
                 "datepublished")
_META_PUBLISHED = (
    "parsely-pub-date", "sailthru.date", "article.published", "article_date_original",
    "publish-date", "publishdate", "publish_date", "pubdate", "pub_date", "publication_date",
    "publicationdate", "published_at", "date.release", "prism.publicationdate",
    "citation_publication_date", "citation_date", "dc.date.issued", "dcterms.issued",
    "dc.date.created", "dcterms.created", "dc.date", "dc:date", "dcterms.date", "date",
    "pdate", "ptime", "cxenseparse:recs:publishtime", "article.created", "displaydate",
)
_META_MODIFIED = ("article:modified_time", "og:updated_time", "article:modified",
                  "datemodified", "article.updated", "article_date_updated", "dc.date.modified",
                  "dcterms.modified", "utime", "cxenseparse:modified_time", "last-modified",
                  "lastmod", "last_updated")
# where a page's own date sits: its header, the byline, a dateline
_BYLINE = ("header", "[class*=byline]", "[class*=dateline]", "[class*=article-meta]",
           "[class*=post-meta]", "[class*=entry-meta]", "[class*=meta-date]",
           "[class*=publish]", "[class*=posted]", "[class*=timestamp]", "[id*=byline]")
# a comment's or a teaser's date is another text's
# class or id words (whole, or the first or last part of a hyphenated one: "comment-list",
# "post-comments") that mark a comment, a teaser or a sidebar; not "img-responsive-wrap" or
# "layout-with-sidebar", which wrap the article itself
_ELSEWHERE = re.compile(r"(?:^|\s)(?:comments?|replies|reply|responses?|teasers?|related|"
                        r"promos?|recommended|recommendations?|sidebar|aside)(?:[-_]\w+)?(?=\s|$)|"
                        r"(?:^|\s)\w+[-_](?:comments?|replies|responses|teasers?|related|promos?|"
                        r"recommendations?)(?=\s|$)", re.I)
_UPDATED = re.compile(r"updat|modif|edited|revised|aktualisiert|geändert|\bstand\b|"
                      r"mis à jour|actualiz|aggiornat", re.I)
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-]([01]?\d)[/-]([0-3]?\d)(?:/|[-_]|\.html?|$)")
# a permalink's date folders (/2017/7/12/slug), which a CMS sets once, at first publication
_PERMALINK_DATE = re.compile(r"/((?:19|20)\d\d)/([01]?\d)/([0-3]?\d)/[^/]")
# a stated publication day this many days after the permalink's is a re-dated post (a zone
# apart is one day)
_REDATED_AFTER = timedelta(days=1)
_HAS_TIME = re.compile(r"\d{1,2}[:h]\d\d|\d\s*[ap]\.?m\b", re.I)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_MONTHS = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b", re.I)
# zone abbreviations a dateline states, as offsets in seconds ("2:15pm EDT")
_ZONES = {"UTC": 0, "GMT": 0, "Z": 0, "BST": 3600, "CET": 3600, "CEST": 7200, "EET": 7200,
          "EEST": 10800, "MSK": 10800, "JST": 32400, "KST": 32400,
          "EST": -18000, "EDT": -14400, "CDT": -18000, "MST": -25200,
          "MDT": -21600, "PST": -28800, "PDT": -25200}
# month names of the languages news is written in, read as English by the text parser
_MONTH_NAMES = {
    "January": "januar janvier enero gennaio januari janeiro stycznia styczeń leden",
    "February": "februar février fevrier febrero febbraio februari fevereiro lutego luty",
    "March": "märz maerz mars marzo maart março marca marzec",
    "April": "avril abril aprile kwietnia kwiecień",
    "May": "mai mayo maggio mei maio maja maj",
    "June": "juni juin junio giugno junho czerwca czerwiec",
    "July": "juli juillet julio luglio julho lipca lipiec",
    "August": "août aout agosto augustus sierpnia sierpień",
    "September": "septembre septiembre settembre setembro września wrzesień",
    "October": "oktober octobre octubre ottobre outubro października październik",
    "November": "novembre noviembre novembro listopada listopad",
    "December": "dezember décembre decembre diciembre dicembre dezembro grudnia grudzień",
}
_ENGLISH = {name: en for en, names in _MONTH_NAMES.items() for name in names.split()}
_FOREIGN_MONTH = re.compile(r"(?<!\w)(?:" + "|".join(sorted(_ENGLISH, key=len, reverse=True))
                            + r")(?!\w)", re.I)
# "Saturday, 27 September 2014, 12:06:00 Central European Summer Time" is about 70
_MAX_DATE_CHARS = 100
# A naive time or a bare day may be local to a zone up to 14 hours ahead of UTC.
_AHEAD = timedelta(hours=14)


def normalize_date(value: str | None) -> str | None:
    """ISO 8601 with time and offset when the value has them; a bare date stays a date.

    A time without an offset is kept as wall-clock time (never guessed into UTC).
    """
    if not isinstance(value, str) or not value.strip():
        return None  # JSON-LD can hold a list, an object or a number here
    value = value.strip()
    if len(value) > _MAX_DATE_CHARS:  # no date is this long; a hostile one costs regex time
        return None
    candidate = value.replace("Z", "+00:00") if value.endswith("Z") else value
    # "2023/02/21 21:20" (a Taiwanese CMS), "2024-04-30 16:38:37 +0200"
    candidate = re.sub(r"^(\d{4})/(\d\d)/(\d\d)", r"\1-\2-\3", candidate)
    candidate = re.sub(r"^(\d{4}-\d\d-\d\d)\s+(\d)", r"\1T\2", candidate)
    candidate = re.sub(r"(?<=\d)\s?([+-]\d\d):?(\d\d)$", r"\1:\2", candidate)
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return _parse_loose_date(value)
    if len(candidate) <= 10:  # a date with no time part
        return parsed.date().isoformat()
    return parsed.isoformat()


def _parse_loose_date(value: str) -> str | None:
    """RFC 822 dates and written dates; None when it is not a date at all."""
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    return _parse_text_date(value)


def _parse_text_date(text: str) -> str | None:
    """A written date ("Saturday, December 27, 2014, 12:06 PM"): a year and a month name needed."""
    if len(text) > 80 or not _YEAR.search(text):
        return None
    text = _FOREIGN_MONTH.sub(lambda m: _ENGLISH[m.group(0).lower().rstrip(".")], text)
    if not _MONTHS.search(text):
        return None  # dateutil reads a date into almost anything: ask for a real one
    from dateutil import parser

    # "Thu Sep 16 2021 03:52:10 GMT+0000 (UTC)": POSIX reads GMT+3 as UTC-3; drop the comment
    cleaned = re.sub(r"\([^)]*\)", " ", text)
    cleaned = re.sub(r"\b(?:GMT|UTC)\s*([+-])", r"\1", cleaned)
    cleaned = re.sub(r"(?<=\d)(?:er|st|nd|rd|th)\b|\b(?:at|um|à|a las|alle|le|el|de|del|den)\b",
                     " ", cleaned, flags=re.I)
    cleaned = re.sub(r"(?<=\d)h(?=\d\d)", ":", cleaned)  # French "16h55"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unknown zone name ("ET") is left out
            # twice, with two defaults: a day, month or year the text lacks comes out
            # different, and dateutil would otherwise fill it in from today ("May 2016")
            parsed, other = (parser.parse(cleaned, fuzzy=True, tzinfos=_ZONES, default=d)
                             for d in (datetime(2000, 1, 1), datetime(2001, 2, 2)))
    except (ValueError, OverflowError, TypeError):  # ParserError is a ValueError
        return None
    if parsed.date() != other.date():
        return None  # no whole date in the text
    if not _HAS_TIME.search(text):
        return parsed.date().isoformat()
    return parsed.replace(second=parsed.second, microsecond=0).isoformat()


def _instant(value: str) -> datetime | None:
    """The latest UTC instant ``value`` can mean (a naive time may be local anywhere)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if "T" not in value:
        parsed = datetime.combine(parsed.date(), datetime.max.time())
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc) - _AHEAD
    return parsed


def not_after(value: str | None, now: datetime | None) -> str | None:
    """``value`` unless it is surely later than ``now`` (a date in the future is a page bug)."""
    if value is None:
        return None
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)  # the fetch time is recorded in UTC
    when = _instant(value)
    return value if when is None or when <= now else None


def _day(value: str) -> date:
    return datetime.fromisoformat(value).date()


def _has_time(value: str) -> bool:
    return "T" in value


def url_date(url: str | None) -> str | None:
    """The day a URL's path states (``/2016/05/16/``), or None."""
    match = _URL_DATE.search(url or "")
    if not match:
        return None
    try:
        return date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def _from_htmldate(value: str | None) -> str | None:
    """htmldate's answer, its midnight read as "only the day was found"."""
    value = normalize_date(value)
    if value and re.match(r"^\d{4}-\d\d-\d\dT00:00:00$", value):
        return value[:10]
    return value


@dataclass
class PageDates:
    """The date sources of one page, read lazily in order of trust."""

    tree: HTMLParser
    meta: dict[str, list[str]]
    ld: list[dict[str, Any]]

    def published_candidates(self) -> Iterator[str | None]:
        """Raw publication values, most trusted first (sources 1 to 7)."""
        yield from (first_str(art.get("datePublished")) for art in self.ld)
        yield from (v for name in _OG_PUBLISHED for v in self.meta.get(name, ()))
        yield from self._microdata("datepublished")
        yield from (v for name in _META_PUBLISHED for v in self.meta.get(name, ()))
        yield from self._byline_times()
        yield from self._byline_texts()
        yield from self._microdata("datecreated")
        yield from (first_str(art.get("dateCreated")) for art in self.ld)

    def modified_candidates(self) -> Iterator[str | None]:
        """Raw modification values, most trusted first."""
        yield from (first_str(art.get("dateModified")) for art in self.ld)
        yield from self._microdata("datemodified")
        yield from (v for name in _META_MODIFIED for v in self.meta.get(name, ()))

    def _microdata(self, prop: str) -> Iterator[str]:
        for node in self.tree.css("[itemprop]"):
            if (node.attributes.get("itemprop") or "").strip().lower() != prop:
                continue
            attrs = node.attributes
            value = attrs.get("datetime") or attrs.get("content")
            if node.tag == "meta" and not value:
                continue
            yield value or node.text(deep=True, strip=True)

    def _byline_nodes(self) -> Iterator[Any]:
        scopes = [node for node in self.tree.css("article, main, [role=main], [itemtype*=Article]")
                  if not _elsewhere(node)]
        # without an article element, the page's <header> may show today's date: bylines only
        selectors = _BYLINE if scopes else _BYLINE[1:]
        for scope in scopes or [self.tree]:
            for selector in selectors:
                yield from (node for node in scope.css(selector) if not _elsewhere(node))

    def _byline_times(self) -> Iterator[str | None]:
        for parent in self._byline_nodes():
            for node in parent.css("time[datetime], abbr.published[title], .published[title]"):
                if not _UPDATED.search(_context(node)):
                    yield _stated_or_shown(node)

    def _elsewhere_times(self) -> Iterator[str]:
        for node in self.tree.css("time[datetime]"):
            value = normalize_date(node.attributes.get("datetime"))
            if value and _elsewhere(node):
                yield value

    def _byline_texts(self) -> Iterator[str]:
        for parent in self._byline_nodes():
            for node in [parent, *parent.css("time, span, p, div, li")]:
                text = node.text(deep=True, separator=" ", strip=True)
                if 8 <= len(text) <= 80 and not _UPDATED.search(text + _context(node)):
                    found = _parse_text_date(text)
                    if found and _has_time(found):
                        yield found  # a day alone is htmldate's job: the text is only read for time

    def choose(self, fallback: str | None, url: str | None,
               now: datetime | None) -> dict[str, str | None]:
        """The publication and modification times, as the page states them."""
        modified = _first_valid(self.modified_candidates(), now)
        found = not_after(_from_htmldate(fallback), now)
        # htmldate reads dateModified when a page has nothing else: never take it as published
        if found and modified and _same_time(found, modified):
            found = None
        # nor a comment's or a teaser's time, which htmldate reads as readily as the article's
        if found and _has_time(found) and any(_same_time(found, other)
                                              for other in self._elsewhere_times()):
            found = None
        published = _first_valid(self.published_candidates(), now)
        in_url = not_after(url_date(url), now)  # the last resort: a section's or an event's
        if published and not _has_time(published):
            published = _with_time(published, self.published_candidates(), now, found)
        published = _first_publication(published or found, url)
        return {"published": published or in_url, "modified": modified}


def _first_publication(stated: str | None, url: str | None) -> str | None:
    """``stated``, or the permalink's day when the page states a later one.

    A CMS writes the date folders of a permalink (``/2017/7/12/slug``) when a post is first
    published and never again, while re-saving or re-promoting an old post can move its
    stated date forward: a stated day more than a day after the permalink's is that, and
    the permalink's day is the first publication. A stated day before it (an event's page
    dated by the event, a story filed before its dateline) is kept.
    """
    match = _PERMALINK_DATE.search(urlsplit(url or "").path)
    if not stated or not match:
        return stated
    try:
        first = date(*map(int, match.groups()))
    except ValueError:
        return stated
    if _day(stated) - first > _REDATED_AFTER:
        return first.isoformat()  # before ``stated``, which is not after the fetch
    return stated


def _stated_or_shown(node: Any) -> str | None:
    """A ``<time>``'s ``datetime``, or the day its text shows when the two disagree: the
    reader sees the text, and a template that fills ``datetime`` wrongly goes unnoticed."""
    stated = normalize_date(node.attributes.get("datetime") or node.attributes.get("title"))
    shown = _parse_text_date(node.text(deep=True, separator=" ", strip=True))
    if stated and shown and abs((_day(stated) - _day(shown)).days) > 1:  # a zone apart at most
        return shown
    return stated


def _elsewhere(node: Any) -> bool:
    """True inside a comment, a teaser or a sidebar (up to eight levels up)."""
    for _ in range(8):
        if node is None or node.tag in ("body", "html"):
            return False
        if _ELSEWHERE.search(" ".join((node.attributes.get("class") or "",
                                       node.attributes.get("id") or ""))):
            return True
        if node.tag in ("article", "main"):  # the article's own box: no wrapper above counts
            return False
        node = node.parent
    return False


def _context(node: Any) -> str:
    """The class, id and itemprop of a node and its parent: "updated" there means a modification."""
    parts = []
    for el in (node, node.parent):
        if el is not None:
            attrs = el.attributes
            parts += [attrs.get("class") or "", attrs.get("id") or "", attrs.get("itemprop") or ""]
    return " ".join(parts)


def _first_valid(values: Iterator[str | None], now: datetime | None) -> str | None:
    for raw in values:
        if (value := not_after(normalize_date(raw), now)) is not None:
            return value
    return None


def _with_time(day: str, values: Iterator[str | None], now: datetime | None,
               found: str | None) -> str:
    """``day``, or another source's time on that same day (a source gave only the day)."""
    for value in (*(not_after(normalize_date(raw), now) for raw in values), found):
        if value and _has_time(value) and _day(value) == _day(day):
            return value
    return day


def _same_time(a: str, b: str) -> bool:
    """Same instant to the minute, or the same day when one of them has no time."""
    if not (_has_time(a) and _has_time(b)):
        return _day(a) == _day(b)
    x, y = datetime.fromisoformat(a), datetime.fromisoformat(b)
    if (x.tzinfo is None) != (y.tzinfo is None):
        x, y = x.replace(tzinfo=None), y.replace(tzinfo=None)
    return x.replace(second=0, microsecond=0) == y.replace(second=0, microsecond=0)


def head_dates(tree: HTMLParser, meta: dict[str, list[str]],
               ld: list[dict[str, Any]]) -> dict[str, PageDates]:
    """The page's date sources, for ``scraper.extract`` to choose from (``PageDates.choose``)."""
    return {"dates": PageDates(tree, meta, ld)}
