"""Browsing the archive in Datasette: metadata, views, canned queries, search, the diff page.

Runs against a small archive built with ``Archive.save`` through Datasette's in-process
client; one test runs the plain ``datasette`` command to prove the entry point loads us.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from datasette.app import Datasette

from scraper.cli import cli
from scraper.datasette_plugin import QUERIES
from scraper.models import Article, Page
from scraper.serve import build_datasette, prepare_archive
from scraper.store import Archive
from scraper.views import ensure_views, fill_change_stats, pending_change_stats

EDITED = "https://example.com/politics/budget-passed-a1"
GONE = "https://example.com/politics/old-story-a2"
STEADY = "https://example.com/politics/steady-a3"
ONLY_IN_V1 = "harvest festival"
V1 = "The budget passed on Tuesday.\n\nThe minister praised the harvest festival."
V2 = "The budget passed late on Tuesday.\n\nThe minister praised the farmers."
V3 = V2 + "\n\nThe opposition called the vote rushed."
HTML_V1 = "<html><script>alert('archived')</script><p>The budget passed</p></html>"


@dataclass(frozen=True)
class Built:
    path: Path
    edited: int  # article ids
    gone: int
    steady: int


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat(timespec="seconds")


def save(archive: Archive, url: str, text: str, when: str, *, title: str,
         authors: tuple[str, ...] = ("Ann Lee",), html: str = "<p>page</p>") -> int:
    article = Article(url=url, text=text, title=title, authors=authors, site="example",
                      published="2024-05-01T08:00:00+00:00")
    page = Page(url=url, final_url=url, status=200, html=html)
    return archive.save(article, page, site_name="example", key="example:" + url[-2:],
                        fetched_at=when).article_id


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("browse") / "archive.db"
    with Archive(path) as archive:
        edited = save(archive, EDITED, V1, ago(days=10), title="Budget passed", html=HTML_V1)
        save(archive, EDITED, V2, ago(days=2), title="Budget passed after late vote")
        save(archive, EDITED, V3, ago(hours=1), title="Budget passed after late vote",
             authors=("Ann Lee", "Bo Chen"))
        gone = save(archive, GONE, "An old story.", ago(days=30), title="Old story")
        archive.mark_checked("example:a2", state="gone", checked_at=ago(hours=3))
        steady = save(archive, STEADY, "Nothing changes here.", ago(days=1), title="Steady")
        fetch = archive.record_fetch
        fetch(GONE, started_at=ago(hours=3), elapsed_ms=40, status=404, outcome="gone",
              error="HTTP 404", article_id=gone)
        for hours in (5, 2):
            fetch("https://down.example.org/news/1", started_at=ago(hours=hours), elapsed_ms=9,
                  status=None, outcome="error", error=f"connection refused ({hours}h)")
        fetch("https://down.example.org/news/1", started_at=ago(days=3), elapsed_ms=9,
              status=503, outcome="error", error="too old to count")
        fetch(EDITED, started_at=ago(hours=1), elapsed_ms=50, status=200,
              outcome="new_version", article_id=edited, version=3)
    prepare_archive(path)  # what `scraper serve` does first: views and word counts
    return Built(path, edited, gone, steady)


@pytest.fixture(scope="module")
def ds(built: Built) -> Datasette:
    return build_datasette(built.path)


def get(ds: Datasette, path: str) -> httpx.Response:
    return asyncio.run(ds.client.get(path))


def rows(ds: Datasette, path: str) -> list[dict[str, Any]]:
    base, _, query = path.partition("?")
    response = get(ds, f"{base}.json?_shape=array&{query}")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def test_changes_view_pairs_each_version_with_its_predecessor(ds: Datasette, built: Built) -> None:
    changes = rows(ds, "/archive/changes?_sort=version")
    assert [(c["article_id"], c["previous_version"], c["version"]) for c in changes] == [
        (built.edited, 1, 2), (built.edited, 2, 3)]
    v2, v3 = changes
    assert (v2["previous_title"], v2["title"]) == ("Budget passed", "Budget passed after late vote")
    assert json.loads(v2["changed"]) == ["title", "body"]
    assert json.loads(v3["changed"]) == ["authors", "body"]
    assert (v2["words_added"], v2["words_removed"]) == (2, 2)  # late farmers. / harvest festival.
    assert (v3["words_added"], v3["words_removed"]) == (6, 0)
    assert v2["diff_url"] == f"/-/diff/{built.edited}?from=1&to=2"


def test_latest_versions_has_one_row_per_article_without_html(ds: Datasette, built: Built) -> None:
    latest = {r["article_id"]: r for r in rows(ds, "/archive/latest_versions")}
    assert set(latest) == {built.edited, built.gone, built.steady}
    assert latest[built.edited]["version"] == 3
    assert latest[built.gone]["state"] == "gone"
    assert "html_zlib" not in latest[built.edited]


@pytest.mark.parametrize("name, expected", [
    ("recent_changes", lambda b: {(b.edited, 2), (b.edited, 3)}),
    ("most_edited", lambda b: {(b.edited, 3)}),
    ("articles_gone", lambda b: {(b.gone, 1)}),
    ("title_changes", lambda b: {(b.edited, 2)}),
])
def test_canned_query_returns_expected_articles(ds: Datasette, built: Built, name: str,
                                                expected: Any) -> None:
    found = rows(ds, f"/archive/{name}")
    number = "version_count" if name in ("most_edited", "articles_gone") else "version"
    assert {(r["article_id"], r[number]) for r in found} == expected(built)


def test_recent_changes_takes_the_number_of_days(ds: Datasette, built: Built) -> None:
    assert [r["version"] for r in rows(ds, "/archive/recent_changes?days=1")] == [3]
    assert len(rows(ds, "/archive/recent_changes?days=30")) == 2


def test_fetch_failures_counts_the_last_day_by_site_and_outcome(ds: Datasette) -> None:
    found = rows(ds, "/archive/fetch_failures")
    assert [(r["site"], r["outcome"], r["failures"]) for r in found] == [
        ("down.example.org", "error", 2), ("example", "gone", 1)]
    assert found[0]["last_error"] == "connection refused (2h)"


def test_every_canned_query_has_a_title_and_description(ds: Datasette) -> None:
    assert set(QUERIES) == {"recent_changes", "most_edited", "articles_gone", "fetch_failures",
                            "title_changes"}
    for name in QUERIES:
        page = get(ds, f"/archive/{name}")
        assert page.status_code == 200 and QUERIES[name]["title"] in page.text


def test_search_finds_a_phrase_only_in_version_1(ds: Datasette, built: Built) -> None:
    for query in (ONLY_IN_V1, f'"{ONLY_IN_V1}"'):
        found = rows(ds, f"/archive/versions?_search={query}&_col=version&_col=article_id")
        assert [(r["article_id"], r["version"]) for r in found] == [(built.edited, 1)]
    assert rows(ds, f"/archive/latest_versions?_search={ONLY_IN_V1}") == []


def test_diff_page_marks_inserted_and_deleted_words(ds: Datasette, built: Built) -> None:
    page = get(ds, f"/-/diff/{built.edited}?from=1&to=2")
    assert page.status_code == 200
    html = page.text
    assert "<ins>late</ins>" in html
    assert re.search(r"<del>[^<]*harvest festival\.</del>", html)
    assert re.search(r"<ins>[^<]*farmers\.</ins>", html)
    assert "<h1>Budget passed <ins>after late vote</ins></h1>" in html
    for v in (1, 2, 3):  # the timeline
        assert f'href="/-/diff/{built.edited}?' in html and f">v{v}</a>" in html


def test_diff_page_lists_metadata_changes(ds: Datasette, built: Built) -> None:
    html = get(ds, f"/-/diff/{built.edited}?from=2&to=3").text
    assert "<dt>authors</dt>" in html and "<del>Ann Lee</del> → <ins>Ann Lee, Bo Chen</ins>" in html


def test_diff_page_escapes_what_the_archive_holds(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    evil = '<img src=x onerror="alert(1)">'
    with Archive(path) as archive:
        article_id = save(archive, EDITED, "Calm text.", ago(days=1), title="<script>x</script>")
        save(archive, EDITED, f"Calm text. {evil}", ago(hours=1), title="<b>bold</b>",
             authors=("<i>Eve</i>",))
    prepare_archive(path)
    html = get(build_datasette(path), f"/-/diff/{article_id}").text
    content = html.split('<section class="content">')[1].split("</section>")[0]
    assert "<script>" not in content and "<img" not in content and "<b>" not in content
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in content
    assert "&lt;i&gt;Eve&lt;/i&gt;" in content


def test_diff_page_defaults_to_the_latest_change_and_refuses_bad_versions(
        ds: Datasette, built: Built) -> None:
    assert "Version 2 (" in get(ds, f"/-/diff/{built.edited}").text
    assert "the first version" in get(ds, f"/-/diff/{built.steady}").text
    assert get(ds, f"/-/diff/{built.edited}?from=9").status_code == 404
    assert get(ds, f"/-/diff/{built.edited}?to=x").status_code == 400
    assert get(ds, "/-/diff/999").status_code == 404


def test_versions_table_links_to_diff_page_and_hides_raw_html(ds: Datasette, built: Built) -> None:
    html = get(ds, "/archive/versions").text
    assert f'href="/-/diff/{built.edited}?to=2"' in html
    assert "Binary:" not in html and "/-/html/" in html
    changes = get(ds, "/archive/changes").text
    assert f'href="/-/diff/{built.edited}?from=1&amp;to=2"' in changes


def test_archived_html_is_served_as_plain_text(ds: Datasette, built: Built) -> None:
    with sqlite3.connect(built.path) as conn:
        version_id, blob = conn.execute("SELECT id, html_zlib FROM versions WHERE article_id = ?"
                                        " AND version = 1", [built.edited]).fetchone()
    response = get(ds, f"/-/html/{version_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == zlib.decompress(blob).decode() == HTML_V1


def test_every_table_and_column_is_described(ds: Datasette, built: Built) -> None:
    with sqlite3.connect(built.path) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'versions_fts_%'")]
        for name in names:
            meta = ds.table_metadata("archive", name)
            assert meta.get("description"), (
                f"table {name} has no description: add it to DATABASE_METADATA in "
                "scraper/datasette_plugin.py")
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info([{name}])")]
            missing = [c for c in columns if c not in meta.get("columns", {})]
            assert not missing, (f"{name} columns {missing} have no description: add them to "
                                 "DATABASE_METADATA in scraper/datasette_plugin.py")


@pytest.mark.parametrize("page", ["/", "/archive", "/archive/articles", "/archive/versions",
                                  "/archive/fetches", "/archive/changes",
                                  "/archive/latest_versions", "/archive/versions/1"])
def test_every_page_renders_without_errors(ds: Datasette, page: str) -> None:
    response = get(ds, page)
    assert response.status_code == 200 and "message-error" not in response.text


def test_metadata_sets_facets_sorts_and_search(ds: Datasette) -> None:
    versions = ds.table_metadata("archive", "versions")
    assert {"array": "authors"} in versions["facets"]
    assert {"date": "fetched_at"} in versions["facets"]
    assert versions["sort_desc"] == "fetched_at" and versions["fts_table"] == "versions_fts"
    assert ds.table_metadata("archive", "fetches")["sort_desc"] == "started_at"
    page = get(ds, "/archive/changes").text
    shown = re.findall(r'<p class="facet-info-name">\s*<strong>([^<\n]*)', page)
    assert set(shown) == {"site", "changed (array)", "fetched_at (date)"}
    assert ds.metadata("title") == "News archive"


def test_plugin_is_loaded_by_the_entry_point(built: Built) -> None:
    # Constructed like `datasette archive.db` does: nothing registers the plugin by hand.
    plain = Datasette([str(built.path)])
    plugins = get(plain, "/-/plugins.json").json()
    ours = [p for p in plugins if p["name"] == "news-scraper"]
    assert ours and {"get_metadata", "register_routes", "render_cell"} <= set(ours[0]["hooks"])


def test_plain_datasette_command_serves_the_canned_queries(built: Built) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "datasette", str(built.path), "--get",
         "/archive/most_edited.json?_shape=array"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert [r["article_id"] for r in json.loads(result.stdout)] == [1]


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


def test_ensure_views_twice_leaves_the_schema_alone(built: Built) -> None:
    with Archive(built.path) as archive:
        before = archive.db.execute("PRAGMA schema_version").fetchone()[0]
        ensure_views(archive.db)
        assert archive.db.execute("PRAGMA schema_version").fetchone()[0] == before


def test_new_version_gets_its_word_counts_when_saved(tmp_path: Path) -> None:
    with Archive(tmp_path / "archive.db") as archive:
        save(archive, EDITED, V1, ago(days=1), title="Budget passed")
        save(archive, EDITED, V2, ago(hours=1), title="Budget passed")
        counts = "SELECT words_added, words_removed FROM changes"
        assert archive.db.execute(counts).fetchall() == [(2, 2)]
        assert pending_change_stats(archive.db) == 0


def test_versions_stored_before_the_stats_table_are_counted_later(tmp_path: Path) -> None:
    with Archive(tmp_path / "archive.db") as archive:
        article_id = save(archive, EDITED, V1, ago(days=1), title="Budget passed")
        save(archive, EDITED, V2, ago(hours=1), title="Budget passed")
        archive.db.execute("DELETE FROM change_stats")  # as in an archive from before v3
        counts = "SELECT words_added, words_removed FROM changes"
        assert archive.db.execute(counts).fetchall() == [(None, None)]  # not counted yet
        assert pending_change_stats(archive.db) == 1
        assert fill_change_stats(archive.db, article_id) == 1
        assert archive.db.execute(counts).fetchall() == [(2, 2)]
        assert fill_change_stats(archive.db) == 0
