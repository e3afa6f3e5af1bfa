"""Validators of feeds and sitemaps (``feed_validators``): their ETag and Last-Modified, kept
per URL so the next crawl asks with a conditional GET and an unchanged feed costs a 304.

    >>> feed_validators(archive, ["https://example.com/rss"])
    {"https://example.com/rss": ('"abc"', None)}
    >>> save_feed_validators(archive, {"https://example.com/rss": ('"def"', None)})

Only a feed whose links were all dealt with may be saved (``scraper.crawl`` decides): a 304
on the next run means "nothing here you have not handled".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .archive import Archive, utc_now

Validators = tuple[str | None, str | None]  # (ETag, Last-Modified)


def feed_validators(archive: Archive, urls: Iterable[str] | None = None
                    ) -> dict[str, Validators]:
    """The stored validators of those of ``urls`` that have some (None: of every URL)."""
    if urls is None:
        return {row["url"]: (row["etag"], row["last_modified"]) for row in
                archive._rows("SELECT url, etag, last_modified FROM feed_validators")}
    wanted = list(dict.fromkeys(urls))
    found: dict[str, Validators] = {}
    for i in range(0, len(wanted), 500):  # under SQLite's limit of bound parameters
        chunk = wanted[i:i + 500]
        rows = archive._rows("SELECT url, etag, last_modified FROM feed_validators WHERE url IN "
                             f"({','.join('?' * len(chunk))})", chunk)
        found.update({row["url"]: (row["etag"], row["last_modified"]) for row in rows})
    return found


def save_feed_validators(archive: Archive, validators: Mapping[str, Validators]) -> None:
    """Store (or replace) the validators of each URL, in one transaction."""
    if not validators:
        return
    now = utc_now()
    with archive._write() as conn:
        conn.executemany(
            "INSERT INTO feed_validators (url, etag, last_modified, checked_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET etag = excluded.etag, "
            "last_modified = excluded.last_modified, checked_at = excluded.checked_at",
            [(url, etag, modified, now) for url, (etag, modified) in validators.items()])


def drop_feed_validators(archive: Archive, urls: Iterable[str]) -> None:
    """Forget the validators of ``urls``: their next fetch is unconditional."""
    gone = [(url,) for url in urls]
    if gone:
        with archive._write() as conn:
            conn.executemany("DELETE FROM feed_validators WHERE url = ?", gone)
