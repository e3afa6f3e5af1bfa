"""WACZ 1.1.1 written directly: the WARC, a CDXJ index of its captures, a page list and a
datapackage.json with each file's SHA-256, zipped (the WARC stored, not deflated, so that
ReplayWeb.page can read records by range).

The index is ``indexes/index.cdx`` (plain CDXJ): ReplayWeb.page loads a ``.cdx``/``.cdxj``
or a ZipNum ``.idx``, not a lone ``.cdx.gz``. The WARC is written in the index's order
(``rows.captures``), so each index line is written as its record is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from . import rows
from .records import surt, target_uri, timestamp14, warc_date
from .warc import Capture, write_warc

WACZ_VERSION = "1.1.1"
WARC_NAME = "data.warc.gz"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}


def cdxj_line(capture: Capture) -> str:
    """The index line of a capture: SURT key, timestamp, then JSON."""
    fields = {"url": capture.url, "mime": capture.mime, "status": str(capture.status),
              "digest": capture.digest, "length": str(capture.length),
              "offset": str(capture.offset), "filename": WARC_NAME}
    return (f"{surt(capture.url)} {timestamp14(capture.fetched_at)} "
            f"{json.dumps(fields, ensure_ascii=False)}\n")


def page_entry(row: dict[str, Any]) -> dict[str, Any]:
    """An article's line in pages.jsonl: its latest exported version's URL, time and title."""
    return {"id": f"article-{row['article_id']}", "url": target_uri(row),
            "ts": warc_date(row["fetched_at"]), "title": row.get("title") or ""}


def write_pages(out: BinaryIO, conn: sqlite3.Connection, selection: rows.Selection) -> None:
    """pages/pages.jsonl: one page per article, streamed from rows ordered by article."""
    out.write(json.dumps(PAGES_HEADER).encode() + b"\n")
    last: dict[str, Any] | None = None
    for row in rows.versions(conn, selection):
        if last is not None and row["article_id"] != last["article_id"]:
            out.write(json.dumps(page_entry(last), ensure_ascii=False).encode() + b"\n")
        last = row
    if last is not None:
        out.write(json.dumps(page_entry(last), ensure_ascii=False).encode() + b"\n")


class _SortedLines:
    """Index lines arriving in key order: those of one key (one URL fetched twice in a
    second) are held and written sorted, so the whole file sorts as text does."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.key = ""
        self.held: list[str] = []

    def add(self, line: str) -> None:
        key = line.split(" {", 1)[0]
        if key != self.key:
            self.flush()
            self.key = key
        self.held.append(line)

    def flush(self) -> None:
        for line in sorted(self.held):
            self.out.write(line.encode("utf-8"))
        self.held = []


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def write_wacz(out: BinaryIO, conn: sqlite3.Connection, selection: rows.Selection,
               software: str, progress: Callable[[int], None]) -> int:
    """A WACZ of the selected versions to ``out``; returns how many versions."""
    with tempfile.TemporaryDirectory(prefix="scraper-wacz-") as tmp:
        parts = {"archive/" + WARC_NAME: Path(tmp, WARC_NAME),
                 "indexes/index.cdx": Path(tmp, "index.cdx"),
                 "pages/pages.jsonl": Path(tmp, "pages.jsonl")}
        with open(parts["archive/" + WARC_NAME], "wb") as warc, \
                open(parts["indexes/index.cdx"], "wb") as index:
            lines = _SortedLines(index)
            n = write_warc(warc, rows.captures(conn, selection), software, progress,
                           on_capture=lambda c: lines.add(cdxj_line(c)))
            lines.flush()
        with open(parts["pages/pages.jsonl"], "wb") as pages:
            write_pages(pages, conn, selection)
        package = {
            "profile": "data-package", "wacz_version": WACZ_VERSION,
            "title": "News archive export", "software": software,
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "resources": [{"name": path.name, "path": name, "hash": _sha256(path),
                           "bytes": path.stat().st_size} for name, path in parts.items()],
        }
        datapackage = json.dumps(package, indent=2).encode("utf-8")
        digest = {"path": "datapackage.json",
                  "hash": f"sha256:{hashlib.sha256(datapackage).hexdigest()}"}
        if out.seekable():
            _zip(out, parts, datapackage, digest)
        else:  # zipfile wants to seek back over each entry's header: build, then copy
            with tempfile.TemporaryFile(dir=tmp) as spool:
                _zip(spool, parts, datapackage, digest)
                spool.seek(0)
                shutil.copyfileobj(spool, out)
    return n


def _zip(out: BinaryIO, parts: dict[str, Path], datapackage: bytes,
         digest: dict[str, str]) -> None:
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        for name, path in parts.items():
            # the WARC stored as is: a replayer reads its records by offset
            kind = zipfile.ZIP_STORED if name.endswith(".warc.gz") else zipfile.ZIP_DEFLATED
            zf.write(path, name, compress_type=kind)
        zf.writestr("datapackage.json", datapackage, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("datapackage-digest.json", json.dumps(digest),
                    compress_type=zipfile.ZIP_DEFLATED)
