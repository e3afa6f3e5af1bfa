"""Browsing the archive in Datasette: metadata, views, canned queries and search.

Runs against the small archive of browse_archive.py through Datasette's in-process client;
two tests prove the entry point loads the plugin, one through the plain ``datasette`` command.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
from typing import Any
from urllib.parse import urlencode

import pytest
from browse_archive import ONLY_IN_V1, Built, built, ds, get, rows  # noqa: F401 (fixtures)
from datasette.app import Datasette

from scraper.browse.metadata import QUERIES


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


def test_versions_table_links_to_diff_page_and_hides_raw_html(ds: Datasette, built: Built) -> None:
    html = get(ds, "/archive/versions").text
    assert f'href="/-/diff/{built.edited}?to=2"' in html
    assert "Binary:" not in html and "/-/html/" in html
    changes = get(ds, "/archive/changes").text
    assert f'href="/-/diff/{built.edited}?from=1&amp;to=2"' in changes


def test_every_table_and_column_is_described(ds: Datasette, built: Built) -> None:
    with sqlite3.connect(built.path) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'versions_fts_%'")]
        for name in names:
            meta = ds.table_metadata("archive", name)
            assert meta.get("description"), (
                f"table {name} has no description: add it to DATABASE_METADATA in "
                "scraper/browse/metadata.py")
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info([{name}])")]
            missing = [c for c in columns if c not in meta.get("columns", {})]
            assert not missing, (f"{name} columns {missing} have no description: add them to "
                                 "DATABASE_METADATA in scraper/browse/metadata.py")


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
    assert ours and {"get_metadata", "register_routes", "render_cell",
                     "register_magic_parameters"} <= set(ours[0]["hooks"])


def test_plain_datasette_command_serves_the_canned_queries(built: Built) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "datasette", str(built.path), "--get",
         "/archive/most_edited.json?_shape=array"],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert [r["article_id"] for r in json.loads(result.stdout)] == [1]


def test_plain_datasette_command_can_start_its_server(built: Built) -> None:
    # `datasette archive.db` serving (not --get) runs the startup hooks, which install the
    # plugin's template loader, before it builds its app: the router lists the templates.
    plain = Datasette([str(built.path)])
    asyncio.run(plain.invoke_startup())
    plain.app()
    assert get(plain, "/archive/changes").status_code == 200


def test_recent_changes_says_it_lists_changes_not_new_articles(ds: Datasette,
                                                               built: Built) -> None:
    page = get(ds, "/archive/recent_changes").text
    assert "after the first" in page and "Versions stored" not in page
    # an article first archived a day ago is new, not changed: not listed
    assert built.steady not in {r["article_id"] for r in rows(ds, "/archive/recent_changes")}


@pytest.mark.parametrize("days, count", [("", 2), ("7", 2), ("1", 1), ("36500", 2)])
def test_recent_changes_takes_days_from_1_to_36500(ds: Datasette, days: str, count: int) -> None:
    assert len(rows(ds, f"/archive/recent_changes?days={days}")) == count


@pytest.mark.parametrize("days", ["abc", "-1", "0", "100000000", "1.5", "7 days", "٣", "<b>7</b>"])
def test_recent_changes_refuses_a_bad_number_of_days(ds: Datasette, days: str) -> None:
    expected = "days must be a whole number from 1 to 36500"
    page = get(ds, f"/archive/recent_changes?{urlencode({'days': days})}")
    assert page.status_code == 400 and expected in page.text and "<b>" not in page.text
    answer = get(ds, f"/archive/recent_changes.json?{urlencode({'days': days})}")
    assert answer.status_code == 400 and answer.json()["error"].startswith(expected)
