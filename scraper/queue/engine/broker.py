"""The task stream: Taskiq's RedisStreamBroker, made to keep and to reclaim tasks."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Protocol

from redis.asyncio import Redis
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

from .common import IDLE_TIMEOUT, MAX_STREAM, TASKS, WORKERS

log = logging.getLogger("scraper.queue")


class Admission(Protocol):
    """When a worker takes its next task (``work.Runner``: extraction oldest task first)."""

    async def room(self) -> None:
        """Return once the worker should take another task."""

    def reserve(self) -> None:
        """A task was taken from the stream: it counts as in hand from now on."""

    def unreserve(self) -> None:
        """A taken task reached ``run`` (where it is counted), or ended without it."""


class _Broker(RedisStreamBroker):
    """RedisStreamBroker that keeps a running task its own and reclaims a dead worker's.

    - taskiq-redis 1.2.4's ``listen`` runs XAUTOCLAIM only after XREADGROUP returned new
      messages (``if not fetched: continue``), so the last task of a run, held by a worker
      that was killed, would wait forever for a next task. Here every round claims.
    - A task running longer than ``idle_timeout`` would be claimed by another worker while
      it runs. Here a heartbeat re-claims (XCLAIM JUSTID, idle time back to 0) the
      messages this worker holds, every third of ``idle_timeout``: only a dead worker's
      messages go idle.
    - ``admission``, when set, is asked before each read (``room``): a worker whose
      extraction processes have a backlog leaves the next task on the stream for a worker
      with a free one. A message counts as taken from the moment it is handed out
      (``reserve``), not only once its task reaches the worker's ``run``: else two tasks
      arriving together would both find room for one.
    - ``stop``, when set, ends the reads by itself. Taskiq stops them by cancelling the
      read in progress, but on Python 3.11 a cancellation that lands just as an
      ``asyncio.wait_for`` finished is lost (redis-py sends every command through one):
      the reads then went on for ever, and the stopping worker with them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: set[bytes] = set()
        self.admission: Admission | None = None
        self.stop: asyncio.Event | None = None
        self.acked: Callable[[], None] = lambda: None  # called in the task that acks

    def _stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _mine(self, message_id: bytes, stream: Any) -> Callable[[], Awaitable[None]]:
        self._held.add(message_id)
        ack = self._ack_generator(message_id, stream)  # type: ignore[arg-type]

        async def done() -> None:
            await ack()
            self._held.discard(message_id)
            self.acked()

        return done

    async def _heartbeat(self, redis: Redis) -> None:
        while True:
            await asyncio.sleep(self.idle_timeout / 3000)
            if self._held:
                await redis.xclaim(self.queue_name, self.consumer_group_name,
                                   self.consumer_name, min_idle_time=0,
                                   message_ids=list(self._held), justid=True)

    async def _room(self) -> bool:
        """Wait for room (``admission.room``), at most ``block``: True when there is room
        and the worker is not stopping. Never ``wait_for``: it may lose a cancellation."""
        if self.admission is None:
            return not self._stopped()
        waits = {asyncio.ensure_future(self.admission.room())}
        if self.stop is not None:
            waits.add(asyncio.ensure_future(self.stop.wait()))
        try:
            done, _ = await asyncio.wait(waits, timeout=self.block / 1000,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        for finished in done:
            finished.result()  # room() failed: raise it here
        return bool(done) and not self._stopped()

    def _hand_out(self, message_id: bytes, stream: Any, data: bytes) -> AckableMessage:
        if self.admission is not None:
            self.admission.reserve()  # taken now: room() counts it from here
        return AckableMessage(data=data, ack=self._mine(message_id, stream))

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:  # type: ignore[override]
        async with Redis(connection_pool=self.connection_pool) as redis:
            heartbeat = asyncio.ensure_future(self._heartbeat(redis))
            try:
                while not self._stopped():
                    if heartbeat.done():
                        heartbeat.result()  # Redis went away: raise it here
                    if not await self._room():
                        continue  # still busy (check the heartbeat, wait again), or stopped
                    fetched: Any = await redis.xreadgroup(
                        self.consumer_group_name, self.consumer_name, {self.queue_name: ">"},
                        block=self.block, noack=False, count=self.count)
                    # read as the stop came: handed out all the same (Taskiq runs it)
                    for stream, messages in fetched or []:
                        for message_id, message in messages:
                            yield self._hand_out(message_id, stream, message[b"data"])
                    if self._stopped():
                        break  # claim nothing more: it would wait in a stopped worker
                    claimed: Any = await redis.xautoclaim(
                        self.queue_name, self.consumer_group_name, self.consumer_name,
                        min_idle_time=self.idle_timeout, count=self.unacknowledged_batch_size)
                    for message_id, message in claimed[1]:
                        if message:  # None: trimmed from the stream meanwhile
                            log.info("taking over task %s of a worker that stopped answering",
                                     message_id)
                            yield self._hand_out(message_id, self.queue_name,
                                                 message[b"data"])
            finally:
                heartbeat.cancel()


def make_broker(url: str, *, idle_timeout: float = IDLE_TIMEOUT,
                block: float = 1.0) -> _Broker:
    """The broker of the task stream (a coordinator only sends; a worker also listens)."""
    return _Broker(url, queue_name=TASKS, consumer_group_name=WORKERS,
                   consumer_name=f"{os.uname().nodename}-{os.getpid()}", consumer_id="0",
                   maxlen=MAX_STREAM, idle_timeout=int(idle_timeout * 1000),
                   xread_block=int(block * 1000), xread_count=1)
