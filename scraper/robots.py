"""robots.txt: fetched once per origin, parsed with Protego, asked before every fetch.

    >>> robots = Robots()
    >>> await robots.allowed(client, "https://example.com/news/1", user_agent)
    True
    >>> robots.crawl_delay("https://example.com/news/1", user_agent)  # after allowed()/load()
    >>> robots.unavailable("https://example.com/news/1")  # None, or why nothing may be fetched

What each answer means (RFC 9309 section 2.3.1):

- 2xx: the rules apply (the body is cut at ``max_bytes``, as Google does at 500 KiB; a
  gzip or deflate body, raw or zlib-wrapped, is inflated only that far, so a bomb costs
  no more).
- 4xx, including 401/403: there are no rules, every URL is allowed.
- 5xx (and 429), a network error, or no complete robots.txt within ``timeout`` seconds (a
  server that drips it byte by byte), each after ``attempts`` tries (a refused connection
  two, a host name that does not exist one, as for pages): the robots.txt is
  *unreachable*, and the RFC's "disallow all" applies for this object's life (one run):
  ``allowed`` is False and ``unavailable`` says why, host first (``cannot reach HOST to
  read its robots.txt (why); not fetched, try again later``). The crawl fetches none of
  that host's URLs this run: each is a ``blocked`` fetch row, and a known article waits for
  its next check. A robots.txt not read yet is never guessed at: callers wait for it.

A crawl gives ``turn``: each download attempt then passes the host's politeness gate like
any other request to that host (``scraper.hosts``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import httpx
from protego import Protego

from .web import CODINGS, BadCoding, Inflater, origin

log = logging.getLogger(__name__)

__all__ = ["Robots"]

REFUSED_WAIT = 0.5

Turn = Callable[[str], AbstractAsyncContextManager[Any]]


class _Unreachable:
    """The verdict on an origin whose robots.txt could not be read: nothing is fetched."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Retryable(Exception):
    """Internal: an attempt that may succeed later (5xx, 429, a network error, a drip).

    ``reached``: the host answered (a status, a drip), so the robots.txt, not the host, is
    what could not be read; ``again``: False when no retry can help (an unknown host).
    """

    def __init__(self, why: str, *, reached: bool, again: bool = True) -> None:
        super().__init__(why)
        self.reached, self.again = reached, again


