"""The same crawl on many machines: `scraper crawl --queue` plans and stores, `scraper worker`
fetches and extracts, through Taskiq on Redis.

``messages`` (what is sent, pure), ``work`` (a worker's side, no database), ``coordinate``
(the coordinator's side, engine-agnostic) and ``engine`` (a package: every line of Taskiq
and Redis).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def versions() -> tuple[int, str]:
    """(archive schema, extraction code id): a worker and its coordinator must agree."""
    from ..extract import _code_id
    from ..store import SCHEMA_VERSION
    from .messages import FORMAT

    return SCHEMA_VERSION, f"{_code_id()} m{FORMAT}"


async def queued_crawl(archive: Any, config: Any, sites: list[Any], report: Any, url: str, *,
                       max_time: float | None = None,
                       on_result: Callable[[Any], None] = lambda r: None, **tuning: Any) -> Any:
    """`scraper crawl --queue URL`: this process plans and stores, workers fetch."""
    from .coordinate import run_queued
    from .engine import RedisQueue

    schema, code = versions()
    queue = RedisQueue(url)
    try:
        await queue.open(schema, code)
        return await run_queued(archive, config, sites, queue, report, schema=schema,
                                code=code, max_time=max_time, on_result=on_result, **tuning)
    finally:
        await queue.close()
