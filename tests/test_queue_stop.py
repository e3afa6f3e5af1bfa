"""A stopping worker stops reading the task stream, whatever swallowed the cancellation.

Taskiq stops a worker's reads by cancelling the task that waits for the next message
(``Receiver._close_prefetch_state``: cancel, then wait for it). On Python 3.11,
``asyncio.wait_for`` returns its inner result instead of raising when the cancellation lands
just as that inner awaitable finished; redis-py sends every command through such a
``wait_for`` (``send_packed_command`` with a socket timeout), and the room check went through
one too. The reader then read on for ever: a worker still running long after SIGTERM, idle,
its Redis connections open.

Each test makes the cancellation land at that moment by construction (a send, or ``room``,
that cancels the reader as it completes), on a real redis-server, and counts the reads the
stream gets after the stop: a reader that does not stop fails the test instead of hanging it.

Then admission: a task read from the stream counts as taken from that moment (``reserve``),
until it reaches the runner or, never run, until its ack; not only once it reaches the runner.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis_server import RedisServer

from scraper.models import Article, Page
from scraper.queue import versions
from scraper.queue.engine import TASKS, WORKERS, RedisQueue, make_broker, run_worker
from scraper.queue.messages import HostResult, HostTask
from scraper.queue.work import OldestFirst
from scraper.sites import site_named

pytestmark = pytest.mark.slow

SCHEMA, CODE = versions()
GENERIC = site_named("generic")
READS_AFTER_STOP = 3  # a reader that stops does at most the read it was in
FAILSAFE = 60.0  # seconds; every wait below ends on an event long before


class Reads:
    """Counts XREADGROUP sends once ``stop`` is set; ``too_many`` when the reader goes on."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.after_stop = 0
        self.too_many = asyncio.Event()

    def sent(self, command: list[bytes]) -> None:
        """Count a sent command if it is a read after the stop."""
        if b"XREADGROUP" in b"".join(command) and self.stop.is_set():
            self.after_stop += 1
            if self.after_stop > READS_AFTER_STOP:
                self.too_many.set()


