"""A worker's side of a host task, without Redis: the extraction order across the tasks it
holds, and its TLS context kept between tasks, each with a pool of its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from scraper.models import Article, Page
from scraper.queue import versions, work
from scraper.queue.messages import HostTask, Job
from scraper.queue.work import OldestFirst, Unshared, runner
from scraper.sites import site_named

SCHEMA, CODE = versions()
GENERIC = site_named("generic")


class Held:
    """An extractor whose jobs each wait for their own release: the order they ran in."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def __call__(self, page: Page, site: Any) -> Article:
        url = page.final_url
        self.started.append(url)
        await self.release.setdefault(url, asyncio.Event()).wait()
        return Article(url=url, text="Text.", title="T")

    async def started_with(self, n: int) -> None:
        await _until(lambda: len(self.started) >= n, f"{n} jobs started")

    def let_go(self, url: str) -> None:
        self.release.setdefault(url, asyncio.Event()).set()


@contextlib.asynccontextmanager
async def one_slot_busy() -> AsyncIterator[OldestFirst]:
    """OldestFirst with one extraction slot, taken by a job of task 0 until the block ends."""
    held = Held()
    order = OldestFirst(held, ahead=1)
    busy = asyncio.ensure_future(order.for_task(0)(_page("busy"), GENERIC))
    await held.started_with(1)
    yield order
    held.let_go("busy")
    await busy


def _page(url: str) -> Page:
    return Page(url, url, 200, html="<p/>")


async def _until(done: Any, what: str, turns: int = 100_000) -> None:
    """Let the event loop run until ``done()``; a bounded number of turns, not a clock: a
    slot lost for good fails the test instead of hanging it."""
    for _ in range(turns):
        if done():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


async def _waiting(order: OldestFirst, n: int) -> None:
    await _until(lambda: len(order.waiting) >= n, f"{n} jobs waiting")


def test_extraction_serves_the_oldest_task_first_whatever_came_first() -> None:
    async def main() -> list[str]:
        held = Held()
        order = OldestFirst(held, ahead=1)
        jobs = [asyncio.ensure_future(order.for_task(rank)(_page(url), GENERIC))
                for rank, url in [(5, "a"), (9, "young"), (1, "old"), (5, "a2")]]
        await held.started_with(1)
        await _waiting(order, 3)
        for url in ["a", "old", "a2", "young"]:
            held.let_go(url)
        await asyncio.gather(*jobs)
        return held.started

    assert asyncio.run(main()) == ["a", "old", "a2", "young"]


def test_extraction_runs_up_to_ahead_jobs_at_once() -> None:
    async def main() -> tuple[list[str], int]:
        held = Held()
        order = OldestFirst(held, ahead=2)
        jobs = [asyncio.ensure_future(order.for_task(rank)(_page(url), GENERIC))
                for rank, url in [(3, "a"), (2, "b"), (1, "c")]]
        await held.started_with(2)
        await _waiting(order, 1)
        started = list(held.started)
        for url in "abc":
            held.let_go(url)
        await asyncio.gather(*jobs)
        return started, order.running

    started, running = asyncio.run(main())
    assert started == ["a", "b"]  # the third waits for a free slot
    assert running == 0  # every slot given back


def test_a_cancelled_waiting_job_gives_no_slot_away() -> None:
    async def main() -> list[str]:
        held = Held()
        order = OldestFirst(held, ahead=1)
        first = asyncio.ensure_future(order.for_task(1)(_page("first"), GENERIC))
        await held.started_with(1)
        gone = asyncio.ensure_future(order.for_task(2)(_page("gone"), GENERIC))
        await _waiting(order, 1)
        gone.cancel()  # its task timed out, say
        held.let_go("first")
        await first
        # the slot is free again: a later job starts at once, not after "gone"
        later = asyncio.ensure_future(order.for_task(3)(_page("later"), GENERIC))
        await held.started_with(2)
        held.let_go("later")
        await later
        assert gone.cancelled() and order.running == 0
        return held.started

    assert asyncio.run(main()) == ["first", "later"]


def test_a_job_cancelled_just_after_it_was_handed_a_slot_passes_the_slot_on() -> None:
    async def main() -> list[str]:
        held = Held()
        order = OldestFirst(held, ahead=1)
        first = asyncio.ensure_future(order.for_task(1)(_page("first"), GENERIC))
        await held.started_with(1)
        handed = asyncio.ensure_future(order.for_task(2)(_page("handed"), GENERIC))
        third = asyncio.ensure_future(order.for_task(3)(_page("third"), GENERIC))
        await _waiting(order, 2)
        hand_over = order._next

        def hand_then_cancel() -> None:  # the cancel lands before "handed" resumes
            hand_over()
            if not handed.done():
                handed.cancel()
            order._next = hand_over  # type: ignore[method-assign]

        order._next = hand_then_cancel  # type: ignore[method-assign]
        held.let_go("first")
        await first
        await held.started_with(2)  # the slot went on to "third", not lost with "handed"
        held.let_go("third")
        await third
        assert handed.cancelled() and order.running == 0 and not order.waiting
        return held.started

    assert asyncio.run(main()) == ["first", "third"]


class _Stream(httpx.AsyncByteStream):
    """A body streamed as from the network (``fetch`` reads the raw bytes itself)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


class Counting(httpx.AsyncBaseTransport):
    """A mock site that counts the requests it served and how often it was closed."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url.path)
        if request.url.path == "/robots.txt":
            return httpx.Response(404, stream=_Stream(b"none"))
        body = ("<html><head><title>A story</title></head><body><article>"
                + "<p>The council met on Tuesday and voted.</p>" * 20
                + "</article></body></html>").encode()
        return httpx.Response(200, headers={"Content-Type": "text/html; charset=utf-8"},
                              stream=_Stream(body))

    async def aclose(self) -> None:
        self.closed += 1


