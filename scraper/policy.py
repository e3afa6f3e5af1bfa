"""How we fetch: the one ``FetchPolicy`` value, resolved once per site by ``policy_for``.

    >>> policy = policy_for(site, config.for_site(site.name), cli_user_agent)
    >>> async with make_client(policy) as client: ...

Also what a fetch accepts (``Accept``: HTML for pages; feeds in ``scraper.discover``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from .web import CODINGS

if TYPE_CHECKING:
    from .config import SiteSettings
    from .sites import Site

DEFAULT_USER_AGENT = (
    "news-scraper/0.1 (+https://github.com/news-scraper/news-scraper; archiving news edits)"
)


@dataclass(frozen=True)
class Accept:
    """The content types a fetch takes: exactly ``types``, or (empty) all but ``refused``.

    A refused type fails on its headers, before its body is downloaded.
    """

    name: str
    types: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()  # prefixes
    page: bool = False  # an HTML page: NotHTML when it is not one, its HTTP exchange kept
    decode: bool = False  # the page's bytes decoded into ``Page.html`` by fetch

    def allows(self, mime: str) -> bool:
        return mime in self.types if self.types else not mime.startswith(self.refused)


HTML_TYPES = ("text/html", "application/xhtml+xml")
HTML = Accept("HTML", HTML_TYPES, page=True, decode=True)
# A page left as bytes (``Page.raw``, ``Page.html`` empty): the pipeline decodes it where it
# is extracted, in a worker process, and never at all when it is unchanged.
HTML_BYTES = Accept("HTML", HTML_TYPES, page=True)


@dataclass(frozen=True)
class FetchPolicy:
    """How we fetch for one site and run: resolved once (``policy_for``), then passed down.

    ``total_timeout`` caps the network seconds of all attempts of one fetch together (not
    the waits between them); ``delay`` spaces discovery's documents as the crawl spaces
    pages; ``respect_robots`` False fetches even where robots.txt disallows it.
    """

    user_agent: str = DEFAULT_USER_AGENT
    attempts: int = 4
    max_bytes: int = 10 * 1024 * 1024
    total_timeout: float | None = 120.0
    max_redirects: int = 10
    max_retry_after: float = 120.0
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    respect_robots: bool = True
    delay: float = 0.0


def policy_for(site: Site | None = None, settings: SiteSettings | None = None,
               cli_user_agent: str | None = None, *, respect_robots: bool = True) -> FetchPolicy:
    """The one place that decides a site's fetch policy, the User-Agent above all.

    User-Agent precedence: ``--user-agent`` > config ``[sites.X]`` > config ``[crawl]``
    (``settings`` is already the site's overrides over the crawl defaults) > the adapter's
    ``user_agent`` > DEFAULT_USER_AGENT.
    """
    agent = (cli_user_agent or (settings.user_agent if settings else None)
             or (site.user_agent if site else None) or DEFAULT_USER_AGENT)
    return FetchPolicy(user_agent=agent, respect_robots=respect_robots,
                       delay=settings.delay if settings else 0.0)


DEFAULT_POLICY = FetchPolicy()


def make_client(policy: FetchPolicy = DEFAULT_POLICY, *,
                transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """An AsyncClient for ``fetch``: the policy's User-Agent and timeouts, no auto redirects.

    One client may serve several sites: ``fetch`` sends each request with its own policy's
    User-Agent and timeouts.
    """
    return httpx.AsyncClient(
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": CODINGS},
        timeout=timeouts(policy),
        follow_redirects=False,  # fetch() follows by hand to check every hop
        http2=False,
        transport=transport,  # tests pass an httpx.MockTransport
    )


def timeouts(policy: FetchPolicy) -> httpx.Timeout:
    """The httpx timeouts of the policy: per network read, and to connect."""
    return httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout)
