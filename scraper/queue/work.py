"""A worker's side of a host task: every request, politely, and extraction; no database.

``run_host_task`` reads the feeds and sitemaps the task names, fetches its URLs and
extracts them, and returns a ``HostResult``; what the archive must decide (identity,
`scraper forget`, versions) is left to the coordinator (``scraper.queue.coordinate``).

Politeness is the local crawl's: every request (robots.txt, feeds, sitemaps, pages) takes a
turn of its host's gate (``scraper.hosts``: the delay, robots.txt's Crawl-delay). Across
machines, ``LeasedGates`` first waits for the host's lease (``Claims``: ``engine.HostLeases``)
and for what the last holder's delay still asks.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any, Protocol

import httpx

from ..crawl import ROUTINE_SITEMAPS
from ..discover import discover
from ..fetch import HTML_BYTES, FetchPolicy, fetch, make_client, policy_for
from ..hosts import Gates, HostGate
from ..identity import check_http_url
from ..models import ExtractError, Outcome, Page, ScraperError
from ..pipeline import Extractor, extract_inline
from ..pools import host_pools
from ..robots import Robots
from ..sites import Site, site_named
from ..store import utc_now
from .messages import HostResult, HostTask, Job, UrlResult

log = logging.getLogger("scraper.queue")


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


class LeasedGates(Gates):
    """The gates of one task: a host's first turn (and any after its lease lapsed) waits for
    the host's lease, and for what the previous holder's delay still asks."""

    def __init__(self, client: httpx.AsyncClient, robots: Robots, claims: Claims,
                 **kwargs: Any) -> None:
        super().__init__(client, robots, **kwargs)
        self.claims = claims
        self.claimed: set[str] = set()
        self._claiming: dict[str, asyncio.Lock] = {}

    async def enter(self, gate: HostGate) -> None:
        if gate.host not in self.claimed or not self.claims.held(gate.host):
            async with self._claiming.setdefault(gate.host, asyncio.Lock()):
                if gate.host not in self.claimed or not self.claims.held(gate.host):
                    left = await self.claims.claim(gate.host)
                    self.claimed.add(gate.host)
                    gate.next_start = max(gate.next_start, self.clock() + left)
        await super().enter(gate)

    def delays_left(self) -> dict[str, float]:
        """Per host claimed, the seconds before its next request may start (the release)."""
        now = self.clock()
        return {host: max(0.0, self.gate(f"http://{host}/").next_start - now)
                for host in self.claimed}


def task_policy(site: Site, task: HostTask) -> FetchPolicy:
    """The fetch policy the coordinator resolved for the site, at the task's delay."""
    policy = policy_for(site)
    agent = task.user_agents.get(site.name)
    return replace(policy, user_agent=agent or policy.user_agent, delay=task.delay)


