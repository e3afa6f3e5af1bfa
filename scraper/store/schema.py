"""The archive's schema: its version, the migrations that build it, and the file checks.

``SCHEMA_VERSION`` is stored in SQLite's ``user_version``; ``MIGRATIONS[n]`` takes a database
from version n to n + 1, all pending ones in one transaction (see ``ArchiveFile._migrate``).
The tables are a contract (the CLI, Datasette and other tools read them); README.md's schema
section is generated from a database these migrations build (``scripts/schema_doc.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import sqlite_utils

from ..browse.views import ensure_views
from ..models import SchemaTooNew, StoreError

SCHEMA_VERSION = 7


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


def _migrate_4_to_5(db: sqlite_utils.Database) -> None:
    """tombstones: what `scraper forget` removed, as hashes only, so it is never archived again."""
    db.execute("""
        CREATE TABLE tombstones (
            key_hash TEXT PRIMARY KEY,
            forgotten_at TEXT NOT NULL,
            reason TEXT
        )""")


def _migrate_5_to_6(db: sqlite_utils.Database) -> None:
    """versions.extractor (what extracted a version) and versions.folded (a false edit that
    `scraper reextract` found equal to the version before: kept, but no longer a version)."""
    db.execute("ALTER TABLE versions ADD COLUMN extractor TEXT")
    db.execute("ALTER TABLE versions ADD COLUMN folded INTEGER NOT NULL DEFAULT 0")
    ensure_views(db)  # the views and their word counts skip folded versions


def _migrate_6_to_7(db: sqlite_utils.Database) -> None:
    """Pages as fetched: versions.html_raw (the body's bytes as received, after any
    Content-Encoding), versions.http_exchange (the request and response heads, JSON), both
    compressed with versions.html_codec ('zstd'); html_zlib stays for the rows before. And
    feed_validators: each feed's and sitemap's ETag and Last-Modified for conditional GETs."""
    db.execute("ALTER TABLE versions ADD COLUMN html_raw BLOB")
    db.execute("ALTER TABLE versions ADD COLUMN html_codec TEXT")
    db.execute("ALTER TABLE versions ADD COLUMN http_exchange BLOB")
    db.execute("""
        CREATE TABLE feed_validators (
            url TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            checked_at TEXT NOT NULL
        )""")


# MIGRATIONS[n] takes a database from user_version n to n + 1.
MIGRATIONS: Sequence[Callable[[sqlite_utils.Database], None]] = (
    _migrate_0_to_1, _migrate_1_to_2, _migrate_2_to_3, _migrate_3_to_4, _migrate_4_to_5,
    _migrate_5_to_6, _migrate_6_to_7)
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
