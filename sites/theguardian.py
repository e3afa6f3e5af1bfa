"""The Guardian (theguardian.com).

Pages are rendered by "DCR": class names are hashes (``dcr-1teqwow``) that change with every
deploy, so selectors use the stable ``data-gu-name``, ``data-spacefinder-*`` and ``aria-label``
attributes. The standfirst (``data-gu-name="standfirst"``) sits above the main image, outside
the body container trafilatura settles on, so it is put back in front of the body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scraper.sites import Draft, Site

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser


class TheGuardian(Site):
    name = "theguardian"
    domains = ("theguardian.com", "guardian.co.uk")
    feeds = (
        "https://www.theguardian.com/world/rss",
        "https://www.theguardian.com/uk-news/rss",
        "https://www.theguardian.com/us-news/rss",
        "https://www.theguardian.com/business/rss",
    )
    news_sitemaps = ("https://www.theguardian.com/sitemaps/news.xml",)
    # /<section>[/<series>]/<yyyy>/<mon>/<dd>/<slug>; video, audio and galleries are not
    # articles, and .../<dd>/all is the day's index
    article_path = (
        r"^/(?!(?:.*/)?(?:video|audio|gallery|picture)/)[a-z0-9-]+(?:/[a-z0-9-]+)?"
        r"/\d{4}/[a-z]{3}/\d{2}/(?!all/?$)[a-z0-9-]+/?$"
    )
    drop = (
        "figcaption", "figure[data-spacefinder-role]", "gu-island", ".ad-slot-container",
        ".ad-slot", 'aside[aria-label="newsletter promotion"]',
        '[data-spacefinder-type$="NewsletterSignupBlockElement"]',
        '[data-spacefinder-type$="RichLinkBlockElement"]', '[data-component="rich-link"]',
        '[data-gu-name="meta"]', '[data-gu-name="headline"]',
    )

    def body(self, tree: HTMLParser, draft: Draft) -> list[str]:
        """The standfirst in front of trafilatura's body, unless it is already there."""
        nodes = tree.css('[data-gu-name="standfirst"] :is(p, li)')
        if not nodes:
            nodes = tree.css('[data-gu-name="standfirst"]')
        standfirst = [" ".join(n.text().split()) for n in nodes]
        body = list(draft.paragraphs)
        return [s for s in standfirst if s and s not in body] + body
