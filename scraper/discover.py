"""Discovery: the article links a site's feeds and sitemaps offer, newest first.

    >>> sources_of(site)          # [Source("feed", url), Source("news_sitemap", url), ...]
    >>> await discover(client, site, policy, robots=Robots())     # fetch and read them all
    >>> select(links, site, known=archived_urls, max_age=timedelta(days=2))

In a crawl, ``gates`` (``scraper.hosts``) put every request, robots.txt first, through its
host's politeness gate, and ``conditional`` asks with the validators of the last run, so an
unchanged feed or sitemap is a 304 and is not parsed.

Parsing is pure and lives in ``scraper.feeds`` (re-exported here). Fetching follows the
site's ``FetchPolicy``, as in ``scraper.fetch`` (its ``total_timeout`` bounds a drip that
never ends).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx

from .feeds import (
    FEED_MAX_ELEMENTS,
    FEED_MAX_ITEMS,
    MAX_BYTES,
    SITEMAP_MAX_ELEMENTS,
    Link,
    Sitemap,
    links_from_feed,
    links_from_robots,
    links_from_sitemap,
)
from .fetch import DEFAULT_POLICY, Accept, FetchPolicy, Sleep, fetch, pause
from .models import Blocked, FeedError, Page, ScraperError
from .robots import Robots
from .sites import Site
from .web import host_of

if TYPE_CHECKING:
    from .hosts import Gates

__all__ = ["FEED_MAX_ELEMENTS", "FEED_MAX_ITEMS", "MAX_BYTES", "NEWS_SITEMAP_DOCUMENTS",
           "SITEMAP_MAX_ELEMENTS", "Conditional", "FeedError", "Link", "Sitemap", "Source", "discover",
           "fetch_xml", "links_from_feed", "links_from_robots", "links_from_sitemap", "select",
           "sources_of"]

log = logging.getLogger(__name__)

# documents one news sitemap may cost (itself, or an index and its children): a news
# sitemap holds only the last two days, so even a split one is a few small files
NEWS_SITEMAP_DOCUMENTS = 10
# feeds come as every kind of XML, text/plain, text/html, gzip or octet-stream: refuse only
# what is surely something else, before downloading it
FEEDS = Accept("a feed or sitemap", refused=("image/", "audio/", "video/", "font/",
                                             "application/pdf", "application/json"))


@dataclass(frozen=True)
class Source:
    """Where links come from: a feed, a Google News sitemap (the last two days: fresh, read
    every run) or any other sitemap (often an archive index: backfill, read on a budget)."""

    kind: Literal["feed", "news_sitemap", "sitemap"]
    url: str


Validators = tuple[str | None, str | None]  # (ETag, Last-Modified)


@dataclass
class Conditional:
    """Conditional GETs of feeds and sitemaps in one discovery, and what they found.

    ``known``: the validators stored by earlier runs. Filled in: ``got``, the validators of
    documents answered in full that list articles (never of a sitemap index: its children
    may change while it does not); ``listed``, the on-site article URLs each such document
    listed; ``unchanged``, the documents that answered 304 (not parsed).
    """

    known: dict[str, Validators] = field(default_factory=dict)
    got: dict[str, Validators] = field(default_factory=dict)
    listed: dict[str, list[str]] = field(default_factory=dict)
    unchanged: set[str] = field(default_factory=set)


def select(links: Iterable[Link], site: Site, *,
           known: Collection[str] | Callable[[str], bool] = frozenset(),
           max_age: timedelta | None = None, now: datetime | None = None) -> list[Link]:
    """The links worth fetching: the site's new article URLs, recent enough, newest first.

    Keeps URLs that ``site.is_article_url`` accepts on the site's own hosts (for the generic
    adapter, which has no domains: the host of the feed the link came from). Drops URLs in
    ``known``, or for which ``known(url)`` is true (a function can compare article keys), and
    links dated before ``now - max_age`` (undated ones are kept). One link per URL, a later
    copy filling in a missing date or title. Newest first; undated last, in input order.
    """
    is_known = known if callable(known) else known.__contains__
    merged: dict[str, Link] = {}
    for link in links:
        first = merged.setdefault(link.url, link)
        if first.published is None or first.title is None:
            merged[link.url] = replace(first, published=first.published or link.published,
                                       title=first.title or link.title)
    cutoff = (now or datetime.now(UTC)) - max_age if max_age is not None else None
    chosen = [link for link in merged.values()
              if _on_site(link, site) and not is_known(link.url)
              and not (cutoff and (when := _when(link)) and when < cutoff)]
    return sorted(chosen, key=_newest_first)  # a stable sort: undated links keep their order


async def fetch_xml(client: httpx.AsyncClient, url: str,
                    policy: FetchPolicy = DEFAULT_POLICY, *, robots: Robots | None,
                    sleep: Sleep | None = None) -> bytes:
    """The raw body of a feed or sitemap, fetched with fetch()'s retries, checks and caps.

    Feeds and sitemaps get MAX_BYTES (the sitemaps.org limit), not the page cap.
    """
    return (await _fetch_document(client, url, policy, robots=robots, sleep=sleep)).raw


async def _fetch_document(client: httpx.AsyncClient, url: str, policy: FetchPolicy, *,
                          robots: Robots | None, sleep: Sleep | None,
                          validators: Validators = (None, None)) -> Page:
    """A feed or sitemap as a Page: ``not_modified`` when ``validators`` still hold."""
    return await fetch(client, url, replace(policy, max_bytes=MAX_BYTES), robots=robots,
                       sleep=sleep, accept=FEEDS, etag=validators[0],
                       last_modified=validators[1])


def sources_of(site: Site) -> list[Source]:
    """The feeds, news sitemaps and sitemaps ``site`` declares, in the order they are read."""
    return ([Source("feed", url) for url in site.feeds]
            + [Source("news_sitemap", url) for url in site.news_sitemaps]
            + [Source("sitemap", url) for url in site.sitemaps])


async def discover(client: httpx.AsyncClient, site: Site, policy: FetchPolicy = DEFAULT_POLICY,
                   *, robots: Robots | None, max_sitemaps: int = 50, max_links: int = 20_000,
                   sleep: Sleep | None = None, gates: Gates | None = None,
                   conditional: Conditional | None = None) -> list[Link]:
    """The site's article links from its feeds and sitemaps now: de-duplicated, newest first.

    Sources are read by kind: feeds (the freshest), then news sitemaps (what the site
    published in the last days), then the other sitemaps (archive indexes), each
    breadth-first, an index's children newest-named first and only on its own host or the
    site's. A news sitemap may read NEWS_SITEMAP_DOCUMENTS documents, any other sitemap at
    most ``max_sitemaps`` (a routine crawl keeps that small: an archive index is backfill),
    none twice (an index listing itself ends). With no sitemaps of either kind declared,
    robots.txt's ``Sitemap:`` lines count as sitemaps. A failing source is skipped with a
    warning; FeedError if all of them fail. ``policy.delay`` seconds pass between two
    documents (politeness), or with ``gates`` between any two requests to a host, robots.txt
    (read first, its Crawl-delay honoured) included. With ``conditional``, documents are
    asked for conditionally and those unchanged since are skipped (see ``Conditional``).
    """
    found: list[Link] = []
    errors: list[str] = []
    tried = 0

    async def read(url: str) -> bytes | None:
        """The document's bytes; None when it answered 304 (unchanged since last run)."""
        nonlocal tried
        tried += 1
        old = conditional.known.get(url, (None, None)) if conditional else (None, None)
        if gates is None:
            if policy.delay and tried > 1:
                # one document at a time, spaced like the site's pages
                await (sleep or pause)(policy.delay)
            page = await _fetch_document(client, url, policy, robots=robots, sleep=sleep,
                                         validators=old)
        else:
            gate = gates.gate(url, policy.delay)
            if robots is not None and policy.respect_robots:
                if why := await gates.ready(gate, url, policy.user_agent):
                    raise Blocked(why, url=url)
            async with gates.turn(gate):
                page = await _fetch_document(gates.client_for(gate), url, policy,
                                             robots=robots, sleep=sleep, validators=old)
        if page.not_modified and conditional is not None:
            conditional.unchanged.add(url)
            return None
        if conditional is not None and (page.etag or page.last_modified):
            conditional.got[url] = (page.etag, page.last_modified)
        return page.raw

    def listed(url: str, links: list[Link]) -> list[Link]:
        if conditional is not None:
            conditional.listed[url] = [link.url for link in links]
        return links

    sources = sources_of(site)
    if not (site.sitemaps or site.news_sitemaps):
        sources += [Source("sitemap", url)
                    for url in await _robots_sitemaps(client, site, policy, robots, gates)]
    seen: set[str] = set()
    for source in sources:
        if len(found) >= max_links:
            break
        if source.kind == "feed":
            try:
                limit = min(FEED_MAX_ITEMS, max_links - len(found))
                if (body := await read(source.url)) is None:
                    continue  # unchanged: its links were all dealt with in an earlier run
                found += listed(source.url, [link for link in links_from_feed(
                    body, source.url, max_links=limit) if _on_site(link, site)])
            except ScraperError as exc:
                log.warning("%s: skipping feed %s: %s", site.name, source.url, exc)
                errors.append(str(exc))
            continue
        budget = NEWS_SITEMAP_DOCUMENTS if source.kind == "news_sitemap" else max_sitemaps
        queue, read_here = deque([source.url]), 0
        while queue and read_here < budget and len(found) < max_links:
            url = queue.popleft()
            if url in seen:
                continue
            seen.add(url)
            read_here += 1
            try:
                if (body := await read(url)) is None:
                    continue  # unchanged, and only a document without children is asked so
                sitemap = links_from_sitemap(body, url, max_links=max_links - len(found))
            except ScraperError as exc:
                log.warning("%s: skipping sitemap %s: %s", site.name, url, exc)
                errors.append(str(exc))
                continue
            if sitemap.children and conditional is not None:
                conditional.got.pop(url, None)  # an index: always read in full
            found += listed(url, [link for link in sitemap.links if _on_site(link, site)])
            # an index may not send us to other hosts (an intranet address, say)
            near = [c for c in sitemap.children
                    if _bare(host_of(c)) == _bare(host_of(url)) or site.matches(c)]
            queue.extend(sorted(near, key=_natural, reverse=True))
    if tried and len(errors) == tried:
        what = f"all {tried} feeds and sitemaps" if tried > 1 else "the one feed or sitemap"
        raise FeedError(f"{what} of {site.name} failed; first: {errors[0]}")
    return select(found, site)[:max_links]


