"""Authors: people and agencies, each once, in page order, from the page's sources of trust.

Order of trust (the first source that names a person wins; a source naming only the site,
``og:site_name``, gives way to a later one naming a person): JSON-LD ``author`` (Person and
Organization names), ``<meta name="author">``, ``article:author`` when it is a name and not a
URL, ``parsely-author``, ``sailthru.author``, microdata (``itemprop="author"`` with a nested
``itemprop="name"``, first item only), ``rel="author"`` links, then the visible byline
(trafilatura's). The declared sources come first: microdata and author links also tag photo
credits and sidebars. Each name is cleaned: byline words ("By", "Von", "Par", "Af", "Door",
...) stripped, "A and B" / "A und B" / "A, B" split, e-mail addresses, URLs, domains, profile
paths, handles, job titles after a comma, "Staff" and "Follow" dropped, and the site's own name
dropped when a person is also named.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from selectolax.lexbor import LexborHTMLParser as HTMLParser

# "By" in the languages news is written in, with the "Written by" / "Text:" variants
_BY = re.compile(
    r"^\s*(?:(?:written|posted|reported|story|words|text|photos?|interview|published)\s+by"
    r"|by|text|texto|tekst|autor(?:in|a)?|auteur|author|av|af|door|przez|автор[ыи]?|"
    r"作者|記者|文)\s*[:：]\s*|^\s*(?:(?:written|posted|reported|story|words)\s+)?by\s+",
    re.I,
)
# "Von Anna Schmidt", "Af Jens Hansen": but "Von Trapp", "Di Caprio", "Van Dyke" and "von der
# Leyen" are names, so these go only before at least two words, the first capitalised
_BY_ELSEWHERE = re.compile(
    r"^\s*(?:von|par|por|di|da|door|av|af|przez|от|автор[ыи]?)\s+", re.I)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_URL = re.compile(r"(?:https?://|www\.)\S*", re.I)
_NOT_A_NAME = re.compile(
    r"^(?:follow|follow us|follow on \w+|more|and|staff|staff reports?|contact|email|e-mail|"
    r"twitter|facebook|linkedin|instagram|reporter|correspondent|editor|editors|writer|"
    r"staff writer|senior editor|contributor|columnist|admin|administrator|guest|anonymous|"
    r"unknown|null|none|undefined|redaktion|rédaction|redacción|redazione|redactie)$",
    re.I,
)
_ROLES = (r"(?:(?:senior|chief|special|political|staff|foreign|deputy|associate|managing|"
          r"executive|contributing|business|tech|technology|science|health|sports?|world|"
          r"national|investigative|data|white house|economics|culture|defen[cs]e|security|"
          r"diplomatic|europe|us|uk|news|global|legal|financial|markets|assistant|digital|"
          r"freelance|local|entertainment|travel|food|opinion)\s+)*"
          r"(?:reporter|correspondent|editor|writer|columnist|contributor|producer|analyst|"
          r"journalist|photographer|news editor|editor-at-large|intern|"
          r"redakteur(?:in)?|korrespondent(?:in)?|journaliste|journalistin|periodista)s?")
_ROLE_SUFFIX = re.compile(r"\s*[,|–—-]\s*" + _ROLES + r"\b.*$", re.I)
# a job title standing alone, as left by splitting "Jane Doe, Senior Reporter" at the comma
_ROLE_ONLY = re.compile(r"^(?:(?:a|an|the|our)\s+)?" + _ROLES + r"(?:\s+(?:at|for|of)\b.*)?$",
                        re.I)
# "A and B", "A und B", "A et B", "A y B", "A e B", "A en B", "A og B", "A och B", "A i B", "A, B"
_SPLIT = re.compile(
    r"\s+(?:and|und|et|y|e|en|og|och|ja|és|i|и|та|και|ve)\s+|\s*[;,|&+·/]\s*", re.I)
# profile paths ("/author/jane-doe", "authors/jane"), handles ("@jane")
_PATH = re.compile(r"^/|^(?:[a-z0-9.-]+/)+[a-z0-9._-]*$")
_HANDLE = re.compile(r"^@\w")
# a domain name ("Stuff.co.nz", "www.facebook.com") is a site, not a person
# ("odno.kino" is a user name, so only common top-level domains count)
_DOMAIN = re.compile(
    r"^(?:www\.)?[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|info|biz|io|co|uk|nz|au|ca|de|at|ch|fr|"
    r"be|nl|es|it|pt|br|mx|ar|ru|ua|pl|cz|se|no|dk|fi|jp|cn|kr|in|us|eu|news|tv|me)$", re.I)
# A name is a few words; longer strings are sentences or whole bylines
_MAX_WORDS = 6


def _strip_by(text: str) -> str:
    text = _BY.sub("", text, count=1)
    match = _BY_ELSEWHERE.match(text)
    if match:
        rest = text[match.end():]
        words = rest.split()
        if len(words) >= 2 and words[0][:1].isupper():
            return rest
    return text


def _clean_one(name: str) -> str | None:
    name = _ROLE_SUFFIX.sub("", name)
    name = _strip_by(name).strip(" \t.,:;|-–—·*()[]\"'")
    if not name or _NOT_A_NAME.match(name) or _ROLE_ONLY.match(name):
        return None
    if _PATH.match(name) or _HANDLE.match(name) or _URL.search(name) or _DOMAIN.match(name):
        return None
    if len(name) > 60 or len(name.split()) > _MAX_WORDS or not any(c.isalpha() for c in name):
        return None
    return name


def clean_authors(values: Iterable[str], site_name: str | None = None) -> list[str]:
    """Person or agency names: no byline words, e-mails, URLs, handles, job titles, duplicates;
    the site's own name only when no one else is named."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        value = unicodedata.normalize("NFC", " ".join(str(value).split()))
        value = _EMAIL.sub("", _URL.sub("", value)) if not _PATH.match(value.strip()) else ""
        value = _strip_by(value)
        for part in _SPLIT.split(value):
            name = _clean_one(part)
            if name is None:
                continue
            key = name.casefold()
            if key not in seen:
                seen.add(key)
                out.append(name)
    site = _key(site_name or "")
    if site and any(_key(n) != site for n in out):
        out = [n for n in out if _key(n) != site]
    return out


