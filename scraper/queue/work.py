"""A worker's side of a host task: every request, politely, and extraction; no database.

``run_host_task`` reads the feeds and sitemaps the task names, fetches its URLs and
extracts them, and returns a ``HostResult``; what the archive must decide (identity,
`scraper forget`, versions) is left to the coordinator (``scraper.queue.coordinate``).

Politeness: every request the client sends (robots.txt, feeds, sitemaps, pages, retries,
redirect hops) passes ``PoliteTransport``, which waits for the host's turn in a ``Pacer``:
the host's lease (``Claims``, held across machines: ``engine.HostLeases``) and then the delay
since the last request to it, stretched to robots.txt's Crawl-delay.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from typing import Any, Protocol

import httpx

from ..crawl import MAX_CRAWL_DELAY, ROUTINE_SITEMAPS
from ..discover import discover
from ..fetch import FetchPolicy, fetch, policy_for
from ..identity import check_http_url
from ..models import ExtractError, Outcome, ScraperError
from ..pipeline import Extractor, extract_inline
from ..robots import Robots
from ..sites import Site, site_named
from ..store import utc_now
from .messages import HostResult, HostTask, Job, UrlResult

log = logging.getLogger("scraper.queue")

ROBOTS_TTL = 900.0  # s a worker keeps robots.txt rules: about one cron period

class Claims(Protocol):
    """Hosts held across machines (``engine.HostLeases``)."""

    async def claim(self, host: str) -> float:
        """Wait for the host's lease; the seconds the last holder's delay still asks."""

    def held(self, host: str) -> bool:
        """False once the lease has lapsed (this worker stalled): claim it again."""


class Unshared:
    """Claims for one process alone (tests, a local run): every host is free at once."""

    async def claim(self, host: str) -> float:
        return 0.0

    def held(self, host: str) -> bool:
        return True


class Pacer:
    """Per host: the lease first, then at least ``delay`` seconds between request starts."""

    def __init__(self, delay: float, claims: Claims,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.default_delay = delay
        self.delays: dict[str, float] = {}
        self._claims = claims
        self._sleep = sleep
        self._next: dict[str, float] = {}  # host → monotonic time of its next allowed start
        self._locks: dict[str, asyncio.Lock] = {}

    def delay(self, host: str) -> float:
        return self.delays.get(host, self.default_delay)

    def stretch(self, host: str, seconds: float | None) -> None:
        """robots.txt's Crawl-delay, when longer than the delay (capped as a local crawl)."""
        if seconds and seconds > self.delay(host):
            self.delays[host] = min(seconds, max(MAX_CRAWL_DELAY, self.default_delay))

    async def turn(self, host: str) -> None:
        """Wait until a request to ``host`` may start; the next one waits the delay."""
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            if host not in self._next or not self._claims.held(host):
                left = await self._claims.claim(host)
                self._next[host] = max(self._next.get(host, 0.0), time.monotonic() + left)
            # a loop: sent() may push the time back while we wait
            while (wait := self._next[host] - time.monotonic()) > 0:
                await self._sleep(wait)
            self._next[host] = time.monotonic() + self.delay(host)

    def sent(self, host: str) -> None:
        """The request has left (its head is written): the delay counts from now too.

        The first request of a client spends tens of milliseconds setting up before its
        bytes leave; counted from its turn only, the host would see the next one early.
        """
        self._next[host] = max(self._next.get(host, 0.0), time.monotonic() + self.delay(host))

    def hosts(self) -> dict[str, float]:
        """The hosts claimed, each with the seconds its delay still runs (for the release)."""
        now = time.monotonic()
        return {host: max(0.0, at - now) for host, at in self._next.items()}


