"""Metadata from the page head: schema.org JSON-LD and OpenGraph / ``article:`` meta tags.

Pure functions over a selectolax tree. On news sites these are the reliable source of
authors and dates; trafilatura's own metadata is the fallback.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import datetime
from typing import Any, Iterable

from selectolax.lexbor import LexborHTMLParser as HTMLParser

ARTICLE_TYPES = {
    "NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle",
    "OpinionNewsArticle", "BackgroundNewsArticle", "LiveBlogPosting", "Report",
    "ReviewNewsArticle", "TechArticle", "ScholarlyArticle", "SocialMediaPosting",
}


def jsonld_articles(tree: HTMLParser) -> list[dict[str, Any]]:
    """Every schema.org article object in the page's JSON-LD, including ``@graph`` and lists."""
    found: list[dict[str, Any]] = []
    for node in tree.css('script[type="application/ld+json"]'):
        raw = node.text(deep=True, separator="", strip=True)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except RecursionError:  # "[[[[..." thousands deep: hostile, not worth a retry
            continue
        except ValueError:
            # some sites emit trailing commas or raw newlines in strings; try once leniently
            try:
                data = json.loads(re.sub(r",\s*([}\]])", r"\1", raw), strict=False)
            except (ValueError, RecursionError):
                continue
        found.extend(_walk_articles(_pruned(data, _MAX_JSONLD_DEPTH)))
    return found


# Real JSON-LD nests six or seven levels at most (@graph, article, author list, Person,
# name); anything deeper is cut off, so no walker below can recurse out of the stack.
_MAX_JSONLD_DEPTH = 16


def _pruned(data: Any, depth: int) -> Any:
    """``data`` with everything nested more than ``depth`` levels down replaced by None."""
    if isinstance(data, list):
        return [_pruned(item, depth - 1) for item in data] if depth > 0 else None
    if isinstance(data, dict):
        return {k: _pruned(v, depth - 1) for k, v in data.items()} if depth > 0 else None
    return data


def _walk_articles(data: Any) -> Iterable[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _walk_articles(item)
    elif isinstance(data, dict):
        types = data.get("@type")
        # only names count: a hostile {"@type": {...}} or [[...]] is no type at all
        names = {t for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)}
        if names & ARTICLE_TYPES:
            yield data
        for key in ("@graph", "mainEntity", "itemListElement"):
            if key in data:
                yield from _walk_articles(data[key])


def meta_tags(tree: HTMLParser) -> dict[str, list[str]]:
    """``<meta>`` values by lower-cased name or property, in page order."""
    out: dict[str, list[str]] = {}
    for node in tree.css("meta"):
        attrs = node.attributes
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
        value = attrs.get("content")
        if key and value and value.strip():
            out.setdefault(key.strip().lower(), []).append(value.strip())
    return out


def _names(value: Any) -> list[str]:
    """Names from a JSON-LD author/creator value: a string, a Person, or a list of them."""
    if value is None:
        return []
    if isinstance(value, list):
        return [n for item in value for n in _names(item)]
    if isinstance(value, dict):
        name = value.get("name")
        if isinstance(name, list):
            return [str(n) for n in name if n]
        return [str(name)] if name else []
    return [str(value)]


def first_str(value: Any) -> str | None:
    """The first string in a JSON-LD value (a string, a list, or an object with url/@id)."""
    if isinstance(value, list):
        for item in value:
            found = first_str(item)
            if found:
                return found
        return None
    if isinstance(value, dict):
        return first_str(value.get("url") or value.get("@id") or value.get("contentUrl"))
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _keywords(value: Any) -> list[str]:
    """Keywords from a JSON-LD or meta value: a string ("a, b, c"), or a list of them."""
    if isinstance(value, list):
        return [k for item in value for k in _keywords(item)]
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    return []


