"""Politeness per host: one gate for every request to a host, and the scheduler of many hosts.

    >>> gates = Gates(client, robots, sleep=pause)
    >>> gate = gates.gate(url, delay=1.0)
    >>> await gates.ready(gate, url, agent)   # robots.txt first, through the gate
    >>> async with gates.turn(gate):          # one request, spaced by the host's delay
    ...     await fetch(client, url, ...)
    >>> await gates.serve(run, triage=..., prepare=..., expire=...)  # the pages' frontiers

Each host has one ``HostGate``: at most ``concurrency`` requests in flight and at least
``delay`` seconds (or robots.txt's Crawl-delay, capped) between two request starts (at
concurrency 1: from the end of one request to the start of the next), for
robots.txt, feeds, sitemaps and pages alike: a run's discovery and its pages share the
gates. A robots.txt is read before any other request to its origin; one that cannot be
read keeps the origin closed for the run (``scraper.robots``).

Hosts that wait for their next start sit in one timer heap, served by one timer task, so
thousands of hosts cost one sleep at a time, not one per request. With ``per_host`` each host
gets its own small connection pools (``client_for``, ``scraper.pools``; one TLS context for
all): httpcore's pool scans every connection for every queued request, which over 200 hosts
cost 60 ms of CPU a request in one shared pool. Pages wait in a frontier per host (a deque of jobs, worked by
``scraper.serving``); a job becomes a task only when its host's turn comes, so a run holds as
many tasks as requests in flight, and a slow or throttled host only delays itself.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from .policy import make_client
from .pools import host_pools
from .robots import Robots
from .serving import HELD, Serving, Triage
from .web import host_of

log = logging.getLogger("scraper.hosts")

# consecutive 403/429 answers after which a host is left alone for the rest of the run
REFUSAL_STREAK = 3
# robots.txt Crawl-delay is honoured up to this: a day-long delay would hold the crawl lock
# (and so every later cron run) for days
MAX_CRAWL_DELAY = 60.0


@dataclass(eq=False)
class HostGate:
    """Politeness for one host: ``concurrency`` in flight, ``delay`` between starts."""

    host: str
    delay: float = 0.0
    concurrency: int = 1
    in_flight: int = 0
    next_start: float = 0.0  # time.monotonic() before which no request may start
    last_start: float | None = None  # of the last request (its answer, at concurrency 1)
    answered: float | None = None  # when the last response's head came (own pool only)
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    frontier: deque[Any] = field(default_factory=deque)  # pages waiting (serve)
    client: httpx.AsyncClient | None = None  # over its own pools (Gates per_host)
    preparing: bool = False  # a robots.txt for the frontier's next job is being read
    scheduled: bool = False  # in the timer heap
    refusals: int = 0
    closed: bool = False
    warned: bool = False  # about a capped Crawl-delay

    def stretch(self, delay: float) -> None:
        """Make the delay at least ``delay``, counted from the last start too."""
        if delay > self.delay:
            self.delay = delay
            if self.last_start is not None:
                self.next_start = max(self.next_start, self.last_start + delay)

    def count(self, status: int | None, url: str) -> None:
        """Track a streak of refusals; close the gate when it gets too long."""
        if status in (403, 429):
            self.refusals += 1
            if self.refusals >= REFUSAL_STREAK and not self.closed:
                self.closed = True
                log.warning("%s refused %d requests in a row: leaving it alone for this run",
                            host_of(url), self.refusals)
        else:
            self.refusals = 0


class Gates:
    """The run's gates, one per host, and the timer heap of the hosts waiting for a start."""

    def __init__(self, client: httpx.AsyncClient, robots: Robots | None, *,
                 sleep: Callable[[float], Awaitable[Any]] | None = None,
                 default_delay: float = 0.0, per_host: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.robots = client, robots
        self.per_host = per_host
        self._tls: ssl.SSLContext | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self.sleep = sleep or asyncio.sleep
        self.default_delay = default_delay
        self.clock = clock
        self._gates: dict[str, HostGate] = {}
        self._heap: list[tuple[float, int, HostGate]] = []
        self._seq = itertools.count()
        self._timer: asyncio.Task[None] | None = None
        self._timer_due = math.inf
        self._serving: Serving | None = None
        if robots is not None and robots.turn is None:
            robots.turn = self._robots_turn  # robots.txt passes the gate like any request

    def gate(self, url: str, delay: float | None = None,
             concurrency: int | None = None) -> HostGate:
        """The gate of ``url``'s host; a longer ``delay`` or a ``concurrency`` given apply."""
        host = host_of(url)
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = HostGate(
                host, self.default_delay if delay is None else delay, concurrency or 1)
        else:
            if delay is not None:
                gate.stretch(delay)
            if concurrency:
                gate.concurrency = concurrency
        return gate

    def client_for(self, gate: HostGate) -> httpx.AsyncClient:
        """The client for requests to ``gate``'s host: its own pools, or the shared client."""
        if not self.per_host:
            return self.client
        if gate.client is None:
            if self._tls is None:
                self._tls = httpx.create_ssl_context()  # loading the CA bundle costs ~20 ms
            gate.client = make_client(transport=host_pools(self._tls))

            async def answered(response: httpx.Response) -> None:
                gate.answered = self.clock()  # the host has surely seen the request by now

            gate.client.event_hooks = {"request": [], "response": [answered]}
        return gate.client

    def retire(self, gate: HostGate) -> None:
        """The host has nothing left to do: close its pools (their sockets) now."""
        client, gate.client = gate.client, None
        if client is not None:
            task = asyncio.ensure_future(client.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def ready(self, gate: HostGate, url: str, agent: str) -> str | None:
        """Read ``url``'s robots.txt (through the gate) and apply its Crawl-delay; returns
        why nothing may be fetched from that origin this run, or None."""
        if self.robots is None:
            return None
        await self.robots.load(self.client_for(gate), url, agent)
        wanted = self.robots.crawl_delay(url, agent)
        if wanted and wanted > gate.delay:
            if wanted > MAX_CRAWL_DELAY and not gate.warned:
                gate.warned = True
                log.warning("%s asks for a Crawl-delay of %gs; waiting %gs between requests",
                            gate.host, wanted, MAX_CRAWL_DELAY)
            gate.stretch(min(wanted, MAX_CRAWL_DELAY))
        return self.robots.unavailable(url)

    @asynccontextmanager
    async def turn(self, gate: HostGate) -> AsyncIterator[None]:
        """Hold one of the host's slots for one request, started at the host's next start."""
        await self.enter(gate)
        token = HELD.set(HELD.get() | {gate})
        try:
            yield
        finally:
            HELD.reset(token)
            self.leave(gate)

    async def enter(self, gate: HostGate) -> None:
        """Wait for a slot and the host's next start; the caller must ``leave`` after."""
        if not gate.waiters and gate.in_flight < gate.concurrency \
                and gate.next_start <= self.clock():
            self._take(gate)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        gate.waiters.append(waiter)
        self._wake(gate)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.leave(gate)  # the turn came just as the caller gave up: hand it on
            elif waiter in gate.waiters:
                gate.waiters.remove(waiter)
            raise

    def leave(self, gate: HostGate) -> None:
        """A request of the host ended: its slot is free for the next one."""
        gate.in_flight -= 1
        if gate.concurrency == 1 and gate.delay:
            # one at a time: the next waits the delay from this one's answer (or, without
            # one, its end), so the host never sees two requests closer than the delay,
            # whatever a connect or a send cost; not from the end of the job, which waits
            # on the database and the event loop
            now = self.clock()
            answered = gate.answered
            gate.last_start = answered if answered is not None and answered <= now else now
            gate.answered = None
            gate.next_start = max(gate.next_start, gate.last_start + gate.delay)
        self._wake(gate)

    async def aclose(self) -> None:
        """Stop the timer and close the hosts' own pools (the end of a run)."""
        if self._timer is not None:
            self._timer.cancel()
        for gate in self._gates.values():
            self.retire(gate)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def serve(self, run: Callable[[HostGate, Any], Awaitable[None]], *,
                    triage: Callable[[HostGate, Any], Triage],
                    prepare: Callable[[HostGate, Any], Awaitable[None]],
                    expire: Callable[[HostGate], None],
                    deadline: float | None = None) -> None:
        """Work every gate's ``frontier`` until all are empty, each host at its own pace.

        For the next job of a host whose turn has come, ``triage`` says: ``go`` (``run`` it,
        holding the turn), ``prepare`` (await ``prepare`` first, e.g. its robots.txt), or
        ``drop`` (the caller accounted for it; it left the frontier). ``expire`` empties a
        frontier whose next start would come at or after ``deadline``. Errors of ``run``
        end the whole call; cancelling it cancels the requests in flight.
        """
        serving = self._serving = Serving(run, triage, prepare, expire, deadline)
        serving.left = sum(len(g.frontier) for g in self._gates.values())
        for gate in list(self._gates.values()):
            self._wake(gate)
        serving.check()
        try:
            await serving.done
        finally:
            self._serving = None
            for task in list(serving.tasks):
                task.cancel()
            if serving.tasks:
                await asyncio.gather(*serving.tasks, return_exceptions=True)

    # --- the machinery -------------------------------------------------------------------

    def _take(self, gate: HostGate) -> None:
        gate.in_flight += 1
        gate.last_start = self.clock()
        gate.next_start = gate.last_start + gate.delay

    def _wake(self, gate: HostGate) -> None:
        """Hand out every turn of ``gate`` that is free now; put it in the heap otherwise."""
        serving = self._serving
        while gate.in_flight < gate.concurrency:
            if gate.waiters:  # robots.txt, feeds and sitemaps go before the pages
                if gate.next_start > self.clock():
                    self._schedule(gate)
                    return
                waiter = gate.waiters.popleft()
                if not waiter.done():
                    self._take(gate)
                    waiter.set_result(None)
                continue
            if serving is None or not gate.frontier or gate.preparing:
                return
            if not serving.step(self, gate):
                return

    def _schedule(self, gate: HostGate) -> None:
        if gate.scheduled:
            return
        gate.scheduled = True
        heapq.heappush(self._heap, (gate.next_start, next(self._seq), gate))
        if self._timer is None or self._timer.done():
            self._timer = asyncio.ensure_future(self._tick())
        elif gate.next_start < self._timer_due:  # sleeping for a later host: start over
            self._timer.cancel()
            self._timer = asyncio.ensure_future(self._tick())

    async def _tick(self) -> None:
        """The one timer: sleep until the earliest waiting host's start, wake it, repeat."""
        try:
            while self._heap:
                due, _, gate = self._heap[0]
                wait = due - self.clock()
                if wait > 0:
                    self._timer_due = due
                    await self.sleep(wait)
                    self._timer_due = math.inf
                heapq.heappop(self._heap)
                gate.scheduled = False
                if gate.next_start == due:
                    # the sleep is trusted to have waited (a test's sleep returns at once)
                    gate.next_start = min(due, self.clock())
                self._wake(gate)
        except Exception as exc:  # noqa: BLE001 -- a bug here must end the run, not hang it
            if self._serving is not None and not self._serving.done.done():
                self._serving.done.set_exception(exc)
            raise

    @asynccontextmanager
    async def _robots_turn(self, url: str) -> AsyncIterator[None]:
        """The gate for a robots.txt download: its host's, like any other request."""
        gate = self.gate(url)
        if gate not in HELD.get():
            async with self.turn(gate):
                yield
            return
        # asked inside a turn of the same host (a redirect to its other origin): the slot
        # is ours already, so only the spacing is kept
        wait = gate.next_start - self.clock()
        if wait > 0:
            await self.sleep(wait)
        gate.last_start = self.clock()
        gate.next_start = gate.last_start + gate.delay
        yield