def test_a_worker_lends_a_test_transport_to_each_task_and_closes_it_at_its_end() -> None:
    site = Counting()

    async def main() -> None:
        run = runner(transport=site, ahead=2)
        for n in range(2):
            task = HostTask(host="news.example", schema=SCHEMA, code=CODE, delay=0,
                            jobs=(Job(f"https://news.example/story/{n}", "generic"),))
            result, _ = await run(task, Unshared())
            assert [u.kind for u in result.urls] == ["page"], result.urls
            assert site.closed == 0  # the task's client is closed, the transport is not
        await run.aclose()

    asyncio.run(main())
    assert site.closed == 1
    assert site.requests.count("/story/0") == site.requests.count("/story/1") == 1


def test_a_worker_loads_its_tls_context_once_and_gives_each_task_its_own_pool(
        monkeypatch: Any) -> None:
    # one pool per task (its host's): a pool shared by all of a worker's hosts is scanned
    # whole for every request; the TLS context (the CA bundle, ~15 ms) is the worker's
    site = Counting()
    contexts: list[object] = []
    pools: list[dict[str, Any]] = []

    def context(*args: Any, **kwargs: Any) -> object:
        contexts.append(object())
        return contexts[-1]

    class Pool(httpx.AsyncBaseTransport):
        def __init__(self, **kwargs: Any) -> None:
            pools.append(kwargs)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await site.handle_async_request(request)

        async def aclose(self) -> None:
            await site.aclose()

    monkeypatch.setattr(work.httpx, "create_ssl_context", context)
    monkeypatch.setattr(work.httpx, "AsyncHTTPTransport", Pool)

    async def main() -> None:
        run = runner(ahead=2)
        for n in range(3):
            task = HostTask(host=f"news{n}.example", schema=SCHEMA, code=CODE, delay=0,
                            jobs=(Job(f"https://news{n}.example/story", "generic"),))
            result, _ = await run(task, Unshared())
            assert [u.kind for u in result.urls] == ["page"], result.urls
        await run.aclose()

    asyncio.run(main())
    assert len(contexts) == 1
    # one request at a time per task: each task opened one small pool (scraper.pools)
    assert len(pools) == 3 and all(pool["verify"] is contexts[0] for pool in pools)
    assert site.closed == 3  # each task's pool closed at its end


async def has_room(order: OldestFirst) -> bool:
    """Whether ``room()`` returns at once."""
    room = asyncio.ensure_future(order.room())
    await asyncio.sleep(0)
    done = room.done()
    room.cancel()
    return done


def test_a_worker_asks_for_no_new_task_while_pages_wait_for_extraction() -> None:
    async def main() -> list[bool]:
        held = Held()
        order = OldestFirst(held, ahead=1)
        seen: list[bool] = []

        seen.append(await has_room(order))  # nothing in hand
        first = asyncio.ensure_future(order.for_task(1)(_page("first"), GENERIC))
        await held.started_with(1)
        seen.append(await has_room(order))  # busy, but nothing waits: take more work
        second = asyncio.ensure_future(order.for_task(2)(_page("second"), GENERIC))
        await _waiting(order, 1)
        seen.append(await has_room(order))  # a page waits: leave the next task to others
        waiter = asyncio.ensure_future(order.room())
        held.let_go("first")
        await held.started_with(2)
        await waiter  # the waiting page got its slot: room again
        held.let_go("second")
        await asyncio.gather(first, second)
        return seen

    assert asyncio.run(main()) == [True, True, False]


def test_a_busy_worker_takes_no_new_task_until_its_last_one_reached_a_page() -> None:
    async def main() -> list[bool]:
        held = Held()
        order = OldestFirst(held, ahead=1)
        seen: list[bool] = []
        order.for_task(1)  # taken, still fetching its first page
        seen.append(await has_room(order))  # a slot is free: take more
        busy = asyncio.ensure_future(order.for_task(2)(_page("busy"), GENERIC))
        await held.started_with(1)
        seen.append(await has_room(order))  # every slot busy, task 1 yet to ask: wait
        order.done(1)  # it ended without a page (a feed, a 304)
        seen.append(await has_room(order))
        held.let_go("busy")
        await busy
        return seen

    assert asyncio.run(main()) == [True, False, True]


def test_a_task_read_from_the_stream_takes_its_place_until_its_runner_counts_it() -> None:
    async def main() -> list[bool]:
        async with one_slot_busy() as order:
            seen = [await has_room(order)]  # every slot busy, nothing on its way: take one
            order.reserve()  # read from the stream, not at its runner yet
            seen.append(await has_room(order))  # on its way: no other until it got there
            waiter = asyncio.ensure_future(order.room())
            await asyncio.sleep(0)  # waiting in room()
            # it reaches its runner: one step gives the reservation back and counts the
            # task; a worker waiting in room() must not slip in between
            order.unreserve()
            order.for_task(1)
            for _ in range(10):
                await asyncio.sleep(0)
            seen.append(waiter.done())
            order.done(1)  # it ended without a page
            await _until(waiter.done, "room once the task ended")
        return seen

    assert asyncio.run(main()) == [True, False, False]


def test_a_task_read_but_never_run_gives_its_place_back() -> None:
    async def main() -> list[bool]:
        async with one_slot_busy() as order:
            order.reserve()
            seen = [await has_room(order)]
            order.unreserve()  # a copy of a finished task: acknowledged, never run
            seen.append(await has_room(order))
        return seen

    assert asyncio.run(main()) == [False, True]
