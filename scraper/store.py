"""The archive: articles, every version of their content, and every fetch, in one SQLite file.

Tables (their names and columns are a contract: the CLI and Datasette read them)::

    articles      one row per article_key: where it was first seen, validators, state
    versions      a row only when the content hash changes (A→B→A keeps three)
    fetches       every fetch attempt, failures included, so cron trouble is queryable
    versions_fts  full-text index over versions(title, text), kept current by triggers

Several processes (the crawl, a hand-run ``archive``) write at once: WAL mode, a busy
timeout, and short ``BEGIN IMMEDIATE`` transactions. This module knows nothing of
HTTP or HTML parsing; it stores the values ``fetch`` and ``extract`` produce.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import sqlite_utils

from .identity import content_hash, normalize_url, trusted_canonical
from .models import Article, Page, SchemaTooNew, StoreError
from .schedule import DEFAULT_SCHEDULE, next_check
from .browse.views import ensure_views, fill_change_stats

SCHEMA_VERSION = 4
# Long enough to outwait another process's commit, short enough that cron notices a wedge.
BUSY_TIMEOUT_S = 30.0
# Level 6 costs about 3x the CPU of level 1 (4.3 ms vs 1.5 ms a page) for little size gain.
HTML_ZLIB_LEVEL = 1
OUTCOMES = frozenset({
    "new_version", "unchanged", "not_modified", "gone", "blocked", "no_article", "error",
})
STATES = frozenset({"active", "gone"})
FETCH_COLUMNS = ("url", "started_at", "elapsed_ms", "status", "outcome", "error", "attempts",
                 "final_url", "article_id", "version")
CRAWL_COUNTS = ("discovered", "discovery_failed", "checked", *sorted(OUTCOMES), "skipped")
Schedule = tuple[tuple[timedelta, timedelta], ...]


def utc_now() -> str:
    """The current time in ISO 8601 UTC with offset, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class SaveResult:
    """What ``Archive.save`` did: stored a new version or found the latest one unchanged."""

    outcome: Literal["new_version", "unchanged"]
    article_id: int
    version: int


def _migrate_0_to_1(db: sqlite_utils.Database) -> None:
    """Create the articles, versions and fetches tables, their indexes and the FTS index."""
    db.execute("""
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL,
            url TEXT NOT NULL,
            canonical_url TEXT,
            article_key TEXT NOT NULL UNIQUE,
            first_seen TEXT NOT NULL,
            last_checked TEXT,
            last_changed TEXT,
            etag TEXT,
            last_modified TEXT,
            state TEXT NOT NULL DEFAULT 'active',
            next_check TEXT,
            check_count INTEGER NOT NULL DEFAULT 0
        )""")
    db.execute("""
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            version INTEGER NOT NULL,
            fetched_at TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            title TEXT,
            authors TEXT NOT NULL DEFAULT '[]',
            published TEXT,
            modified TEXT,
            description TEXT,
            language TEXT,
            image TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            text TEXT NOT NULL,
            word_count INTEGER NOT NULL,
            url TEXT NOT NULL,
            final_url TEXT,
            html_zlib BLOB,
            UNIQUE (article_id, version)
        )""")
    db.execute("""
        CREATE TABLE fetches (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            started_at TEXT NOT NULL,
            elapsed_ms INTEGER,
            status INTEGER,
            outcome TEXT NOT NULL,
            error TEXT,
            attempts INTEGER,
            final_url TEXT,
            article_id INTEGER REFERENCES articles(id),
            version INTEGER
        )""")
    # Stemming helps English queries; remove_diacritics lets "cafe" find "café".
    db.table("versions").enable_fts(
        ["title", "text"], create_triggers=True, tokenize="porter unicode61 remove_diacritics 2"
    )
    for table, column in [("fetches", "started_at"), ("fetches", "url"), ("fetches", "article_id"),
                          ("articles", "url"), ("articles", "canonical_url"),
                          ("articles", "next_check")]:
        db.table(table).create_index([column])


