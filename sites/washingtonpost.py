"""The Washington Post (washingtonpost.com).

The summary line under the headline (``h2[data-qa=subheadline]``) is part of the story but sits
in the page header, and the opening paragraphs can be wrapped in ``div.teaser-content`` (the
metered-paywall teaser), which trafilatura discards as boilerplate. So the body is read from
the page directly: the subheadline, then the direct ``<p>`` children of the
``data-qa="article-body"`` blocks (tweets and other embeds nest their ``<p>`` deeper).
Class names (``wpds-c-cYdRxM``) are generated: selectors use ``data-qa``/``data-testid``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scraper.sites import Draft, Site

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser


class WashingtonPost(Site):
    name = "washingtonpost"
    domains = ("washingtonpost.com",)
    feeds = (
        "https://feeds.washingtonpost.com/rss/world",
        "https://feeds.washingtonpost.com/rss/national",
        "https://feeds.washingtonpost.com/rss/politics",
        "https://feeds.washingtonpost.com/rss/business",
    )
    sitemaps = ("https://www.washingtonpost.com/sitemaps/sitemap.xml.gz",)  # as fundus; unverified
    news_sitemaps = ("https://www.washingtonpost.com/sitemaps/news-sitemap.xml.gz",)
    # /<section>/<yyyy>/<mm>/<dd>/<slug>/, or the older .../<uuid>_story.html; not /video/
    article_path = (
        r"^/(?!video/)[a-z0-9/-]*/\d{4}/\d{2}/\d{2}/"
        r"(?:[a-z0-9-]+/?|[0-9a-f-]{36}_story\.html)$"
    )
    drop = (
        '[data-qa="article-header"]', "figcaption", "figure", ".twitter-tweet",
        '[data-testid="twitter"]', '[data-testid^="article-body-ad"]',
        '[data-testid^="gift-share"]', '[data-qa="interstitial-link"]', ".hide-for-print",
    )

    def body(self, tree: HTMLParser, draft: Draft) -> list[str]:
        """The subheadline and the article-body paragraphs; trafilatura's when there are none."""
        body = [" ".join(n.text().split()) for n in tree.css('[data-qa="article-body"] > p')]
        if not any(body):
            return list(draft.paragraphs)
        summary = tree.css_first('h2[data-qa="subheadline"]')
        head = [" ".join(summary.text().split())] if summary else []
        return [p for p in head + body if p]
