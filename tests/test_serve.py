"""`scraper serve`: what it refuses, and what it prints."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import cli


def test_serve_help_works(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--open" in result.output


@pytest.mark.parametrize("name, content", [
    ("missing.db", None), ("notes.txt", b"not a database at all, just text" * 200),
    ("other.db", "sqlite"), ("empty.db", b"")])
def test_serve_refuses_what_is_not_an_archive_in_one_line(tmp_path: Path, name: str,
                                                          content: bytes | str | None) -> None:
    path = tmp_path / name
    if content == "sqlite":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
        conn.close()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    before = path.read_bytes() if path.exists() else None
    result = CliRunner().invoke(cli, ["serve", "--db", str(path)])
    assert result.exit_code in (1, 2) and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and name in result.stderr
    assert (path.read_bytes() if path.exists() else None) == before  # nothing created or migrated
