"""Storing fetches made elsewhere (`scraper worker`), idempotently: delivery is at least once.

A result can reach the coordinator twice (a coordinator killed between committing a result
and acknowledging it reads it again) or late (a task redelivered after its worker was
thought dead, while a newer check of the same article was stored). So, per fetch:

- **duplicate**: a result delivered again (``redelivered``: its coordinator died between
  committing it and acknowledging it) whose ``fetches`` row (URL, start, duration, status,
  final URL) is already there → nothing is stored (``None``). Only redelivered results are
  checked: two real fetches of a URL can share a second and a duration, and the check
  would then drop the second one;
- **stale**: the article was checked after this fetch started → only the fetch row is
  logged (outcome ``unchanged``); no version, no validators, no schedule change, so an
  old A after A→B never becomes a third version A;
- otherwise the same ``Archive.save`` / ``mark_checked`` / ``record_fetch`` as a local
  crawl, in the same one-transaction-per-URL shape.

Times are the worker's ``started_at`` (ISO UTC to the second), as a local crawl records them.
"""

from __future__ import annotations

from typing import Any

from ..models import Article, Outcome, Page
from ..schedule import DEFAULT_SCHEDULE
from .archive import Archive, SaveResult, Schedule, stored_page


def already_stored(archive: Archive, fetch: dict[str, Any], redelivered: bool = True) -> bool:
    """Is this fetch already logged (a redelivered result that was stored)?"""
    if not redelivered:
        return False
    row = archive._first(
        "SELECT 1 FROM fetches WHERE url = ? AND started_at = ? AND elapsed_ms IS ?"
        " AND status IS ? AND final_url IS ?",
        [fetch["url"], fetch["started_at"], fetch.get("elapsed_ms"), fetch.get("status"),
         fetch.get("final_url")])
    return row is not None


def checked_after(archive: Archive, key: str, started_at: str) -> int | None:
    """The article's id when it was last checked after ``started_at`` (this fetch is stale)."""
    row = archive._first("SELECT id FROM articles WHERE article_key = ? AND last_checked > ?",
                         [key, started_at])
    return int(row["id"]) if row else None


def store_page(archive: Archive, article: Article, page: Page, *, site_name: str, key: str,
               fetched_at: str, raw_hash: str | None, fetch: dict[str, Any],
               extractor: str | None, schedule: Schedule = DEFAULT_SCHEDULE,
               redelivered: bool = False, blob: bytes | None = None) -> SaveResult | None:
    """Store an extracted page as ``Archive.save`` does, unless duplicate (None) or stale
    (fetch row only, reported as unchanged against the latest version). ``blob``: the
    page's bytes compressed already (zstd, as ``versions.html_raw``), stored as they are."""
    if already_stored(archive, fetch, redelivered):
        return None
    stale = checked_after(archive, key, fetched_at)
    if stale is not None:
        archive.record_fetch(**{**fetch, "outcome": Outcome.UNCHANGED.value,
                                "article_id": stale})
        latest = archive._first("SELECT max(version) AS top FROM versions WHERE article_id = ?",
                                [stale])
        return SaveResult(Outcome.UNCHANGED, stale, int((latest or {}).get("top") or 0))
    stored = None if blob is None else stored_page(page, compressed=blob)
    return archive.save(article, page, site_name=site_name, key=key, fetched_at=fetched_at,
                        raw_hash=raw_hash, schedule=schedule, fetch=fetch, extractor=extractor,
                        stored=stored)


def store_check(archive: Archive, key: str, *, outcome: Outcome, checked_at: str,
                fetch: dict[str, Any], state: str | None = None, etag: str | None = None,
                last_modified: str | None = None, schedule: Schedule = DEFAULT_SCHEDULE,
                redelivered: bool = False) -> bool:
    """Record a check that stored nothing (304, same bytes, a failure of a known article) as
    ``Archive.mark_checked`` does; False when the fetch was stored already (duplicate)."""
    if already_stored(archive, fetch, redelivered):
        return False
    row = {**fetch, "outcome": outcome.value}
    stale = checked_after(archive, key, checked_at)
    if stale is not None:  # a newer check decided the validators, state and schedule
        archive.record_fetch(**{**row, "article_id": stale})
        return True
    archive.mark_checked(key, state=state, etag=etag, last_modified=last_modified,
                         checked_at=checked_at, schedule=schedule, fetch=row)
    return True


def store_fetch(archive: Archive, fetch: dict[str, Any], outcome: Outcome,
                redelivered: bool = False) -> bool:
    """Log a fetch of no known article (a new URL that failed); False when a duplicate."""
    if already_stored(archive, fetch, redelivered):
        return False
    archive.record_fetch(**{**fetch, "outcome": outcome.value})
    return True
