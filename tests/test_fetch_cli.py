"""Fetching and discovery sources as a user meets them: `archive -v` on a closed port, `sites`."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper import fetch as fetch_module
from scraper.cli import cli


def closed_port() -> int:
    """A 127.0.0.1 port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_archive_v_of_a_refused_connection_names_its_retry_and_gives_up_soon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:  # the command cannot take a sleep=: patch it
        waits.append(seconds)

    monkeypatch.setattr(fetch_module, "pause", no_wait)
    url = f"http://127.0.0.1:{closed_port()}/news/1"
    result = CliRunner().invoke(cli, ["archive", "-v", "--db", str(tmp_path / "a.db"), url])
    assert result.exit_code == 1, result.output
    retries = [line.partition(" ")[2] for line in result.stderr.splitlines()
               if "retrying" in line]  # after the line's ISO time
    # robots.txt first (RFC 9309: unreachable means nothing may be fetched), tried twice
    home = url.removesuffix("/news/1")
    assert retries == [f"scraper: retrying {home}/robots.txt in 0.5 s (attempt 2 of 2): "
                       "connection refused"]
    # the line after its ISO time (archive's lines are stamped when they go to cron or a file)
    assert result.stderr.splitlines()[-1].partition(" ")[2] == (
        f"{url}  blocked: cannot reach {home.removeprefix('http://')} to read its robots.txt "
        "(connection refused); not fetched, try again later")
    # the refused retry, and one politeness delay (1 s) before it: was 3 waits of about 1, 2, 4 s
    assert len(waits) == 2 and sum(waits) < 1.6


def test_archive_without_v_logs_no_retries(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(fetch_module, "pause", no_wait)
    url = f"http://127.0.0.1:{closed_port()}/news/1"
    result = CliRunner().invoke(cli, ["archive", "--db", str(tmp_path / "a.db"), url])
    assert result.exit_code == 1 and "retrying" not in result.stderr


def test_sites_counts_news_sitemaps_apart_from_archive_sitemaps() -> None:
    result = CliRunner().invoke(cli, ["sites"])
    guardian = next(line for line in result.stdout.splitlines() if line.startswith("theguardian"))
    assert "[4 feeds, 1 news sitemap, 0 sitemaps]" in guardian
    rows = json.loads(CliRunner().invoke(cli, ["sites", "--json"]).stdout)
    bbc = next(row for row in rows if row["name"] == "bbc")
    assert len(bbc["news_sitemaps"]) == 2 and bbc["sitemaps"] == []
