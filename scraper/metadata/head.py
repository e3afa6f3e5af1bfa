"""Candidate metadata from the page head: JSON-LD first, then meta tags, then ``<link>``.

Pure functions over a selectolax tree. On news sites these are the reliable source of
authors and dates; trafilatura's own metadata is the fallback (see ``scraper.extract``).
"""

from __future__ import annotations

from typing import Any

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from .authors import author_sources, pick_authors
from .dates import head_dates
from .jsonld import first_str, jsonld_articles
from .tags import tag_list
from .titles import pick_title


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


def head_metadata(tree: HTMLParser, visible_headline: bool = True) -> dict[str, Any]:
    """Candidate metadata from JSON-LD first, then meta tags, then ``<link>``/``<html>``;
    ``visible_headline=False`` keeps the page-level title over the ``<h1>`` (adapters)."""
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
        put("jsonld_title", first_str(art.get("headline")), first_str(art.get("name")))
        put("description", first_str(art.get("description")))
        put("language", first_str(art.get("inLanguage")))
        put("image", first_str(art.get("image")) or first_str(art.get("thumbnailUrl")))
        put("tags", tag_list(art.get("keywords")))
        put("canonical_url", first_str(art.get("mainEntityOfPage")), first_str(art.get("url")))
        if art.get("isAccessibleForFree") in (False, "False", "false"):
            out["paywalled"] = True

    title = tree.css_first("title")
    # the headline and authors by their own modules' order of trust (titles.py, authors.py)
    put("title", pick_title(tree, {
        "jsonld": out.pop("jsonld_title", None), "og": first.get("og:title"),
        "twitter": first.get("twitter:title"), "site_name": first.get("og:site_name"),
        "title": title.text(deep=True) if title else None}, visible_headline))
    put("authors", pick_authors(author_sources(tree, ld, meta), first.get("og:site_name")))
    out.update(head_dates(tree, meta, ld))  # chosen in scraper.extract, see dates.py
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
