"""Which of the databases Datasette serves are archives: the plugin applies only to those."""

from __future__ import annotations

import sqlite3
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:  # Datasette imports the plugin while datasette.app is half-imported
    from datasette.app import Datasette
    from datasette.database import Database

ARCHIVE_TABLES = frozenset({"articles", "versions", "fetches"})
# A database that is not (yet) an archive is looked at again after this many seconds.
RECHECK_S = 10.0

# Per Datasette instance: database name -> (is an archive, when we looked).
_seen: weakref.WeakKeyDictionary[Datasette, dict[str, tuple[bool, float]]] = (
    weakref.WeakKeyDictionary())


def archive_names(datasette: Datasette) -> list[str]:
    """Names of the served databases that hold the archive's tables."""
    seen = _seen.setdefault(datasette, {})
    names = []
    now = time.monotonic()
    for name, db in datasette.databases.items():
        if db.is_memory:
            continue
        known = seen.get(name)
        if known is None or (not known[0] and now - known[1] > RECHECK_S):
            known = seen[name] = (_is_archive(db), now)
        if known[0]:
            names.append(name)
    return names


def _is_archive(db: Database) -> bool:
    # get_metadata is synchronous, so this cannot go through Datasette's async execute().
    try:
        conn = sqlite3.connect(f"file:{quote(str(Path(db.path).resolve()))}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return ARCHIVE_TABLES <= tables
