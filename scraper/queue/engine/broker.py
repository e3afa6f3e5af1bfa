"""The task stream: Taskiq's RedisStreamBroker, made to keep and to reclaim tasks."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

from .common import IDLE_TIMEOUT, MAX_STREAM, TASKS, WORKERS

log = logging.getLogger("scraper.queue")


class _Broker(RedisStreamBroker):
    """RedisStreamBroker that keeps a running task its own and reclaims a dead worker's.

    - taskiq-redis 1.2.4's ``listen`` runs XAUTOCLAIM only after XREADGROUP returned new
      messages (``if not fetched: continue``), so the last task of a run, held by a worker
      that was killed, would wait forever for a next task. Here every round claims.
    - A task running longer than ``idle_timeout`` would be claimed by another worker while
      it runs. Here a heartbeat re-claims (XCLAIM JUSTID, idle time back to 0) the
      messages this worker holds, every third of ``idle_timeout``: only a dead worker's
      messages go idle.
    - ``room``, when set, is awaited before each read: a worker whose extraction processes
      have a backlog leaves the next task on the stream for a worker with a free one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: set[bytes] = set()
        self.room: Callable[[], Awaitable[None]] | None = None

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
                    if self.room is not None:
                        try:
                            await asyncio.wait_for(self.room(), self.block / 1000)
                        except TimeoutError:
                            continue  # still busy: check the heartbeat, wait again
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
                block: float = 1.0) -> _Broker:
    """The broker of the task stream (a coordinator only sends; a worker also listens)."""
    return _Broker(url, queue_name=TASKS, consumer_group_name=WORKERS,
                   consumer_name=f"{os.uname().nodename}-{os.getpid()}", consumer_id="0",
                   maxlen=MAX_STREAM, idle_timeout=int(idle_timeout * 1000),
                   xread_block=int(block * 1000), xread_count=1)
