"""The views for browsing and their word counts (change_stats), read without Datasette."""

from __future__ import annotations

from pathlib import Path

import pytest
from browse_archive import EDITED, V1, V2, Built, ago, build_archive, save

from scraper.browse.views import ensure_views, fill_change_stats, pending_change_stats
from scraper.store import Archive


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_archive(tmp_path_factory.mktemp("views") / "archive.db")


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
