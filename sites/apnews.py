"""AP News (apnews.com).

Two layouts: the 2023 React app (``div.Article[data-key=article]``, the headline and byline in
``div.CardHeadline``) and the 2024 Brightspot one (``div.RichTextStoryBody``). Longer stories
close with a ``___`` sub-headline and a contributor paragraph ("Associated Press writer X
contributed"); the 2024 layout embeds "What to know" info boxes in the body.
The JSON-LD byline is upper case on the 2024 layout ("STEVE PEOPLES"); names compare
case-insensitively, so it is left as it is.
"""

from __future__ import annotations

from scraper.sites import Site


class APNews(Site):
    name = "apnews"
    domains = ("apnews.com",)
    feeds = ("https://apnews.com/index.rss",)  # the site-wide feed (seen in 2024 feed archives)
    sitemaps = ("https://apnews.com/sitemap.xml",)
    news_sitemaps = ("https://apnews.com/news-sitemap-content.xml",)
    # /article/<slug>-<32 hex> (or the bare hex id); /hub/, /video/, /author/ are index pages
    article_path = r"^/article/(?:[\w-]+-)?[0-9a-f]{32}/?$"
    article_id = r"([0-9a-f]{32})/?$"  # AP's story id ends the path
    drop = (
        # the paragraph right after the "___" rule is the contributor line; must run before
        # the sub-headline rule below removes the "___" itself
        '.RichTextStoryBody > h2:contains("___") + p',
        '[data-key="article"] > h2:contains("___") + p',
        ".RichTextStoryBody > h2", '[data-key="article"] > h2',
        ".CardHeadline", ".Page-headline",  # headline + byline above the body
        ".Infobox", ".Enhancement", "figure", "figcaption", ".Carousel",
        ".Advertisement", ".ad-placeholder", "bsp-ad", ".Page-actionbar", ".ActionBar",
    )
