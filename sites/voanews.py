"""Voice of America (voanews.com), on RFE/RL's "Pangea" CMS.

Article URLs are ``/a/<slug>/<numeric id>.html`` (also ``/a/<id>.html``); the id is stable
when the slug is edited. The body is ``div.wsw`` ("what you see is what you get"), with photos,
videos and "related" boxes embedded as ``div.wsw__embed``. Agency copy is bylined
"Associated Press" (one name).
"""

from __future__ import annotations

from scraper.sites import Site


class VOANews(Site):
    name = "voanews"
    domains = ("voanews.com",)
    # Pangea feeds live under /api/<opaque code>, listed on https://www.voanews.com/rssfeeds;
    # this code ("USA") comes from a third-party list and is unverified
    feeds = ("https://www.voanews.com/api/zqboml-vomx-tpeivmy",)
    sitemaps = ("https://www.voanews.com/sitemap.xml",)
    article_path = r"^/a/(?:[^/]+/)?\d{5,}\.html$"
    article_id = r"/(\d{5,})\.html$"  # the numeric id before .html
    drop = (
        ".wsw__embed", "figure", "figcaption", ".media-block", ".media-pholder", ".also-read",
        ".wsw .share", ".content-offset .ad", ".ad-placeholder", ".nav-tabs", ".comments",
    )