# A wire-service subject code: capitals, digits and ":_./-", no space ("AER", "AIRS08",
# "RSBI:HUMAN-RIGHTS", "PACKAGE:WORLD-NEWS"). Alone, "USA" or "GDP" looks the same, so
# only a list made mostly of them is refused (Reuters' keywords hold 23 and 55 codes).
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9:_./-]*$")
_MIN_CODE_LIST = 6
# a namespaced machine tag, "source:tagname:CNBC US Source"
_MACHINE_TAG = re.compile(r"^\w+:\S")


def tag_list(value: Any) -> list[str]:
    """Tags from one source: comma-separated strings split; [] when the source is codes."""
    tags = [t for t in _keywords(value) if len(t) > 1 and not _MACHINE_TAG.match(t)]
    codes = sum(1 for t in tags if _CODE.match(t))
    if len(tags) >= _MIN_CODE_LIST and codes >= 0.8 * len(tags):
        return []
    return tags


def head_metadata(tree: HTMLParser) -> dict[str, Any]:
    """Candidate metadata from JSON-LD first, then meta tags, then ``<link>``/``<html>``."""
    meta = meta_tags(tree)
    first = {k: v[0] for k, v in meta.items()}
    ld = jsonld_articles(tree)
    out: dict[str, Any] = {}

    def put(field: str, *values: Any) -> None:
        for value in values:
            if value:
                out.setdefault(field, value)
                return

    for art in ld:
        put("title", first_str(art.get("headline")), first_str(art.get("name")))
        put("authors", _names(art.get("author")) or _names(art.get("creator")))
        put("published", first_str(art.get("datePublished")))
        put("modified", first_str(art.get("dateModified")))
        put("description", first_str(art.get("description")))
        put("language", first_str(art.get("inLanguage")))
        put("image", first_str(art.get("image")) or first_str(art.get("thumbnailUrl")))
        put("tags", tag_list(art.get("keywords")))
        put("canonical_url", first_str(art.get("mainEntityOfPage")), first_str(art.get("url")))
        if art.get("isAccessibleForFree") in (False, "False", "false"):
            out["paywalled"] = True

    put("title", first.get("og:title"), first.get("twitter:title"))
    authors = [a for a in meta.get("author", []) + meta.get("article:author", [])
               + meta.get("parsely-author", []) + meta.get("sailthru.author", [])
               if not a.startswith("http")]
    put("authors", authors)
    put("published", first.get("article:published_time"), first.get("og:article:published_time"),
        first.get("parsely-pub-date"), first.get("date"), first.get("dc.date.issued"),
        first.get("pubdate"), first.get("publishdate"))
    # dateCreated is when the draft was started: only when nothing better exists
    put("published", *(first_str(art.get("dateCreated")) for art in ld))
    put("modified", first.get("article:modified_time"), first.get("og:updated_time"))
    put("description", first.get("og:description"), first.get("description"),
        first.get("twitter:description"))
    put("image", first.get("og:image"), first.get("twitter:image"))
    # each source on its own: a source of codes gives way to the next one
    put("tags", tag_list(meta.get("article:tag")), tag_list(first.get("news_keywords")),
        tag_list(first.get("keywords")))
    # the section is a reader's category too: the tag of last resort (Reuters' keywords are
    # codes; its article:section is "Middle East")
    put("tags", tag_list(meta.get("article:section")))
    put("site_name", first.get("og:site_name"))

    canonical = tree.css_first('link[rel="canonical"]')
    href = canonical.attributes.get("href") if canonical else None
    # the <link rel=canonical> is the page's own claim and outranks JSON-LD's mainEntityOfPage
    if href and href.strip():
        out["canonical_url"] = href.strip()
    put("canonical_url", first.get("og:url"))

    html = tree.css_first("html")
    lang = html.attributes.get("lang") if html else None
    if lang and lang.strip():
        out["language"] = lang.strip()
    put("language", first.get("og:locale"), first.get("content-language"))
    return out


# --- cleaning -------------------------------------------------------------------------------

_BY = re.compile(r"^\s*by\s+", re.I)
# "Von Anna Schmidt", "Par Jean Dupont": but "Von Trapp", "Di Caprio" and "von der Leyen"
# are names, so these go only before at least two words, the first capitalised
_BY_ELSEWHERE = re.compile(r"^\s*(?:von|par|por|di|door|av|от|автор[ы]?:?)\s+", re.I)


