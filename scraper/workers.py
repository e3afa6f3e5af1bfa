"""The crawl's process resources: the lock that keeps one crawl per archive, and the pool of
extraction processes (one per core) that the crawl, `scraper archive` of a list, `reextract`
and `scraper worker` share.

Both must survive a SIGKILL of the crawl cleanly: flock is released by the kernel, and the
pool's workers close their copies of the lock and exit when their parent is gone.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .models import Article, Locked, Page, StoreError
from .pipeline import Extractor, extract_page
from .sites import Site

# Descriptors of the lock files this process holds. A forked extraction worker inherits
# them, and flock belongs to the open file, not the process: a worker outliving a killed
# crawl would keep the archive locked. Workers close their copies (see _worker_start).
_LOCK_FDS: set[int] = set()


@contextmanager
def crawl_lock(db: Path) -> Iterator[None]:
    """Hold ``<db>.lock`` for the run; raises Locked at once when another crawl holds it.

    flock is released by the kernel when the process dies, even by SIGKILL, so a crashed
    crawl never leaves a stale lock behind.
    """
    try:
        fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        where = "" if db.parent.is_dir() else f" (no directory {db.parent})"
        raise StoreError(f"cannot create {db}.lock: {err.strerror}{where}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Locked(f"another crawl is running on {db}") from None
        _LOCK_FDS.add(fd)
        yield
    finally:
        _LOCK_FDS.discard(fd)
        os.close(fd)


def pool_extractor(pool: Executor | None) -> Extractor:
    """Extraction in ``pool`` (off the event loop, one process per core), or inline."""

    async def extractor(page: Page, site: Site) -> Article:
        # Imported at the first page to extract, never on a run of 304s; and before the
        # pool's first job, when its workers fork, so that they inherit it loaded.
        from .extract import extract  # noqa: F401

        if pool is None:
            return extract_page(page, site)
        loop = asyncio.get_running_loop()
        # the bytes go as they are (a copy, not the str's encoding to UTF-8 and back), and
        # the worker decodes them; the HTTP heads stay here, they are stored from here
        return await loop.run_in_executor(pool, extract_page, replace(page, http=None), site)

    return extractor


def _extract_job(html: str, url: str, site: Site) -> Article:
    """Runs in a worker process: extraction is CPU-bound and must stay off the event loop."""
    from .extract import extract

    return extract(html, url=url, site=site)


# More pages than this (a URL list, a re-extraction) extract in a process pool: starting it
# costs about a second, so a few pages extract inline.
POOL_FROM = 20


def make_pool() -> ProcessPoolExecutor:
    """One extraction process per core; the workers end when the crawl dies."""
    return ProcessPoolExecutor(max_workers=os.cpu_count() or 1, initializer=_worker_start)


def _worker_start() -> None:
    """In each new worker: let go of the crawl's lock, and exit when the crawl is gone.

    A worker waits for jobs on a pipe that it holds open itself, so when the crawl is
    SIGKILLed it would wait forever, one orphan per core per crash, each holding the lock.
    """
    for fd in _LOCK_FDS:
        os.close(fd)
    _LOCK_FDS.clear()
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="exit-with-crawl").start()


def _exit_with_parent(parent: int, every: float = 0.2) -> None:
    # A process is re-parented when its parent dies; polling getppid works everywhere.
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)
