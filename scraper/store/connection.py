"""An open archive file: connecting, WAL mode, migrations, short write transactions.

Several processes (the crawl, a hand-run ``archive``) write at once: WAL mode, a busy
timeout, and short ``BEGIN IMMEDIATE`` transactions (a batch of many writes holds one about
a second at most, see ``batch``).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import sqlite_utils

from ..models import StoreError
from . import batch as batch_module
from .batch import Batch
from .schema import MIGRATIONS, SCHEMA_VERSION, _check_schema, _foreign, check_archive_file

# Long enough to outwait another process's commit, short enough that cron notices a wedge.
BUSY_TIMEOUT_S = 30.0


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    """One plain INSERT: sqlite-utils' insert() re-reads the schema on every call."""
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


class ArchiveFile:
    """An open archive database file; ``readonly=True`` for history/show/diff."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._batch: Batch | None = None
        if readonly and not self.path.exists():
            # mode=ro would refuse too, but say plainly what is missing.
            raise StoreError(f"no archive at {self.path} (archive a URL first, or pass --db)")
        check_archive_file(self.path)
        try:
            if readonly:
                # quote(): a '?' or '#' in the path would otherwise end the URI's path.
                uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            else:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: {e}") from e
        # isolation_level=None: sqlite3 opens no implicit transactions; _write() does it.
        try:
            self.db = sqlite_utils.Database(conn)
            self._setup()
        except BaseException as e:
            conn.close()
            if isinstance(e, sqlite3.DatabaseError):
                raise self._store_error(e) from e
            raise

    def _store_error(self, e: sqlite3.Error) -> StoreError:
        name = getattr(e, "sqlite_errorname", "")
        if name == "SQLITE_NOTADB":
            return StoreError(f"{self.path} is not a SQLite database")
        if name == "SQLITE_CORRUPT":  # a good header, bad pages: a cut copy, a failing disk
            return StoreError(f"{self.path} is damaged ({e}); restore it from a backup")
        return StoreError(f"{self.path}: {e}")

    def _setup(self) -> None:
        conn = self.db.conn
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        found = self._user_version()  # the first read: a non-database file fails here
        _check_schema(self.path, found)
        if self.readonly:
            if found < SCHEMA_VERSION:
                raise StoreError(f"{self.path} is not an archive at schema version "
                                 f"{SCHEMA_VERSION} (found {found}); open it read-write once")
            conn.execute("PRAGMA query_only = ON")
            return
        if found == 0:
            self._refuse_foreign()
        self._enable_wal()
        # In WAL mode NORMAL still survives a crash of the process (SIGKILL) intact; it only
        # skips the fsync per commit, which would dominate a crawl's write time.
        conn.execute("PRAGMA synchronous = NORMAL")
        if found < SCHEMA_VERSION:
            self._migrate()

    def _refuse_foreign(self) -> None:
        """Refuse a SQLite database of another program rather than add our tables to it."""
        conn = self.db.conn
        # One read transaction: another process may be migrating this new file right now.
        conn.execute("BEGIN")
        try:
            found = self._user_version()
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            conn.execute("COMMIT")
        if found == 0 and tables:
            raise _foreign(self.path)

    def _enable_wal(self) -> None:
        """Put the file in WAL mode (it persists), so readers run while one process writes.

        Switching the mode fails with SQLITE_BUSY at once, without the busy timeout, while
        another process opens or switches the same new file: retried here until the timeout.
        """
        conn = self.db.conn
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        pause = 0.001
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if getattr(e, "sqlite_errorname", "") != "SQLITE_BUSY" or \
                        time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _user_version(self) -> int:
        return int(self.db.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Run the pending migrations and set user_version, all in one transaction."""
        with self._write():
            # Re-read under the write lock: another process may have migrated meanwhile.
            found = self._user_version()
            _check_schema(self.path, found)
            for step in MIGRATIONS[found:]:
                step(self.db)
            self.db.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def batched(self, size: int | None = None, seconds: float | None = None) -> Iterator[Batch]:
        """Share one write transaction between the writes made inside (see ``store.batch``).

        Closing it commits what is open, whatever ends the block (an exception, Ctrl-C);
        a batch inside a batch is the outer one.
        """
        if self._batch is not None:
            yield self._batch
            return
        self._batch = Batch(self.db.conn, size or batch_module.BATCH_SIZE,
                            seconds or batch_module.BATCH_SECONDS)
        try:
            yield self._batch
        finally:
            batch, self._batch = self._batch, None
            try:
                batch.close()
            except sqlite3.OperationalError as e:
                raise self._store_error(e) from e

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction that takes the write lock before its first read;
        in a batch, one savepoint of the batch's transaction."""
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only")
        conn = self.db.conn
        if self._batch is not None:
            with self._in_batch(self._batch) as conn:
                yield conn
            return
        # A deferred transaction that reads and then writes gets SQLITE_BUSY at once,
        # without waiting, when another process committed in between; IMMEDIATE waits.
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except BaseException as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.OperationalError):
                raise self._store_error(e) from e
            raise

    @contextmanager
    def _in_batch(self, batch: Batch) -> Iterator[sqlite3.Connection]:
        conn = self.db.conn
        try:
            batch.begin()
            conn.execute("SAVEPOINT write")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:  # undo this write only; the batch's others stay
                    conn.execute("ROLLBACK TO write")
                    conn.execute("RELEASE write")
                else:
                    batch.lost()
                raise
            conn.execute("RELEASE write")
            batch.wrote()
        except sqlite3.OperationalError as e:
            raise self._store_error(e) from e

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            cursor = self.db.conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
        except sqlite3.DatabaseError as e:  # damaged pages, or a lock held too long
            raise self._store_error(e) from e

    def _first(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(sql + " LIMIT 1", params)
        return rows[0] if rows else None

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
