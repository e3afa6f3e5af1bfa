"""robots.txt: fetched once per origin, parsed with Protego, asked before every fetch.

    >>> robots = Robots()
    >>> await robots.allowed(client, "https://example.com/news/1", user_agent)
    True
    >>> robots.crawl_delay("https://example.com/news/1", user_agent)  # after allowed()/load()

What an unusable robots.txt means (RFC 9309 section 2.3.1):

- 2xx: the rules apply (the body is cut at ``max_bytes``, as Google does at 500 KiB; a
  gzip or deflate body, raw or zlib-wrapped, is inflated only that far, so a bomb costs
  no more).
- 4xx, including 401/403: there are no rules, every URL is allowed (as the RFC says).
- 5xx, a network error, or no complete robots.txt within ``timeout`` seconds (a server
  that drips it byte by byte): also allowed. The RFC asks crawlers to assume "disallow all"
  here; we deliberately do not, because we fetch a handful of article pages per site at
  human rates, and a flaky robots.txt would otherwise silently stop archiving a site
  for the whole run. The page fetch itself then meets the same outage and is retried or
  fails loudly. The outcome is cached like any other, so one bad robots.txt costs one
  request per run, never a retry storm.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from protego import Protego

from .web import CODINGS, BadCoding, Inflater, origin

log = logging.getLogger(__name__)

__all__ = ["Robots"]


class Robots:
    """robots.txt rules per scheme+host(+port), fetched once and kept for this object's life."""

    def __init__(self, *, max_bytes: int = 500 * 1024, timeout: float = 10.0) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        # origin -> parsed rules; None means "no usable robots.txt: allow everything"
        self._rules: dict[str, Protego | None] = {}
        # one lock per origin so concurrent crawl tasks fetch each robots.txt only once
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self, client: httpx.AsyncClient, url: str, user_agent: str) -> bool:
        """Fetch and cache the robots.txt governing ``url``, unless it is cached already.

        True when this call made the request (a polite crawl counts it against the host).
        """
        home = origin(url)
        if home in self._rules:
            return False
        async with self._locks.setdefault(home, asyncio.Lock()):
            if home not in self._rules:  # another task may have loaded it while we waited
                self._rules[home] = await self._download(client, home, user_agent)
                return True
        return False

    async def allowed(self, client: httpx.AsyncClient, url: str, user_agent: str) -> bool:
        """True when robots.txt lets ``user_agent`` fetch ``url`` (fetching robots.txt once)."""
        await self.load(client, url, user_agent)
        rules = self._rules[origin(url)]
        return rules is None or rules.can_fetch(url, user_agent)

    def crawl_delay(self, url: str, user_agent: str) -> float | None:
        """The Crawl-delay for ``url``'s host in seconds; None if none (or not loaded yet)."""
        rules = self._rules.get(origin(url))
        return None if rules is None else rules.crawl_delay(user_agent)

    def sitemaps(self, url: str) -> list[str]:
        """The Sitemap URLs listed in ``url``'s robots.txt; [] if none (or not loaded yet)."""
        rules = self._rules.get(origin(url))
        return [] if rules is None else list(rules.sitemaps)

    async def _download(
        self, client: httpx.AsyncClient, home: str, user_agent: str
    ) -> Protego | None:
        robots_url = home + "/robots.txt"
        try:
            # a short timeout and no retries: robots.txt must never stall the crawl; the
            # deadline covers the whole download, as a drip never trips a per-read timeout;
            # redirects are followed (robots.txt often moves from http to https)
            async with asyncio.timeout(self.timeout), client.stream(
                "GET",
                robots_url,
                headers={"User-Agent": user_agent, "Accept-Encoding": CODINGS},
                timeout=self.timeout,
                follow_redirects=True,
            ) as response:
                if response.status_code >= 400:
                    log.info(
                        "robots.txt %s: HTTP %d, allowing all", robots_url, response.status_code
                    )
                    return None
                # raw bytes, inflated by hand (scraper.web): a bomb stops at the cap
                body = Inflater(response.headers.get("Content-Encoding", ""), self.max_bytes)
                async for chunk in response.aiter_raw():
                    if not body.feed(chunk):  # parse what fits, ignore the rest
                        break
        except (httpx.HTTPError, BadCoding) as exc:
            log.info("robots.txt %s unreachable or unreadable (%s), allowing all", robots_url, exc)
            return None
        except TimeoutError:
            log.info("robots.txt %s not read within %gs, allowing all", robots_url, self.timeout)
            return None
        text = bytes(body.data[: self.max_bytes]).decode("utf-8", errors="replace")
        try:
            return Protego.parse(text)
        except Exception as exc:  # noqa: BLE001 -- a weird robots.txt must not stop a crawl
            log.info("robots.txt %s unparsable (%s), allowing all", robots_url, exc)
            return None
