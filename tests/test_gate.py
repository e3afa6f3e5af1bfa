"""scraper.hosts: one gate per host, one timer for all waiting hosts, a frontier per host.

Time is virtual: ``Clock.sleep`` moves ``Clock.now`` on by what it was asked, so spacing is
checked exactly and no test waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from scraper.hosts import Gates, HostGate
from scraper.pools import Pools


class Clock:
    """A virtual monotonic clock whose sleep advances it once the ready tasks have run."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # what is ready to run runs first, at the present time; a sleep cancelled
        # meanwhile (the timer restarting for an earlier host) never moves the clock
        target = self.now + seconds
        self.sleeps.append(seconds)
        for _ in range(20):
            await asyncio.sleep(0)
        self.now = max(self.now, target)


def gates_on(clock: Clock) -> Gates:
    return Gates(httpx.AsyncClient(), None, sleep=clock.sleep, clock=clock)


def starts_by_host(log: list[tuple[str, float]]) -> dict[str, list[float]]:
    by: dict[str, list[float]] = {}
    for host, when in log:
        by.setdefault(host, []).append(when)
    return by


def test_turns_of_one_host_are_spaced_by_its_delay_and_hosts_do_not_wait_for_each_other(
) -> None:
    clock = Clock()
    log: list[tuple[str, float]] = []

    async def go() -> None:
        gates = gates_on(clock)
        slow = gates.gate("http://slow.example/", delay=10)
        fast = gates.gate("http://fast.example/", delay=1)

        async def request(gate: HostGate) -> None:
            async with gates.turn(gate):
                log.append((gate.host, clock.now))

        await asyncio.gather(*(request(g) for g in [slow] * 3 + [fast] * 5))
        await gates.aclose()

    asyncio.run(go())
    by = starts_by_host(log)
    assert by["slow.example"] == [100, 110, 120]
    # the fast host is done long before the slow one's second turn
    assert by["fast.example"] == [100, 101, 102, 103, 104]


def test_one_timer_serves_every_waiting_host() -> None:
    clock = Clock()
    log: list[tuple[str, float]] = []

    async def go() -> None:
        gates = gates_on(clock)
        hosts = [gates.gate(f"http://h{n}.example/", delay=2) for n in range(200)]

        async def request(gate: HostGate) -> None:
            async with gates.turn(gate):
                log.append((gate.host, clock.now))

        await asyncio.gather(*(request(g) for g in hosts * 3))
        await gates.aclose()

    asyncio.run(go())
    assert len(log) == 600
    assert all(times == [100, 102, 104] for times in starts_by_host(log).values())
    # 200 hosts due at the same moments: one sleep per moment, not one per request
    assert clock.sleeps == [2, 2]