async def stop_reader(reader: asyncio.Task[Any], listen: AsyncGenerator[Any, None],
                      reads: Reads) -> None:
    """What Taskiq does next: wait for the cancelled reader, then close the generator."""
    going_on = asyncio.ensure_future(reads.too_many.wait())
    try:
        await asyncio.wait({reader, going_on}, timeout=FAILSAFE,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        going_on.cancel()
    assert reads.stop.is_set(), "the construction did not happen: no read was sent"
    assert reader.done(), f"the reader read on after the stop ({reads.after_stop} reads)"
    if not reader.cancelled():
        assert isinstance(reader.exception(), StopAsyncIteration), reader.exception()
    await listen.aclose()


class OpensOnce:
    """An admission whose ``room`` is the test's; nothing reserved matters here."""

    def __init__(self, room: Callable[[], Any]) -> None:
        self.room = room

    def reserve(self) -> None:
        pass

    def unreserve(self) -> None:
        pass


async def started_broker(url: str) -> tuple[Any, asyncio.Event]:
    """A worker's broker on ``url`` reading with a short block, and the stop event it obeys."""
    broker = make_broker(url, idle_timeout=60, block=0.05)
    broker.stop = stop = asyncio.Event()
    await broker.startup()
    return broker, stop


def run_with_redis(tmp_path: Path, main: Callable[[str], Any]) -> None:
    with RedisServer(tmp_path / "redis") as server:
        asyncio.run(main(server.url))


def test_a_stopping_worker_stops_reading_when_a_redis_send_swallowed_the_cancel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main(url: str) -> None:
        broker, stop = await started_broker(url)
        reads = Reads(stop)
        armed = asyncio.Event()
        send = AbstractConnection._send_packed_command

        async def cancelled_as_it_is_sent(self: AbstractConnection, command: Any) -> None:
            await send(self, command)
            if armed.is_set() and not stop.is_set() and b"XREADGROUP" in b"".join(command):
                # SIGTERM lands as this read is sent: the worker stops, and Taskiq cancels
                # the reader just as redis-py's wait_for(send) finished
                stop.set()
                reader.cancel()
            reads.sent(command)

        monkeypatch.setattr(AbstractConnection, "_send_packed_command",
                            cancelled_as_it_is_sent)
        listen = broker.listen()
        armed.set()
        reader = asyncio.ensure_future(anext(listen))
        try:
            await stop_reader(reader, listen, reads)
        finally:
            reader.cancel()
            await broker.shutdown()

    run_with_redis(tmp_path, main)


def test_a_stopping_worker_stops_reading_when_room_opened_as_the_cancel_came(
        tmp_path: Path) -> None:
    async def main(url: str) -> None:
        broker, stop = await started_broker(url)
        reads = Reads(stop)
        send = AbstractConnection._send_packed_command
        rooms = 0

        async def room() -> None:
            nonlocal rooms
            rooms += 1
            if rooms == 1:  # room opens just as the stop's cancel comes
                stop.set()
                reader.cancel()

        async def counted(self: AbstractConnection, command: Any) -> None:
            await send(self, command)
            reads.sent(command)

        broker.admission = OpensOnce(room)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(AbstractConnection, "_send_packed_command", counted)
            listen = broker.listen()
            reader = asyncio.ensure_future(anext(listen))
            try:
                await stop_reader(reader, listen, reads)
            finally:
                reader.cancel()
                await broker.shutdown()

    run_with_redis(tmp_path, main)


def test_a_stopped_worker_leaves_the_next_task_on_the_stream(tmp_path: Path) -> None:
    """Once stopped, a worker reads nothing more: the task waiting is another worker's."""

    async def main(url: str) -> None:
        broker, stop = await started_broker(url)
        async with Redis.from_url(url) as redis:
            await redis.xadd(TASKS, {b"data": b"a task"})
            listen = broker.listen()
            stop.set()
            try:
                with pytest.raises(StopAsyncIteration):
                    await anext(listen)
            finally:
                await listen.aclose()
                await broker.shutdown()
            pending = await redis.xpending(TASKS, WORKERS)
            assert pending["pending"] == 0  # not read: not held by a stopping worker

    run_with_redis(tmp_path, main)


# ---- admission: a task counts as taken from the moment it is read ---------------------

class HeldExtraction:
    """Extraction jobs that each wait for the test's release."""

    def __init__(self) -> None:
        self.started: dict[str, asyncio.Event] = {}
        self.release: dict[str, asyncio.Event] = {}

    def event(self, table: dict[str, asyncio.Event], host: str) -> asyncio.Event:
        return table.setdefault(host, asyncio.Event())

    async def __call__(self, page: Page, site: Any) -> Article:
        host = page.url.split("/")[2]
        self.event(self.started, host).set()
        await self.event(self.release, host).wait()
        return Article(url=page.url, text="Text.", title="T")


class Watched:
    """OldestFirst, with the tasks pending on the stream seen at every ``room()``."""

    def __init__(self, order: OldestFirst, redis: Redis) -> None:
        self.order, self.redis = order, redis
        self.pending_at_room: list[int] = []
        self.changed = asyncio.Event()

    async def room(self) -> None:
        self.pending_at_room.append((await self.redis.xpending(TASKS, WORKERS))["pending"])
        self.changed.set()
        await self.order.room()

    def reserve(self) -> None:
        self.order.reserve()

    def unreserve(self) -> None:
        self.order.unreserve()


async def _until_event(event: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), FAILSAFE)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