class Robots:
    """robots.txt rules per scheme+host(+port), fetched once and kept for this object's life."""

    def __init__(self, *, max_bytes: int = 500 * 1024, timeout: float = 60.0,
                 attempts: int = 3, backoff: float = 2.0,
                 sleep: Callable[[float], Awaitable[Any]] | None = None,
                 turn: Turn | None = None) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout  # per attempt, for the whole body: a drip never trips a read
        self.attempts = attempts
        self.backoff = backoff  # seconds before the 2nd attempt, doubling after
        self.sleep = sleep
        self.turn = turn
        # origin -> parsed rules; None: no rules (allow all); _Unreachable: disallow all
        self._rules: dict[str, Protego | _Unreachable | None] = {}
        # one lock per origin so concurrent tasks fetch each robots.txt only once
        self._locks: dict[str, asyncio.Lock] = {}

    def loaded(self, url: str) -> bool:
        """True when the robots.txt governing ``url`` has been read (or given up on)."""
        return origin(url) in self._rules

    async def load(self, client: httpx.AsyncClient, url: str, user_agent: str) -> bool:
        """Fetch and cache the robots.txt governing ``url``, unless it is cached already.

        True when this call made the request.
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
        if isinstance(rules, _Unreachable):
            return False
        return rules is None or rules.can_fetch(url, user_agent)

    def unavailable(self, url: str) -> str | None:
        """Why nothing may be fetched from ``url``'s origin this run; None if it may."""
        rules = self._rules.get(origin(url))
        return rules.reason if isinstance(rules, _Unreachable) else None

    def crawl_delay(self, url: str, user_agent: str) -> float | None:
        """The Crawl-delay for ``url``'s host in seconds; None if none (or not loaded yet)."""
        rules = self._rules.get(origin(url))
        return rules.crawl_delay(user_agent) if isinstance(rules, Protego) else None

    def sitemaps(self, url: str) -> list[str]:
        """The Sitemap URLs listed in ``url``'s robots.txt; [] if none (or not loaded yet)."""
        rules = self._rules.get(origin(url))
        return list(rules.sitemaps) if isinstance(rules, Protego) else []

    async def _download(self, client: httpx.AsyncClient, home: str,
                        user_agent: str) -> Protego | _Unreachable | None:
        robots_url = home + "/robots.txt"
        why, reached = "", False
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                # a refused connection (a server restarting) is tried again soon, as in fetch
                wait = (REFUSED_WAIT if why == "connection refused"
                        else self.backoff * 2 ** (attempt - 2))
                tries = min(self.attempts, 2) if why == "connection refused" else self.attempts
                log.info("retrying %s in %.1f s (attempt %d of %d): %s", robots_url, wait,
                         attempt, tries, why)
                await (self.sleep or _pause)(wait)
            try:
                async with self.turn(robots_url) if self.turn else nullcontext():
                    return await self._attempt(client, robots_url, user_agent)
            except _Retryable as exc:
                why, reached = str(exc), exc.reached
                if not exc.again or (why == "connection refused" and attempt >= 2):
                    break  # nothing listens, or no such name: another try changes nothing
        # what happened first: the outcome is "blocked", but the site refused nothing
        host = home.partition("://")[2]
        what = (f"cannot read robots.txt of {host}" if reached
                else f"cannot reach {host} to read its robots.txt")
        # INFO (-v): each URL and feed it stops says so already, in a line and a fetches row
        log.info("%s (%s): nothing fetched from %s this run", what, why, home)
        return _Unreachable(f"{what} ({why}); not fetched, try again later")

    async def _attempt(self, client: httpx.AsyncClient, robots_url: str,
                       user_agent: str) -> Protego | None:
        """One GET of robots.txt: the rules, None for a 4xx, or _Retryable."""
        try:
            # the deadline covers the whole download, as a drip never trips a per-read
            # timeout; redirects are followed (robots.txt often moves from http to https)
            async with asyncio.timeout(self.timeout), client.stream(
                "GET",
                robots_url,
                headers={"User-Agent": user_agent, "Accept-Encoding": CODINGS},
                timeout=self.timeout,
                follow_redirects=True,
            ) as response:
                status = response.status_code
                if status == 429 or status >= 500:
                    raise _Retryable(f"HTTP {status}", reached=True)
                if status >= 400:
                    log.info("robots.txt %s: HTTP %d, allowing all", robots_url, status)
                    await _drain(response)
                    return None
                # raw bytes, inflated by hand (scraper.web): a bomb stops at the cap
                body = Inflater(response.headers.get("Content-Encoding", ""), self.max_bytes)
                async for chunk in response.aiter_raw():
                    if not body.feed(chunk):  # parse what fits, ignore the rest
                        break
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # worded and retried as for a page; fetch imports this module, hence here
            from .fetch import describe, refused, unknown_host

            raise _Retryable("connection refused" if refused(exc) else describe(exc),
                             reached=False, again=not unknown_host(exc)) from exc
        except httpx.TransportError as exc:
            from .fetch import describe

            raise _Retryable(describe(exc), reached=True) from exc
        except (httpx.HTTPError, BadCoding) as exc:
            raise _Retryable(str(exc) or type(exc).__name__, reached=True) from exc
        except TimeoutError:
            raise _Retryable(f"not read within {self.timeout:g} s", reached=True) from None
        text = bytes(body.data[: self.max_bytes]).decode("utf-8", errors="replace")
        try:
            return Protego.parse(text)
        except Exception as exc:  # noqa: BLE001 -- a weird robots.txt must not stop a crawl
            log.info("robots.txt %s unparsable (%s), allowing all", robots_url, exc)
            return None


# an error page read to the end (so that its connection serves the host's next request)
# when it says it is at most this long; a longer one goes with its connection
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 1.0


async def _drain(response: httpx.Response) -> None:
    """Read a small error page to its end, best effort: the status has decided already, so
    a body that is cut off, slow or long only costs its connection, never the verdict."""
    try:
        length = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return
    if length > DRAIN_BYTES:
        return
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in response.aiter_raw():
                pass
    except (httpx.HTTPError, TimeoutError):
        pass


async def _pause(seconds: float) -> None:
    """``scraper.fetch.pause``, looked up when needed: a test of a command patches it there."""
    from . import fetch  # fetch imports this module

    await fetch.pause(seconds)
