"""One host's connections: a transport that spreads requests over small httpcore pools.

httpcore checks every idle connection of a pool (a poll of its socket) each time a request
starts or ends, so one pool of 32 kept-alive connections cost 1.4 ms of CPU a page on a
re-check that reads the whole page. ``Pools`` sends each request to its least busy pool and
opens another only when every pool has ``size`` requests in flight, so no pool ever holds
more than ``size`` connections, and a host at concurrency ``c`` keeps at most about ``c``
(``size`` rounded up) connections open.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable

import httpx

# requests in flight (and so connections) per pool of one host: a host at concurrency 32
# gets 4 pools
POOL_CONNECTIONS = 8


def host_pools(tls: ssl.SSLContext, size: int = POOL_CONNECTIONS) -> Pools:
    """One host's transport: pools of at most ``size`` connections, all with ``tls``."""

    def pool() -> httpx.AsyncBaseTransport:
        # no caps: Pools gives a pool at most ``size`` requests at once, so it never opens
        # more connections than that, and keeps them all alive
        return httpx.AsyncHTTPTransport(verify=tls, limits=httpx.Limits(
            max_connections=None, max_keepalive_connections=None))

    return Pools(pool, size)


class Pools(httpx.AsyncBaseTransport):
    """Requests to one host over pools of at most ``size`` in-flight requests each."""

    def __init__(self, make: Callable[[], httpx.AsyncBaseTransport], size: int) -> None:
        self.make, self.size = make, size
        self.pools: list[httpx.AsyncBaseTransport] = []
        self.busy: list[int] = []  # requests in flight per pool, until their body is closed

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self.pools)), key=self.busy.__getitem__, default=-1)
        if index < 0 or self.busy[index] >= self.size:
            self.pools.append(self.make())
            self.busy.append(0)
            index = len(self.pools) - 1
        self.busy[index] += 1  # counted before the first await: the next request sees it
        try:
            response = await self.pools[index].handle_async_request(request)
        except BaseException:
            self.busy[index] -= 1
            raise
        response.stream = _Counted(response.stream, lambda: self._done(index))
        return response

    def _done(self, index: int) -> None:
        self.busy[index] -= 1

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


class _Counted(httpx.AsyncByteStream):
    """A response body that tells its pool when it is closed (its connection is free)."""

    def __init__(self, stream: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self.stream, self.done = stream, done
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.stream:
            yield chunk

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self.stream.aclose()  # the connection goes back to its pool (it may wait)
        finally:
            # counted free only now: a request sent to this pool in the meantime would
            # find the connection still taken, and open one more
            self.done()
