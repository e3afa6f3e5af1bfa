"""Fewer, larger write transactions: the outcomes of many URLs committed together.

    >>> with archive.batched():          # the crawl and `scraper archive` (work_politely)
    ...     archive.save(...)            # runs now; its answer is final
    ...     archive.mark_checked(...)    # committed with the others, at most BATCH_SIZE
    ...                                  # writes or BATCH_SECONDS after the first

While a batch is open, the archive's writes (``save``, ``mark_checked``, ``record_fetch``,
``unforget`` ...) each run at once in a SAVEPOINT of one open ``BEGIN IMMEDIATE``
transaction, and ``Batch`` commits it when BATCH_SIZE writes have been made, when
BATCH_SECONDS have passed since the first (a timer on the event loop, so an idle crawl
does not hold the write lock), and when the batch is closed, normally or by Ctrl-C,
SIGTERM or --max-time. The SQL is not deferred, only the COMMIT: what a write returns
(new version N or unchanged, the article's id) is computed by the same connection that
reads the batch's own uncommitted rows, so two outcomes of one article in one batch are
numbered as if each had been committed, and a re-check reads the ETag and raw hash that
an earlier URL of the batch stored. A version and its fetch row are one savepoint, so
they still commit together; a write that fails rolls back its savepoint, not the batch.

A kill (SIGKILL, power loss) loses the open batch and nothing before it: its articles
keep their old ``next_check`` (or do not exist yet), so the next crawl re-does exactly
that work. The price is that another process's write waits for up to BATCH_SECONDS for
the lock (the busy timeout is 30 s).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time

log = logging.getLogger("scraper.store")

# A commit costs a WAL write of every page the transaction touched, whatever its size:
# 50 URLs' outcomes share most of those pages (the fetches table's last leaf, the indexes).
BATCH_SIZE = 50
BATCH_SECONDS = 1.0


class Batch:
    """One open write transaction shared by many writes; see the module docstring."""

    def __init__(self, conn: sqlite3.Connection, size: int = BATCH_SIZE,
                 seconds: float = BATCH_SECONDS) -> None:
        self.conn = conn
        self.size = size
        self.seconds = seconds
        self.writes = 0  # writes in the open transaction
        self.commits = 0
        self._timer: asyncio.TimerHandle | None = None
        self._failed: BaseException | None = None  # a commit by the timer that failed

    def begin(self) -> None:
        """Open the transaction before a write, if none is open (and start its clock)."""
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed
        if self.conn.in_transaction:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self.writes = 0
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # synchronous use: committed by size and at close only
            return
        self._timer = loop.call_later(self.seconds, self._on_timer)

    def wrote(self) -> None:
        """One write ended in the transaction: commit when the batch is full."""
        self.writes += 1
        if self.writes >= self.size:
            self.commit()

    def lost(self) -> None:
        """SQLite rolled the whole transaction back on an error (disk full, I/O error)."""
        if self.writes and not self.conn.in_transaction:
            log.error("a failed write rolled back the %d writes before it in its batch; "
                      "those URLs are checked again by the next crawl", self.writes)
            self.writes = 0
            self._cancel_timer()

    def commit(self) -> None:
        """Commit the open transaction, if any."""
        self._cancel_timer()
        if self.conn.in_transaction:
            started = time.monotonic()
            self.conn.execute("COMMIT")
            self.commits += 1
            log.debug("committed %d writes in %.1f ms", self.writes,
                      1000 * (time.monotonic() - started))
        self.writes = 0

    def close(self) -> None:
        """Commit what is open; a failure of the timer's last commit is raised here."""
        self.commit()
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed

    def _on_timer(self) -> None:
        # Runs on the event loop between two steps of the crawl's tasks, never inside a
        # write (writes are synchronous); an error is kept for the next write or close.
        self._timer = None
        try:
            self.commit()
        except BaseException as err:  # noqa: BLE001 -- raised again to a caller
            self._failed = err

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
