"""The plugin's pages: the diff page of an article and the archived HTML of a version."""

from __future__ import annotations

import re
import sqlite3

from contextlib import closing
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from browse_archive import (  # noqa: F401 (built, ds: fixtures)
    EDITED, HTML_V1, Built, ago, build_archive, built, ds, get, save,
)
from datasette.app import Datasette

from scraper.browse.serve import build_datasette, prepare_archive
from scraper.store import Archive, codec


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


def test_archived_html_is_served_as_plain_text(ds: Datasette, built: Built) -> None:
    with sqlite3.connect(built.path) as conn:
        version_id, blob = conn.execute("SELECT id, html_raw FROM versions WHERE article_id = ?"
                                        " AND version = 1", [built.edited]).fetchone()
    response = get(ds, f"/-/html/{version_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == codec.decompress(blob, "zstd").decode() == HTML_V1


@pytest.mark.parametrize("damage", [
    lambda blob: b"this was never zstd data", lambda blob: blob[: len(blob) // 2]])
def test_a_damaged_html_blob_costs_only_that_blob(tmp_path: Path, damage: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    built = build_archive(tmp_path / "archive.db")
    with closing(sqlite3.connect(built.path)) as conn, conn:
        (v1, blob), (v2, _), *_ = conn.execute(
            "SELECT id, html_raw FROM versions WHERE article_id = ? ORDER BY version",
            [built.edited]).fetchall()
        conn.execute("UPDATE versions SET html_raw = ? WHERE id = ?", [damage(blob), v1])
    ds = build_datasette(built.path)
    page = get(ds, f"/-/html/{v1}")
    assert page.status_code == 410
    assert f"The stored HTML of version 1 of {EDITED} is damaged" in unescape(page.text)
    # everything else still reads: the other version's HTML, the diff, the tables
    assert get(ds, f"/-/html/{v2}").status_code == 200
    for path in (f"/-/diff/{built.edited}?from=1&to=2", "/archive/versions",
                 f"/archive/versions/{v1}", "/archive/changes"):
        response = get(ds, path)
        assert response.status_code == 200 and "message-error" not in response.text, path
    assert "Traceback" not in capsys.readouterr().err
