"""Host leases: at most one task per host in flight across every worker and coordinator."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from .common import LEASE_TTL, HostBusy

log = logging.getLogger("scraper.queue")

_EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then " \
          "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]); "
            "if tonumber(ARGV[2]) > 0 then redis.call('set', KEYS[2], 1, 'px', ARGV[2]) end; "
            "return 1 else return 0 end")



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
