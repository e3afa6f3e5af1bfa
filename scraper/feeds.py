"""Feeds and sitemaps as bytes in, article links out: pure parsing, no network.

    >>> links_from_feed(rss_bytes, "https://example.com/rss")    # RSS 2.0, RSS 1.0/RDF, Atom
    >>> links_from_sitemap(xml_or_gzip, url)                     # Sitemap(links, children)
    >>> links_from_robots(robots_txt)                            # its Sitemap: lines

XML safety: a document that declares entities (a DTD internal subset) is refused with
FeedError before any parser sees it, so a "billion laughs" or an external entity
(``SYSTEM "file:///etc/passwd"``) is never expanded; lxml then parses sitemaps with entity
resolution, DTD loading and network access off, as a second line. Inputs are capped at
MAX_BYTES once decompressed (a gzip bomb is refused), and a feed is cut to FEED_MAX_ITEMS
items before feedparser sees it: feedparser spends about half a millisecond per item.
Parsing time is bounded by element counts too, as a flood of empty or nested elements
costs as much as items: a feed with over FEED_MAX_ELEMENTS elements in its kept items
(feedparser: ~70 µs each), or a sitemap with over SITEMAP_MAX_ELEMENTS, is refused.
"""


from __future__ import annotations

import calendar
import codecs
import io
import itertools
import logging
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import feedparser
from lxml import etree

from .models import FeedError
from .web import BadCoding, OverCap, inflate, web_url

__all__ = ["FEED_MAX_ELEMENTS", "FEED_MAX_ITEMS", "MAX_BYTES", "SITEMAP_MAX_ELEMENTS", "Link",
           "Sitemap", "links_from_feed", "links_from_robots", "links_from_sitemap"]

log = logging.getLogger(__name__)

