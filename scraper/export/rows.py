"""Which versions an export holds, read through streaming cursors (never a list of rows).

A folded version (a false edit `scraper reextract` found) is no version and is left out;
articles removed by `scraper forget` are gone from the tables already.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .records import capture_key

# the columns of a version that every format reads (no page blobs)
COLUMNS = (
    "a.url AS url", "a.canonical_url AS canonical_url", "a.site AS site",
    "v.article_id AS article_id", "v.version AS version", "v.fetched_at AS fetched_at",
    "v.url AS fetched_url", "v.final_url AS final_url", "v.content_hash AS content_hash",
    "v.title AS title", "v.authors AS authors", "v.published AS published",
    "v.modified AS modified", "v.description AS description", "v.language AS language",
    "v.tags AS tags", "v.text AS text", "v.word_count AS word_count",
)
PAGE = ("v.html_raw AS html_raw", "v.html_codec AS html_codec",
        "v.http_exchange AS http_exchange", "v.html_zlib AS html_zlib")
_FROM = " FROM versions v JOIN articles a ON a.id = v.article_id"


@dataclass(frozen=True)
class Selection:
    """What to export: one site or all, fetched between two dates (inclusive), every
    version or only each article's latest."""

    site: str | None = None
    since: date | None = None
    until: date | None = None
    latest: bool = False


def _where(selection: Selection) -> tuple[str, list[Any]]:
    clauses, params = ["NOT v.folded"], []
    if selection.site is not None:
        clauses.append("a.site = ?")
        params.append(selection.site)
    # fetched_at is ISO 8601 in UTC: text order is time order, and a date is a prefix
    if selection.since is not None:
        clauses.append("v.fetched_at >= ?")
        params.append(selection.since.isoformat())
    if selection.until is not None:
        clauses.append("v.fetched_at < ?")
        params.append((selection.until + timedelta(days=1)).isoformat())
    if selection.latest:
        clauses.append("v.version = (SELECT max(m.version) FROM versions m"
                       " WHERE m.article_id = v.article_id AND NOT m.folded)")
    return " WHERE " + " AND ".join(clauses), params


def count(conn: sqlite3.Connection, selection: Selection) -> int:
    """How many versions the selection holds (for a progress bar)."""
    where, params = _where(selection)
    return int(conn.execute(f"SELECT count(*){_FROM}{where}", params).fetchone()[0])


def _dicts(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row))


def versions(conn: sqlite3.Connection, selection: Selection) -> Iterator[dict[str, Any]]:
    """The selected versions without their pages, by article and version number."""
    where, params = _where(selection)
    # (article_id, version) is a unique index: SQLite walks it and sorts nothing
    return _dicts(conn.execute(f"SELECT {', '.join(COLUMNS)}{_FROM}{where}"
                               " ORDER BY v.article_id, v.version", params))


def captures(conn: sqlite3.Connection, selection: Selection) -> Iterator[dict[str, Any]]:
    """The selected versions with their pages, in the order of a CDXJ index (SURT of the
    fetched URL, then time), so that the index is written as the WARC is."""
    conn.create_function("scraper_capture_key", 2, capture_key, deterministic=True)
    where, params = _where(selection)
    # Only ids are sorted (SQLite's sorter would otherwise carry every page); each
    # version is then read alone, so one page at a time is in memory.
    ids = conn.execute(
        f"SELECT v.id{_FROM}{where} ORDER BY"
        " scraper_capture_key(COALESCE(v.final_url, v.url), v.fetched_at), v.id", params)
    sql = f"SELECT {', '.join(COLUMNS + PAGE)}{_FROM} WHERE v.id = ?"
    for (version_id,) in ids:
        yield from _dicts(conn.execute(sql, [version_id]))
