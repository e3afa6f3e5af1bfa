"""The archive: versions only on content change, every fetch logged, safe opening."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlite_utils

from scraper.identity import article_key
from scraper.models import Article, NotStorable, Page, SchemaTooNew, StoreError
from scraper.sites import Site
from scraper.store import OUTCOMES, SCHEMA_VERSION, Archive, SaveResult, codec, schema, utc_now
from scraper.store import connection as store_connection

URL = "https://example.com/politics/budget-passed-a123"
TEXT = "The budget passed on Tuesday.\n\nThe minister resigned over the scandal."


class Numbered(Site):
    """Article ids end the path (`-a123`), so a slug change is the same article."""

    name = "numbered"
    domains = ("example.com",)

    def article_key(self, url: str) -> str | None:
        match = re.search(r"-a(\d+)$", urlsplit(url).path)
        return match.group(1) if match else None


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive(tmp_path / "archive.db") as opened:
        yield opened


def article(text: str = TEXT, url: str = URL, **fields: object) -> Article:
    defaults: dict[str, object] = {"title": "Budget passed", "authors": ("Ann Lee",),
                                   "site": "numbered"}
    return Article(url=url, text=text, **{**defaults, **fields})  # type: ignore[arg-type]


def page(url: str = URL, html: str = "page one", **fields: object) -> Page:
    return Page(url=url, final_url=url, status=200, html=html, **fields)  # type: ignore[arg-type]


def save(archive: Archive, art: Article, pg: Page | None = None, **kw: object) -> SaveResult:
    pg = pg or page(art.url)
    key = article_key(Numbered(), pg.final_url, art.canonical_url)
    return archive.save(art, pg, site_name="numbered", key=key, **kw)


def count(archive: Archive, table: str) -> int:
    return int(archive.db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_same_content_twice_keeps_one_version(archive: Archive) -> None:
    first = save(archive, article())
    second = save(archive, article())
    assert (first.outcome, first.version) == ("new_version", 1)
    assert (second.outcome, second.version) == ("unchanged", 1)
    assert second.article_id == first.article_id
    assert count(archive, "versions") == 1
    row = archive.find_article(URL)
    assert row is not None and row["check_count"] == 2


def test_edit_adds_version_2(archive: Archive) -> None:
    save(archive, article(), fetched_at="2024-05-01T08:00:00+00:00")
    result = save(archive, article(TEXT + " He denied it."), fetched_at="2024-05-01T09:00:00+00:00")
    assert (result.outcome, result.version) == ("new_version", 2)
    versions = archive.versions(result.article_id)
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["authors"] == ["Ann Lee"]
    row = archive.find_article(URL)
    assert row is not None
    assert row["first_seen"] == "2024-05-01T08:00:00+00:00"
    assert row["last_changed"] == row["last_checked"] == "2024-05-01T09:00:00+00:00"


def test_a_b_a_keeps_three_versions(archive: Archive) -> None:
    results = [save(archive, article(text)) for text in (TEXT, TEXT + " Update.", TEXT)]
    assert [r.version for r in results] == [1, 2, 3]
    hashes = [v["content_hash"] for v in archive.versions(results[0].article_id)]
    assert hashes[0] == hashes[2] != hashes[1]


def test_boilerplate_only_change_keeps_one_version(archive: Archive) -> None:
    save(archive, article(modified="2024-05-01T08:00:00+00:00", description="Old teaser"),
         page(html="<p>ads v1</p>"))
    result = save(archive, article(modified="2024-05-01T11:30:00+00:00",
                                   description="New teaser", image="https://example.com/i.jpg"),
                  page(html="<p>ads v2, new sidebar</p>"))
    assert result.outcome == "unchanged"
    assert count(archive, "versions") == 1


def test_whitespace_and_nfc_differences_keep_one_version(archive: Archive) -> None:
    save(archive, article(title="Café budget"))
    spaced = "  " + TEXT.replace(" ", "  \u00a0").replace("\n\n", "\n") + "\n"
    result = save(archive, article(spaced, title=unicodedata.normalize("NFD", "Café budget")))
    assert result.outcome == "unchanged"
    assert count(archive, "versions") == 1


def test_empty_text_is_refused_and_nothing_stored(archive: Archive) -> None:
    error_page = page(html="<h1>404 Not Found</h1>")
    for text in ("", "  \n\n "):
        with pytest.raises(NotStorable, match="no text"):
            save(archive, article(text), error_page)
    assert count(archive, "articles") == count(archive, "versions") == 0


def test_fetch_rows_recorded_for_every_outcome(archive: Archive) -> None:
    for i, outcome in enumerate(sorted(OUTCOMES)):
        archive.record_fetch(f"{URL}?n={i}", started_at="2024-05-01T08:00:00+00:00",
                             elapsed_ms=120, status=None if outcome == "error" else 200,
                             outcome=outcome, error="timeout" if outcome == "error" else None,
                             attempts=1, final_url=URL)
    rows = archive.db.conn.execute("SELECT outcome, status, error FROM fetches").fetchall()
    assert {r[0] for r in rows} == OUTCOMES == {
        "new_version", "unchanged", "not_modified", "gone", "blocked", "no_article", "error"}
    assert ("error", None, "timeout") in rows
    with pytest.raises(NotStorable, match="unknown fetch outcome"):
        archive.record_fetch(URL, started_at="x", elapsed_ms=0, status=200, outcome="weird")


def test_fetch_row_links_to_the_version_it_stored(archive: Archive) -> None:
    fetch = {"url": URL, "started_at": utc_now(), "elapsed_ms": 80, "status": 200}
    first = save(archive, article(), fetch=fetch)
    second = save(archive, article(), fetch=fetch)  # unchanged: the row names no version
    rows = archive.db.conn.execute(
        "SELECT outcome, article_id, version FROM fetches ORDER BY id").fetchall()
    assert rows == [("new_version", first.article_id, 1),
                    ("unchanged", second.article_id, None)]


def test_fts_finds_phrase_only_in_version_1(archive: Archive) -> None:
    first = save(archive, article())
    save(archive, article(TEXT.replace("minister resigned", "minister stayed")))
    found = archive.db.conn.execute(
        "SELECT versions.version FROM versions_fts JOIN versions"
        " ON versions.id = versions_fts.rowid WHERE versions_fts MATCH ?",
        ['"minister resigned"']).fetchall()
    assert found == [(1,)]
    assert len(list(archive.db.table("versions").search('"budget passed"'))) == 2
    assert first.version == 1


def test_version_returns_full_row_with_lists_and_html(archive: Archive) -> None:
    result = save(archive, article(tags=("politics", "budget")), page(html="<p>Grüße</p>"))
    save(archive, article(TEXT + " More."), page(html="<p>v2</p>"))
    latest = archive.version(result.article_id, html=True)
    first = archive.version(result.article_id, 1, html=True)
    assert latest is not None and latest["version"] == 2 and latest["html"] == "<p>v2</p>"
    assert first is not None and first["html"] == "<p>Grüße</p>"
    assert first["tags"] == ["politics", "budget"] and first["authors"] == ["Ann Lee"]
    assert first["word_count"] == len(TEXT.split()) and "html_zlib" not in first
    assert archive.version(result.article_id, 9) is None
    assert archive.version(999) is None


def test_validators_come_from_the_latest_response(archive: Archive) -> None:
    save(archive, article(), page(etag='"v1"', last_modified="Wed, 01 May 2024 08:00:00 GMT"))
    key = "numbered:123"
    assert archive.validators(key) == ('"v1"', "Wed, 01 May 2024 08:00:00 GMT")
    save(archive, article(), page(etag='"v2"'))
    assert archive.validators(key) == ('"v2"', None)
    assert archive.validators("numbered:999") == (None, None)


def test_mark_checked_records_not_modified_and_gone(archive: Archive) -> None:
    save(archive, article(), page(etag='"v1"'))
    archive.mark_checked("numbered:123", checked_at="2030-01-01T00:00:00+00:00")
    row = archive.find_article(URL)
    assert row is not None
    assert (row["etag"], row["state"], row["check_count"]) == ('"v1"', "active", 2)
    assert row["last_checked"] == "2030-01-01T00:00:00+00:00"
    archive.mark_checked("numbered:123", state="gone")
    assert archive.find_article(URL)["state"] == "gone"  # type: ignore[index]
    save(archive, article())  # back online
    assert archive.find_article(URL)["state"] == "active"  # type: ignore[index]
    archive.mark_checked("numbered:nope", state="gone")  # unknown: no-op
    assert count(archive, "articles") == 1
    with pytest.raises(NotStorable, match="unknown article state"):
        archive.mark_checked("numbered:123", state="deleted")


def test_find_article_by_key_url_canonical_and_normalized_url(archive: Archive) -> None:
    fetched = "https://example.com/feed/item-7"
    canonical = "https://www.example.com/politics/story-a7"
    save(archive, article(url=fetched, canonical_url=canonical), page(fetched))
    for url, key in [("https://x.test/", "numbered:7"), (fetched, None), (canonical, None),
                     ("HTTPS://EXAMPLE.com:443/feed/item-7?utm_source=rss#c", None)]:
        found = archive.find_article(url, key)
        assert found is not None and found["article_key"] == "numbered:7", url
    assert archive.find_article("https://example.com/other") is None


def test_foreign_canonical_is_not_recorded(archive: Archive) -> None:
    copy = "https://evil.test/copied-story"
    archive.save(article(url=copy, canonical_url=URL), page(copy), site_name="generic",
                 key=copy)
    assert archive.find_article(URL) is None


def test_article_key_merges_slug_change(archive: Archive) -> None:
    old_url = "https://example.com/politics/budget-talks-a123"
    first = save(archive, article(url=old_url, title="Budget talks"), page(old_url))
    edited = save(archive, article(title="Budget passed"), page(URL))
    assert edited.article_id == first.article_id
    assert (edited.outcome, edited.version) == ("new_version", 2)
    assert count(archive, "articles") == 1
    assert archive.find_article(URL, "numbered:123")["url"] == old_url  # type: ignore[index]


def test_timestamps_are_utc_iso8601(archive: Archive) -> None:
    save(archive, article())
    row = archive.find_article(URL)
    assert row is not None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", row["first_seen"])


def test_reopening_keeps_data_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    with Archive(path) as first:
        save(first, article())
    with Archive(path) as again:
        assert again.db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert again.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert count(again, "versions") == 1


def test_two_open_archives_write_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    with Archive(path) as crawl, Archive(path) as by_hand:
        save(crawl, article())
        assert save(by_hand, article()).outcome == "unchanged"
        assert save(crawl, article(TEXT + " Edit.")).version == 2


def test_corrupt_file_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    junk = b"these are my notes, not a database\n" * 200
    path.write_bytes(junk)
    for readonly in (False, True):
        with pytest.raises(StoreError, match="notes.db is not a SQLite database"):
            Archive(path, readonly=readonly)
    assert path.read_bytes() == junk


def test_newer_schema_raises_schema_too_new(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for readonly in (False, True):
        with pytest.raises(SchemaTooNew, match=f"schema version {SCHEMA_VERSION + 1}"):
            Archive(path, readonly=readonly)


def test_readonly_missing_db_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no archive at"):
        Archive(path, readonly=True)
    assert not path.exists()


def test_readonly_archive_reads_but_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    with Archive(path) as writable:
        result = save(writable, article())
    with Archive(path, readonly=True) as reader:
        assert [v["version"] for v in reader.versions(result.article_id)] == [1]
        with pytest.raises(StoreError, match="read-only"):
            save(reader, article(TEXT + " Edit."))


def test_failed_migration_leaves_the_file_unmigrated(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(db: object) -> None:
        schema._migrate_0_to_1(db)  # type: ignore[arg-type]
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store_connection, "MIGRATIONS", (broken,))
    path = tmp_path / "archive.db"
    with pytest.raises(RuntimeError):
        Archive(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_version_1_archive_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    from scraper.store import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO articles (site, url, article_key, first_seen) "
                 "VALUES ('generic', 'https://example.com/a', 'k', '2024-01-01T00:00:00+00:00')")
    conn.close()
    with Archive(path) as archive:
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert archive.find_article("https://example.com/a")["raw_hash"] is None
        assert "crawls" in archive.db.table_names()


def test_save_schedules_the_next_check_from_the_last_change(tmp_path: Path) -> None:
    with Archive(tmp_path / "a.db") as archive:
        archive.save(article(), page(), site_name="numbered", key="k",
                     fetched_at="2024-01-01T00:00:00+00:00")
        row = archive.find_article(URL, "k")
        assert row["next_check"] == "2024-01-01T00:15:00+00:00"
        # unchanged two days later: the article is two days old, checked every 3 hours
        archive.save(article(), page(), site_name="numbered", key="k",
                     fetched_at="2024-01-03T00:00:00+00:00")
        row = archive.find_article(URL, "k")
        assert row["next_check"] == "2024-01-03T03:00:00+00:00"
        archive.mark_checked("k", state="gone", checked_at="2024-01-03T01:00:00+00:00")
        assert archive.find_article(URL, "k")["next_check"] is None


def test_a_version_keeps_the_bytes_and_heads_it_came_in(archive: Archive) -> None:
    raw = "<p>Привет</p>".encode("cp1251")
    http = {"request": {"method": "GET", "url": URL, "headers": []},
            "response": {"http_version": "HTTP/1.1", "status": 200, "reason": "OK",
                         "headers": [["Content-Type", "text/html; charset=windows-1251"]]}}
    save(archive, article(), page(html="<p>Привет</p>", raw=raw, http=http))
    row = archive.db.execute("SELECT html_raw, html_codec, http_exchange, html_zlib"
                             " FROM versions").fetchone()
    assert row[1] == "zstd" and row[3] is None
    assert codec.decompress(row[0], "zstd") == raw  # the bytes as received, not re-encoded
    assert codec.unpack_json(row[2], "zstd") == http
    # read back as text with the charset the response declared
    latest = archive.version(1, html=True)
    assert latest is not None and latest["html"] == "<p>Привет</p>"
    assert not {"html_raw", "http_exchange", "html_zlib"} & set(latest)


def test_a_page_stored_with_zlib_before_schema_7_still_reads(tmp_path: Path) -> None:
    import zlib

    from scraper.store import MIGRATIONS

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for migrate in MIGRATIONS[:6]:
        migrate(sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version = 6")
    conn.execute("INSERT INTO articles (id, site, url, article_key, first_seen) VALUES"
                 " (1, 'generic', 'https://example.com/a', 'k', '2024-01-01T00:00:00+00:00')")
    conn.execute("INSERT INTO versions (article_id, version, fetched_at, content_hash, text,"
                 " word_count, url, html_zlib) VALUES (1, 1, '2024-01-01T00:00:00+00:00',"
                 " 'h', 'Old text', 2, 'https://example.com/a', ?)",
                 [zlib.compress("<p>Grüße</p>".encode())])
    conn.close()
    with Archive(path) as archive:
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        old = archive.version(1, html=True)
        assert old is not None and old["html"] == "<p>Grüße</p>"
        # a new version of the same article is stored with zstd beside it
        save(archive, article(url="https://example.com/a"),
             page("https://example.com/a", html="<p>new</p>"))


def test_a_compressed_page_holds_only_its_own_size_in_memory() -> None:
    # a blob waits in a write batch; zstandard's worst-case buffer (the page's size) must
    # not wait with it
    import tracemalloc

    page = ("<p>" + "The council met and voted on the budget. " * 20_000 + "</p>").encode()
    tracemalloc.start()
    try:
        blob = codec.compress(page)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(blob) < len(page) // 50
    assert held < len(blob) + 4096
    assert codec.decompress(blob, codec.ZSTD) == page
