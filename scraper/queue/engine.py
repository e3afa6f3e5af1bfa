"""Every line of Taskiq and Redis: the task stream, the results stream, host leases, handshake.

Swapping the engine (Dramatiq is the fallback) means rewriting this module only: the rest
of ``scraper.queue`` sees ``RedisQueue`` (the coordinator's ``Queue``), ``run_worker`` and
``Lease``.

Redis keys (one Redis database per archive: the ``/DB`` of the URL)::

    scraper:tasks          stream of host tasks (Taskiq RedisStreamBroker), group "workers"
    scraper:results        stream of host results, group "coordinator", deleted once stored
    scraper:lease:{host}   who runs the host now: a token, with a time-to-live it extends
    scraper:pace:{host}    set on release: its TTL is what the host's delay still asks
    scraper:done:{task}    a finished task (a redelivered copy is not run again), one day
    scraper:handshake      the coordinator's schema and extractor, checked by workers

Delivery is at least once: a worker acknowledges a task after its result is on the results
stream; a task whose worker died is claimed by another after ``idle_timeout``. The
coordinator acknowledges (and deletes) a result after storing it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from taskiq import AckableMessage
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from ..models import ScraperError
from .coordinate import Delivery
from .messages import (
    BadMessage,
    HostResult,
    HostTask,
    decode_result,
    decode_task,
    encode_result,
    encode_task,
    failed_result,
)

log = logging.getLogger("scraper.queue")

TASKS = "scraper:tasks"
RESULTS = "scraper:results"
WORKERS = "workers"
COORDINATOR = "coordinator"
HANDSHAKE = "scraper:handshake"
TASK_NAME = "scraper.host_task"
MAX_STREAM = 100_000   # entries kept per stream (approximate trim): memory stays bounded
IDLE_TIMEOUT = 660.0   # s before a dead worker's task goes to another (> TASK_TIME + margin)
LEASE_TTL = 30.0       # s; extended every third of it while the task runs
DONE_TTL = 86_400      # s a finished task's id is remembered


class QueueUnavailable(ScraperError):
    """Redis cannot be reached, or answered with an error."""


class HostBusy(ScraperError):
    """A host's lease stayed with another task for longer than this task could wait."""


class VersionMismatch(ScraperError):
    """A worker and the coordinator run different schema or extraction code."""