def _strip_by(text: str) -> str:
    text = _BY.sub("", text)
    match = _BY_ELSEWHERE.match(text)
    if match:
        rest = text[match.end():]
        words = rest.split()
        if len(words) >= 2 and words[0][:1].isupper():
            return rest
    return text
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_NOT_A_NAME = re.compile(
    r"^(?:follow|follow us|more|and|staff|contact|email|twitter|facebook|linkedin|"
    r"reporter|correspondent|editor|writer|staff writer|senior editor|contributor|columnist)$",
    re.I,
)
_ROLE_SUFFIX = re.compile(
    r"\s*[,|–—-]\s*(?:(?:senior|chief|special|political|staff|foreign|deputy|associate|"
    r"managing|executive|contributing|business|tech|science|health|sports?|world|national|"
    r"investigative|data)\s+)*(?:reporter|correspondent|editor|writer|columnist|contributor|"
    r"producer|analyst|journalist)\b.*$",
    re.I,
)
# a job title standing alone, as left by splitting "Jane Doe, Senior Reporter" at the comma
_ROLE_ONLY = re.compile(
    r"^(?:(?:senior|chief|special|political|staff|foreign|deputy|associate|managing|executive|"
    r"contributing|business|tech|science|health|sports?|world|national|investigative|data|"
    r"white house|economics|culture|defen[cs]e|security|diplomatic|europe|us|uk)\s+)*"
    r"(?:reporter|correspondent|editor|writer|columnist|contributor|producer|analyst|"
    r"journalist|photographer|news editor|editor-at-large)s?$",
    re.I,
)
_SPLIT = re.compile(r"\s*(?:;|\||,|&|\band\b|\bund\b|\bet\b|\bи\b)\s*", re.I)


def clean_authors(values: Iterable[str]) -> list[str]:
    """Person or agency names: no "By", e-mail addresses, "Follow", job titles or duplicates."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        value = unicodedata.normalize("NFC", " ".join(str(value).split()))
        value = _EMAIL.sub("", value)
        value = _strip_by(value)
        for name in _SPLIT.split(value):
            name = _ROLE_SUFFIX.sub("", name)
            name = _strip_by(name).strip(" \t.,:;|-–—·")
            if not name or _NOT_A_NAME.match(name) or _ROLE_ONLY.match(name) \
                    or name.startswith("http"):
                continue
            if len(name) > 60 or not any(c.isalpha() for c in name):
                continue
            key = name.casefold()
            if key not in seen:
                seen.add(key)
                out.append(name)
    return out


def normalize_date(value: str | None) -> str | None:
    """ISO 8601 with time and offset when the value has them; a bare date stays a date.

    A time without an offset is kept as wall-clock time (never guessed into UTC).
    """
    if not isinstance(value, str) or not value.strip():
        return None  # JSON-LD can hold a list, an object or a number here
    value = value.strip()
    candidate = value.replace("Z", "+00:00") if value.endswith("Z") else value
    # "2024-04-30 16:38:37 +0200", "2024-04-30T16:38:37.000+0200"
    candidate = re.sub(r"^(\d{4}-\d\d-\d\d) (\d)", r"\1T\2", candidate)
    candidate = re.sub(r"\s*([+-]\d\d):?(\d\d)$", r"\1:\2", candidate)
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return _parse_loose_date(value)
    if len(candidate) <= 10:  # a date with no time part
        return parsed.date().isoformat()
    return parsed.isoformat()


def _parse_loose_date(value: str) -> str | None:
    """RFC 822 dates and other common shapes; None when it is not a date at all."""
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.isoformat()


def clean_tags(values: Iterable[str]) -> tuple[str, ...]:
    """Tags split at commas, without codes, empties or duplicates (ignoring case), in order."""
    out: dict[str, str] = {}
    for tag in tag_list([unicodedata.normalize("NFC", " ".join(str(v).split())) for v in values]):
        out.setdefault(tag.casefold(), tag)
    return tuple(out.values())