def _migrate_1_to_2(db: sqlite_utils.Database) -> None:
    """Crawl support: the raw-bytes hash of the last fetch, and a log of crawl runs."""
    # sha256 of the last fetched body: the same bytes again need no extraction
    db.execute("ALTER TABLE articles ADD COLUMN raw_hash TEXT")
    db.execute("""
        CREATE TABLE crawls (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            sites TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL DEFAULT 'running',
            discovered INTEGER NOT NULL DEFAULT 0,
            checked INTEGER NOT NULL DEFAULT 0,
            new_version INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            not_modified INTEGER NOT NULL DEFAULT 0,
            gone INTEGER NOT NULL DEFAULT 0,
            blocked INTEGER NOT NULL DEFAULT 0,
            no_article INTEGER NOT NULL DEFAULT 0,
            error INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0
        )""")
    db.table("articles").create_index(["site", "state", "next_check"])


def _migrate_2_to_3(db: sqlite_utils.Database) -> None:
    """Views for Datasette: latest_versions, changes (and its change_stats word counts)."""
    # Counts for versions stored before this migration are filled in by `scraper serve`
    # in small batches, so a migration never holds the write lock for long.
    ensure_views(db)


def _migrate_3_to_4(db: sqlite_utils.Database) -> None:
    """crawls.discovery_failed: sites none of whose feeds and sitemaps could be read."""
    db.execute("ALTER TABLE crawls ADD COLUMN discovery_failed INTEGER NOT NULL DEFAULT 0")


# MIGRATIONS[n] takes a database from user_version n to n + 1.
MIGRATIONS: Sequence[Callable[[sqlite_utils.Database], None]] = (
    _migrate_0_to_1, _migrate_1_to_2, _migrate_2_to_3, _migrate_3_to_4)
assert len(MIGRATIONS) == SCHEMA_VERSION


SQLITE_MAGIC = b"SQLite format 3\x00"


def check_archive_file(path: Path) -> None:
    """Refuse, from its 100-byte header alone, a file that cannot become or be an archive.

    No SQLite connection, so nothing is written: not a SQLite file, or a newer schema
    (``user_version`` is at offset 60), raise StoreError or SchemaTooNew; so does a new
    file whose directory is missing. A missing or empty file in a directory passes.
    Archive() checks again once open; this lets ``crawl`` refuse before taking its lock.
    """
    if not path.exists():
        if not path.parent.is_dir():
            raise StoreError(f"cannot create {path}: no directory {path.parent}")
        return
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError as err:
        raise StoreError(f"cannot read {path}: {err.strerror or err}") from None
    if not header:
        return  # SQLite makes an empty file a new database
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise StoreError(f"{path} is not a SQLite database")
    found = int.from_bytes(header[60:64], "big")
    _check_schema(path, found)
    # Offset 40 is the schema cookie: tables exist. Ours come with user_version set, in one
    # transaction, so tables at version 0 belong to another program. (In WAL mode both may
    # still be in the -wal file only; Archive() then checks again.)
    if found == 0 and int.from_bytes(header[40:44], "big"):
        raise _foreign(path)


def _foreign(path: Path) -> StoreError:
    return StoreError(f"{path} is a SQLite database but not a scraper archive")


def _check_schema(path: Path, found: int) -> None:
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(f"{path} has schema version {found}; this scraper "
                           f"knows up to {SCHEMA_VERSION}: upgrade it")


def _insert(conn: sqlite3.Connection, table: str, row: dict[str, Any]) -> None:
    """One plain INSERT: sqlite-utils' insert() re-reads the schema on every call."""
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


