"""What an archive holds and how its last crawls went: the numbers behind `scraper stats`."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from .archive import Archive


def archive_stats(archive: Archive, *, now: datetime | None = None,
                  crawls: int = 5) -> dict[str, Any]:
    """Articles by site and state, versions, the last day's fetches by outcome, the last
    ``crawls`` runs, and the size of the database file (with its WAL)."""
    since = ((now or datetime.now(UTC)) - timedelta(days=1)).isoformat(timespec="seconds")
    by_site: dict[str, dict[str, int]] = {}
    for row in archive._rows("SELECT site, state, count(*) AS n FROM articles"
                             " GROUP BY site, state ORDER BY site, state"):
        by_site.setdefault(row["site"], {})[row["state"]] = row["n"]
    versions = archive._rows(
        "SELECT count(*) AS versions, count(DISTINCT article_id) AS articles,"
        " min(fetched_at) AS first, max(fetched_at) AS last FROM versions")[0]
    fetches = {r["outcome"]: r["n"] for r in archive._rows(
        "SELECT outcome, count(*) AS n FROM fetches WHERE started_at >= ? GROUP BY outcome"
        " ORDER BY n DESC, outcome", [since])}
    last = archive._rows(
        "SELECT id, started_at, finished_at, status, discovered, checked, new_version, error,"
        " discovery_failed FROM crawls ORDER BY id DESC LIMIT ?", [crawls])
    size = sum(os.path.getsize(p) for p in (archive.path, f"{archive.path}-wal")
               if os.path.exists(p))
    return {
        "database": str(archive.path), "bytes": size,
        "articles": sum(n for states in by_site.values() for n in states.values()),
        "sites": by_site, "versions": versions["versions"],
        "first_version": versions["first"], "last_version": versions["last"],
        "fetches_last_day": fetches, "crawls": last,
    }
