"""What every part of the engine shares: Redis keys, limits, errors, the URL check."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ...models import ScraperError

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


async def _group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as err:
        if "BUSYGROUP" not in str(err):
            raise