async def run_host_task(task: HostTask, client: httpx.AsyncClient, gates: Gates, *,
                        extractor: Extractor = extract_inline,
                        extractor_id: Callable[[Site], str]) -> HostResult:
    """Discover and fetch the task's work; jobs not started within ``task.max_time`` come
    back as ``left``, for the coordinator to send again."""
    deadline = time.monotonic() + task.max_time
    robots = gates.robots
    links: dict[str, list[dict[str, Any]]] = {}
    failed: dict[str, str] = {}
    for name in task.discover:
        site = site_named(name)
        try:
            found = await asyncio.wait_for(discover(
                client, site, task_policy(site, task), robots=robots, gates=gates,
                max_sitemaps=ROUTINE_SITEMAPS), max(1.0, deadline - time.monotonic()))
            links[name] = [asdict(link) for link in found]
        except (ScraperError, TimeoutError) as err:
            failed[name] = str(err) or "did not finish within the task's time"
    urls: list[UrlResult] = []
    left: list[Job] = []
    # each site's adapter and policy once per task, not per URL
    of_site = {name: (site, task_policy(site, task))
               for name in {job.site for job in task.jobs} for site in [site_named(name)]}

    async def one(job: Job) -> None:
        site, policy = of_site[job.site]
        gate = gates.gate(job.url, task.delay, task.concurrency)
        if policy.respect_robots and robots is not None:
            why = await gates.ready(gate, job.url, policy.user_agent)
            if why:  # robots.txt could not be read: not tried, the next run does it
                urls.append(UrlResult(job, "skipped", utc_now(), 0, outcome=Outcome.BLOCKED,
                                      error=why))
                return
        if gate.closed or time.monotonic() >= deadline:
            left.append(job)
            return
        async with gates.turn(gate):
            if time.monotonic() >= deadline:
                left.append(job)
                return
            left_s = max(1.0, deadline - time.monotonic())
            policy = replace(policy, total_timeout=min(policy.total_timeout or left_s, left_s))
            result = await fetch_one(client, job, site, policy, robots, extractor,
                                     extractor_id)
        gate.count(result.status, job.url)
        urls.append(result)

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
                           last_modified=job.last_modified, accept=HTML_BYTES)
        raw_hash = hashlib.sha256(page.raw).hexdigest() if page.raw else None
        if job.known and (page.not_modified or (raw_hash and raw_hash == job.raw_hash)):
            return UrlResult(job, "same", started, elapsed(), status=page.status,
                             attempts=page.attempts, final_url=page.final_url,
                             outcome=Outcome.NOT_MODIFIED if page.not_modified
                             else Outcome.UNCHANGED, etag=page.etag,
                             last_modified=page.last_modified)
        try:
            article = await extractor(page, site)
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


class OldestFirst:
    """Extraction jobs go to the pool oldest task first, at most ``ahead`` at a time.

    A worker holds up to ``--hosts`` tasks. Fed first come, first served, a busy pool
    shares itself among all of them, so they all end together, late, at the end of the
    run too: one worker then still holds several tasks' worth of pages while another,
    done, has nothing left to take. Oldest first, tasks end one by one and free their slot
    for the next task on the stream, and ``room`` keeps a worker whose processes are busy
    from taking more: the work left in each worker's hands at the end is about one task,
    and results reach the coordinator all along the run.
    """

    def __init__(self, extractor: Extractor, ahead: int) -> None:
        self.extractor, self.ahead = extractor, max(1, ahead)
        self.running = 0
        self.waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self.fresh: set[float] = set()  # tasks that have not asked for extraction yet
        self.reserved = 0  # tasks taken from the stream, on their way to for_task
        self.order = itertools.count()
        self.idle = asyncio.Event()
        self.idle.set()

    async def room(self) -> None:
        """Return once a new task would not just wait behind the ones in hand (better left
        on the stream for a worker with a free process): no job waits for a slot, and
        while every slot is taken, no task taken is still on its way to its first page."""
        # checked again on waking: one step may set and clear it (a task that reaches its
        # runner gives back its reservation, then counts as fresh), and Event.wait returns
        # once it was set, whatever it is now
        while True:
            await self.idle.wait()
            if self.idle.is_set():
                return

    def reserve(self) -> None:
        """A task was taken from the stream: on its way from now, before ``for_task``."""
        self.reserved += 1
        self._update()

    def unreserve(self) -> None:
        """A reserved task reached ``for_task`` (counted there) or ended without it."""
        self.reserved = max(0, self.reserved - 1)
        self._update()

    def _update(self) -> None:
        if not self.waiting and (self.running < self.ahead
                                 or not (self.fresh or self.reserved)):
            self.idle.set()
        else:
            self.idle.clear()

    def for_task(self, rank: float) -> Extractor:
        """The extractor of a task started at ``rank`` (smaller: served first); call
        ``done(rank)`` when the task ends."""
        self.fresh.add(rank)
        self._update()

        async def extract(page: Page, site: Site) -> Any:
            self.fresh.discard(rank)
            if self.running < self.ahead:
                self.running += 1
                self._update()
            else:
                ready = asyncio.get_running_loop().create_future()
                entry = (rank, next(self.order), ready)
                heapq.heappush(self.waiting, entry)
                self._update()
                try:
                    await ready  # the slot of a job that ended is handed over (_next)
                except asyncio.CancelledError:
                    if ready.done() and not ready.cancelled():
                        self._next()  # handed a slot, then cancelled: pass it on
                    elif entry in self.waiting:
                        self.waiting.remove(entry)
                        heapq.heapify(self.waiting)
                        self._update()
                    raise
            try:
                return await self.extractor(page, site)
            finally:
                self._next()

        return extract

    def done(self, rank: float) -> None:
        """The task of ``rank`` ended (a task with nothing to extract is fresh until then)."""
        self.fresh.discard(rank)
        self._update()

    def _next(self) -> None:
        """A slot is free: to the oldest task's waiting job, else back to the count."""
        while self.waiting:
            _, _, ready = heapq.heappop(self.waiting)
            if not ready.done():  # not cancelled meanwhile
                ready.set_result(None)
                self._update()
                return
        self.running -= 1
        self._update()


