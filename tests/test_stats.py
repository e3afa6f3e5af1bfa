"""`scraper stats`: what the archive holds, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from server import Response, TestServer

from scraper.cli import cli

# the politeness delay and retry waits are not what these tests are about
pytestmark = pytest.mark.usefixtures("no_waits")

FIXTURES = Path(__file__).parent / "fixtures" / "themoscowtimes"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_stats_counts_articles_versions_fetches_and_crawls(server: TestServer,
                                                            tmp_path: Path) -> None:
    db = str(tmp_path / "archive.db")
    page = (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")
    server.route("/a", Response.html(page))
    server.route("/b", Response.html(page.replace("He added", "He later added")),
                 Response(410, b"gone", {"Content-Type": "text/html"}))
    server.route("/c", Response(404, b"no", {"Content-Type": "text/html"}))
    for path in ("/a", "/b", "/b", "/c"):
        run("archive", server.url(path), "--db", db)
    code, out, err = run("stats", "--db", db, "--json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["articles"] == 2 and data["versions"] == 2
    assert data["sites"] == {"generic": {"active": 1, "gone": 1}}
    assert data["fetches_last_day"] == {"gone": 2, "new_version": 2}
    assert data["crawls"] == [] and data["bytes"] > 0
    code, out, _ = run("stats", "--db", db)
    assert code == 0 and out.startswith(f"{db}: 2 articles, 2 versions, ")
    assert "generic          1 active, 1 gone" in out and "2 gone, 2 new version" in out


def test_stats_without_an_archive_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    code, out, err = run("stats", "--db", str(tmp_path / "none.db"))
    assert (code, out) == (1, "") and err.startswith("scraper: error: no archive at")
    assert not (tmp_path / "none.db").exists()