def test_a_task_read_counts_as_taken_before_it_reaches_the_runner(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One extraction slot, busy with task a; task b is read and held on its way (at the
    worker's Redis check, before its run): c must stay on the stream, not be read as if b
    had not been taken."""

    async def main(url: str) -> None:
        extraction = HeldExtraction()
        order = OldestFirst(extraction, ahead=1)
        ran: list[str] = []
        ranks = iter(range(100))

        async def run(t: HostTask, claims: Any) -> tuple[HostResult, dict[str, float]]:
            ran.append(t.host)
            rank = next(ranks)
            extract = order.for_task(rank)
            try:
                await extract(Page(f"http://{t.host}/", f"http://{t.host}/", 200), GENERIC)
            finally:
                order.done(rank)
            return HostResult(t.id, t.host, t.schema, t.code), {}

        tasks = {host: HostTask(host=host, schema=SCHEMA, code=CODE) for host in "abc"}
        b_checked, b_go = asyncio.Event(), asyncio.Event()
        exists = Redis.exists

        def held_exists(self: Redis, *names: Any) -> Any:
            if f"scraper:done:{tasks['b'].id}" in names:
                async def held() -> Any:
                    b_checked.set()  # b was read and is on its way: hold it here
                    await b_go.wait()
                    return await exists(self, *names)
                return held()
            return exists(self, *names)

        monkeypatch.setattr(Redis, "exists", held_exists)
        queue = RedisQueue(url)
        await queue.open(SCHEMA, CODE)
        stop = asyncio.Event()
        async with Redis.from_url(url) as redis:
            watched = Watched(order, redis)
            worker = asyncio.ensure_future(run_worker(
                url, run, schema=SCHEMA, code=CODE, stop=stop, admission=watched,
                block=0.05))
            try:
                await queue.send(tasks["a"])
                await _until_event(extraction.event(extraction.started, "a"),
                                   "a's extraction took the slot")
                await queue.send(tasks["b"])
                await queue.send(tasks["c"])
                await _until_event(b_checked, "b was read")
                seen = len(watched.pending_at_room)
                # two room() checks after b was read: the first, then one after a wait
                while len(watched.pending_at_room) < seen + 2 and not worker.done():
                    watched.changed.clear()
                    await _until_event(watched.changed, "room() was asked again")
                assert watched.pending_at_room[seen + 1] == 2, watched.pending_at_room
                assert ran == ["a"]  # c not read: b counts as taken
                b_go.set()
                for host in "abc":
                    extraction.event(extraction.release, host).set()
                while len(ran) < 3 and not worker.done():
                    watched.changed.clear()
                    await _until_event(watched.changed, "c was taken")
                assert sorted(ran) == ["a", "b", "c"]
            finally:
                stop.set()
                b_go.set()
                for host in "abc":
                    extraction.event(extraction.release, host).set()
                await asyncio.wait_for(worker, FAILSAFE)
                await queue.close()
        assert order.reserved == 0 and order.idle.is_set()

    run_with_redis(tmp_path, main)


def test_a_task_read_but_never_run_gives_its_place_back(tmp_path: Path) -> None:
    """A copy of a finished task is read (reserved) and never reaches the runner: its ack
    gives the place back, once."""

    async def main(url: str) -> None:
        order = OldestFirst(HeldExtraction(), ahead=1)

        given_back = asyncio.Event()

        class Counted(Watched):
            calls: ClassVar[list[str]] = []

            def reserve(self) -> None:
                super().reserve()
                self.calls.append("reserve")

            def unreserve(self) -> None:
                super().unreserve()
                self.calls.append("unreserve")
                given_back.set()

        async def run(t: HostTask, claims: Any) -> tuple[HostResult, dict[str, float]]:
            raise AssertionError("a copy of a finished task must not run")

        copy = HostTask(host="d", schema=SCHEMA, code=CODE)
        queue = RedisQueue(url)
        await queue.open(SCHEMA, CODE)
        stop = asyncio.Event()
        async with Redis.from_url(url) as redis:
            await redis.set(f"scraper:done:{copy.id}", 1)
            counted = Counted(order, redis)
            worker = asyncio.ensure_future(run_worker(
                url, run, schema=SCHEMA, code=CODE, stop=stop, admission=counted,
                block=0.05))
            try:
                await queue.send(copy)
                await _until_event(given_back, "the copy gave its place back")
                assert (await redis.xpending(TASKS, WORKERS))["pending"] == 0  # acked
            finally:
                stop.set()
                await asyncio.wait_for(worker, FAILSAFE)
                await queue.close()
        assert Counted.calls == ["reserve", "unreserve"]
        assert order.reserved == 0 and order.idle.is_set()

    run_with_redis(tmp_path, main)
