"""Batched writes (store.batch): many URLs' outcomes in one transaction, answers exact at once."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from server import Response, TestServer

from scraper.cli import cli
from scraper.models import Article, NotStorable, Outcome, Page
from scraper.store import Archive

URL = "https://example.com/news/budget"
HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "themoscowtimes"
ARTICLE = "/2023/04/17/china-minister-hails-strong-russia-ties-in-putin-meeting-a80850"


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive(tmp_path / "archive.db") as opened:
        yield opened


def committed(archive: Archive, sql: str) -> list[tuple[object, ...]]:
    """What another connection sees: only committed rows."""
    with closing(sqlite3.connect(archive.path)) as conn:
        return conn.execute(sql).fetchall()


def save(archive: Archive, text: str, url: str = URL, etag: str | None = None,
         key: str | None = None) -> tuple[Outcome, int, int]:
    art = Article(url=url, text=text, title="Budget", authors=("Ann Lee",))
    page = Page(url=url, final_url=url, status=200, html=f"<p>{text}</p>", etag=etag)
    saved = archive.save(art, page, site_name="news", key=key or url,
                         fetch={"url": url, "started_at": "2024-01-01T00:00:00+00:00",
                                "elapsed_ms": 1, "status": 200})
    return saved.outcome, saved.article_id, saved.version


def test_writes_in_a_batch_commit_together_when_it_closes(archive: Archive) -> None:
    with archive.batched(size=50):
        for n in range(3):
            save(archive, f"Story {n} text.", url=f"{URL}/{n}")
        assert committed(archive, "SELECT count(*) FROM articles") == [(0,)]
        assert committed(archive, "SELECT count(*) FROM fetches") == [(0,)]
    assert committed(archive, "SELECT count(*) FROM articles") == [(3,)]
    assert committed(archive, "SELECT count(*) FROM fetches") == [(3,)]


def test_a_full_batch_commits_at_once(archive: Archive) -> None:
    with archive.batched(size=2) as batch:
        for n in range(3):
            save(archive, f"Story {n} text.", url=f"{URL}/{n}")
        assert committed(archive, "SELECT count(*) FROM articles") == [(2,)]
        assert batch.commits == 1 and batch.writes == 1
    assert committed(archive, "SELECT count(*) FROM articles") == [(3,)]


def test_one_article_twice_in_a_batch_is_numbered_as_if_each_had_committed(
        archive: Archive) -> None:
    with archive.batched(size=50):
        first = save(archive, "First text.")
        again = save(archive, "First text.")
        edited = save(archive, "Edited text.")
        back = save(archive, "First text.")
    article_id = first[1]
    assert first == (Outcome.NEW_VERSION, article_id, 1)
    assert again == (Outcome.UNCHANGED, article_id, 1)
    assert edited == (Outcome.NEW_VERSION, article_id, 2)
    assert back == (Outcome.NEW_VERSION, article_id, 3)  # A→B→A keeps three
    assert committed(archive, "SELECT version FROM versions ORDER BY version") == [(1,), (2,),
                                                                                   (3,)]
    assert committed(archive, "SELECT outcome, version FROM fetches ORDER BY id") == [
        ("new_version", 1), ("unchanged", None), ("new_version", 2), ("new_version", 3)]


def test_a_re_check_reads_validators_still_only_in_the_batch(archive: Archive) -> None:
    with archive.batched(size=50):
        save(archive, "First text.", etag='"v1"')
        archive.mark_checked(URL, etag='"v2"')
        row = archive.find_article(URL)
        assert committed(archive, "SELECT count(*) FROM articles") == [(0,)]
    assert row is not None and row["etag"] == '"v2"' and row["check_count"] == 2


def test_a_failed_write_rolls_back_itself_not_the_batch(archive: Archive) -> None:
    with archive.batched(size=50):
        save(archive, "First text.")
        with pytest.raises(NotStorable):  # refused inside its transaction, after the UPDATE
            archive.mark_checked(URL, etag='"bad"', fetch={"url": URL, "outcome": "nonsense"})
        save(archive, "Second story.", url=f"{URL}/2")
    assert committed(archive, "SELECT url, etag, check_count FROM articles ORDER BY id") == [
        (URL, None, 1), (f"{URL}/2", None, 1)]


def test_an_interrupted_run_commits_what_its_batch_holds(archive: Archive) -> None:
    with pytest.raises(KeyboardInterrupt), archive.batched(size=50):
        save(archive, "First text.")
        raise KeyboardInterrupt
    assert committed(archive, "SELECT count(*) FROM versions") == [(1,)]


def test_the_batch_commits_on_a_timer_when_no_more_writes_come(archive: Archive) -> None:
    async def run() -> list[tuple[object, ...]]:
        # seconds=0: the timer's callback runs on the loop's next turn, by construction
        with archive.batched(size=50, seconds=1e-9) as batch:
            save(archive, "First text.")
            assert committed(archive, "SELECT count(*) FROM versions") == [(0,)]
            while not batch.commits:
                await asyncio.sleep(0)
            return committed(archive, "SELECT count(*) FROM versions")

    assert asyncio.run(run()) == [(1,)]


def test_a_304_archive_does_not_import_the_extraction_stack(server: TestServer,
                                                            tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    url = server.url(ARTICLE)
    html = (FIXTURES / "seed-two-authors-updated.html").read_text(encoding="utf-8")
    server.route(ARTICLE, Response.html(html, headers={"ETag": '"v1"'}),
                 Response(304, headers={"ETag": '"v1"'}))
    first = CliRunner().invoke(cli, ["archive", url, "--db", str(db), "--site",
                                     "themoscowtimes"], catch_exceptions=False)
    assert first.exit_code == 0 and "new version 1" in first.stdout
    again = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scraper", "archive", url, "--db", str(db),
         "--site", "themoscowtimes"], check=False, capture_output=True, text=True, timeout=120,
        cwd=HERE.parent)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.strip().endswith("not modified")
    imported = {line.split("|")[-1].strip() for line in again.stderr.splitlines()
                if line.startswith("import time:")}
    assert "scraper.pipeline" in imported  # the check sees the imports at all
    assert not {"trafilatura", "scraper.extract", "htmldate", "justext"} & imported
