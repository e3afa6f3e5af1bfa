"""schema.org JSON-LD: the article objects of a page, and reading their values.

Pure functions over a selectolax tree; hostile JSON (deep nesting, odd types) is pruned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

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
        # some pages wrap the JSON in a CDATA section ("//<![CDATA[ ... //]]>")
        raw = re.sub(r"^(?://|/\*)?\s*<!\[CDATA\[|(?://|/\*)?\s*\]\]>\s*(?:\*/)?$", "", raw).strip()
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
