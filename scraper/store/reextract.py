"""Re-extraction: bring stored versions up to the current extractor, and fold false edits.

A fixed adapter never reached the versions it had already stored, and the next harmless byte
change then recorded an "edit" the publisher never made (the fixed title against the old one).
``stale`` lists the versions an older extractor produced (their raw HTML kept); the caller
extracts them again; ``update_article`` writes the new fields of one article's versions and
folds every version whose content now equals the unfolded version before it. One short
transaction per article: a run can be interrupted and resumed (what was done carries the
current extractor), and a crawl can write beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..browse.views import fill_change_stats
from ..identity import content_hash
from ..models import Article
from .archive import Archive, version_fields


@dataclass(frozen=True)
class Stale:
    """A version to extract again: where its page came from and what extracted it."""

    id: int
    article_id: int
    version: int
    url: str
    site: str
    extractor: str | None


def stale(archive: Archive, current: Callable[[str], str], *, sites: Sequence[str] = (),
          article_id: int | None = None) -> list[Stale]:
    """Versions with their raw HTML whose extractor is not ``current(site)``, by article."""
    where, params = ["(v.html_raw IS NOT NULL OR v.html_zlib IS NOT NULL)"], []
    if sites:
        where.append(f"a.site IN ({','.join('?' * len(sites))})")
        params += list(sites)
    if article_id is not None:
        where.append("v.article_id = ?")
        params.append(article_id)
    rows = archive._rows(
        "SELECT v.id, v.article_id, v.version, coalesce(v.final_url, v.url) AS url, a.site,"
        " v.extractor FROM versions v JOIN articles a ON a.id = v.article_id"
        f" WHERE {' AND '.join(where)} ORDER BY v.article_id, v.version", params)
    return [Stale(**row) for row in rows if row["extractor"] != current(row["site"])]


def planned_folds(archive: Archive, article_id: int, new_hashes: dict[int, str]) -> list[int]:
    """The versions (numbers) that would be folded once ``new_hashes`` (by version id) apply."""
    rows = archive._rows("SELECT id, version, content_hash FROM versions WHERE article_id = ?"
                         " ORDER BY version", [article_id])
    return [number for number, fold in _folds(
        [(r["version"], new_hashes.get(r["id"], r["content_hash"])) for r in rows]) if fold]


def update_article(archive: Archive, article_id: int,
                   extracted: dict[int, tuple[Article, str]]) -> tuple[int, list[int]]:
    """Write the re-extracted versions (by version id: the article and its extractor) of one
    article, then fold what equals its predecessor (and unfold what no longer does).

    Returns (how many versions' content changed, the version numbers folded now).
    """
    with archive._write() as conn:
        changed = 0
        for version_id, (article, extractor) in extracted.items():
            digest = content_hash(article)
            old = conn.execute("SELECT content_hash FROM versions WHERE id = ?",
                               [version_id]).fetchone()
            if old is None:
                continue  # gone meanwhile (`scraper forget`)
            changed += old[0] != digest
            fields = {**version_fields(article), "content_hash": digest, "extractor": extractor}
            conn.execute(f"UPDATE versions SET {', '.join(f'{k} = ?' for k in fields)}"
                         " WHERE id = ?", [*fields.values(), version_id])
        rows = conn.execute("SELECT version, content_hash, folded FROM versions"
                            " WHERE article_id = ? ORDER BY version", [article_id]).fetchall()
        folded_now = []
        for (number, fold), (_, _, was) in zip(_folds([(r[0], r[1]) for r in rows]), rows):
            if fold != bool(was):
                conn.execute("UPDATE versions SET folded = ? WHERE article_id = ? AND version = ?",
                             [int(fold), article_id, number])
                if fold:
                    folded_now.append(number)
        # word counts against the (new) predecessors: counted again
        conn.execute("DELETE FROM change_stats WHERE version_id IN"
                     " (SELECT id FROM versions WHERE article_id = ?)", [article_id])
        fill_change_stats(archive.db, article_id)
    return changed, folded_now


def _folds(versions: list[tuple[int, str]]) -> list[tuple[int, bool]]:
    """(number, folded) for versions in order: folded when equal to the last unfolded one."""
    out: list[tuple[int, bool]] = []
    last: str | None = None
    for number, digest in versions:
        fold = digest == last
        out.append((number, fold))
        if not fold:
            last = digest
    return out


def reextract_counts() -> dict[str, Any]:
    """The counters a run reports."""
    return {"reextracted": 0, "changed": 0, "folded": 0, "failed": 0}
