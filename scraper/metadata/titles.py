"""Headline: the title the reader sees, chosen by agreement between the page's candidates.

Order of trust: the article's visible ``<h1>`` (``itemprop="headline"`` first, then an ``<h1>``
inside ``<article>``/``<main>``, then any ``<h1>``) when it agrees with a page-level title;
otherwise the page-level titles in this order: JSON-LD ``headline``, ``og:title``,
``twitter:title``, ``<title>`` without its site-name prefix or suffix, and last the
fallback (trafilatura's title), the first one that another candidate agrees with winning over
one that stands alone. Two titles agree when most of the shorter one's words are in the longer
(casefolded ``\\w+`` tokens). HTML entities are decoded once, by the HTML parser for the page's
text and attributes and by ``html.unescape`` for JSON-LD strings (which no parser decodes); a
title still showing an entity (a double-escaped ``&amp;quot;``) gives way to an agreeing clean one.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser as HTMLParser

# Separators between a headline and the site's name in <title>: "Headline | Site", "Site - Headline"
# (not " : ", which is French typography inside a headline)
_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|::|·|»|«|/)\s+")
_WORD = re.compile(r"\w+")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z]{2,8});", re.I)
# At least this share of the shorter title's words must be in the longer for them to agree
_AGREE = 0.6
# An <h1> longer than this is a paragraph or a whole block, not a headline
_MAX_HEADLINE = 300


# zero-width space, word joiner, BOM and soft hyphen: invisible, yet a CMS adds and drops them
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))


def clean_text(text: str) -> str:
    """Text as stored: Unicode NFC, invisible characters out, whitespace runs as one space."""
    return " ".join(unicodedata.normalize("NFC", text).translate(_INVISIBLE).split())


def _words(text: str) -> list[str]:
    return _WORD.findall(html.unescape(text).casefold())


def agree(a: str, b: str) -> bool:
    """True when most words of the shorter title occur in the longer one, and they are not
    merely a site or section name inside a long title ("Silicon Exposed" in "Silicon
    Exposed: Open Verilog flow for ...")."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return False
    short, long_ = (wa, set(wb)) if len(wa) <= len(wb) else (wb, set(wa))
    shared = sum(w in long_ for w in short)
    return shared / len(short) >= _AGREE and (shared >= 4 or shared / len(long_) >= 0.5)


def strip_site_name(title: str, site_names: Iterable[str] = ()) -> str:
    """``<title>`` without a site-name prefix or suffix ("Headline | Site" -> "Headline")."""
    names = [n.casefold() for n in site_names if n]
    if title.casefold() in names:
        return ""  # a <title> that is only the site's name is no headline
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    kept = [p for p in parts if p.strip() and not any(
        p.casefold() == n or (n and p.casefold() in n) or (n and n in p.casefold())
        for n in names)]
    if kept and len(kept) < len(parts):
        return _span(title, kept)
    # no known name: the site, section and blog names are the short parts at either end
    count = len(parts)
    while len(parts) > 1 and len(parts[-1].split()) <= 4 \
            and len(parts[-1].split()) < len(" ".join(parts[:-1]).split()):
        parts = parts[:-1]
    # a site names itself at one end only: a short first part after a cut suffix is a
    # kicker ("Brexit - what happens next | BBC")
    while len(parts) == count and len(parts) > 1 and len(parts[0].split()) <= 4 \
            and 2 * len(parts[0].split()) <= len(" ".join(parts[1:]).split()):
        parts = parts[1:]
    return _span(title, parts)


def _span(title: str, parts: list[str]) -> str:
    """``title`` from its first kept part to its last: the headline's own separators stay."""
    start = title.find(parts[0])
    end = title.rfind(parts[-1]) + len(parts[-1])
    return title[start:end] if 0 <= start < end else title


def headlines(tree: HTMLParser) -> list[str]:
    """The page's visible headline candidates, most specific first."""
    found: list[str] = []
    for selector in ('[itemprop="headline"]', "article h1", "main h1", "h1"):
        for node in tree.css(selector):
            if node.tag in ("meta", "link"):
                continue
            text = clean_text(node.text(deep=True))
            if text and len(text) <= _MAX_HEADLINE and text not in found:
                found.append(text)
    return found


def pick_title(tree: HTMLParser, candidates: dict[str, str | None],
               visible_headline: bool = True) -> str | None:
    """The headline the reader sees, from ``candidates`` (jsonld, og, twitter, title, fallback)
    and the page's ``<h1>``s; None when the page has no title at all."""
    site_names = [candidates.get("site_name") or ""]
    page: list[str] = []
    for key in ("jsonld", "og", "twitter", "title"):
        value = candidates.get(key)
        if not value or not value.strip():
            continue
        # JSON-LD strings are raw script text: no parser decoded their entities yet
        value = clean_text(html.unescape(value) if key == "jsonld" else value)
        if key == "title":
            value = strip_site_name(value, site_names)
        if value:
            page.append(value)
    fallback = candidates.get("fallback")
    for h1 in headlines(tree) if visible_headline else ():
        agreeing = [t for t in page if agree(h1, t)]
        # an <h1> holding the whole title and more has a kicker or a date glued on, unless
        # another title holds the whole <h1> (then the shorter one was cut)
        inside = [t for t in agreeing if len(t) < len(h1) and t.casefold() in h1.casefold()]
        if inside and not any(h1.casefold() in t.casefold() for t in page):
            return inside[0]
        if agreeing:
            return h1
    if not page:
        if fallback and fallback.strip():
            return clean_text(fallback)
        h1s = headlines(tree)
        return h1s[0] if len(h1s) == 1 else None
    # a page-level title another candidate confirms, cleanest (no leftover entity) first
    confirmed = [t for t in page if sum(agree(t, o) for o in page) > 1]
    clean = [t for t in confirmed if not _ENTITY.search(t)]
    return (clean or confirmed or page)[0]
