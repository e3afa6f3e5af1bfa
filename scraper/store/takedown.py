"""Takedowns: ``forget`` an article for good, and ``forgotten`` to check before archiving.

A court order or a source's safety can demand that an article leave the archive. Forgetting
removes its versions (the full-text rows go with them, by trigger), their word counts, every
fetch of it and the article itself, and keeps a tombstone per identity of it (its URLs and its
article key, normalised): a sha256 hash, the time and the reason, never the URL itself. The
deleted pages are zeroed (``secure_delete``) and the write-ahead log checkpointed, so the text
is not left readable in the file either.
Crawls and ``archive`` check the tombstones before fetching.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ..identity import normalize_url
from .archive import Archive, utc_now


@dataclass(frozen=True)
class Forgotten:
    """What ``forget`` removed for one URL (all zero when it was never archived)."""

    url: str
    article_id: int | None
    versions: int
    fetches: int


@lru_cache(maxsize=4096)  # a URL's checks ask twice (before the fetch and after it)
def key_hash(identity: str) -> str:
    """The tombstone of an identity: sha256 of the normalised URL, or of an article key."""
    key = identity if "://" not in identity else normalize_url(identity)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def forget(archive: Archive, url: str, key: str, *, reason: str | None = None) -> Forgotten:
    """Remove the article at ``url`` (identity ``key``) and everything of it; leave tombstones.

    One transaction: a crash leaves the article whole or gone, never half. A URL never
    archived gets its tombstones all the same, so that it never will be.
    """
    found = archive.find_article(url, key)
    identities = {url, normalize_url(url), key}
    if found:
        identities |= {found["url"], found["article_key"]}
        if found["canonical_url"]:
            identities.add(found["canonical_url"])
    urls = sorted(i for i in identities if "://" in i)
    marks = ",".join("?" * len(urls))
    now = utc_now()
    conn = archive.db.conn
    # zero what is deleted, rather than leave it readable in free pages of the file
    conn.execute("PRAGMA secure_delete = ON")
    with archive._write() as conn:
        versions = 0
        article_id = found["id"] if found else None
        if found:
            conn.execute("DELETE FROM change_stats WHERE version_id IN"
                         " (SELECT id FROM versions WHERE article_id = ?)", [article_id])
            versions = conn.execute("DELETE FROM versions WHERE article_id = ?",
                                    [article_id]).rowcount
        # every fetch of it: by article, or naming one of its URLs as asked for or reached
        fetches = conn.execute(
            f"DELETE FROM fetches WHERE article_id IS ? OR url IN ({marks})"
            f" OR final_url IN ({marks})", [article_id if found else -1, *urls, *urls]).rowcount
        if found:
            conn.execute("DELETE FROM articles WHERE id = ?", [article_id])
            # FTS5 only marks a deleted row: its words stay in the index's segments until
            # they are merged. 'optimize' merges them all, so the words are really gone.
            conn.execute("INSERT INTO versions_fts(versions_fts) VALUES ('optimize')")
        conn.executemany(
            "INSERT INTO tombstones (key_hash, forgotten_at, reason) VALUES (?, ?, ?)"
            " ON CONFLICT (key_hash) DO UPDATE SET forgotten_at = excluded.forgotten_at,"
            " reason = excluded.reason",
            [(key_hash(i), now, reason) for i in sorted(identities) if i])
    # and out of the write-ahead log, which still holds the old pages until a checkpoint
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Forgotten(url, found["id"] if found else None, versions, fetches)


def forgotten(archive: Archive, identities: Iterable[str]) -> str | None:
    """When one of ``identities`` (URLs, article keys) was forgotten, or None."""
    hashes = [key_hash(i) for i in identities if i]
    if not hashes:
        return None
    marks = ",".join("?" * len(hashes))
    row = archive._first(f"SELECT forgotten_at FROM tombstones WHERE key_hash IN ({marks})"
                         " ORDER BY forgotten_at", hashes)
    return row["forgotten_at"] if row else None


def unforget(archive: Archive, identities: Iterable[str]) -> None:
    """Lift the tombstones of ``identities``: ``archive --force`` archived it again on purpose."""
    hashes = [key_hash(i) for i in identities if i]
    if hashes:
        marks = ",".join("?" * len(hashes))
        with archive._write() as conn:
            conn.execute(f"DELETE FROM tombstones WHERE key_hash IN ({marks})", hashes)


def tombstones(archive: Archive) -> set[str]:
    """Every tombstone's hash, for a crawl to filter what it discovered."""
    return {row["key_hash"] for row in archive._rows("SELECT key_hash FROM tombstones")}
