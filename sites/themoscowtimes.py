"""The Moscow Times (themoscowtimes.com), independent English-language news on Russia.

Written from the structure of the site's open-sourced templates (github.com/themoscowtimes/
themoscowtimes, June 2024) and one day of its news RSS; not yet checked against a live page.

- The slug is regenerated when the headline is edited; the ``-a{id}`` suffix is not. Key on it.
- ``<meta name=author>``, ``article:author`` and the JSON-LD ``author`` name only the FIRST
  author ("The Moscow Times" when there is none); the byline has one link per author.
- Edited more than 10 minutes after publication, the byline says "Updated:" and its
  ``<time datetime>`` is the UPDATE time: the publication time is only in JSON-LD/``article:``.
- The body is ``div.article__content > div.article__block--{html,quote,image,embed,...}``;
  boilerplate (support-us box, since mid-2024 an "ad-free" notice) sits outside it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from scraper.metadata import first_str, jsonld_articles, meta_tags
from scraper.sites import Draft, Site

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

_RSS = "https://www.themoscowtimes.com/rss/"
# Where the editorial text is; anything trafilatura finds elsewhere is boilerplate.
_TEXT_BLOCKS = ", ".join(f".article__content > .article__block--{t}" for t in ("html", "quote"))


class TheMoscowTimes(Site):
    name = "themoscowtimes"
    domains = ("themoscowtimes.com",)  # the sitemaps live on static.themoscowtimes.com
    # Section feeds; telegram, yandex-news and feeds/partner.xml are special-purpose copies.
    feeds = tuple(_RSS + s for s in (
        "news", "opinion", "city", "meanwhile", "podcasts", "in-depth", "arts-and-life", "all"))
    # One monthly urlset per entry, <loc> only (no lastmod): backfill, not freshness.
    sitemaps = ("https://static.themoscowtimes.com/sitemap/sitemap.xml",)
    # No AMP (/amp), PDF (/pdf), author, tag, section, preview or search pages.
    article_path = r"^/(?:\d{4}/\d\d/\d\d/[^/]+-a\d+|archive/(?!author/?$)[^/]+)/?$"
    # /{YYYY}/{MM}/{DD}/{slug}-a{id}, optionally /amp. /archive/ slugs are another id space.
    article_id = r"^/\d{4}/\d\d/\d\d/[^/]+-a(\d+)(?:/amp)?/?$"
    drop = (
        ".article__byline",  # names and time are read in metadata(), from the unpruned page
        ".featured-image__caption", ".featured-image__credits",
        ".article__block--image", ".article__block--images", ".article__block--embed",
        ".article__block--article", ".article__block--link", ".article__block--newsletter",
        ".article__related-article", 'section[y-name="banner"]',  # in-text teaser and ad slot
        ".article__tags", ".article__disclaimer", ".contribute-banner", ".sidebar", ".cluster",
    )

    def metadata(self, tree: HTMLParser, draft: Draft) -> Draft:
        """Every author from the byline; dates from JSON-LD or ``article:`` tags only."""
        byline = tree.css_first(".article__byline")  # the first: the page's own article
        names = [n.text(strip=True) for n in byline.css(".byline__author__name")] if byline else []
        if any(names):
            draft = replace(draft, authors=tuple(re.sub(r"^by\s+", "", n, flags=re.I)
                                                 for n in names if n))
        ld = next(iter(jsonld_articles(tree)), {})
        tags = meta_tags(tree)
        # never trafilatura's guess, which can be the byline's "Updated" time
        return replace(
            draft,
            published=(first_str(ld.get("datePublished"))
                       or tags.get("article:published_time", [None])[0]),
            modified=(first_str(ld.get("dateModified"))
                      or tags.get("article:modified_time", [None])[0]),
        )

    def body(self, tree: HTMLParser, draft: Draft) -> list[str]:
        """trafilatura's paragraphs inside the text blocks, after the standfirst."""
        blocks = tree.css(_TEXT_BLOCKS)
        paragraphs = list(draft.paragraphs)
        if blocks:  # keep trafilatura's paragraphs, but only those inside the text blocks
            inside = _squash(" ".join(b.text(separator=" ") for b in blocks))
            paragraphs = [p for p in paragraphs if _squash(p) in inside] or paragraphs
        intro_node = tree.css_first(".article__intro")
        intro = " ".join(intro_node.text(separator=" ").split()) if intro_node else ""
        if intro and not (paragraphs and _squash(paragraphs[0]) == _squash(intro)):
            paragraphs = [intro, *paragraphs]  # the standfirst comes first, once
        return paragraphs


def _squash(text: str) -> str:
    """Text without any whitespace: trafilatura and selectolax space inline tags differently."""
    return "".join(text.split())
