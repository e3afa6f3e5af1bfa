"""BBC News (bbc.com, bbc.co.uk).

Both layouts (2022-24 under ``main#main-content``, 2025 under ``main#bbc-main``) build the
article from ``data-component`` blocks: ``text-block`` holds the body; ``subheadline-block``,
``image-block``, ``links-block``, ``byline-block`` the rest. trafilatura drops short paragraphs
that are mostly one link ("It also <a>co-ordinates military plans ...</a>."), so the body is
read from the text blocks. A text block can also be a list of "related" links: list items
that are nothing but a link are left out.
Tags are the topic links under the article (``data-component="tags"`` in 2024,
``tag-list-block`` in 2025); the head has no keywords.
``published`` is JSON-LD ``datePublished``: on an explainer updated for years, that is the
first publication (2012), not the last update.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from scraper.sites import Draft, Site

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

# selectolax's :is() does not match a descendant chain, hence the list
_TOPIC_LINKS = ", ".join(f'article [data-component="{c}"] a[href*="/topics/"]'
                         for c in ("tags", "tag-list-block"))


class BBC(Site):
    name = "bbc"
    domains = ("bbc.com", "bbc.co.uk")
    feeds = (
        "https://feeds.bbci.co.uk/news/rss.xml",
        "https://feeds.bbci.co.uk/news/world/rss.xml",
        "https://feeds.bbci.co.uk/news/uk/rss.xml",
    )
    news_sitemaps = (  # indexes of Google News sitemaps
        "https://www.bbc.co.uk/sitemaps/https-index-uk-news.xml",  # .co.uk
        "https://www.bbc.com/sitemaps/https-index-com-news.xml",  # .com
    )
    # /news/articles/<id>, /news/<section>-<8 digits>, /sport/<sport>/<digits>;
    # /av/ and /videos/ are video pages, /live/ live pages, /topics/ indexes
    article_path = (
        r"^/(?:news|sport)/(?!(?:.*/)?(?:av|live|videos)/)(?:[a-z_-]+/)*"
        r"(?:articles/[a-z0-9]{8,}|(?:[a-z_]+-)*\d{6,})/?$"
    )
    # /news/articles/<id>, or the number ending the path
    article_id = r"/(?:articles/([a-z0-9]{8,})|(?:[a-z_]+-)*(\d{6,}))/?$"
    drop = tuple(f'[data-component="{c}"]' for c in (
        "subheadline-block", "image-block", "caption-block", "links-block", "byline-block",
        "headline-block", "ad-slot", "tag-list-block",
    )) + ("figcaption",)

    def metadata(self, tree: HTMLParser, draft: Draft) -> Draft:
        """Tags from the topic links under the article."""
        links = tree.css(_TOPIC_LINKS)
        tags = tuple(t for t in (" ".join(a.text().split()) for a in links) if t)
        return replace(draft, tags=tags) if tags else draft

    def body(self, tree: HTMLParser, draft: Draft) -> list[str]:
        """Body from the text blocks; keeps trafilatura's when the page has none."""
        paragraphs = []
        for node in tree.css('article [data-component="text-block"] :is(p, li)'):
            text = " ".join(node.text().split())
            links = " ".join(" ".join(a.text() for a in node.css("a")).split())
            if text and not (node.tag == "li" and text == links):  # "related stories" lists
                paragraphs.append(text)
        return paragraphs or list(draft.paragraphs)
