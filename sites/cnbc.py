"""CNBC (cnbc.com).

Articles are ``/<yyyy>/<mm>/<dd>/<slug>.html``; ``/video/`` pages share that shape and are
rejected. The body is ``div[data-module=ArticleBody]``: paragraphs in ``div.group``, with
``h2.ArticleBody-subtitle`` sub-headlines, pull quotes, inline images and videos and a
"related content" list between them. The "Key Points" box above the body is a summary of the
article in other words, not part of the text.
"""

from __future__ import annotations

from scraper.sites import Site


class CNBC(Site):
    name = "cnbc"
    domains = ("cnbc.com",)
    feeds = (  # CNBC's RSS lineup, one feed per section id (ids from memory, unverified)
        "https://www.cnbc.com/id/100003114/device/rss/rss.html",  # top news
        "https://www.cnbc.com/id/100727362/device/rss/rss.html",  # world news
        "https://www.cnbc.com/id/10001147/device/rss/rss.html",  # business
    )
    sitemaps = ("https://www.cnbc.com/sitemapAll.xml",)
    news_sitemaps = ("https://www.cnbc.com/sitemap_news.xml",)
    article_path = r"^/(?:amp/)?\d{4}/\d{2}/\d{2}/[a-z0-9-]+\.html$"
    drop = (
        ".ArticleBody-subtitle", ".Pullquote-pullquote", 'blockquote[data-test="Pullquote"]',
        ".InlineImage-wrapper", ".InlineImage-imageEmbedCaption", ".InlineVideo-wrapper",
        ".RelatedContent-container", ".RenderKeyPoints-wrapper", ".QuoteInBody-inlineButton",
        ".AddToWatchlistButton-watchlistContainer", ".BoxInline-container", ".InlineAd",
        ".NewsletterSignup", '[class^="MobileAdhesion"]', '[class^="PlaceHolder"]',
    )
