"""Reuters (reuters.com), an Arc XP / Fusion site.

Story URLs end in the publication date: ``/<section>/<sub>/<slug>-<yyyy>-<mm>-<dd>/``; the
pre-2020 ``/article/<slug>-id<ID>`` URLs redirect there. Class names are CSS modules
(``article-body__heading__33EIm``) whose hash suffix changes, so selectors match the stable
prefix (``[class*=...]``) or ``data-testid``. Body paragraphs are ``data-testid="paragraph-<n>"``;
inside the body, ``data-testid="Body"`` marks the sign-off ("Reporting by ...; Editing by ..."),
"Our Standards: The Thomson Reuters Trust Principles." and captions; ``Heading`` the
sub-headlines (upper case: "FULL INQUIRY"). Pruning those leaves a shorter body, which can tip
trafilatura into its fallback extractor and pull in the newsletter rail and the video player:
they are dropped as well.
The keywords (``<meta name=keywords>``, ``article:tag``) are subject codes ("AER,AERO,AIR,...");
the tags a reader sees are the section (``article:section``) and the other sections the story
is filed under (``DCSext.ChannelList``, "Business;Asia Pacific;World").
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from scraper.metadata import meta_tags
from scraper.sites import Draft, Site

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser


class Reuters(Site):
    name = "reuters"
    domains = ("reuters.com",)
    feeds = ()  # Reuters closed its public RSS feeds in 2020; discovery goes through sitemaps
    sitemaps = ("https://www.reuters.com/arc/outboundfeeds/sitemap-index/?outputType=xml",)
    news_sitemaps = (
        "https://www.reuters.com/arc/outboundfeeds/news-sitemap-index/?outputType=xml",
    )
    # a dated slug under a section, or the legacy /article/...-id<ID>; not /video/ or /pictures/
    article_path = (
        r"^/(?!video/|pictures/)(?:[a-z0-9-]+/)+[a-z0-9-]+-\d{4}-\d{2}-\d{2}/?$"
        r"|^/article/[\w-]+-id[A-Z0-9]+$"
    )
    drop = (
        '[class*="article-body__heading"]', '[data-testid="Heading"]',
        '[class*="article-body__content"] [data-testid="Body"]', '[class*="sign-off"]',
        '[data-testid="ResponsiveAdSlot"]', '[data-testid^="gallery"]',
        '[data-testid^="social_media"]', '[data-testid="ArticleToolbar"]',
        '[data-testid="read-next-buttons"]', '[data-testid="MediaStoryCard"]',
        '[class*="article-body__top-toolbar"]', '[class*="info-content"]', "figcaption",
        # outside the article: newsletter cards, the video player, related stories
        '[class*="regular-article-layout__right-rail"]', '[data-testid="NewslettersRow"]',
        '[class*="regular-article-layout__related"]', '[data-testid="Connatix"]',
    )

    def metadata(self, tree: HTMLParser, draft: Draft) -> Draft:
        """Tags: the section, then the channel list."""
        tags = meta_tags(tree)
        channels = [c for v in tags.get("dcsext.channellist", []) for c in v.split(";")]
        found = [*tags.get("article:section", []), *channels]
        return replace(draft, tags=tuple(found)) if found else draft