def _key(name: str) -> str:
    return re.sub(r"\W+", "", name.casefold())


def microdata_authors(tree: HTMLParser) -> list[str]:
    """Names from ``itemprop="author"`` (its nested ``itemprop="name"``, content or text)."""
    out: list[str] = []
    scope: object = None
    for node in tree.css('[itemprop~="author"], [itemprop~="creator"]'):
        # only the first item's authors: later items are teasers of other articles
        parent = node.parent
        while parent is not None and "itemscope" not in parent.attributes:
            parent = parent.parent
        owner = parent.mem_id if parent is not None else None
        if scope is None:
            scope = owner
        elif owner != scope:
            continue
        named = node.css_first('[itemprop~="name"]')
        target = named or node
        value = target.attributes.get("content") or target.text(deep=True, separator=" ")
        value = " ".join((value or "").split())
        # an author block with a bio: only a short text is a name
        if value and (named is not None or len(value.split()) <= _MAX_WORDS + 2):
            out.append(value)
    return out


def rel_authors(tree: HTMLParser) -> list[str]:
    """The texts of ``rel="author"`` links."""
    out = []
    for node in tree.css('a[rel~="author"]'):
        text = " ".join(node.text(deep=True, separator=" ").split())
        if text:
            out.append(text)
    return out


def jsonld_authors(articles: list[dict[str, Any]]) -> list[str]:
    """Person and Organization names of the first JSON-LD article that names its author."""
    for art in articles:
        names = _ld_names(art.get("author")) or _ld_names(art.get("creator"))
        if names:
            return [html.unescape(n) for n in names]
    return []


def _ld_names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [n for item in value for n in _ld_names(item)]
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, list):
            return [str(n) for n in name if isinstance(n, str) and n.strip()]
        return [name] if isinstance(name, str) and name.strip() else []
    return [value] if isinstance(value, str) and value.strip() else []


def pick_authors(sources: Iterable[Iterable[str]], site_name: str | None = None) -> list[str]:
    """The first source (in order of trust) that names a person; else the first naming anyone."""
    fallback: list[str] = []
    site = _key(site_name or "")
    for source in sources:
        names = clean_authors(source, site_name)
        if names and (not site or any(_key(n) != site for n in names)):
            return names
        fallback = fallback or names
    return fallback


def author_sources(tree: HTMLParser, articles: list[dict[str, Any]],
                   meta: dict[str, list[str]], byline: Iterable[str] = ()) -> list[list[str]]:
    """Every source of author names on the page, in order of trust."""
    return [
        jsonld_authors(articles),
        meta.get("author", []),
        [a for a in meta.get("article:author", []) if not _URL.match(a) and "/" not in a],
        meta.get("parsely-author", []),
        meta.get("sailthru.author", []),
        microdata_authors(tree),
        rel_authors(tree),
        list(byline),
    ]
