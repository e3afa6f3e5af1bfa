"""The archive: articles, every version of their content, and every fetch, in one SQLite file.

    >>> with Archive("archive.db") as archive:
    ...     archive.save(article, page, site_name="bbc", key=key)

``schema`` builds and checks the file, ``connection`` opens it and runs transactions,
``batch`` lets many writes share one (``archive.batched()``), ``archive`` holds the
operations.
"""

from __future__ import annotations

from .archive import (
    CRAWL_COUNTS,
    FETCH_COLUMNS,
    OUTCOMES,
    PAGE_COLUMNS,
    STATES,
    Archive,
    SaveResult,
    Schedule,
    page_html,
    stored_page,
    utc_now,
)
from .connection import BUSY_TIMEOUT_S, ArchiveFile
from .schema import MIGRATIONS, SCHEMA_VERSION, check_archive_file

__all__ = ["BUSY_TIMEOUT_S", "CRAWL_COUNTS", "FETCH_COLUMNS", "MIGRATIONS",
           "OUTCOMES", "PAGE_COLUMNS", "SCHEMA_VERSION", "STATES", "Archive", "ArchiveFile", "SaveResult",
           "Schedule", "check_archive_file", "page_html", "stored_page",
           "utc_now"]
