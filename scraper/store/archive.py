"""The archive's operations: store a checked article, log fetches and crawls, look things up.

Tables (their names and columns are a contract: the CLI and Datasette read them)::

    articles      one row per article_key: where it was first seen, validators, state
    versions      a row only when the content hash changes (A→B→A keeps three)
    fetches       every fetch attempt, failures included, so cron trouble is queryable
    crawls        every `scraper crawl` run with its counts by outcome
    versions_fts  full-text index over versions(title, text), kept current by triggers

This module knows nothing of HTTP or HTML parsing; it stores the values ``fetch`` and
``extract`` produce.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from ..browse.views import fill_change_stats
from ..identity import content_hash, normalize_url, trusted_canonical
from ..models import Article, CrawlStatus, NotStorable, Outcome, Page, StoreError
from ..schedule import DEFAULT_SCHEDULE, next_check
from ..web import decode_html
from . import codec
from .connection import ArchiveFile, _insert

# the columns that hold a version's page (read by page_html)
PAGE_COLUMNS = ("html_zlib", "html_raw", "html_codec", "http_exchange")
OUTCOMES = frozenset(o.value for o in Outcome)
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

    outcome: Literal[Outcome.NEW_VERSION, Outcome.UNCHANGED]
    article_id: int
    version: int


class Archive(ArchiveFile):
    """The archive: ``save`` a checked article, ``mark_checked`` one that stored nothing,
    log fetches and crawls, and the look-ups the CLI and the crawl need."""

    def save(self, article: Article, page: Page, *, site_name: str, key: str,
             fetched_at: str | None = None, raw_hash: str | None = None,
             schedule: Schedule = DEFAULT_SCHEDULE,
             fetch: dict[str, Any] | None = None, extractor: str | None = None,
             stored: dict[str, Any] | None = None) -> SaveResult:
        """Record a check of the article; store a version if its content hash changed.

        ``raw_hash`` (sha256 of the fetched bytes) lets the next check skip extraction when
        the bytes are the same; ``schedule`` sets the article's next check. ``fetch`` (the
        columns of a ``fetches`` row but outcome, article and version) is logged in the same
        transaction, so a crash never keeps a version without its fetch or the reverse.
        ``stored``: the page's ``stored_page`` columns, when the caller compressed them
        already (and let go of the page's bytes).
        """
        if not article.text.strip():
            # An error page or teaser extracts to nothing: it must never become a version.
            raise NotStorable(f"refusing to store {page.url}: the article has no text")
        if not key:
            raise NotStorable(f"refusing to store {page.url}: empty article key")
        now = fetched_at or utc_now()
        digest = content_hash(article)
        # A foreign canonical would let find_article() hand this row to another site's URL.
        canonical = trusted_canonical(page.final_url or page.url, article.canonical_url)
        # Compress before taking the write lock (a big page takes milliseconds), and only
        # when a version is likely to be stored: the latest hash, read without the lock.
        blobs = stored if stored is not None else (
            None if self._latest_hash(key) == digest else stored_page(page))
        with self._write() as conn:
            # fewer statements per page: each costs ~30 µs, and a crawl makes them per URL
            row = conn.execute("SELECT id, COALESCE(last_changed, first_seen) FROM articles"
                               " WHERE article_key = ?", [key]).fetchone()
            if row is None:
                _insert(conn, "articles", {
                    "site": site_name, "url": page.url, "canonical_url": canonical,
                    "article_key": key, "first_seen": now, "state": "active",
                })
                row = (conn.execute("SELECT last_insert_rowid()").fetchone()[0], now)
            article_id, since = int(row[0]), row[1]
            # compared with the latest real version; numbered after every one, folded too
            latest = conn.execute(
                "SELECT version, content_hash, (SELECT max(version) FROM versions"
                " WHERE article_id = ?1) FROM versions WHERE article_id = ?1 AND NOT folded"
                " ORDER BY version DESC LIMIT 1", [article_id]).fetchone()
            top = latest[2] if latest else conn.execute(
                "SELECT max(version) FROM versions WHERE article_id = ?",
                [article_id]).fetchone()[0]
            changed = latest is None or latest[1] != digest
            number = (top or 0) + 1 if changed else latest[0]
            if changed:
                _insert(conn, "versions", {
                    "article_id": article_id, "version": number, "fetched_at": now,
                    **version_fields(article), "content_hash": digest, "extractor": extractor,
                    "url": page.url, "final_url": page.final_url,
                    **(blobs if blobs is not None else stored_page(page)),
                })
                if number > 1:  # words added/removed against the previous version
                    fill_change_stats(self.db, article_id)
            # Validators come from this response: a stale ETag would make 304s lie.
            conn.execute(
                "UPDATE articles SET canonical_url = COALESCE(?, canonical_url),"
                " last_checked = ?, last_changed = CASE WHEN ? THEN ? ELSE last_changed END,"
                " etag = ?, last_modified = ?, raw_hash = ?, state = 'active',"
                " check_count = check_count + 1, next_check = ? WHERE id = ?",
                [canonical, now, changed, now, page.etag, page.last_modified, raw_hash,
                 _next_check(now if changed else since, now, schedule), article_id])
            outcome: Literal[Outcome.NEW_VERSION, Outcome.UNCHANGED] = (
                Outcome.NEW_VERSION if changed else Outcome.UNCHANGED)
            if fetch is not None:
                self._insert_fetch({**fetch, "outcome": outcome, "article_id": article_id,
                                    "version": number if changed else None})
        return SaveResult(outcome, article_id, number)

    def _latest_hash(self, key: str) -> str | None:
        row = self.db.conn.execute(
            "SELECT v.content_hash FROM versions v JOIN articles a ON a.id = v.article_id"
            " WHERE a.article_key = ? AND NOT v.folded ORDER BY v.version DESC LIMIT 1",
            [key]).fetchone()
        return row[0] if row else None

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
            raise NotStorable(f"unknown fetch outcome {row.get('outcome')!r} "
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
            raise NotStorable(f"unknown article state {state!r} (known: {sorted(STATES)})")
        now = checked_at or utc_now()
        with self._write() as conn:
            # None keeps the old value: a 304 need not repeat the validators.
            found = conn.execute(
                "UPDATE articles SET last_checked = ?, check_count = check_count + 1,"
                " state = COALESCE(?, state), etag = COALESCE(?, etag),"
                " last_modified = COALESCE(?, last_modified) WHERE article_key = ?"
                " RETURNING id, state, COALESCE(last_changed, first_seen)",
                [now, state, etag, last_modified, key]).fetchall()
            row = found[0] if found else None
            if row is not None:
                # a gone article is never checked again
                when = None if row[1] == "gone" else _next_check(row[2], now, schedule)
                conn.execute("UPDATE articles SET next_check = ? WHERE id = ?", [when, row[0]])
            if fetch is not None:
                self._insert_fetch({**fetch, "article_id": row[0] if row else None})

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

    def site_of(self, article_id: int) -> str | None:
        """The site an article is archived as, or None when there is no such article."""
        row = self._first("SELECT site FROM articles WHERE id = ?", [article_id])
        return row["site"] if row else None

    def validators(self, key: str) -> tuple[str | None, str | None]:
        """(etag, last_modified) of the article, for a conditional GET."""
        row = self._first("SELECT etag, last_modified FROM articles WHERE article_key = ?", [key])
        return (row["etag"], row["last_modified"]) if row else (None, None)

    def versions(self, article_id: int) -> list[dict[str, Any]]:
        """A summary of each version of the article, oldest first."""
        rows = self._rows(
            "SELECT id, version, fetched_at, content_hash, title, authors, published, modified,"
            " word_count, url, final_url FROM versions WHERE article_id = ? AND NOT folded"
            " ORDER BY version",
            [article_id])
        for row in rows:
            row["authors"] = json.loads(row["authors"])
        return rows

    def previous(self, article_id: int, number: int) -> int | None:
        """The number of the version before ``number`` that is not folded, or None."""
        row = self._first("SELECT version FROM versions WHERE article_id = ? AND version < ?"
                          " AND NOT folded ORDER BY version DESC", [article_id, number])
        return row["version"] if row else None

    def version(self, article_id: int, number: int | None = None, *,
                html: bool = False) -> dict[str, Any] | None:
        """One full version (the latest when ``number`` is None), without its page.

        With ``html=True`` the archived page comes too, as str; a damaged blob then raises
        StoreError naming the version (the text and metadata need no blob).
        """
        # the latest that is not folded; a number asked for, folded or not
        where = " AND NOT folded" if number is None else " AND version = ?"
        columns = "*" if html else "*, NULL AS html_zlib, NULL AS html_raw, NULL AS http_exchange"
        row = self._first(f"SELECT {columns} FROM versions WHERE article_id = ?{where}"
                          " ORDER BY version DESC", [article_id, *([] if number is None
                                                                    else [number])])
        if row is None:
            return None
        row["authors"] = json.loads(row["authors"])
        row["tags"] = json.loads(row["tags"])
        if html:
            row["html"] = page_html(row, f"version {row['version']} of {row['url']}")
        for column in PAGE_COLUMNS:
            row.pop(column, None)
        return row

    def mark_interrupted_crawls(self) -> list[int]:
        """Mark crawls still 'running' as 'interrupted'; returns their ids.

        Call it holding the crawl lock (``workers.crawl_lock``): no other crawl can be running
        then, so such a row is from a crawl that was killed (SIGKILL, power loss, OOM) before
        it could close its row.
        """
        with self._write() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM crawls WHERE status = ?"
                                              " ORDER BY id", [CrawlStatus.RUNNING])]
            conn.execute("UPDATE crawls SET status = ? WHERE status = ?",
                         [CrawlStatus.INTERRUPTED, CrawlStatus.RUNNING])
        return ids

    def start_crawl(self, sites: Sequence[str], started_at: str | None = None) -> int:
        """Open a row in ``crawls`` for a run; returns its id."""
        with self._write():
            table = self.db.table("crawls")
            table.insert({"started_at": started_at or utc_now(),
                          "sites": json.dumps(list(sites)), "status": CrawlStatus.RUNNING.value})
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


def _next_check(changed: str, now: str, schedule: Schedule) -> str | None:
    """When to check an article next, from the time of its last real change (or first
    sighting) and now; None: never."""
    when = next_check(datetime.fromisoformat(changed), datetime.fromisoformat(now), schedule)
    return when.isoformat(timespec="seconds") if when else None


def version_fields(article: Article) -> dict[str, Any]:
    """The columns of ``versions`` that extraction fills, as stored (lists as JSON)."""
    return {
        "title": article.title, "authors": json.dumps(list(article.authors), ensure_ascii=False),
        "published": article.published, "modified": article.modified,
        "description": article.description, "language": article.language,
        "image": article.image, "tags": json.dumps(list(article.tags), ensure_ascii=False),
        "text": article.text, "word_count": len(article.text.split()),
    }


def stored_page(page: Page, compressed: bytes | None = None) -> dict[str, Any]:
    """The ``versions`` columns that keep the fetched page: its bytes and HTTP heads.
    ``compressed``: the page's bytes zstd-compressed already (by a worker), kept as they are."""
    if compressed is None:
        # a Page built by hand may carry only html
        compressed = codec.compress(page.raw or page.html.encode("utf-8"))
    return {"html_raw": compressed, "html_codec": codec.ZSTD,
            "http_exchange": codec.pack_json(page.http) if page.http else None}


@dataclass(frozen=True)
class StoredPage:
    """A version's archived page: its bytes and, from schema 7 on, its HTTP heads."""

    body: bytes
    exchange: dict[str, Any] | None
    content_type: str  # the response's, or UTF-8 HTML for a page stored before schema 7


def read_page(row: dict[str, Any], what: str) -> StoredPage | None:
    """A version's page from its ``html_raw`` or, stored before schema 7, its ``html_zlib``
    (None when it has none); StoreError naming ``what`` if a blob is damaged. ``row`` holds
    the PAGE_COLUMNS it has."""
    try:
        if row.get("html_raw") is not None:
            exchange = codec.unpack_json(row.get("http_exchange"), row.get("html_codec"))
            body = codec.decompress(row["html_raw"], row.get("html_codec"))
            return StoredPage(body, exchange, content_type(exchange) or "text/html")
        if row.get("html_zlib"):
            return StoredPage(codec.decompress(row["html_zlib"], None), None,
                              "text/html; charset=utf-8")
    except ValueError as err:  # JSONDecodeError is a ValueError
        raise StoreError(f"the stored HTML of {what} is damaged ({err})") from None
    return None


def page_html(row: dict[str, Any], what: str) -> str:
    """A version's archived page as text, decoded with the charset the fetch used ("" when
    it has none); StoreError naming ``what`` if it is damaged."""
    page = read_page(row, what)
    if page is None:
        return ""
    if page.exchange is not None:
        return decode_html(page.body, page.content_type)[0]
    try:
        return page.body.decode("utf-8")  # stored before schema 7: always UTF-8
    except UnicodeDecodeError as err:
        raise StoreError(f"the stored HTML of {what} is damaged ({err})") from None


def content_type(http: dict[str, Any] | None) -> str:
    """The Content-Type of a stored HTTP exchange's response ("" when not known)."""
    for name, value in (http or {}).get("response", {}).get("headers", []):
        if name.lower() == "content-type":
            return str(value)
    return ""
