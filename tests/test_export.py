"""`scraper export` as JSON Lines and CSV, and its bad input: every version of an archive
built through the real pipeline comes back with the archive's fields."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from export_archive import archived_versions, build, cli_run
from server import TestServer

from scraper.browse.serve import build_datasette, prepare_archive
from scraper.cli import exporting
from scraper.export import FIELDS

# the politeness delay and retry waits are not what these tests are about
pytestmark = pytest.mark.usefixtures("no_waits")

FIELD_OF = {"url": "article_url", "fetched_url": "url"}  # export name -> archive column


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    db = tmp_path_factory.mktemp("export") / "archive.db"
    with TestServer() as server:
        build(server, db)
    yield db


def export(db: Path, *args: str) -> tuple[int, str, str]:
    return cli_run("export", "--db", str(db), *args)


def expected(row: dict[str, Any]) -> dict[str, Any]:
    """The export record a version of the archive should give."""
    record = {name: row[FIELD_OF.get(name, name)] for name in FIELDS if name != "diff_url"}
    record["diff_url"] = f"/-/diff/{row['article_id']}?to={row['version']}"
    return record


def test_jsonl_round_trips_every_version_with_the_archives_fields(archive_db: Path) -> None:
    code, out, err = export(archive_db, "--format", "jsonl")
    assert code == 0 and err == ""
    records = [json.loads(line) for line in out.splitlines()]
    versions = archived_versions(archive_db)
    assert len(versions) == 4  # five rows stored, one folded: not a version
    assert records == [expected(v) for v in versions]
    assert list(records[0]) == list(FIELDS)
    assert records[0]["authors"] == ["AFP", "Elena Fixture"]  # lists stay lists


def test_csv_round_trips_every_version_like_sqlite_utils_csv(
        archive_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "versions.txt"
    code, _, err = export(archive_db, "--format", "csv", "-o", str(target))
    assert code == 0 and err == ""
    out = target.read_bytes().decode("utf-8")
    assert out.startswith(",".join(FIELDS) + "\r\n")  # a header row, CRLF as Datasette's
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    versions = archived_versions(archive_db)
    assert len(rows) == len(versions) == 4
    for row, version in zip(rows, versions):
        want = expected(version)
        for name in FIELDS:
            if name in ("authors", "tags"):  # JSON lists as JSON strings
                assert json.loads(row[name]) == want[name], name
            else:  # NULL as an empty cell
                assert row[name] == ("" if want[name] is None else str(want[name])), name
    assert "\n" in rows[0]["text"]  # a multi-line text survives the quoting


def test_site_dates_and_latest_select_versions(archive_db: Path) -> None:
    def keys(*args: str) -> list[tuple[int, int]]:
        code, out, err = export(archive_db, *args)
        assert code == 0, err
        return [(r["article_id"], r["version"]) for r in map(json.loads, out.splitlines())]

    every = [(v["article_id"], v["version"]) for v in archived_versions(archive_db)]
    assert keys() == every
    assert keys("--site", "themoscowtimes") == [(1, 1), (1, 2)]
    assert keys("--site", "generic") == [(2, 1), (3, 1)]
    assert keys("--latest") == [(1, 2), (2, 1), (3, 1)]  # v3 is folded: v2 is current
    assert keys("--latest", "--site", "themoscowtimes") == [(1, 2)]
    day = archived_versions(archive_db)[0]["fetched_at"][:10]
    assert keys("--since", day, "--until", day) == every
    assert keys("--until", "2001-01-01") == []
    assert keys("--since", "2999-01-01") == []
    assert keys("--until", "2001-1-1") == [] and keys("--since", "2001-1-1") == every
    # a site known to the scraper with nothing archived yet: an empty export, not an error
    assert keys("--site", "bbc") == []


@pytest.mark.parametrize("name, fmt", [("a.jsonl", "jsonl"), ("a.CSV", "csv"),
                                       ("a.warc.gz", "warc"), ("a.wacz", "wacz"),
                                       ("a.jsonl.gz", "jsonl"), ("a", "jsonl")])
def test_format_from_the_output_name(name: str, fmt: str) -> None:
    assert exporting._format_of(name) == fmt


def test_output_file_is_written_whole_with_the_format_from_its_suffix(
        archive_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "versions.csv"
    code, out, err = export(archive_db, "-o", str(target))
    assert (code, out, err) == (0, "", "")
    assert target.read_text(encoding="utf-8").startswith("url,canonical_url,site,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["versions.csv"]  # no temp left


def one_error_line(result: tuple[int, str, str], code: int, *words: str) -> None:
    got, out, err = result
    assert got == code, (got, out, err)
    assert err.count("\n") == 1 and err.startswith("scraper: error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in err


@pytest.mark.parametrize("args, code, words", [
    (("--format", "pdf"), 2, ("pdf",)),
    (("--site", "nosuchsite"), 2, ("nosuchsite", "themoscowtimes")),
    (("--since", "2024-13-45"), 2, ("--since",)),
    (("--since", "2026-13-01"), 2,
     ("--since", "invalid date '2026-13-01': month must be in 1..12")),
    (("--until", "2026-02-30"), 2, ("invalid date '2026-02-30': day is out of range for month",)),
    (("--until", "yesterday"), 2, ("--until", "'yesterday' is not a date (YYYY-MM-DD)")),
    (("--since", "2024-05-02", "--until", "2024-05-01"), 2, ("after",)),
])
def test_bad_options_give_one_line_and_write_nothing(
        archive_db: Path, tmp_path: Path, args: tuple[str, ...], code: int,
        words: tuple[str, ...]) -> None:
    target = tmp_path / "out.jsonl"
    one_error_line(export(archive_db, *args, "-o", str(target)), code, *words)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_gives_one_line(archive_db: Path, tmp_path: Path) -> None:
    one_error_line(export(archive_db, "-o", str(tmp_path / "missing" / "out.jsonl")), 2,
                   "cannot write")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores the mode; the missing folder tested it
            return
        one_error_line(export(archive_db, "-o", str(locked / "out.wacz")), 2, "cannot write")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_an_archive_that_does_not_exist_gives_one_line(tmp_path: Path) -> None:
    one_error_line(export(tmp_path / "none.db", "-o", str(tmp_path / "out.jsonl")), 1,
                   "no archive")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # and none was created


@pytest.mark.parametrize("fmt", ["warc", "wacz"])
def test_a_damaged_page_fails_midway_and_leaves_no_file(
        archive_db: Path, tmp_path: Path, fmt: str) -> None:
    db = tmp_path / "archive.db"
    shutil.copy(archive_db, db)
    with closing(sqlite3.connect(db)) as conn, conn:  # the last capture written is damaged
        conn.execute("UPDATE versions SET html_raw = x'00112233' WHERE article_id = 2")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    one_error_line(export(db, "--format", fmt, "-o", str(out_dir / f"a.{fmt}")), 1,
                   "damaged", "version 1")
    assert list(out_dir.iterdir()) == []  # neither the export nor its temporary file


def test_diff_urls_open_each_version_on_the_datasette_diff_page(
        archive_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "archive.db"
    shutil.copy(archive_db, db)
    prepare_archive(db)
    ds = build_datasette(db)
    code, out, _ = export(db)
    assert code == 0
    for record in map(json.loads, out.splitlines()):
        page = asyncio.run(ds.client.get(record["diff_url"]))
        assert page.status_code == 200, record["diff_url"]
        number = record["version"]  # the page compares it with the one before, if any
        shown = f"ersion {number} ({record['fetched_at'][:10]}"
        assert shown in page.text, (record["diff_url"], shown)


def test_progress_bar_only_on_a_terminal(
        archive_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporting, "_stderr_is_terminal", lambda: True)
    code, _, err = export(archive_db, "-o", str(tmp_path / "a.jsonl"))
    assert code == 0 and "exporting" in err
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 4


def test_wacz_to_a_pipe(archive_db: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "scraper", "export", "--db", str(archive_db),
                             "--format", "wacz"], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(io.BytesIO(result.stdout)) as zf:
        assert zf.testzip() is None
        assert "archive/data.warc.gz" in zf.namelist()
