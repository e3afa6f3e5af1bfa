"""The coordinator's side of the engine: tasks out through Taskiq, results in from Redis."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..coordinate import Delivery
from ..messages import BadMessage, HostResult, HostTask, decode_result, encode_task
from .broker import make_broker
from .common import COORDINATOR, HANDSHAKE, RESULTS, TASK_NAME, _group, _unavailable, redis_url


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