MAX_BYTES = 50 * 1024 * 1024  # the sitemaps.org limit (uncompressed); feeds get the same cap
FEED_MAX_ITEMS = 1000  # real feeds carry tens to hundreds; 1000 items cost feedparser ~0.5 s
# real feeds have 5 to 30 elements per item: 1000 rich items fit; feedparser needs ~7 s for these
FEED_MAX_ELEMENTS = 100_000
# 50,000 URLs with image and news tags are up to ~1,000,000 elements; 2,000,000 take ~7 s
SITEMAP_MAX_ELEMENTS = 2_000_000
# Entities can only be declared in a DTD internal subset, "<!DOCTYPE x [ ... ]>": refusing
# either marker refuses every declaration (internal, external, parameter). A DOCTYPE with no
# subset (Netscape's RSS 0.91 one) declares nothing and is accepted.
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DTD_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
_WIDE = (  # BOMs first (UTF-32 LE's starts with UTF-16 LE's), then a bare "<" in each width
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (b"<\0\0\0", "utf-32-le"),
    (b"\0\0\0<", "utf-32-be"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
    (b"<\0", "utf-16-le"), (b"\0<", "utf-16-be"))
_DECLARED_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*)["'][^"']*["']""")
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_ITEM_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>")
_SITEMAP_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:urlset|sitemapindex)\s*>")
_CDATA = re.compile(rb"<!\[CDATA\[.*?\]\]>", re.DOTALL)
_RAW_AMP = re.compile(rb"&(?!#\d+;|#x[0-9a-fA-F]+;|[A-Za-z][\w.-]*;)")
_TAG = re.compile(r"<[^>]*>")
_SAFE_XML = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}
_FEED_ROOTS = ("rss", "feed", "RDF")  # sitemaps.org accepts RSS and Atom feeds as sitemaps


@dataclass(frozen=True)
class Link:
    """A candidate article URL from a feed or sitemap.

    ``published`` is ISO 8601 in UTC with its offset (``2024-10-10T18:53:52+00:00``): the
    feed's published date (else updated), or the sitemap's news:publication_date (else
    lastmod; a date-only lastmod becomes midnight UTC). None when the source gives no date.
    """

    url: str
    published: str | None
    title: str | None = None
    source: str = ""  # the feed or sitemap URL it came from


@dataclass(frozen=True)
class Sitemap:
    """What one sitemap document holds: page links (a urlset) or child sitemaps (an index)."""

    links: list[Link] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


def links_from_feed(data: bytes, base_url: str = "", *,
                    max_links: int = FEED_MAX_ITEMS) -> list[Link]:
    """The entries of an RSS 2.0, RSS 1.0/RDF or Atom feed that have a web URL, in feed order."""
    data = _cap_items(_prepare(data, base_url), max_links)
    if (elements := _count_elements(data)) > FEED_MAX_ELEMENTS:
        raise FeedError(f"{elements} XML elements in the feed, over the {FEED_MAX_ELEMENTS} "
                        f"cap (a flood or nesting attack?): {base_url or 'document'}")
    parsed = feedparser.parse(
        io.BytesIO(data),  # never bare bytes: feedparser would first try to open() them as a path
        response_headers={"content-type": "application/xml", "content-location": base_url},
        sanitize_html=False,  # we keep no markup (titles are stripped below), so skip the work
        resolve_relative_uris=False)  # that is for links inside HTML content; ours are resolved
    if not parsed.get("version") and not parsed.entries:
        reason = f" ({parsed['bozo_exception']})" if parsed.get("bozo_exception") else ""
        raise FeedError(f"not an RSS or Atom feed{reason}: {base_url or 'document'}")
    links = []
    for entry in parsed.entries[:max_links]:
        url = web_url(entry.get("link"), base_url)  # None: no link, a guid or urn: id only...
        if url:
            when = entry.get("published_parsed") or entry.get("updated_parsed")
            links.append(Link(url, _utc_struct(when), _title(entry), base_url))
    return links


def links_from_sitemap(data: bytes, base_url: str = "", *, max_links: int = 50_000) -> Sitemap:
    """The page links of a urlset, or the child sitemap URLs of an index (gzip data too)."""
    data, where = _prepare(data, base_url), base_url or "document"
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):  # a sitemaps.org text sitemap
        urls = [web_url(line.decode("utf-8", "replace"), base_url) for line in data.splitlines()]
        if not any(urls):
            raise FeedError(f"not a sitemap (neither XML nor a list of URLs): {where}")
        return Sitemap([Link(url, None, source=base_url) for url in urls if url][:max_links])
    links: list[Link] = []
    children: list[str] = []
    root = ""
    elements = 0
    # A raw "&" in a URL is the commonest fault of hand-made sitemaps: escape it, and let
    # recover mode read past the rest (a truncated file keeps its complete entries).
    events = etree.iterparse(io.BytesIO(_RAW_AMP.sub(b"&amp;", data)), events=("start", "end"),
                             recover=True, **_SAFE_XML)
    try:
        for event, element in events:
            name = _local(element.tag)
            if event == "start" and (elements := elements + 1) > SITEMAP_MAX_ELEMENTS:
                raise FeedError(f"over {SITEMAP_MAX_ELEMENTS} XML elements in the sitemap "
                                f"(a flood attack?): {where}")
            if not root:
                root = name
                if name in _FEED_ROOTS:
                    limit = min(max_links, FEED_MAX_ITEMS)
                    return Sitemap(links_from_feed(data, base_url, max_links=limit))
                if name not in ("urlset", "sitemapindex"):
                    raise FeedError(f"not a sitemap (the root is <{name}>): {where}")
            if event == "end" and name in ("url", "sitemap"):
                loc, date, title = _sitemap_entry(element)
                element.clear(keep_tail=True)  # keeps memory flat on a 50,000-URL file
                if (url := web_url(loc, base_url)) and name == "sitemap":
                    children.append(url)
                elif url:
                    links.append(Link(url, date, title, base_url))
                    if len(links) >= max_links:
                        return Sitemap(links, children)
    except etree.XMLSyntaxError as exc:
        if not root:
            raise FeedError(f"not a sitemap ({exc}): {where}") from exc
    if not root:  # recover mode found no element at all
        raise FeedError(f"not a sitemap (no XML element): {where}")
    if not _SITEMAP_END.search(data[-4096:]):
        # cut off mid-way: recover mode closed the last entry with whatever text it had
        (children if root == "sitemapindex" else links)[-1:] = []
    return Sitemap(links, children)


def links_from_robots(text: str) -> list[str]:
    """The sitemap URLs of a robots.txt's ``Sitemap:`` lines, in order, each once."""
    found: list[str] = []
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        url = value.split("#", 1)[0].strip()
        if colon and key.strip().lower() == "sitemap" and web_url(url, "") and url not in found:
            found.append(url)
    return found