class Archive:
    """An open archive database; ``readonly=True`` for history/show/diff."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
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
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction that takes the write lock before its first read."""
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only")
        conn = self.db.conn
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

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def save(self, article: Article, page: Page, *, site_name: str, key: str,
             fetched_at: str | None = None, raw_hash: str | None = None,
             schedule: Schedule = DEFAULT_SCHEDULE,
             fetch: dict[str, Any] | None = None) -> SaveResult:
        """Record a check of the article; store a version if its content hash changed.

        ``raw_hash`` (sha256 of the fetched bytes) lets the next check skip extraction when
        the bytes are the same; ``schedule`` sets the article's next check. ``fetch`` (the
        columns of a ``fetches`` row but outcome, article and version) is logged in the same
        transaction, so a crash never keeps a version without its fetch or the reverse.
        """
        if not article.text.strip():
            # An error page or teaser extracts to nothing: it must never become a version.
            raise ValueError(f"refusing to store {page.url}: the article has no text")
        if not key:
            raise ValueError(f"refusing to store {page.url}: empty article key")
        now = fetched_at or utc_now()
        digest = content_hash(article)
        # A foreign canonical would let find_article() hand this row to another site's URL.
        canonical = trusted_canonical(page.final_url or page.url, article.canonical_url)
        # Compress before taking the write lock (a big page takes milliseconds), and only
        # when a version is likely to be stored: the latest hash, read without the lock.
        blob = None if self._latest_hash(key) == digest else self._compress(page.html)
        with self._write() as conn:
            row = conn.execute("SELECT id FROM articles WHERE article_key = ?", [key]).fetchone()
            if row is None:
                _insert(conn, "articles", {
                    "site": site_name, "url": page.url, "canonical_url": canonical,
                    "article_key": key, "first_seen": now, "state": "active",
                })
                row = conn.execute("SELECT id FROM articles WHERE article_key = ?",
                                   [key]).fetchone()
            article_id = int(row[0])
            latest = conn.execute(
                "SELECT version, content_hash FROM versions WHERE article_id = ?"
                " ORDER BY version DESC LIMIT 1", [article_id]).fetchone()
            changed = latest is None or latest[1] != digest
            number = (latest[0] + 1 if latest else 1) if changed else latest[0]
            if changed:
                _insert(conn, "versions", {
                    "article_id": article_id, "version": number, "fetched_at": now,
                    "content_hash": digest, "title": article.title,
                    "authors": json.dumps(list(article.authors), ensure_ascii=False),
                    "published": article.published, "modified": article.modified,
                    "description": article.description, "language": article.language,
                    "image": article.image,
                    "tags": json.dumps(list(article.tags), ensure_ascii=False),
                    "text": article.text, "word_count": len(article.text.split()),
                    "url": page.url, "final_url": page.final_url,
                    "html_zlib": blob if blob is not None else self._compress(page.html),
                })
                if number > 1:  # words added/removed against the previous version
                    fill_change_stats(self.db, article_id)
            # Validators come from this response: a stale ETag would make 304s lie.
            conn.execute(
                "UPDATE articles SET canonical_url = COALESCE(?, canonical_url),"
                " last_checked = ?, last_changed = CASE WHEN ? THEN ? ELSE last_changed END,"
                " etag = ?, last_modified = ?, raw_hash = ?, state = 'active',"
                " check_count = check_count + 1 WHERE id = ?",
                [canonical, now, changed, now, page.etag, page.last_modified, raw_hash,
                 article_id])
            self._schedule(conn, article_id, now, schedule)
            outcome: Literal["new_version", "unchanged"] = (
                "new_version" if changed else "unchanged")
            if fetch is not None:
                self._insert_fetch({**fetch, "outcome": outcome, "article_id": article_id,
                                    "version": number if changed else None})
        return SaveResult(outcome, article_id, number)

    def _latest_hash(self, key: str) -> str | None:
        row = self.db.conn.execute(
            "SELECT v.content_hash FROM versions v JOIN articles a ON a.id = v.article_id"
            " WHERE a.article_key = ? ORDER BY v.version DESC LIMIT 1", [key]).fetchone()
        return row[0] if row else None

    @staticmethod
    def _compress(html: str) -> bytes:
        # The decoded page as UTF-8, so version() returns str whatever the charset.
        return zlib.compress(html.encode("utf-8"), HTML_ZLIB_LEVEL)

    def record_fetch(self, url: str, *, started_at: str, elapsed_ms: int, status: int | None,
                     outcome: str, error: str | None = None, article_id: int | None = None,
                     version: int | None = None, attempts: int | None = None,
                     final_url: str | None = None) -> None:
        """Log one fetch attempt, whatever its outcome."""
        with self._write():
            self._insert_fetch({
                "url": url, "started_at": started_at, "elapsed_ms": elapsed_ms,
                "status": status, "outcome": outcome, "error": error, "attempts": attempts,
                "final_url": final_url, "article_id": article_id, "version": version,
            })

    def _insert_fetch(self, row: dict[str, Any]) -> None:
        if row.get("outcome") not in OUTCOMES:
            raise ValueError(f"unknown fetch outcome {row.get('outcome')!r} "
                             f"(known: {sorted(OUTCOMES)})")
        _insert(self.db.conn, "fetches", {c: row.get(c) for c in FETCH_COLUMNS})

    def mark_checked(self, key: str, *, state: str | None = None, etag: str | None = None,
                     last_modified: str | None = None, checked_at: str | None = None,
                     schedule: Schedule = DEFAULT_SCHEDULE,
                     fetch: dict[str, Any] | None = None) -> None:
        """Record a check that stored nothing (304, same bytes, 404/410).

        A gone article is never scheduled again; others get their next check. An unknown
        key changes no article, but ``fetch`` (a ``fetches`` row, outcome included) is
        logged in the same transaction either way.
        """
        if state is not None and state not in STATES:
            raise ValueError(f"unknown article state {state!r} (known: {sorted(STATES)})")
        now = checked_at or utc_now()
        with self._write() as conn:
            # None keeps the old value: a 304 need not repeat the validators.
            conn.execute(
                "UPDATE articles SET last_checked = ?, check_count = check_count + 1,"
                " state = COALESCE(?, state), etag = COALESCE(?, etag),"
                " last_modified = COALESCE(?, last_modified) WHERE article_key = ?",
                [now, state, etag, last_modified, key])
            row = conn.execute("SELECT id, state FROM articles WHERE article_key = ?",
                               [key]).fetchone()
            if row is not None:
                if row[1] == "gone":
                    conn.execute("UPDATE articles SET next_check = NULL WHERE id = ?", [row[0]])
                else:
                    self._schedule(conn, row[0], now, schedule)
            if fetch is not None:
                self._insert_fetch({**fetch, "article_id": row[0] if row else None})

    @staticmethod
    def _schedule(conn: sqlite3.Connection, article_id: int, now: str,
                  schedule: Schedule) -> None:
        """Set the article's next check from the time since its last real change."""
        changed = conn.execute("SELECT COALESCE(last_changed, first_seen) FROM articles"
                               " WHERE id = ?", [article_id]).fetchone()[0]
        when = next_check(datetime.fromisoformat(changed), datetime.fromisoformat(now),
                          schedule)
        conn.execute("UPDATE articles SET next_check = ? WHERE id = ?",
                     [when.isoformat(timespec="seconds") if when else None, article_id])

    def due(self, sites: Sequence[str], now: str, limit: int) -> list[dict[str, Any]]:
        """Active articles of ``sites`` whose next check has come, most overdue first."""
        marks = ",".join("?" * len(sites))
        return self._rows(
            "SELECT id, site, url, canonical_url, article_key, etag, last_modified, raw_hash,"
            f" next_check FROM articles WHERE state = 'active' AND site IN ({marks})"
            " AND next_check IS NOT NULL AND next_check <= ? ORDER BY next_check LIMIT ?",
            [*sites, now, limit])

    def known(self, keys: Sequence[str], urls: Sequence[str]) -> set[str]:
        """Which of ``keys`` (article keys) or ``urls`` are already in the archive."""
        found: set[str] = set()
        for column, values in (("article_key", keys), ("url", urls), ("canonical_url", urls)):
            for start in range(0, len(values), 500):  # stay under SQLite's variable limit
                chunk = list(values[start:start + 500])
                marks = ",".join("?" * len(chunk))
                found.update(r[0] for r in self.db.conn.execute(
                    f"SELECT {column} FROM articles WHERE {column} IN ({marks})", chunk))
        return found

    def mark_interrupted_crawls(self) -> list[int]:
        """Mark crawls still 'running' as 'interrupted'; returns their ids.

        Call it holding the crawl lock (``crawl.crawl_lock``): no other crawl can be running
        then, so such a row is from a crawl that was killed (SIGKILL, power loss, OOM) before
        it could close its row.
        """
        with self._write() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM crawls WHERE status = 'running'"
                                              " ORDER BY id")]
            conn.execute("UPDATE crawls SET status = 'interrupted' WHERE status = 'running'")
        return ids

    def start_crawl(self, sites: Sequence[str], started_at: str | None = None) -> int:
        """Open a row in ``crawls`` for a run; returns its id."""
        with self._write():
            table = self.db.table("crawls")
            table.insert({"started_at": started_at or utc_now(),
                          "sites": json.dumps(list(sites)), "status": "running"})
            return int(table.last_pk)  # type: ignore[arg-type]

    def finish_crawl(self, crawl_id: int, counts: dict[str, int], status: str) -> None:
        """Close the crawl's row with its end time, status and counts by outcome."""
        columns = set(CRAWL_COUNTS) & set(counts)
        assignments = "".join(f", {c} = :{c}" for c in sorted(columns))
        with self._write() as conn:
            conn.execute(f"UPDATE crawls SET finished_at = :finished, status = :status"
                         f"{assignments} WHERE id = :id",
                         {"finished": utc_now(), "status": status, "id": crawl_id,
                          **{c: counts[c] for c in columns}})

    def find_article(self, url: str, key: str | None = None) -> dict[str, Any] | None:
        """The article row by key, then URL, then canonical URL, then normalised URL."""
        lookups: list[tuple[str, str]] = [("article_key", key)] if key else []
        lookups += [("url", url), ("canonical_url", url)]
        normalized = normalize_url(url)
        lookups += [(column, normalized) for column in ("article_key", "url", "canonical_url")]
        for column, value in lookups:
            row = self._first(f"SELECT * FROM articles WHERE {column} = ? ORDER BY id", [value])
            if row is not None:
                return row
        return None

    def validators(self, key: str) -> tuple[str | None, str | None]:
        """(etag, last_modified) of the article, for a conditional GET."""
        row = self._first("SELECT etag, last_modified FROM articles WHERE article_key = ?", [key])
        return (row["etag"], row["last_modified"]) if row else (None, None)

    def versions(self, article_id: int) -> list[dict[str, Any]]:
        """A summary of each version of the article, oldest first."""
        rows = self._rows(
            "SELECT id, version, fetched_at, content_hash, title, authors, published, modified,"
            " word_count, url, final_url FROM versions WHERE article_id = ? ORDER BY version",
            [article_id])
        for row in rows:
            row["authors"] = json.loads(row["authors"])
        return rows

    def version(self, article_id: int, number: int | None = None) -> dict[str, Any] | None:
        """One full version (the latest when ``number`` is None), with its HTML as str."""
        if number is None:
            row = self._first("SELECT * FROM versions WHERE article_id = ?"
                              " ORDER BY version DESC", [article_id])
        else:
            row = self._first("SELECT * FROM versions WHERE article_id = ? AND version = ?",
                              [article_id, number])
        if row is None:
            return None
        row["authors"] = json.loads(row["authors"])
        row["tags"] = json.loads(row["tags"])
        blob = row.pop("html_zlib")
        row["html"] = zlib.decompress(blob).decode("utf-8") if blob else ""
        return row