async def _robots_sitemaps(client: httpx.AsyncClient, site: Site, policy: FetchPolicy,
                           robots: Robots | None, gates: Gates | None = None) -> list[str]:
    """The ``Sitemap:`` URLs in robots.txt on the site's hosts (its feeds' and its domains')."""
    if robots is None:
        return []
    homes = [f"{p.scheme}://{p.netloc}/" for p in map(urlsplit, site.feeds)]
    # a domain whose host a feed is on already has its robots.txt read: asking its https
    # origin too would cost the host a request (and a delay) for the same Sitemap: lines
    fed = {host_of(home) for home in homes}
    homes += [f"https://{domain}/" for domain in site.domains if domain not in fed]
    found: list[str] = []
    for home in dict.fromkeys(homes):
        if gates is not None:
            await gates.ready(gates.gate(home, policy.delay), home, policy.user_agent)
        else:
            await robots.load(client, home, policy.user_agent)
        found += [url for url in robots.sitemaps(home) if url not in found]
    return found


def _on_site(link: Link, site: Site) -> bool:
    """An article URL of ``site``: on its domains, or for the generic adapter the feed's host."""
    if not site.is_article_url(link.url):
        return False
    if site.domains:
        return site.matches(link.url)
    host, home = _bare(host_of(link.url)), _bare(host_of(link.source))
    return bool(home) and (host == home or host.endswith("." + home))


def _bare(host: str) -> str:
    return host.removeprefix("www.")


def _when(link: Link) -> datetime | None:
    try:
        when = datetime.fromisoformat(link.published) if link.published else None
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when and when.tzinfo is None else when


def _newest_first(link: Link) -> tuple[int, float]:
    when = _when(link)
    return (0, -when.timestamp()) if when else (1, 0.0)


def _natural(url: str) -> list[Any]:
    """Sort key comparing digit runs as numbers: ``2024-10.xml`` after ``2024-9.xml``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", url)]
