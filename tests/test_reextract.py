"""`scraper reextract`: an extractor fix reaches the stored versions, and a false edit is folded."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from server import Response, TestServer

from scraper.cli import cli

# the politeness delay and retry waits are not what these tests are about
pytestmark = pytest.mark.usefixtures("no_waits")

FIXTURES = Path(__file__).parent / "fixtures" / "themoscowtimes"
PAGE = (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")
TITLE = "China Minister Hails 'Strong' Russia Ties in Putin Meeting"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def rows(db: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def write(db: Path, sql: str) -> None:
    """One statement in its own connection, closed at once: an open one would hold the file
    while the command under test works on it (and forks its extraction pool)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(sql)


@pytest.fixture
def false_edit(server: TestServer, tmp_path: Path) -> tuple[Path, str]:
    """v1 stored by an "old extractor" that kept a site suffix in the title (simulated by
    writing the old title and extractor into the row), then v2 after a harmless byte change:
    the current extractor's title, a headline "edit" the publisher never made."""
    db = tmp_path / "archive.db"
    url = server.url("/story")
    assert TITLE in PAGE
    server.route("/story", Response.html(PAGE),
                 Response.html(PAGE.replace("</body>", "<div class=ad>new ad</div></body>")))
    assert run("archive", url, "--db", str(db), "--site", "themoscowtimes")[0] == 0
    write(db, "UPDATE versions SET title = title || ' - The Moscow Times',"  # the old adapter's
              " content_hash = 'old', extractor = 'scraper 0.0.9 themoscowtimes:old'")
    code, out, _ = run("archive", url, "--db", str(db), "--site", "themoscowtimes")
    assert code == 0 and out.strip().endswith("new version 2")
    code, out, _ = run("diff", url, "--db", str(db), "--json")
    assert json.loads(out)["changed"] == ["title"]  # the false edit
    return db, url


def test_reextract_fixes_the_old_version_and_folds_the_false_edit(
        false_edit: tuple[Path, str]) -> None:
    db, url = false_edit
    code, out, err = run("reextract", "--db", str(db))
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].endswith(
        "reextract: 1 re-extracted, 1 changed, 1 folded, 0 failed")
    assert rows(db, "SELECT version, title, folded FROM versions ORDER BY version") == [
        (1, TITLE, 0), (2, TITLE, 1)]
    # the folded one keeps its page, but is no version anywhere a reader looks
    assert rows(db, "SELECT html_raw IS NOT NULL FROM versions WHERE version = 2") == [(1,)]
    code, out, _ = run("history", url, "--db", str(db))
    assert "v1" in out and "v2" not in out
    code, out, _ = run("diff", url, "--db", str(db))
    assert code == 0 and "has one version so far (v1," in out
    assert rows(db, "SELECT count(*) FROM changes") == [(0,)]
    assert rows(db, "SELECT version FROM latest_versions") == [(1,)]
    # a second run has nothing to do: every version carries the current extractor
    code, out, _ = run("reextract", "--db", str(db))
    assert out.splitlines()[-1].endswith("0 re-extracted, 0 changed, 0 folded, 0 failed")


def test_a_new_version_after_a_fold_is_numbered_after_it(
        false_edit: tuple[Path, str], server: TestServer) -> None:
    db, url = false_edit
    run("reextract", "--db", str(db))
    server.route("/story", Response.html(PAGE.replace("He added", "He later added")))
    code, out, _ = run("archive", url, "--db", str(db), "--site", "themoscowtimes")
    assert out.strip().endswith("new version 3")
    code, out, _ = run("diff", url, "--db", str(db), "--no-color", "--json")
    data = json.loads(out)
    assert (data["from"], data["to"]) == (1, 3)  # v2 is folded: v3's predecessor is v1


def test_dry_run_says_what_would_change_and_writes_nothing(
        false_edit: tuple[Path, str]) -> None:
    db, _ = false_edit
    before = db.read_bytes()
    code, out, _ = run("reextract", "--db", str(db), "--dry-run")
    assert code == 0 and "would fold v2" in out
    assert out.splitlines()[-1].endswith(
        "reextract (dry run): 1 re-extracted, 1 changed, 1 folded, 0 failed")
    assert rows(db, "SELECT count(*) FROM versions WHERE folded") == [(0,)]
    assert db.read_bytes() == before


