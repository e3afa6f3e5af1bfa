"""What the commands say reads as English: a count agrees with its noun, everywhere alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from server import Response, TestServer

from scraper.cli import cli
from scraper.crawl import CrawlReport
from scraper.models import Outcome
from scraper.store import Archive

pytestmark = pytest.mark.usefixtures("no_waits")
FIXTURES = Path(__file__).parent / "fixtures" / "themoscowtimes"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_the_crawl_summary_counts_agree_with_their_nouns() -> None:
    one = CrawlReport(crawl_id=1)
    one.counts.update({"discovered": 1, "checked": 1, "discovery_failed": 1,
                       Outcome.NEW_VERSION: 1, Outcome.ERROR: 1})
    assert one.summary().startswith("crawl 1: 1 discovered, discovery failed for 1 site, "
                                    "1 checked, 1 new version, 1 error in ")
    four = CrawlReport(crawl_id=2)
    four.counts.update({"discovered": 4, "checked": 4, "discovery_failed": 2,
                        Outcome.NEW_VERSION: 4, Outcome.UNCHANGED: 2, Outcome.ERROR: 2})
    assert four.summary().startswith("crawl 2: 4 discovered, discovery failed for 2 sites, "
                                     "4 checked, 4 new versions, 2 unchanged, 2 errors in ")


def test_stats_says_one_article_and_what_the_crawl_summary_says(server: TestServer,
                                                                tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    server.route("/a", Response.html(
        (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")))
    assert run("archive", server.url("/a"), "--db", str(db))[0] == 0
    with Archive(db) as archive:
        for new, errors in ((1, 1), (4, 2)):
            crawl = archive.start_crawl(["generic"])
            archive.finish_crawl(crawl, {"discovered": new, "checked": new,
                                         "new_version": new, "error": errors}, "finished")
    code, out, err = run("stats", "--db", str(db))
    assert code == 0, err
    assert out.startswith(f"{db}: 1 article, 1 version, ")
    assert "fetches in the last day: 1 new version\n" in out
    assert "1 discovered, 1 checked, 1 new version, 1 error\n" in out
    assert "4 discovered, 4 checked, 4 new versions, 2 errors\n" in out


def test_forget_says_one_version_and_one_fetch(server: TestServer, tmp_path: Path) -> None:
    db, url = tmp_path / "archive.db", server.url("/a")
    server.route("/a", Response.html(
        (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")))
    assert run("archive", url, "--db", str(db))[0] == 0
    code, out, err = run("forget", url, "--db", str(db), "--yes")
    assert code == 0, err
    assert out == f"{url}  removed 1 version and 1 fetch\n"
