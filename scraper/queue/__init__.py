"""The same crawl on many machines: `scraper crawl --queue` plans and stores, `scraper worker`
fetches and extracts, through Taskiq on Redis.

``messages`` (what is sent, pure), ``work`` (a worker's side, no database), ``coordinate``
(the coordinator's side, engine-agnostic) and ``engine`` (every line of Taskiq and Redis).
"""

from __future__ import annotations


def versions() -> tuple[int, str]:
    """(archive schema, extraction code id): a worker and its coordinator must agree."""
    from ..extract import _code_id
    from ..store import SCHEMA_VERSION
    from .messages import FORMAT

    return SCHEMA_VERSION, f"{_code_id()} m{FORMAT}"