def test_concurrency_allows_that_many_in_flight_and_no_more() -> None:
    clock = Clock()
    peak = 0

    async def go() -> None:
        nonlocal peak
        gates = gates_on(clock)
        gate = gates.gate("http://busy.example/", delay=0, concurrency=4)
        release = asyncio.Event()

        async def request() -> None:
            nonlocal peak
            async with gates.turn(gate):
                peak = max(peak, gate.in_flight)
                await release.wait()

        tasks = [asyncio.ensure_future(request()) for _ in range(10)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert gate.in_flight == 4 and len(gate.waiters) == 6
        release.set()
        await asyncio.gather(*tasks)
        assert gate.in_flight == 0

    asyncio.run(go())
    assert peak == 4


def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    clock = Clock()

    async def go() -> list[str]:
        gates = gates_on(clock)
        gate = gates.gate("http://one.example/", delay=0)
        got: list[str] = []
        hold = asyncio.Event()

        async def request(name: str) -> None:
            async with gates.turn(gate):
                got.append(name)
                if name == "first":
                    await hold.wait()

        first = asyncio.ensure_future(request("first"))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(request("second"))
        third = asyncio.ensure_future(request("third"))
        await asyncio.sleep(0)
        second.cancel()
        hold.set()
        await asyncio.gather(first, third)
        assert second.cancelled() and gate.in_flight == 0
        return got

    assert asyncio.run(go()) == ["first", "third"]


def test_a_longer_delay_counts_from_the_last_start() -> None:
    # robots.txt's Crawl-delay is learnt after robots.txt was requested: the next request
    # still waits the whole Crawl-delay from then
    clock = Clock()

    async def go() -> list[float]:
        gates = gates_on(clock)
        gate = gates.gate("http://a.example/", delay=0)
        starts = []
        async with gates.turn(gate):
            starts.append(clock.now)
        gate.stretch(30)
        async with gates.turn(gate):
            starts.append(clock.now)
        await gates.aclose()
        return starts

    assert asyncio.run(go()) == [100, 130]


def test_serve_works_each_frontier_at_its_pace_and_holds_a_task_per_request_only() -> None:
    clock = Clock()
    log: list[tuple[str, float]] = []
    tasks_seen = 0

    async def go() -> None:
        nonlocal tasks_seen
        gates = gates_on(clock)
        for n in range(50):
            gates.gate(f"http://h{n}.example/", delay=2).frontier.extend(range(4))
        throttled = gates.gate("http://throttled.example/", delay=60)
        throttled.frontier.extend(range(3))

        async def run(gate: HostGate, job: int) -> None:
            nonlocal tasks_seen
            tasks_seen = max(tasks_seen, len(asyncio.all_tasks()))
            log.append((gate.host, clock.now))

        await gates.serve(run, triage=lambda g, j: "go", prepare=_never, expire=_never_sync)
        await gates.aclose()

    asyncio.run(go())
    by = starts_by_host(log)
    assert by.pop("throttled.example") == [100, 160, 220]
    assert all(times == [100, 102, 104, 106] for times in by.values())
    # the main task, the timer and the requests of one moment, never a task per queued URL
    assert tasks_seen <= 2 + 51


def test_serve_expires_a_frontier_whose_next_turn_comes_after_the_deadline() -> None:
    clock = Clock()
    expired: list[int] = []
    ran: list[int] = []

    async def go() -> None:
        gates = gates_on(clock)
        gates.gate("http://a.example/", delay=10).frontier.extend([1, 2, 3])

        async def run(gate: HostGate, job: int) -> None:
            ran.append(job)

        await gates.serve(run, triage=lambda g, j: "go", prepare=_never,
                          expire=lambda g: expired.extend(g.frontier), deadline=clock.now + 15)
        await gates.aclose()

    asyncio.run(go())
    assert ran == [1, 2] and expired == [3]


def test_serve_prepares_a_host_before_its_first_job_and_drops_what_triage_drops() -> None:
    clock = Clock()
    events: list[str] = []

    async def go() -> None:
        gates = gates_on(clock)
        gate = gates.gate("http://a.example/", delay=1)
        gate.frontier.extend(["ok-1", "drop-2", "ok-3"])
        ready = False

        def triage(g: HostGate, job: str) -> str:
            if not ready:
                return "prepare"
            return "drop" if job.startswith("drop") else "go"

        async def prepare(g: HostGate, job: str) -> None:
            nonlocal ready
            async with gates.turn(g):  # robots.txt: a request through the gate
                events.append(f"robots@{clock.now:g}")
            ready = True

        async def run(g: HostGate, job: str) -> None:
            events.append(f"{job}@{clock.now:g}")

        await gates.serve(run, triage=triage, prepare=prepare, expire=_never_sync)
        await gates.aclose()

    asyncio.run(go())
    assert events == ["robots@100", "ok-1@101", "ok-3@102"]


def test_an_error_in_a_job_ends_serve_and_cancels_the_others() -> None:
    clock = Clock()

    async def go() -> None:
        gates = gates_on(clock)
        gates.gate("http://a.example/", delay=0).frontier.append("boom")
        gates.gate("http://b.example/", delay=0).frontier.append("hang")

        async def run(gate: HostGate, job: str) -> None:
            if job == "boom":
                raise RuntimeError("a bug")
            await asyncio.Event().wait()

        try:
            await gates.serve(run, triage=lambda g, j: "go", prepare=_never,
                              expire=_never_sync)
        finally:
            await gates.aclose()

    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(go())


async def _never(gate: HostGate, job: object) -> None:
    raise AssertionError("not expected")


def _never_sync(gate: HostGate) -> None:
    raise AssertionError("not expected")


class Body(httpx.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"ok"


def test_a_busy_host_s_requests_go_to_small_pools_least_busy_first() -> None:
    # httpcore polls every idle connection of a pool when a request starts or ends: a pool
    # gets at most `size` requests at once, and another pool opens only when all are full
    started: list[tuple[int, str]] = []
    release = asyncio.Event()

    def make() -> httpx.AsyncBaseTransport:
        number = len(pools.pools)

        async def answer(request: httpx.Request) -> httpx.Response:
            started.append((number, request.url.path))
            await release.wait()
            return httpx.Response(200, stream=Body())  # read from the wire, as a real one

        return httpx.MockTransport(answer)

    pools = Pools(make, size=2)

    async def go() -> None:
        async with httpx.AsyncClient(transport=pools) as client:
            first = [asyncio.ensure_future(client.get(f"http://h.example/{n}"))
                     for n in range(5)]
            while len(started) < 5:
                await asyncio.sleep(0)
            assert pools.busy == [2, 2, 1]  # 5 at once: 3 pools, none over 2
            release.set()
            await asyncio.gather(*first)
            assert pools.busy == [0, 0, 0]  # each body closed: its pool is free again
            await client.get("http://h.example/again")
            assert len(pools.pools) == 3 and started[-1][0] == 0  # an idle pool is reused

    asyncio.run(go())


def test_a_pool_counts_a_request_free_only_once_its_connection_is_back() -> None:
    # while a finished request's connection is still being handed back (its close waits),
    # the next request must not be sent to that pool: it would open one more connection
    closing, entered = asyncio.Event(), asyncio.Event()
    used: list[int] = []

    class Slow(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield b"ok"

        async def aclose(self) -> None:
            entered.set()
            await closing.wait()  # the pool's lock, say

    def make() -> httpx.AsyncBaseTransport:
        number = len(pools.pools)

        async def answer(request: httpx.Request) -> httpx.Response:
            used.append(number)
            return httpx.Response(200, stream=Slow())

        return httpx.MockTransport(answer)

    pools = Pools(make, size=1)

    async def go() -> None:
        async with httpx.AsyncClient(transport=pools) as client:
            first = asyncio.ensure_future(client.get("http://h.example/1"))
            await _until(entered.is_set)  # its body read, its close waiting
            second = asyncio.ensure_future(client.get("http://h.example/2"))
            await _until(lambda: len(used) == 2)
            closing.set()
            await asyncio.gather(first, second)
            assert used == [0, 1]  # the second went to a pool of its own
            assert pools.busy == [0, 0]

    asyncio.run(go())


async def _until(done: Callable[[], bool], turns: int = 10_000) -> None:
    for _ in range(turns):
        if done():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")