class PoliteTransport(httpx.AsyncBaseTransport):
    """Every request waits its host's turn in the pacer, whatever sent it."""

    def __init__(self, pacer: Pacer, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.pacer = pacer
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        await self.pacer.turn(host)
        traced = request.extensions.get("trace")

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event.endswith("send_request_headers.complete"):
                self.pacer.sent(host)
            if traced is not None:
                await traced(event, info)

        request.extensions = {**request.extensions, "trace": trace}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def task_policy(site: Site, task: HostTask) -> FetchPolicy:
    """The fetch policy the coordinator resolved for the site; the pacer does the spacing."""
    policy = policy_for(site)
    agent = task.user_agents.get(site.name)
    return replace(policy, user_agent=agent or policy.user_agent, delay=0.0)


async def run_host_task(task: HostTask, client: httpx.AsyncClient, pacer: Pacer, *,
                        extractor: Extractor = extract_inline, extractor_id: Callable[[Site], str],
                        robots: Robots | None = None) -> HostResult:
    """Discover and fetch the task's work; jobs not started within ``task.max_time`` come
    back as ``left``, for the coordinator to send again."""
    deadline = time.monotonic() + task.max_time
    robots = robots or Robots()
    links: dict[str, list[dict[str, Any]]] = {}
    failed: dict[str, str] = {}
    for name in task.discover:
        site = site_named(name)
        try:
            found = await asyncio.wait_for(discover(
                client, site, task_policy(site, task), robots=robots,
                max_sitemaps=ROUTINE_SITEMAPS), max(1.0, deadline - time.monotonic()))
            links[name] = [asdict(link) for link in found]
        except (ScraperError, TimeoutError) as err:
            failed[name] = str(err) or "did not finish within the task's time"
    urls: list[UrlResult] = []
    left: list[Job] = []
    slots = asyncio.Semaphore(max(1, task.concurrency))

    async def one(job: Job) -> None:
        async with slots:
            if time.monotonic() >= deadline:
                left.append(job)
                return
            site = site_named(job.site)
            policy = task_policy(site, task)
            host = httpx.URL(job.url).host
            if policy.respect_robots:
                await robots.load(client, job.url, policy.user_agent)
                pacer.stretch(host, robots.crawl_delay(job.url, policy.user_agent))
            left_s = max(1.0, deadline - time.monotonic())
            policy = replace(policy, total_timeout=min(policy.total_timeout or left_s, left_s))
            urls.append(await fetch_one(client, job, site, policy, robots, extractor,
                                        extractor_id))

    await asyncio.gather(*(one(job) for job in task.jobs))
    return HostResult(task_id=task.id, host=task.host, schema=task.schema, code=task.code,
                      urls=tuple(urls), links=links, discovery_failed=failed, left=tuple(left))


async def fetch_one(client: httpx.AsyncClient, job: Job, site: Site, policy: FetchPolicy,
                    robots: Robots | None, extractor: Extractor,
                    extractor_id: Callable[[Site], str]) -> UrlResult:
    """Fetch and extract one URL as ``pipeline.archive_url`` does, storing nothing."""
    started, clock = utc_now(), time.monotonic()
    page = None

    def elapsed() -> int:
        return round((time.monotonic() - clock) * 1000)

    try:
        url = check_http_url(job.url)
        page = await fetch(client, url, policy, robots=robots, etag=job.etag,
                           last_modified=job.last_modified)
        raw_hash = hashlib.sha256(page.raw).hexdigest() if page.raw else None
        if job.known and (page.not_modified or (raw_hash and raw_hash == job.raw_hash)):
            return UrlResult(job, "same", started, elapsed(), status=page.status,
                             attempts=page.attempts, final_url=page.final_url,
                             outcome=Outcome.NOT_MODIFIED if page.not_modified
                             else Outcome.UNCHANGED, etag=page.etag,
                             last_modified=page.last_modified)
        try:
            article = await extractor(page.html, page.final_url, site)
        except ScraperError:
            raise
        except Exception as exc:  # a bug in an adapter, a dead extraction process
            log.debug("extraction of %s failed", url, exc_info=True)
            raise ExtractError(f"extraction failed on {url}: {type(exc).__name__}: {exc}") from exc
        return UrlResult(job, "page", started, elapsed(), status=page.status,
                         attempts=page.attempts, final_url=page.final_url, article=article,
                         page=replace(page, html=""), raw_hash=raw_hash,
                         extractor=extractor_id(site))
    except ScraperError as err:
        status = getattr(err, "status", None) or (page.status if page else None)
        return UrlResult(job, "failed", started, elapsed(), status=status,
                         attempts=(page.attempts if page else None)
                         or getattr(err, "attempts", None) or None,
                         final_url=page.final_url if page else None, outcome=err.outcome,
                         error=" ".join(str(err).split()))


def runner(extractor: Extractor = extract_inline,
           transport: httpx.AsyncBaseTransport | None = None) -> Callable[..., Any]:
    """The worker's ``run(task, claims)``: a polite client per task; returns the result and
    the seconds each claimed host's delay still runs."""
    from ..extract import extractor_id
    from ..fetch import make_client

    # robots.txt is read once per ROBOTS_TTL, not once per task (a host has several a run)
    robots, since = Robots(), time.monotonic()

    async def run(task: HostTask, claims: Claims) -> tuple[HostResult, dict[str, float]]:
        nonlocal robots, since
        if time.monotonic() - since > ROBOTS_TTL:
            robots, since = Robots(), time.monotonic()
        pacer = Pacer(task.delay, claims)
        async with make_client(policy_for(None), transport=PoliteTransport(pacer, transport)
                               ) as client:
            result = await run_host_task(task, client, pacer, extractor=extractor,
                                         extractor_id=extractor_id, robots=robots)
        return result, pacer.hosts()

    return run
