"""CBC News (cbc.ca).

Story URLs end in the CMS id ``-1.<digits>`` (``/news/world/<slug>-1.7287711``), often with a
tracking ``?cmp=rss``. The page header holds the section label, ``h1.detailHeadline``, a
``detailSummary`` (teaser text), the ``h2.deck`` (the standfirst, kept) and the byline. The body
is ``div.story``: its ``<h2>`` are sub-headlines and its direct ``<div>`` children without a
``<p>`` are embeds (photos with captions, "WATCH |" videos, related-story cards).
"With files from ..." and the author profile follow the story.
"""

from __future__ import annotations

from scraper.sites import Site


class CBC(Site):
    name = "cbc"
    domains = ("cbc.ca",)
    feeds = (
        "https://www.cbc.ca/webfeed/rss/rss-topstories",
        "https://www.cbc.ca/webfeed/rss/rss-world",
        "https://www.cbc.ca/webfeed/rss/rss-canada",
        "https://www.cbc.ca/webfeed/rss/rss-politics",
    )
    sitemaps = ()  # no public news sitemap known; discovery goes through the RSS feeds
    # /news/<section>[/<region>]/<slug>-1.<id> (also /sports/, /arts/...); never index pages
    article_path = r"/[a-z0-9-]+-\d\.\d{5,}/?$"
    article_id = r"-(\d\.\d{5,})/?$"  # the CMS id, e.g. 1.7287711
    drop = (
        ".detail-link-label", "h1.detailHeadline", ".detailSummary", ".byline",
        "div.story > div:not(:has(p))", "div.story h2", "figure", "figcaption", ".mediaEmbed",
        ".embed", ".authorprofile", ".source", '[class^="contentFeedback"]', ".relatedlinks",
        ".similarStories", ".adContainer", ".ad-risingstar-container", ".sharebar",
    )
