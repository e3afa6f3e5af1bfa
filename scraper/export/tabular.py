"""JSON Lines and CSV: one record per version, written as the rows stream by."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from .records import FIELDS, csv_row, version_record


def write_jsonl(out: BinaryIO, rows: Iterable[dict[str, Any]],
                progress: Callable[[int], None]) -> int:
    """One JSON object per line (UTF-8, non-ASCII kept); returns how many."""
    n = 0
    for row in rows:
        line = json.dumps(version_record(row), ensure_ascii=False, separators=(",", ":"))
        out.write(line.encode("utf-8") + b"\n")
        n += 1
        progress(1)
    return n


def write_csv(out: BinaryIO, rows: Iterable[dict[str, Any]],
              progress: Callable[[int], None]) -> int:
    """A header row, then one row per version (UTF-8, lists as JSON); returns how many."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text)  # Datasette's and sqlite-utils' dialect: excel, CRLF
        writer.writerow(FIELDS)
        n = 0
        for row in rows:
            writer.writerow(csv_row(version_record(row)))
            n += 1
            progress(1)
        text.flush()
        return n
    finally:
        text.detach()  # the caller owns ``out``: closing the wrapper must not close it
