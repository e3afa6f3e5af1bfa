"""Exports stream: the peak memory an export allocates does not grow with the archive (an
archive of 10,000 versions against one of 1,000, measured with tracemalloc, not timed)."""

from __future__ import annotations

import sys
import tracemalloc
from contextlib import closing
from pathlib import Path

import pytest

from scraper.export import Selection, export
from scraper.store import Archive

# bench/ is scripts, not a package: its export.py builds the benchmark's archives
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from export import build

pytestmark = pytest.mark.slow  # builds an archive of 10,000 versions and exports it 4 times

PARAGRAPH = ("The council met on Monday and voted on the budget for the coming year, after a "
             "long debate about schools, roads and the harbour. ")
# pages of our own, cycled over the articles: (bytes, title, text) as bench/export.py's use
PAGES = [(f"<html><head><title>Story {n}</title></head><body><h1>Story {n}</h1><p>"
          f"{PARAGRAPH * 8}</p></body></html>".encode(), f"Story {n}", PARAGRAPH * 8)
         for n in range(7)]


def synthetic_archive(path: Path, versions: int) -> Path:
    """An archive of ``versions`` versions (two per article), each with a page and heads:
    the benchmark's own builder (bench/export.py), with pages of our own."""
    build(path, versions, PAGES)
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
