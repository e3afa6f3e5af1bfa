"""`scraper serve`: what it refuses, and what it prints."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import IO

import httpx
import pytest
from browse_archive import build_archive
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


def serve_child(tmp_path: Path) -> subprocess.Popen[str]:
    """`python -m scraper serve --port 0` on a small archive, its stderr piped."""
    path = tmp_path / "archive.db"
    build_archive(path)
    return subprocess.Popen(
        [sys.executable, "-m", "scraper", "serve", "--port", "0", "--db", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_serve_on_port_0_prints_the_port_it_listens_on(tmp_path: Path) -> None:
    child = serve_child(tmp_path)
    assert child.stderr is not None
    try:
        printed = _line_within(child.stderr, 60)
        found = re.search(r"http://127\.0\.0\.1:(\d+)/archive\b", printed)
        assert found and int(found[1]) != 0, printed
        # The socket listens before the line is printed: this connects without retrying.
        with httpx.Client(trust_env=False, timeout=30) as client:
            page = client.get(found[0])
        assert page.status_code == 200 and "News archive" in page.text
    finally:
        os.kill(child.pid, signal.SIGTERM)
        child.wait(timeout=30)
    assert "Traceback" not in child.stderr.read()


def test_serve_stopped_with_ctrl_c_exits_0_without_an_error(tmp_path: Path) -> None:
    child = serve_child(tmp_path)
    assert child.stderr is not None
    try:
        assert "Serving" in _line_within(child.stderr, 60)
    finally:
        os.kill(child.pid, signal.SIGINT)
        code = child.wait(timeout=30)
    rest = child.stderr.read()
    assert code == 0 and "error" not in rest and "Traceback" not in rest, rest


def _line_within(stream: IO[str], seconds: float) -> str:
    """The next line of a child's stream; fails if none comes within ``seconds``."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout=seconds):
            pytest.fail(f"no line within {seconds} s")
    return stream.readline()


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    build_archive(path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port), "--db", str(path)])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == (f"scraper: error: cannot listen on 127.0.0.1:{port}: "
                                     "address already in use")
