"""Pure functions from a version row to what an export writes: a record, a CSV row, keys.

No I/O here: ``rows`` reads the archive, ``tabular``, ``warc`` and ``wacz`` write.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from ..browse.views import DIFF_PATH

# The fields of a JSON Lines or CSV record, in order (a contract: people load them by name).
FIELDS = ("url", "canonical_url", "site", "article_id", "version", "fetched_at",
          "fetched_url", "final_url", "content_hash", "title", "authors", "published",
          "modified", "description", "language", "tags", "text", "word_count", "diff_url")
LIST_FIELDS = ("authors", "tags")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def diff_url(article_id: int, version: int) -> str:
    """The path of the version on the Datasette diff page (as the browse plugin links it)."""
    return f"{DIFF_PATH}{article_id}?to={version}"


def version_record(row: dict[str, Any]) -> dict[str, Any]:
    """A version as an export record: the fields of FIELDS, lists as lists."""
    record = {name: row.get(name) for name in FIELDS if name != "diff_url"}
    for name in LIST_FIELDS:
        record[name] = json.loads(row[name]) if row.get(name) else []
    record["diff_url"] = diff_url(row["article_id"], row["version"])
    return record


def csv_row(record: dict[str, Any]) -> list[str]:
    """A record as a CSV row the way sqlite-utils and Datasette write one: lists as JSON
    strings, NULL as an empty cell."""
    cells = []
    for name in FIELDS:
        value = record[name]
        if isinstance(value, list):
            cells.append(json.dumps(value, ensure_ascii=False))
        else:
            cells.append("" if value is None else str(value))
    return cells


def target_uri(row: dict[str, Any]) -> str:
    """The URL the page was fetched from (after redirects): a WARC's WARC-Target-URI."""
    return str(row.get("final_url") or row["fetched_url"])


def utc(fetched_at: str) -> datetime:
    """A stored time as an aware UTC datetime."""
    when = datetime.fromisoformat(fetched_at)
    if when.tzinfo is None:  # stored times carry their offset; a bare one is taken as UTC
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def warc_date(fetched_at: str) -> str:
    """A stored time as a WARC-Date (ISO 8601 UTC with Z)."""
    return utc(fetched_at).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp14(fetched_at: str) -> str:
    """A stored time as the 14-digit timestamp of CDXJ indexes and replay URLs."""
    return utc(fetched_at).strftime("%Y%m%d%H%M%S")


def surt(url: str) -> str:
    """The SURT key of a URL as ReplayWeb.page (wabac.js getSurt) computes it to look a
    capture up: a leading www. dropped, lower case, host reversed, query sorted."""
    if not url.startswith(("http:", "https:")):
        return url
    url = re.sub(r"^(https?://)www\d*\.", r"\1", url).lower()
    parts = urlsplit(url)
    key = ",".join(reversed((parts.hostname or "").split(".")))
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        key += f":{parts.port}"
    key += ")" + (parts.path or "/")
    if parts.query:
        key += "?" + "&".join(sorted(parts.query.split("&")))
    return key


def capture_key(url: str, fetched_at: str) -> str:
    """The start of a capture's CDXJ line: its lines sort as these keys do."""
    return f"{surt(url)} {timestamp14(fetched_at)}"