def redis_url(url: str) -> str:
    """``url`` if it names a Redis database (redis://, rediss://, unix://); else ValueError."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"not a Redis URL: {url!r} (redis://HOST:PORT/DB)")
    return url


def _unavailable(url: str, err: BaseException) -> QueueUnavailable:
    where = url.split("@")[-1]  # never print a password
    return QueueUnavailable(f"cannot use the queue at {where}: {err}")


# ---- leases ------------------------------------------------------------------------------

_EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then " \
          "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]); "
            "if tonumber(ARGV[2]) > 0 then redis.call('set', KEYS[2], 1, 'px', ARGV[2]) end; "
            "return 1 else return 0 end")


_SEND = ("if redis.call('exists', KEYS[2]) == 1 then return 0 end; "
         "redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3)); "
         "redis.call('set', KEYS[2], 1, 'EX', ARGV[2]); return 1")


class Lease:
    """At most one holder per host across every worker and coordinator: SET NX PX with an
    owner token; extended and released only by its owner (Lua, atomic)."""

    def __init__(self, redis: Redis, host: str, ttl: float = LEASE_TTL) -> None:
        self.redis, self.host, self.ttl = redis, host, ttl
        self.token = uuid.uuid4().hex
        self.key, self.pace_key = f"scraper:lease:{host}", f"scraper:pace:{host}"

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it."""
        return bool(await self.redis.set(self.key, self.token, nx=True,
                                         px=int(self.ttl * 1000)))

    async def acquire(self, timeout: float, poll: float = 0.1,
                      sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> float:
        """Wait for the lease (HostBusy after ``timeout`` s); returns the seconds the last
        holder's delay still asks."""
        give_up = time.monotonic() + timeout
        while not await self.try_acquire():
            if time.monotonic() >= give_up:
                # two tasks each holding a host the other needs (a feed on another host)
                # must not wait for each other for ever
                raise HostBusy(f"{self.host} stayed busy with another task for {timeout:g} s")
            await sleep(poll)  # another holder's task runs: its end is not announced
        left = await self.redis.pttl(self.pace_key)
        return max(0, left) / 1000

    async def extend(self) -> bool:
        """Push the expiry back by the TTL; False when the lease was lost."""
        return bool(await self.redis.eval(_EXTEND, 1, self.key, self.token,
                                          int(self.ttl * 1000)))

    async def release(self, delay_left: float = 0.0) -> bool:
        """Give the lease back; the next holder waits ``delay_left`` s before its first
        request. False when it was not ours any more."""
        return bool(await self.redis.eval(_RELEASE, 2, self.key, self.pace_key, self.token,
                                          int(delay_left * 1000)))


class HostLeases:
    """The leases of one task's hosts (``work.Claims``): taken as hosts are first asked
    for, extended every third of their TTL while the task runs, released at its end."""

    def __init__(self, redis: Redis, ttl: float, wait: float) -> None:
        self.redis, self.ttl, self.wait = redis, ttl, wait
        self.leases: dict[str, Lease] = {}
        self.lost: set[str] = set()

    async def claim(self, host: str) -> float:
        lease = Lease(self.redis, host, ttl=self.ttl)
        left = await lease.acquire(self.wait)
        self.leases[host] = lease
        self.lost.discard(host)
        return left

    def held(self, host: str) -> bool:
        return host not in self.lost

    @asynccontextmanager
    async def kept(self) -> AsyncIterator[None]:
        """Extend the leases until the block ends."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.ttl / 3)
                for host, lease in list(self.leases.items()):
                    if not await lease.extend():  # this process stalled longer than the TTL
                        log.warning("the lease of %s lapsed: waiting for it again", host)
                        del self.leases[host]
                        self.lost.add(host)

        keeper = asyncio.ensure_future(keep())
        try:
            yield
        finally:
            keeper.cancel()

    async def release(self, delays: dict[str, float], default: float) -> None:
        """Give every lease back, each with what its host's delay still asks."""
        for host, lease in self.leases.items():
            await lease.release(delays.get(host, default))


# ---- the broker --------------------------------------------------------------------------

class _Broker(RedisStreamBroker):
    """RedisStreamBroker that keeps a running task its own and reclaims a dead worker's.

    - taskiq-redis 1.2.4's ``listen`` runs XAUTOCLAIM only after XREADGROUP returned new
      messages (``if not fetched: continue``), so the last task of a run, held by a worker
      that was killed, would wait forever for a next task. Here every round claims.
    - A task running longer than ``idle_timeout`` would be claimed by another worker while
      it runs. Here a heartbeat re-claims (XCLAIM JUSTID, idle time back to 0) the
      messages this worker holds, every third of ``idle_timeout``: only a dead worker's
      messages go idle.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: set[bytes] = set()

    def _mine(self, message_id: bytes, stream: Any) -> Callable[[], Awaitable[None]]:
        self._held.add(message_id)
        ack = self._ack_generator(message_id, stream)  # type: ignore[arg-type]

        async def done() -> None:
            await ack()
            self._held.discard(message_id)

        return done

    async def _heartbeat(self, redis: Redis) -> None:
        while True:
            await asyncio.sleep(self.idle_timeout / 3000)
            if self._held:
                await redis.xclaim(self.queue_name, self.consumer_group_name,
                                   self.consumer_name, min_idle_time=0,
                                   message_ids=list(self._held), justid=True)

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:  # type: ignore[override]
        async with Redis(connection_pool=self.connection_pool) as redis:
            heartbeat = asyncio.ensure_future(self._heartbeat(redis))
            try:
                while True:
                    if heartbeat.done():
                        heartbeat.result()  # Redis went away: raise it here
                    fetched: Any = await redis.xreadgroup(
                        self.consumer_group_name, self.consumer_name, {self.queue_name: ">"},
                        block=self.block, noack=False, count=self.count)
                    for stream, messages in fetched or []:
                        for message_id, message in messages:
                            yield AckableMessage(data=message[b"data"],
                                                 ack=self._mine(message_id, stream))
                    claimed: Any = await redis.xautoclaim(
                        self.queue_name, self.consumer_group_name, self.consumer_name,
                        min_idle_time=self.idle_timeout, count=self.unacknowledged_batch_size)
                    for message_id, message in claimed[1]:
                        if message:  # None: trimmed from the stream meanwhile
                            log.info("taking over task %s of a worker that stopped answering",
                                     message_id)
                            yield AckableMessage(data=message[b"data"],
                                                 ack=self._mine(message_id, self.queue_name))
            finally:
                heartbeat.cancel()


def make_broker(url: str, *, idle_timeout: float = IDLE_TIMEOUT,
                block: float = 1.0) -> RedisStreamBroker:
    """The broker of the task stream (a coordinator only sends; a worker also listens)."""
    return _Broker(url, queue_name=TASKS, consumer_group_name=WORKERS,
                   consumer_name=f"{os.uname().nodename}-{os.getpid()}", consumer_id="0",
                   maxlen=MAX_STREAM, idle_timeout=int(idle_timeout * 1000),
                   xread_block=int(block * 1000), xread_count=1)


# ---- the coordinator's side ---------------------------------------------------------------

class RedisQueue:
    """The coordinator's ``Queue``: tasks out through Taskiq, results in from their stream."""

    def __init__(self, url: str) -> None:
        self.url = redis_url(url)
        self.broker = make_broker(url)
        self.task = self.broker.register_task(_never_here, task_name=TASK_NAME)
        self.redis: Redis = Redis.from_url(url)

    async def open(self, schema: int, code: str) -> None:
        """Check Redis answers; make the streams and groups; publish the handshake."""
        try:
            await self.redis.ping()
            await self.broker.startup()
            await _group(self.redis, RESULTS, COORDINATOR)
            await self.redis.set(HANDSHAKE, json.dumps({"schema": schema, "code": code}))
        except (RedisError, OSError) as err:
            raise _unavailable(self.url, err) from None

    async def close(self) -> None:
        for closing in (self.broker.shutdown(), self.redis.aclose()):
            try:
                await closing
            except (RedisError, OSError):
                pass  # Redis is gone already: nothing to close cleanly

    async def send(self, task: HostTask) -> None:
        try:
            await self.task.kiq(encode_task(replace(task, sent=time.time())))
        except (RedisError, OSError) as err:
            raise _unavailable(self.url, err) from None

    async def receive(self, timeout: float) -> list[Delivery]:
        """Results not stored yet: first those a killed coordinator read and never
        acknowledged (``redelivered``), then new ones (waiting up to ``timeout`` s)."""
        found: Any
        try:
            found = await self.redis.xreadgroup(COORDINATOR, COORDINATOR, {RESULTS: "0"},
                                                count=20)
            again = bool(found and found[0][1])
            if not again:
                found = await self.redis.xreadgroup(
                    COORDINATOR, COORDINATOR, {RESULTS: ">"}, count=20,
                    block=int(timeout * 1000) if timeout > 0 else None)
        except (RedisError, OSError) as err:
            raise _unavailable(self.url, err) from None
        out: list[Delivery] = []
        for _, messages in found or []:
            for message_id, fields in messages:
                try:
                    result: HostResult | BadMessage = decode_result(fields)
                except BadMessage as err:
                    result = err
                out.append(Delivery(message_id.decode(), result, again))
        return out

    async def ack(self, message_ids: list[str]) -> None:
        """Stored: acknowledge the results and delete them (the stream stays short)."""
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xack(RESULTS, COORDINATOR, *message_ids)
                pipe.xdel(RESULTS, *message_ids)
                await pipe.execute()
        except (RedisError, OSError) as err:
            raise _unavailable(self.url, err) from None


async def _never_here(data: dict[str, Any]) -> None:
    raise RuntimeError("host tasks run in `scraper worker`, not in the coordinator")


async def _group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as err:
        if "BUSYGROUP" not in str(err):
            raise


# ---- the worker's side --------------------------------------------------------------------

RunTask = Callable[[HostTask, "HostLeases"], Awaitable[tuple[HostResult, dict[str, float]]]]


def host_task_function(redis: Redis, run: RunTask, *, schema: int, code: str,
                       lease_ttl: float = LEASE_TTL,
                       requeue: Callable[[dict[str, Any]], Awaitable[Any]],
                       refuse: Callable[[VersionMismatch], None]) -> Callable[..., Awaitable[None]]:
    """The Taskiq task a worker runs for each host task.

    A task for another schema or extractor is ``requeue``d for a matching worker and
    ``refuse``d (the worker stops). A copy of a finished task does nothing. Otherwise:
    ``run(task, leases)`` under the leases it claims, its result put on the results stream
    with the task's "done" mark in one transaction, then the leases released with what each
    host's delay still asks.
    """

    async def host_task(data: dict[str, Any]) -> None:
        task = decode_task(data)
        if (task.schema, task.code) != (schema, code):
            await requeue(data)  # for a worker of the right version
            refuse(VersionMismatch(
                f"a task needs schema {task.schema}, extractor {task.code}; this worker has "
                f"schema {schema}, extractor {code}: upgrade it (the task is left queued)"))
            return
        if await redis.exists(f"scraper:done:{task.id}"):
            return  # a copy of a task finished already (redelivered before its ack)
        if task.sent:  # clocks of two machines: a figure for logs and the benchmark only
            log.info("task %s for %s: %d URLs, %d ms after it was sent", task.id, task.host,
                     len(task.jobs), round((time.time() - task.sent) * 1000))
        leases = HostLeases(redis, max(lease_ttl, 2 * task.delay), wait=task.max_time)
        delays: dict[str, float] = {}
        try:
            async with leases.kept():
                try:
                    result, delays = await run(task, leases)
                except Exception as exc:  # a bug: every URL fails, none is lost in silence
                    log.exception("host task for %s failed", task.host)
                    result = failed_result(task, f"worker error: {type(exc).__name__}: {exc}")
            fields = [x for pair in encode_result(result).items() for x in pair]
            # one copy of a task's result, even if a copy of the task ran meanwhile
            await redis.eval(_SEND, 2, RESULTS, f"scraper:done:{task.id}", MAX_STREAM,
                             DONE_TTL, *fields)
        finally:
            await leases.release(delays, task.delay)

    return host_task


async def run_worker(url: str, run: RunTask, *, schema: int, code: str, hosts: int = 8,
                     idle_timeout: float = IDLE_TIMEOUT, lease_ttl: float = LEASE_TTL,
                     stop: asyncio.Event | None = None) -> None:
    """Take host tasks until ``stop`` is set: ``run(task, leases)`` does the work and returns
    the result and, per host it claimed, the seconds its delay still runs.

    A task for another schema or extractor is put back for a matching worker and this one
    stops: VersionMismatch. Redis unreachable: QueueUnavailable.
    """
    url = redis_url(url)
    stop = stop or asyncio.Event()
    broker = make_broker(url, idle_timeout=idle_timeout)
    redis: Redis = Redis.from_url(url)
    mismatch: list[VersionMismatch] = []

    def refuse(err: VersionMismatch) -> None:
        mismatch.append(err)
        stop.set()

    host_task = host_task_function(redis, run, schema=schema, code=code, lease_ttl=lease_ttl,
                                   requeue=lambda data: registered.kiq(data), refuse=refuse)
    registered = broker.register_task(host_task, task_name=TASK_NAME)
    try:
        await redis.ping()
        theirs = await redis.get(HANDSHAKE)
        if theirs is not None:
            them = json.loads(theirs)
            if (them.get("schema"), them.get("code")) != (schema, code):
                raise VersionMismatch(
                    f"the coordinator runs schema {them.get('schema')}, extractor "
                    f"{them.get('code')}; this worker has schema {schema}, extractor {code}: "
                    "upgrade one of them")
        await _group(redis, RESULTS, COORDINATOR)
        broker.is_worker_process = True
        await broker.startup()
        log.info("worker %s taking tasks from %s", broker.consumer_name, url.split("@")[-1])
        receiver = Receiver(broker, max_async_tasks=hosts, run_startup=False,
                            ack_type=AcknowledgeType.WHEN_EXECUTED, propagate_exceptions=True)
        await receiver.listen(stop)
    except (RedisError, OSError) as err:
        raise _unavailable(url, err) from None
    finally:
        await broker.shutdown()
        await redis.aclose()
    if mismatch:
        raise mismatch[0]
