"""Los Angeles Times (latimes.com), a Brightspot site.

Stories live under ``/story/<yyyy>-<mm>-<dd>/<slug>``; "story stack" pages (numbered
sections) put a ``h3.story-stack-story-title`` over each section. Images, ads, promos and
embeds inside the body are all wrapped in ``div.enhancement``. The author bio ("X is an
assistant sports editor ...") is printed at the top, inside the byline block.
``og:title`` and JSON-LD carry an SEO headline ("100 years at the Los Angeles Coliseum: ...");
the printed headline is ``h1.headline`` ("One hundred years at the Coliseum: ...") and is the title.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from scraper.sites import Draft, Site

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser


class LATimes(Site):
    name = "latimes"
    domains = ("latimes.com",)
    feeds = (  # one RSS 2.0 feed per section at /<section>/rss2.0.xml (unverified offline)
        "https://www.latimes.com/world-nation/rss2.0.xml",
        "https://www.latimes.com/california/rss2.0.xml",
        "https://www.latimes.com/politics/rss2.0.xml",
        "https://www.latimes.com/business/rss2.0.xml",
    )
    sitemaps = ("https://www.latimes.com/sitemap.xml",)
    news_sitemaps = ("https://www.latimes.com/news-sitemap.xml",)
    # /[<section>/]story/<yyyy>-<mm>-<dd>/<slug>; sections, /topic/, /people/ are indexes
    article_path = r"/story/\d{4}-\d{2}-\d{2}/[a-z0-9-]+/?$"
    drop = (
        ".enhancement", ".story-stack-story-title", ".story-stack-item-number", ".byline",
        ".author-bio", ".bylines", "figure", ".figure-caption", ".figure-credit",
        ".google-dfp-ad-wrapper", "ps-actionbar", ".page-actions", "ps-promo", ".promo",
        ".newsletter-signup", "h1.headline",
    )

    def metadata(self, tree: HTMLParser, draft: Draft) -> Draft:
        """The printed ``h1.headline`` as the title."""
        h1 = tree.css_first("h1.headline")
        headline = " ".join(h1.text().split()) if h1 else ""
        return replace(draft, title=headline) if headline else draft
