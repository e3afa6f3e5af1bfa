"""Exports stream: the peak memory an export allocates does not grow with the archive (an
archive of 10,000 versions against one of 1,000, measured with tracemalloc, not timed)."""

from __future__ import annotations

import json
import tracemalloc
from contextlib import closing
from pathlib import Path

import pytest

from scraper.export import Selection, export
from scraper.store import Archive, codec

pytestmark = pytest.mark.slow  # builds an archive of 10,000 versions and exports it 4 times

PARAGRAPH = ("The council met on Monday and voted on the budget for the coming year, after a "
             "long debate about schools, roads and the harbour. ")


def synthetic_archive(path: Path, versions: int) -> Path:
    """An archive of ``versions`` versions (two per article), each with a page and heads."""
    with Archive(path) as archive:
        conn = archive.db.conn
        conn.execute("BEGIN")
        for article in range(versions // 2):
            url = f"https://news.example/story/{article}"
            conn.execute("INSERT INTO articles (id, site, url, article_key, first_seen, state)"
                         " VALUES (?, 'generic', ?, ?, '2024-05-01T08:00:00+00:00', 'active')",
                         [article + 1, url, url])
            for number in (1, 2):
                text = f"Story {article}, version {number}. " + PARAGRAPH * 8
                html = f"<html><head><title>Story {article}</title></head><body><h1>Story " \
                       f"{article}</h1><p>{text}</p></body></html>".encode()
                exchange = {"request": {"method": "GET", "url": url,
                                        "headers": [["Host", "news.example"]]},
                            "response": {"http_version": "HTTP/1.1", "status": 200,
                                         "reason": "OK", "headers": [
                                             ["Content-Type", "text/html; charset=utf-8"],
                                             ["Content-Length", str(len(html))]]}}
                conn.execute(
                    "INSERT INTO versions (article_id, version, fetched_at, content_hash, title,"
                    " authors, text, word_count, url, final_url, html_raw, html_codec,"
                    " http_exchange) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'zstd', ?)",
                    [article + 1, number, f"2024-05-0{number}T08:00:00+00:00",
                     f"{article}-{number}", f"Story {article}", json.dumps(["Ann Lee"]), text,
                     len(text.split()), url, url, codec.compress(html),
                     codec.pack_json(exchange)])
        conn.execute("COMMIT")
    return path


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("memory")
    return {n: synthetic_archive(folder / f"archive-{n}.db", n) for n in (1_000, 10_000)}


def peak_growth(db: Path, fmt: str, out: Path) -> int:
    """Bytes allocated at the peak of an export, above what was allocated before it."""
    with closing(Archive(db, readonly=True)) as archive, open(out, "wb") as f:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            written = export(archive.db.conn, Selection(), fmt, f)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert written == int(db.stem.split("-")[1])
    return peak - before


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "warc", "wacz"])
def test_export_memory_stays_flat_from_1000_to_10000_versions(
        archives: dict[int, Path], tmp_path: Path, fmt: str) -> None:
    # a first export imports the modules it uses: not counted
    peak_growth(archives[1_000], fmt, tmp_path / f"warm-up.{fmt}")
    small = peak_growth(archives[1_000], fmt, tmp_path / f"small.{fmt}")
    large = peak_growth(archives[10_000], fmt, tmp_path / f"large.{fmt}")
    # ten times the versions; holding even 100 bytes per version would add 1 MB
    assert large <= 1.2 * small, f"{fmt}: peak {large:,} B at 10,000 versions, " \
                                 f"{small:,} B at 1,000"
    sizes = [(tmp_path / f"{name}.{fmt}").stat().st_size for name in ("small", "large")]
    assert sizes[1] > 9 * sizes[0]  # and it did write ten times as much
