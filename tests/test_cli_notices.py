"""What a new user met on a fresh clone (second round): commands that said nothing, or said it
wrong, about what they did. Each through the command line as they met it; each failed before
its fix."""

from __future__ import annotations

import sqlite3
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


def sites_of(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT site FROM articles ORDER BY id")]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


# 1. --site on a URL archived already under another site was silently ignored
def test_archive_with_site_of_a_url_archived_as_another_site_says_so(
        server: TestServer, db: Path) -> None:
    html = (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")
    server.route("/news/x.html", Response.html(html))
    url = server.url("/news/x.html")
    code, out, err = run("archive", url, "--db", str(db))
    assert (code, err) == (0, "") and out.strip().endswith("new version 1")
    assert sites_of(db) == ["generic"]

    code, out, err = run("archive", url, "--db", str(db), "--site", "themoscowtimes")
    assert code == 0 and out.strip().endswith("unchanged")
    # stamped with its time, as the command's other lines are when stdout is not a terminal
    assert [line.split(" ", 1)[1] for line in err.splitlines()] == [
        f"scraper: {url}: archived already as site 'generic'; --site themoscowtimes does "
        "not change an archived article's site"]
    assert sites_of(db) == ["generic"]  # the article keeps its identity and site

    code, out, err = run("archive", url, "--db", str(db), "--site", "generic", "--json")
    assert (code, err) == (0, "")  # the site it is archived as: nothing to say


def test_archive_with_site_on_a_fresh_archive_says_nothing_more(
        server: TestServer, db: Path) -> None:
    html = (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")
    server.route("/news/x.html", Response.html(html))
    for _ in range(2):
        code, _, err = run("archive", server.url("/news/x.html"), "--db", str(db),
                           "--site", "themoscowtimes")
        assert (code, err) == (0, "")
    assert sites_of(db) == ["themoscowtimes"]
