"""Exports of the archive for other tools: JSON Lines, CSV, WARC 1.1 and WACZ.

    >>> export(archive.db.conn, Selection(site="bbc"), "warc", out)

``rows`` picks the versions (streaming cursors), ``records`` turns a row into what a
format writes (pure), ``tabular``, ``warc`` and ``wacz`` write. Memory stays flat however
large the archive: one version (and its page) at a time. Nothing here prints; progress is
reported by calling ``progress(n)``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import BinaryIO

from .records import FIELDS
from .rows import Selection, count

FORMATS = ("jsonl", "csv", "warc", "wacz")

__all__ = ["FIELDS", "FORMATS", "Selection", "count", "export", "software"]


def software() -> str:
    """The name and version that a WARC's warcinfo and a WACZ's datapackage give."""
    try:
        return f"news-scraper {version('news-scraper')}"
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "news-scraper"


def export(conn: sqlite3.Connection, selection: Selection, fmt: str, out: BinaryIO,
           progress: Callable[[int], None] = lambda n: None) -> int:
    """Write the selected versions to ``out`` in ``fmt``; returns how many versions.

    Reads in one transaction, so a crawl writing meanwhile cannot make the parts of a WACZ
    (or a CSV's rows) disagree: its own when ``conn`` has none, else the caller's, which is
    left open (an export inside it sees the caller's uncommitted writes, and ends nothing).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (known: {', '.join(FORMATS)})")
    if conn.in_transaction:  # already one snapshot; BEGIN would raise, COMMIT end the caller's
        return _write(conn, selection, fmt, out, progress)
    conn.execute("BEGIN")
    try:
        written = _write(conn, selection, fmt, out, progress)
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled it back itself (a full disk)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return written


def _write(conn: sqlite3.Connection, selection: Selection, fmt: str, out: BinaryIO,
           progress: Callable[[int], None]) -> int:
    """Write the selected versions, reading through ``conn`` as it is."""
    from . import rows, tabular, wacz, warc

    if fmt == "jsonl":
        return tabular.write_jsonl(out, rows.versions(conn, selection), progress)
    if fmt == "csv":
        return tabular.write_csv(out, rows.versions(conn, selection), progress)
    if fmt == "warc":
        return warc.write_warc(out, rows.captures(conn, selection), software(), progress)
    return wacz.write_wacz(out, conn, selection, software(), progress)
