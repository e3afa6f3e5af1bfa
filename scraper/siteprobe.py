"""`scraper sites add URL`: find a site's feeds, sitemaps and article URL pattern from its home.

    >>> proposal = await probe_site(client, "https://harbourtimes.example/", policy, robots)
    >>> print(site_block(proposal))          # a [sites.NAME] table for scraper.toml

The home page's ``<link rel="alternate">`` feeds, robots.txt's ``Sitemap:`` lines (or
``/sitemap.xml``), each sitemap told apart as a Google News sitemap or not by its content, and
an article URL pattern guessed from the links the feeds and news sitemaps list (articles by
definition), else from the home page's links. Fetching is polite (robots.txt, the policy's
delay between documents); the guessing functions are pure.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from selectolax.lexbor import LexborHTMLParser

from .discover import fetch_xml
from .feeds import links_from_feed, links_from_sitemap
from .fetch import FetchPolicy, fetch
from .identity import registrable_domain
from .models import ScraperError
from .robots import Robots
from .web import host_of, web_url

_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml",
               "application/feed+json", "application/xml", "text/xml")
_NEWS_NAMESPACE = b"google.com/schemas/sitemap-news"
_DATED = re.compile(r"/(?:19|20)\d\d/\d\d?/")
_ID_AT_END = re.compile(r"\d{5,}(?:\.html?)?/?$")
MAX_DOCUMENTS = 8  # feeds and sitemaps read to classify them and to see article links


@dataclass
class SiteProposal:
    """What a home page and its robots.txt say about a site."""

    name: str
    domains: list[str]
    feeds: list[str] = field(default_factory=list)
    news_sitemaps: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    article_path: str | None = None
    examples: list[str] = field(default_factory=list)  # article URLs the pattern was read from


def feeds_in_page(html: str, base_url: str) -> list[str]:
    """The RSS/Atom feeds a page announces with ``<link rel="alternate" type=...>``."""
    found: list[str] = []
    for node in LexborHTMLParser(html).css('link[rel~="alternate"][href]'):
        kind = (node.attributes.get("type") or "").split(";")[0].strip().lower()
        url = web_url(node.attributes.get("href"), base_url)
        if kind in _FEED_TYPES and url and url not in found:
            found.append(url)
    return found


def links_in_page(html: str, base_url: str) -> list[str]:
    """The page's links on its own host, absolute, each once."""
    host = host_of(base_url)
    found: dict[str, None] = {}
    for node in LexborHTMLParser(html).css("a[href]"):
        url = web_url(node.attributes.get("href"), base_url)
        if url and host_of(url) == host:
            found.setdefault(url)
    return list(found)


def guess_article_path(urls: list[str]) -> str | None:
    """A regex for the article URLs' paths, or None when they share no clear shape.

    A date in the path (``/2024/05/``) when most have one; else their shared first segment,
    with a trailing numeric id when most end in one; else the id alone.
    """
    paths = [urlsplit(u).path for u in urls if urlsplit(u).path not in ("", "/")]
    if len(paths) < 3:
        return None
    most = len(paths) * 0.8
    if sum(1 for p in paths if _DATED.search(p)) >= most:
        return r"/(?:19|20)\d\d/\d\d?/"
    ids = sum(1 for p in paths if _ID_AT_END.search(p)) >= most
    first, count = Counter(p.strip("/").split("/")[0] for p in paths).most_common(1)[0]
    if count >= most and first and len(paths[0].strip("/").split("/")) > 1:
        return f"^/{re.escape(first)}/" + (r".*\d{5,}" if ids else r".+")
    return r"\d{5,}(?:\.html?)?/?$" if ids else None


def site_name(url: str) -> str:
    """A site name from the URL's domain: ``www.harbour-times.co.uk`` → ``harbour-times``."""
    label = registrable_domain(url).split(".")[0].lower()
    name = re.sub(r"[^a-z0-9_-]", "", label)
    return name if re.match(r"[a-z]", name) else f"site-{name}"


def site_block(p: SiteProposal) -> str:
    """The ``[sites.NAME]`` table for scraper.toml."""

    def strings(values: list[str]) -> str:
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"

    lines = [f"[sites.{p.name}]", f"domains = {strings(p.domains)}"]
    for key in ("feeds", "news_sitemaps", "sitemaps"):
        if getattr(p, key):
            lines.append(f"{key} = {strings(getattr(p, key))}")
    if p.article_path:
        lines.append(f"article_path = '{p.article_path}'")
    return "\n".join(lines) + "\n"


async def probe_site(client: httpx.AsyncClient, url: str, policy: FetchPolicy,
                     robots: Robots | None, name: str | None = None) -> SiteProposal:
    """Read the home page at ``url``, its robots.txt and a few feeds and sitemaps."""
    home = await fetch(client, url, policy, robots=robots)
    base = home.final_url
    domain = registrable_domain(base)
    proposal = SiteProposal(name=name or site_name(base), domains=[domain])
    proposal.feeds = feeds_in_page(home.html, base)
    candidates: list[str] = []
    if robots is not None:
        await robots.load(client, base, policy.user_agent)
        candidates = robots.sitemaps(base)
    if not candidates:
        candidates = [urljoin(base, "/sitemap.xml")]
    budget = MAX_DOCUMENTS
    articles: list[str] = []

    async def read(doc: str) -> bytes | None:
        nonlocal budget
        if budget <= 0:
            return None
        budget -= 1
        await asyncio.sleep(policy.delay)  # spaced like the crawl's requests to one host
        try:
            return await fetch_xml(client, doc, policy, robots=robots)
        except ScraperError:
            return None

    for feed in list(proposal.feeds):
        data = await read(feed)
        try:
            articles += [link.url for link in links_from_feed(data or b"", feed)]
        except ScraperError:
            proposal.feeds.remove(feed)  # announced, but not a feed we can read
    for sitemap in candidates:
        data = await read(sitemap)
        if data is None:
            continue
        # a Google News sitemap declares its namespace (on its root, or its first entry)
        news = _NEWS_NAMESPACE in data[:65536]
        (proposal.news_sitemaps if news else proposal.sitemaps).append(sitemap)
        if news:  # its entries are articles too
            try:
                articles += [link.url for link in links_from_sitemap(data, sitemap).links]
            except ScraperError:
                pass
    on_site = [u for u in articles if registrable_domain(u) == domain]
    links = on_site or links_in_page(home.html, base)
    proposal.article_path = guess_article_path(links)
    proposal.examples = links[:3]
    return proposal
