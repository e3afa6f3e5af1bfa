"""SQL views for browsing the archive: ``latest_versions`` and ``changes``.

``changes`` shows the words added to and removed from the body by each version. SQL
cannot count them, and a word diff at query time is too slow for a table page (about
0.2 s for one pair of 800-word texts, so 20 s for a page of 100 rows), and a SQL
function would also leave the view unreadable to any client that lacks it (sqlite3, a
plain ``sqlite-utils`` connection). So they are computed once, in Python, with
``scraper.diff``, and stored in the ``change_stats`` table that the view joins: plain
``datasette archive.db``, ``scraper serve`` and the sqlite3 shell all read the same rows.
Versions never change once stored, so neither do their counts. A version without counts
(stored before this table existed) shows NULL words until ``fill_change_stats`` counts it;
``scraper serve`` does so before serving.

Nothing here opens or commits a transaction: the caller runs these inside its own.
"""

from __future__ import annotations

import re

import sqlite_utils

from ..diff import word_diff, words_changed

# The Datasette plugin's diff page; every row of `changes` and `latest_versions` links to it.
DIFF_PATH = "/-/diff/"

CHANGE_STATS_SQL = """CREATE TABLE IF NOT EXISTS change_stats (
    version_id INTEGER PRIMARY KEY REFERENCES versions(id),
    words_added INTEGER NOT NULL,
    words_removed INTEGER NOT NULL
)"""

# Versions of one article are numbered 1..n without gaps, but a folded one (a false edit that
# `scraper reextract` found equal to the version before) is no version: the views skip it, and
# a version's predecessor is the latest one before it that is not folded.
_PREVIOUS = ("(SELECT max(q.version) FROM versions q WHERE q.article_id = v.article_id"
             " AND q.version < v.version AND NOT q.folded)")
VIEWS = {
    "latest_versions": f"""CREATE VIEW latest_versions AS
SELECT
    v.id AS id,
    v.article_id AS article_id,
    a.site AS site,
    a.state AS state,
    v.version AS version,
    v.fetched_at AS fetched_at,
    v.title AS title,
    v.authors AS authors,
    v.published AS published,
    v.modified AS modified,
    v.description AS description,
    v.language AS language,
    v.image AS image,
    v.tags AS tags,
    v.text AS text,
    v.word_count AS word_count,
    v.url AS url,
    v.final_url AS final_url,
    v.content_hash AS content_hash,
    a.first_seen AS first_seen,
    a.last_checked AS last_checked,
    '{DIFF_PATH}' || v.article_id AS diff_url
FROM articles a
JOIN versions v ON v.article_id = a.id
    AND v.version = (SELECT max(m.version) FROM versions m WHERE m.article_id = a.id
                     AND NOT m.folded)""",
    "changes": f"""CREATE VIEW changes AS
SELECT
    v.id AS id,
    v.article_id AS article_id,
    a.site AS site,
    v.version AS version,
    p.version AS previous_version,
    v.fetched_at AS fetched_at,
    p.fetched_at AS previous_fetched_at,
    v.title AS title,
    p.title AS previous_title,
    s.words_added AS words_added,
    s.words_removed AS words_removed,
    v.title IS NOT p.title AS title_changed,
    v.authors IS NOT p.authors AS authors_changed,
    v.text IS NOT p.text AS body_changed,
    (v.published IS NOT p.published OR v.modified IS NOT p.modified) AS dates_changed,
    '[' || rtrim(
        CASE WHEN v.title IS NOT p.title THEN '"title",' ELSE '' END
        || CASE WHEN v.authors IS NOT p.authors THEN '"authors",' ELSE '' END
        || CASE WHEN v.text IS NOT p.text THEN '"body",' ELSE '' END
        || CASE WHEN v.published IS NOT p.published OR v.modified IS NOT p.modified
                THEN '"dates",' ELSE '' END,
        ',') || ']' AS changed,
    '{DIFF_PATH}' || v.article_id || '?from=' || p.version || '&to=' || v.version AS diff_url
FROM versions v
JOIN versions p ON p.article_id = v.article_id AND p.version = {_PREVIOUS}
JOIN articles a ON a.id = v.article_id
LEFT JOIN change_stats s ON s.version_id = v.id
WHERE NOT v.folded""",
}


def ensure_views(db: sqlite_utils.Database) -> None:
    """Create the change_stats table and create or update the views; counts nothing (fast)."""
    db.execute(CHANGE_STATS_SQL)
    for name, sql in VIEWS.items():
        row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?",
                         [name]).fetchone()
        # Recreate only a view whose definition changed: an unchanged schema stays unwritten.
        if row is not None and _squash(row[0]) == _squash(sql):
            continue
        db.execute(f"DROP VIEW IF EXISTS [{name}]")
        db.execute(sql)


def pending_change_stats(db: sqlite_utils.Database) -> int:
    """How many versions after the first have no word counts yet."""
    return int(db.execute("SELECT count(*) FROM (" + _PENDING + ")").fetchone()[0])


def fill_change_stats(db: sqlite_utils.Database, article_id: int | None = None,
                      limit: int | None = None) -> int:
    """Count the words added and removed by versions (of one article) that lack counts.

    Returns how many versions it counted: at most ``limit``, so that a backfill can commit
    in batches. Call it with the article's id after storing a new version.
    """
    sql, params = _PENDING, []
    if article_id is not None:
        sql, params = sql + " AND v.article_id = ?", [article_id]
    if limit is not None:
        sql, params = sql + " LIMIT ?", [*params, limit]
    todo = db.execute(sql, params).fetchall()
    for version_id, previous_id in todo:
        # One pair of texts at a time: a backfill of a large archive stays small in memory.
        old = db.execute("SELECT text FROM versions WHERE id = ?", [previous_id]).fetchone()[0]
        new = db.execute("SELECT text FROM versions WHERE id = ?", [version_id]).fetchone()[0]
        added, removed = words_changed(word_diff(old or "", new or ""))
        db.execute("INSERT INTO change_stats (version_id, words_added, words_removed)"
                   " VALUES (?, ?, ?)", [version_id, added, removed])
    return len(todo)


# Versions after the first without counts, with their predecessor: (id, previous id).
_PENDING = ("SELECT v.id, p.id FROM versions v"
            f" JOIN versions p ON p.article_id = v.article_id AND p.version = {_PREVIOUS}"
            " WHERE NOT v.folded"
            " AND NOT EXISTS (SELECT 1 FROM change_stats s WHERE s.version_id = v.id)")


def _squash(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()