class _Kept(httpx.AsyncBaseTransport):
    """A transport lent to a task's client: closing the client keeps it (tests)."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        pass  # Runner.aclose closes it, at the worker's end


class Runner:
    """The worker's ``run(task, claims)``: a client, gates and connection pool per task,
    one TLS context for the worker's life; returns the result and, per host claimed, the
    seconds its delay still asks.

    The TLS context is made once: loading the CA bundle cost about 15 ms a task, 15 % of a
    worker's event loop in the cpu benchmark. The pool is the task's own (its host's), not
    the worker's: httpcore scans every connection of a pool for each request, and one pool
    shared by a worker's hundreds of hosts would cost tens of ms a request.
    ``ahead``: extraction processes + 1, to serve tasks oldest first (``OldestFirst``);
    0 extracts as the jobs come. ``transport`` (tests) replaces every task's pool.
    """

    def __init__(self, extractor: Extractor = extract_inline,
                 transport: httpx.AsyncBaseTransport | None = None, *,
                 ahead: int = 0) -> None:
        self.extractor = OldestFirst(extractor, ahead) if ahead else None
        self.plain = extractor
        self.transport = transport
        self.tls: ssl.SSLContext | None = None
        self.tasks = itertools.count()

    def _pool(self) -> httpx.AsyncBaseTransport:
        if self.transport is not None:
            return _Kept(self.transport)
        if self.tls is None:
            self.tls = httpx.create_ssl_context()
        return host_pools(self.tls)  # small pools, as a local crawl's hosts have

    async def __call__(self, task: HostTask, claims: Claims) -> tuple[HostResult,
                                                                      dict[str, float]]:
        from ..extract import extractor_id

        rank = next(self.tasks)
        extractor = self.extractor.for_task(rank) if self.extractor else self.plain
        # robots.txt per task: a Robots takes its turns from one run's gates
        robots = Robots()
        try:
            async with make_client(policy_for(None), transport=self._pool()) as client:
                gates = LeasedGates(client, robots, claims, default_delay=task.delay)
                try:
                    result = await run_host_task(task, client, gates, extractor=extractor,
                                                 extractor_id=extractor_id)
                finally:
                    await gates.aclose()
        finally:
            if self.extractor:
                self.extractor.done(rank)
        return result, gates.delays_left()

    async def room(self) -> None:
        """Return when the worker should take another task (``OldestFirst.room``)."""
        if self.extractor is not None:
            await self.extractor.room()

    def reserve(self) -> None:
        """A task was taken from the stream (``OldestFirst.reserve``)."""
        if self.extractor is not None:
            self.extractor.reserve()

    def unreserve(self) -> None:
        """It reached this runner, or ended without it (``OldestFirst.unreserve``)."""
        if self.extractor is not None:
            self.extractor.unreserve()

    async def aclose(self) -> None:
        if self.transport is not None:
            await self.transport.aclose()


def runner(extractor: Extractor = extract_inline,
           transport: httpx.AsyncBaseTransport | None = None, *, ahead: int = 0) -> Runner:
    """The worker's ``run(task, claims)`` (``Runner``); close it with ``aclose``."""
    return Runner(extractor, transport, ahead=ahead)