def _prepare(data: bytes, where: str) -> bytes:
    """Bytes a parser may see: capped, gunzipped, ASCII-compatible, declaring no entities."""
    where = where or "document"
    if len(data) > MAX_BYTES:
        raise FeedError(f"larger than the {MAX_BYTES}-byte cap: {where}")
    if data[:2] == b"\x1f\x8b":  # a .xml.gz file (not a transfer coding: fetch did those)
        try:  # at most one byte past the cap: a bomb stops there, not in swap
            data = inflate(data, "gzip", MAX_BYTES)
        except OverCap:
            raise FeedError(f"over {MAX_BYTES} bytes once decompressed (gzip bomb?): {where}")
        except BadCoding as exc:
            raise FeedError(f"{exc}: {where}") from exc
    if codec := next((name for mark, name in _WIDE if data.startswith(mark)), None):
        # UTF-16/32 as UTF-8, so that the byte-level checks below see the markup
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            raise FeedError(f"invalid {codec} ({exc.reason}): {where}") from exc
        data = _DECLARED_ENCODING.sub(r'\1"utf-8"', text, count=1).encode("utf-8")
    if _ENTITY.search(data) or _DTD_SUBSET.search(data):
        raise FeedError(f"entity declarations are refused, never expanded: {where}")
    return data



def _count_elements(data: bytes) -> int:
    """About how many elements the XML has: its start tags, CDATA sections left out."""
    data = _CDATA.sub(b"", data)
    return data.count(b"<") - data.count(b"</") - data.count(b"<!") - data.count(b"<?")



def _cap_items(data: bytes, limit: int) -> bytes:
    """The feed with its items after the first ``limit`` cut out, its closing tags kept."""
    cut = next(itertools.islice(_ITEM_START.finditer(data), limit, None), None)
    if cut is None:
        return data
    last_end = deque(_ITEM_END.finditer(data, cut.start()), maxlen=1)  # the final </item>
    return data[: cut.start()] + (data[last_end[0].end():] if last_end else b"")



def _sitemap_entry(element: Any) -> tuple[str | None, str | None, str | None]:
    """``<loc>``, the best date and the news:title of one ``<url>`` or ``<sitemap>``."""
    loc = lastmod = published = title = None
    for child in element.iter():
        name, parent = _local(child.tag), child.getparent()
        if parent is element and name == "loc":  # not image:loc, which sits deeper
            loc = (child.text or "").strip()
        elif parent is element and name == "lastmod":
            lastmod = child.text
        elif name == "publication_date":
            published = child.text
        elif name == "title" and parent is not None and _local(parent.tag) == "news":
            title = " ".join((child.text or "").split()) or None
    return loc, _utc_text(published) or _utc_text(lastmod), title



def _utc_struct(when: Any) -> str | None:
    """feedparser's ``*_parsed`` (a struct_time, already in UTC) as ISO 8601."""
    try:  # timegm, not datetime(*when[:6]): it takes the leap second 60 in its stride
        return datetime.fromtimestamp(calendar.timegm(when), UTC).isoformat() if when else None
    except (OverflowError, OSError, ValueError):  # a year feedparser parsed but we cannot hold
        return None



def _utc_text(text: str | None) -> str | None:
    """A sitemap date (W3C Datetime; RFC 822 tolerated) as ISO 8601 UTC, or None."""
    text = (text or "").strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if when.tzinfo is None:  # a bare date, or a time W3C Datetime says must carry an offset
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat()



def _title(entry: Any) -> str | None:
    """An entry's title as plain text on one line (HTML titles lose their tags)."""
    title = entry.get("title") or ""
    if "html" in (entry.get("title_detail") or {}).get("type", ""):
        title = _TAG.sub(" ", title)
    return " ".join(title.split()) or None



def _local(tag: Any) -> str:
    """An lxml tag without its ``{namespace}``; "" for comments and processing instructions."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


