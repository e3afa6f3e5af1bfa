"""robots.txt: fetched once per origin, parsed with Protego, asked before every fetch.

    >>> robots = Robots()
    >>> await robots.allowed(client, "https://example.com/news/1", user_agent)
    True
    >>> robots.crawl_delay("https://example.com/news/1", user_agent)  # after allowed()/load()

What an unusable robots.txt means (RFC 9309 section 2.3.1):

- 2xx: the rules apply (the body is cut at ``max_bytes``, as Google does at 500 KiB; a
  gzip body is inflated only that far, so a gzip bomb costs no more).
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
import zlib

import httpx
from protego import Protego

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

    async def load(self, client: httpx.AsyncClient, url: str, user_agent: str) -> None:
        """Fetch and cache the robots.txt governing ``url``, unless it is cached already."""
        origin = _origin(url)
        if origin in self._rules:
            return
        async with self._locks.setdefault(origin, asyncio.Lock()):
            if origin not in self._rules:  # another task may have loaded it while we waited
                self._rules[origin] = await self._download(client, origin, user_agent)

    async def allowed(self, client: httpx.AsyncClient, url: str, user_agent: str) -> bool:
        """True when robots.txt lets ``user_agent`` fetch ``url`` (fetching robots.txt once)."""
        await self.load(client, url, user_agent)
        rules = self._rules[_origin(url)]
        return rules is None or rules.can_fetch(url, user_agent)

    def crawl_delay(self, url: str, user_agent: str) -> float | None:
        """The Crawl-delay for ``url``'s host in seconds; None if none (or not loaded yet)."""
        rules = self._rules.get(_origin(url))
        return None if rules is None else rules.crawl_delay(user_agent)

    def sitemaps(self, url: str) -> list[str]:
        """The Sitemap URLs listed in ``url``'s robots.txt; [] if none (or not loaded yet)."""
        rules = self._rules.get(_origin(url))
        return [] if rules is None else list(rules.sitemaps)

    async def _download(
        self, client: httpx.AsyncClient, origin: str, user_agent: str
    ) -> Protego | None:
        robots_url = origin + "/robots.txt"
        try:
            # a short timeout and no retries: robots.txt must never stall the crawl; the
            # deadline covers the whole download, as a drip never trips a per-read timeout;
            # redirects are followed (robots.txt often moves from http to https)
            async with asyncio.timeout(self.timeout), client.stream(
                "GET",
                robots_url,
                headers={"User-Agent": user_agent},
                timeout=self.timeout,
                follow_redirects=True,
            ) as response:
                if response.status_code >= 400:
                    log.info(
                        "robots.txt %s: HTTP %d, allowing all", robots_url, response.status_code
                    )
                    return None
                # raw bytes, inflated by hand: httpx inflates a whole network chunk at once,
                # and 64 KiB of gzip can hold 64 MiB
                inflate = _inflater(response.headers.get("Content-Encoding", ""))
                body = bytearray()
                async for chunk in response.aiter_raw():
                    room = self.max_bytes - len(body)  # > 0: we stop once it is full
                    body += inflate.decompress(chunk, room) if inflate else chunk
                    if len(body) >= self.max_bytes:  # parse what fits, ignore the rest
                        break
        except (httpx.HTTPError, zlib.error, ValueError) as exc:
            log.info("robots.txt %s unreachable or unreadable (%s), allowing all", robots_url, exc)
            return None
        except TimeoutError:
            log.info("robots.txt %s not read within %gs, allowing all", robots_url, self.timeout)
            return None
        text = bytes(body[: self.max_bytes]).decode("utf-8", errors="replace")
        try:
            return Protego.parse(text)
        except Exception as exc:  # noqa: BLE001 -- a weird robots.txt must not stop a crawl
            log.info("robots.txt %s unparsable (%s), allowing all", robots_url, exc)
            return None


def _inflater(content_encoding: str) -> zlib._Decompress | None:
    """A zlib decompressor for a gzip or deflate body; None for identity.

    ValueError for a coding we never asked for (we send ``Accept-Encoding: gzip, deflate``).
    """
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return None
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib or gzip header, detected
    raise ValueError(f"unsupported Content-Encoding {content_encoding!r}")


def _origin(url: str) -> str:
    """``scheme://host[:port]``, the unit a robots.txt governs."""
    u = httpx.URL(url)
    host = u.raw_host.decode("ascii")
    host = f"[{host}]" if ":" in host else host  # IPv6 literal
    port = f":{u.port}" if u.port is not None else ""
    return f"{u.scheme}://{host}{port}"
