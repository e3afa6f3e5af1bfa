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
from scraper.sites import Site

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
    assert [line.split(" ", 1)[1] for line in err.splitlines()] == [(
        f"scraper: {url}: archived already as site 'generic'; --site themoscowtimes does "
        "not change an archived article's site")]
    assert sites_of(db) == ["generic"]  # the article keeps its identity and site

    code, out, err = run("archive", url, "--db", str(db), "--site", "generic", "--json")
    assert (code, err) == (0, "")  # the site it is archived as: nothing to say



def test_a_changed_page_of_an_article_archived_as_another_site_is_extracted_as_that_site(
        server: TestServer, db: Path) -> None:
    # --site does not change an archived article's site, nor how its new versions extract:
    # all of an article's versions by one site's adapter, as `scraper reextract` expects
    html = (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")
    server.route("/news/y.html", Response.html(html))
    url = server.url("/news/y.html")
    assert run("archive", url, "--db", str(db))[0] == 0
    edited = html.replace("hailed ties with Moscow", "praised ties with Moscow")
    assert edited != html
    server.route("/news/y.html", Response.html(edited))
    code, out, _ = run("archive", url, "--db", str(db), "--site", "themoscowtimes")
    assert code == 0 and out.strip().endswith("new version 2")
    with sqlite3.connect(db) as conn:
        extractors = [r[0] for r in conn.execute("SELECT extractor FROM versions ORDER BY id")]
    assert len(extractors) == 2 and extractors[1] == extractors[0]
    assert sites_of(db) == ["generic"]

def test_archive_with_site_on_a_fresh_archive_says_nothing_more(
        server: TestServer, db: Path) -> None:
    html = (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")
    server.route("/news/x.html", Response.html(html))
    for _ in range(2):
        code, _, err = run("archive", server.url("/news/x.html"), "--db", str(db),
                           "--site", "themoscowtimes")
        assert (code, err) == (0, "")
    assert sites_of(db) == ["themoscowtimes"]


# 3. a URL that `scraper forget` removed was counted as "already archived"
def test_discover_counts_forgotten_candidates_apart_from_archived_ones(
        local_news: Site, server: TestServer, db: Path) -> None:
    urls = [server.url(f"/news/{i}") for i in range(1, 5)]
    code, _, err = run("archive", *urls, "--db", str(db))
    assert code == 0, err
    code, _, err = run("forget", urls[2], "--db", str(db), "--yes")
    assert code == 0, err
    code, out, err = run("discover", "localnews", "--db", str(db))
    assert (code, out) == (0, "")
    assert err.strip() == ("scraper: no candidates for localnews: of 4 found, "
                           "3 already archived and 1 forgotten (--all lists them)")
    # with a third reason, the counts read as a list
    server.route("/sitemap.xml", Response(200, (
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{urls[2]}</loc></url><url><loc>{urls[3]}</loc></url>"
        f"<url><loc>{server.url('/news/5')}</loc><lastmod>2001-01-01</lastmod></url>"
        "</urlset>").encode(), {"Content-Type": "application/xml"}))
    config = db.parent / "scraper.toml"
    config.write_text('[crawl]\nmax_age = "1s"\n')
    code, out, err = run("discover", "localnews", "--db", str(db), "--config", str(config))
    assert (code, out) == (0, "")
    assert err.strip() == ("scraper: no candidates for localnews: of 5 found, 3 already "
                           "archived, 1 forgotten and 1 older than max_age (--all lists them)")