def test_an_interrupted_run_is_finished_by_the_next(
        server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scraper.cli import reextracting as command

    db = tmp_path / "archive.db"
    for n in (1, 2, 3):
        server.route(f"/s{n}", Response.html(PAGE.replace("He added", f"He added ({n})")))
        run("archive", server.url(f"/s{n}"), "--db", str(db))
    write(db, "UPDATE versions SET extractor = 'old'")
    real, calls = command._extract, []

    def stop_at_the_second(html: str, url: str, site: object) -> object:
        calls.append(url)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(html, url, site)

    monkeypatch.setattr(command, "_extract", stop_at_the_second)
    result = CliRunner().invoke(cli, ["reextract", "--db", str(db)])
    assert result.exit_code == 130 and "interrupted" in result.stderr
    monkeypatch.setattr(command, "_extract", real)
    assert rows(db, "SELECT count(*) FROM versions WHERE extractor = 'old'") == [(2,)]
    code, out, _ = run("reextract", "--db", str(db))
    assert out.splitlines()[-1].endswith("2 re-extracted, 0 changed, 0 folded, 0 failed")
    assert rows(db, "SELECT count(*) FROM versions WHERE extractor = 'old'") == [(0,)]


def test_a_long_run_uses_the_pool_and_a_crawl_writes_beside_it(
        server: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    from local_site import serve_site

    from scraper.store import reextract as store_reextract

    db = tmp_path / "archive.db"
    listing = []
    for n in range(25):  # more than POOL_FROM: extracted in the process pool
        server.route(f"/s{n}", Response.html(PAGE.replace("He added", f"He added ({n})")))
        listing.append(server.url(f"/s{n}"))
    result = CliRunner().invoke(cli, ["archive", "-", "--db", str(db), "--delay", "0"],
                                input="\n".join(listing))
    assert result.exit_code == 0, result.stderr
    write(db, "UPDATE versions SET extractor = 'old'")
    feed, sitemap = serve_site(server, 4)
    config = tmp_path / "scraper.toml"
    config.write_text(f'[crawl]\ndelay = 0\n[sites.local]\ndomains = ["127.0.0.1"]\n'
                      f'feeds = ["{feed}"]\nsitemaps = ["{sitemap}"]\n'
                      "article_path = '^/news/\\d+$'\n")
    crawls = []
    real = store_reextract.update_article

    def crawl_first(*args: object, **kwargs: object) -> object:
        if not crawls:  # the reextract run is under way: a whole crawl writes now
            crawls.append(subprocess.run(
                [sys.executable, "-m", "scraper", "crawl", "local", "--db", str(db),
                 "--config", str(config)], capture_output=True, text=True, timeout=300))
        return real(*args, **kwargs)

    monkeypatch.setattr(store_reextract, "update_article", crawl_first)
    code, out, err = run("reextract", "--db", str(db))
    assert (code, err) == (0, ""), err
    assert out.splitlines()[-1].endswith("25 re-extracted, 0 changed, 0 folded, 0 failed")
    assert crawls[0].returncode == 0, crawls[0].stderr
    assert "locked" not in crawls[0].stderr
    assert rows(db, "SELECT count(*) FROM versions") == [(29,)]  # 25, and 4 from the crawl
    assert rows(db, "SELECT count(*) FROM versions WHERE extractor = 'old'") == [(0,)]


def test_the_diff_page_and_canned_queries_no_longer_show_a_folded_version(
        false_edit: tuple[Path, str]) -> None:
    from browse_archive import get

    from scraper.browse.serve import build_datasette

    db, _ = false_edit
    assert "v2" in get(build_datasette(db), "/-/diff/1").text  # before: the false edit shows
    run("reextract", "--db", str(db))
    ds = build_datasette(db)
    page = get(ds, "/-/diff/1")
    assert page.status_code == 200 and "v2" not in page.text
    assert get(ds, "/-/diff/1?to=2").status_code == 404  # no version 2 to show
    most_edited = get(ds, "/archive/most_edited.json?_shape=array").json()
    assert most_edited == []  # one version left: not "edited"


def test_a_change_to_a_config_site_makes_its_versions_stale(server: TestServer,
                                                            tmp_path: Path) -> None:
    db, config = tmp_path / "archive.db", tmp_path / "scraper.toml"
    server.route("/news/1", Response.html(PAGE))
    config.write_text('[sites.local]\ndomains = ["127.0.0.1"]\n')
    assert run("archive", server.url("/news/1"), "--db", str(db), "--config", str(config))[0] == 0
    code, out, _ = run("reextract", "--db", str(db), "--config", str(config))
    assert out.splitlines()[-1].endswith("0 re-extracted, 0 changed, 0 folded, 0 failed")
    config.write_text('[sites.local]\ndomains = ["127.0.0.1"]\ndrop = [".article__tags"]\n')
    code, out, _ = run("reextract", "--db", str(db), "--config", str(config))
    assert code == 0
    assert out.splitlines()[-1].endswith("1 re-extracted, 0 changed, 0 folded, 0 failed")
