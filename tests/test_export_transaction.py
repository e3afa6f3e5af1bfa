"""`export()` reads in one transaction: its own when the connection has none, else the
caller's, which it leaves open and uncommitted."""

from __future__ import annotations

import io
import json
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest

from scraper.export import Selection, export
from scraper.store import Archive

# bench/ is scripts, not a package: its export.py builds the benchmark's archives
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from export import build

PAGES = [(f"<html><body><h1>Story {n}</h1><p>Words of story {n}.</p></body></html>".encode(),
          f"Story {n}", f"Words of story {n}.") for n in range(3)]
VERSIONS = 6  # two per article


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "archive.db"
    build(path, VERSIONS, PAGES)
    return path


def add_version(conn: sqlite3.Connection) -> None:
    """A third version of article 1, as a writer would store it."""
    conn.execute("INSERT INTO versions (article_id, version, fetched_at, content_hash, title,"
                 " authors, text, word_count, url, final_url) SELECT article_id, 3,"
                 " '2024-05-03T08:00:00+00:00', 'third', title, authors, text, word_count,"
                 " url, final_url FROM versions WHERE article_id = 1 AND version = 2")


def exported(conn: sqlite3.Connection, **kwargs: object) -> list[dict[str, object]]:
    out = io.BytesIO()
    export(conn, Selection(), "jsonl", out, **kwargs)  # type: ignore[arg-type]
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_without_a_transaction_export_reads_one_snapshot_and_closes_it(db: Path) -> None:
    with closing(Archive(db)) as archive, closing(sqlite3.connect(db)) as writer:
        conn = archive.db.conn
        assert not conn.in_transaction

        written: list[int] = []

        def write_meanwhile(n: int) -> None:  # a crawl storing a version mid-export
            if not written:
                add_version(writer)
                writer.commit()
                written.append(n)

        records = exported(conn, progress=write_meanwhile)
        assert written and len(records) == VERSIONS  # its snapshot predates the new version
        assert not conn.in_transaction  # the transaction it opened is closed
        assert len(exported(conn)) == VERSIONS + 1


def test_inside_the_callers_transaction_export_leaves_it_open(db: Path) -> None:
    with closing(Archive(db)) as archive:
        conn = archive.db.conn
        conn.execute("BEGIN")
        add_version(conn)  # the caller's own write, not committed
        records = exported(conn)
        assert len(records) == VERSIONS + 1  # the export sees what its caller wrote
        assert conn.in_transaction  # neither committed nor rolled back by the export
        conn.execute("ROLLBACK")
        assert len(exported(conn)) == VERSIONS  # the caller's rollback undid its write


def test_a_failed_export_closes_only_its_own_transaction(db: Path) -> None:
    class Broken(io.BytesIO):
        def write(self, data: object) -> int:
            raise OSError("disk full")

    with closing(Archive(db)) as archive:
        conn = archive.db.conn
        with pytest.raises(OSError):
            export(conn, Selection(), "jsonl", Broken())
        assert not conn.in_transaction
        conn.execute("BEGIN")
        with pytest.raises(OSError):
            export(conn, Selection(), "jsonl", Broken())
        assert conn.in_transaction
        conn.execute("ROLLBACK")
