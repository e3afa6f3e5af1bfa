"""Euronews (euronews.com; one subdomain per language edition, e.g. fr., de., per.).

Article pages scroll into the next articles (``#articlesSwiper``); the first slide
(``.jsArticleFirst``) is the page's own article. The summary is ``.c-article-summary`` (an
``<h2>`` in 2026, a ``<p>`` in 2024), the body ``.c-article-content``, with ``<h2>``/``<h3>``
sub-headlines and "related" / image widgets inside it.
Two headlines: a long one in ``<h1>``/``<title>`` (and JSON-LD on older pages) and a short one
in ``og:title``/``twitter:title``. The short one is the title, as in fundus's Euronews parser.
The CMS leaves zero-width characters next to spaces ("supply U+200C and"): they are removed
there only, since inside a word a zero-width non-joiner is spelling (Persian edition).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from scraper.sites import Draft, Site

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

_STRAY_ZERO_WIDTH = re.compile(r"(?<=\s)[\u200b-\u200d\ufeff]+|[\u200b-\u200d\ufeff]+(?=\s)")


class Euronews(Site):
    name = "euronews"
    domains = ("euronews.com",)
    feeds = ("https://www.euronews.com/rss?format=mrss&level=theme&name=news",)  # unverified
    sitemaps = ("https://www.euronews.com/sitemaps/en/articles.xml",)
    news_sitemaps = ("https://www.euronews.com/sitemaps/en/latest-news.xml",)
    # [/<vertical>]/<yyyy>/<mm>/<dd>/<slug>; /video/ pages are clips with a transcript
    article_path = r"^/(?!video/)(?:[a-z-]+/)*\d{4}/\d{2}/\d{2}/[a-z0-9-]+/?$"
    drop = (
        ".c-article-content h2", ".c-article-content h3", ".widget--type-related",
        ".widget--type-image", ".widget--type-video", "figcaption", ".c-article-caption",
        ".c-article-image-copyright", ".c-ad", ".advertising", ".c-article-you-might-also-like",
        ".c-article-partage-commentaire", ".c-article-contributors", ".c-most-viewed",
    )

    def metadata(self, tree: HTMLParser, draft: Draft) -> Draft:
        """``og:title`` (the short headline) as the title."""
        og = tree.css_first('meta[property="og:title"]')
        title = og.attributes.get("content") if og else None
        if title and title.strip():
            return replace(draft, title=" ".join(title.split()))
        return draft

    def body(self, tree: HTMLParser, draft: Draft) -> list[str]:
        """trafilatura's body without stray zero-width characters."""
        return [" ".join(_STRAY_ZERO_WIDTH.sub("", p).split()) for p in draft.paragraphs]
