"""A worker's side of the engine: take host tasks, run them under leases, send results."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from ..messages import HostResult, HostTask, decode_task, encode_result, failed_result
from .broker import Admission, make_broker
from .common import (
    COORDINATOR,
    DONE_TTL,
    HANDSHAKE,
    IDLE_TIMEOUT,
    LEASE_TTL,
    MAX_STREAM,
    RESULTS,
    TASK_NAME,
    VersionMismatch,
    _group,
    _unavailable,
    redis_url,
)
from .leases import HostLeases

log = logging.getLogger("scraper.queue")

_SEND = ("if redis.call('exists', KEYS[2]) == 1 then return 0 end; "
         "redis.call('xadd', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3)); "
         "redis.call('set', KEYS[2], 1, 'EX', ARGV[2]); return 1")

RunTask = Callable[[HostTask, "HostLeases"], Awaitable[tuple[HostResult, dict[str, float]]]]


def host_task_function(redis: Redis, run: RunTask, *, schema: int, code: str,
                       lease_ttl: float = LEASE_TTL,
                       requeue: Callable[[dict[str, Any]], Awaitable[Any]],
                       refuse: Callable[[VersionMismatch], None],
                       arrive: Callable[[], None] = lambda: None) -> Callable[..., Awaitable[None]]:
    """The Taskiq task a worker runs for each host task.

    A task for another schema or extractor is ``requeue``d for a matching worker and
    ``refuse``d (the worker stops). A copy of a finished task does nothing. Otherwise:
    ``run(task, leases)`` under the leases it claims, its result put on the results stream
    with the task's "done" mark in one transaction, then the leases released with what each
    host's delay still asks. ``arrive()`` is called just before ``run``.
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
                    arrive()  # nothing awaited between this and run(): always counted
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


class _Taken:
    """Each task the broker hands out is ``reserve``d, and ``unreserve``d once: when it
    reaches ``run`` (which counts it from then on), or at its ack when it never does (a copy
    of a finished task, another version, an entry that is no task). Taskiq runs a message's
    task and its ack in one asyncio task: that task says which message it is."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.arrived: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    def arrive(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.arrived.add(task)
        self.admission.unreserve()

    def acked(self) -> None:
        task = asyncio.current_task()
        if task in self.arrived:
            self.arrived.discard(task)  # type: ignore[arg-type]
        else:
            self.admission.unreserve()


async def run_worker(url: str, run: RunTask, *, schema: int, code: str, hosts: int = 8,
                     idle_timeout: float = IDLE_TIMEOUT, lease_ttl: float = LEASE_TTL,
                     stop: asyncio.Event | None = None, admission: Admission | None = None,
                     block: float = 1.0) -> None:
    """Take host tasks until ``stop`` is set: ``run(task, leases)`` does the work and returns
    the result and, per host it claimed, the seconds its delay still runs. At most
    ``hosts`` tasks at once, and each new one only once ``admission.room()`` returns; a task
    counts as taken from the moment it is read. ``block``: seconds a read waits for a task.

    A task for another schema or extractor is put back for a matching worker and this one
    stops: VersionMismatch. Redis unreachable: QueueUnavailable.
    """
    url = redis_url(url)
    stop = stop or asyncio.Event()
    broker = make_broker(url, idle_timeout=idle_timeout, block=block)
    broker.stop = stop  # the reads end by themselves: Taskiq's cancellation may be lost
    broker.admission = admission
    taken = _Taken(admission) if admission is not None else None
    if taken is not None:
        broker.acked = taken.acked
    redis: Redis = Redis.from_url(url)
    mismatch: list[VersionMismatch] = []

    def refuse(err: VersionMismatch) -> None:
        mismatch.append(err)
        stop.set()

    host_task = host_task_function(redis, run, schema=schema, code=code, lease_ttl=lease_ttl,
                                   requeue=lambda data: registered.kiq(data), refuse=refuse,
                                   arrive=taken.arrive if taken else lambda: None)
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
