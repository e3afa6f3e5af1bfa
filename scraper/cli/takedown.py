"""`scraper forget`: remove articles for good (a takedown), so that nothing archives them again."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..models import StoreError, UsageError, counted
from .options import check_url, config_option, db_option, emit_json, json_option, load_sites


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@db_option
@json_option
@click.option("--reason", metavar="TEXT", help="Why (kept with the tombstone, e.g. a court "
              "order's reference).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when not on "
              "a terminal).")
@config_option
def forget(urls: tuple[str, ...], db: Path, as_json: bool, reason: str | None,
           yes: bool, config_path: Path | None) -> None:
    """Remove each article for good: its versions, their text and raw HTML, its fetches.

    A tombstone (a hash of each URL and identity of the article, the time and the reason,
    never the URL itself) keeps `crawl` and `archive` from storing it again; `archive
    --force` overrides that. Asks for confirmation on a terminal; elsewhere --yes is needed.

    Example: scraper forget https://example.com/news/1 --reason "court order 2026/117" --yes
    """
    from ..identity import article_key
    from ..sites import site_for
    from ..store import Archive
    from ..store.takedown import forget as forget_article

    load_sites(config_path)  # a declared site's article key, as the archive knows it
    wanted = [check_url(url) for url in dict.fromkeys(urls)]
    if not db.exists():  # a mistyped --db must not report a takedown done elsewhere
        raise StoreError(f"no archive at {db} (pass --db)")  # all checked before any write
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("forget removes articles for good: add --yes when not on a "
                             "terminal")
        click.confirm(f"Remove {counted(len(wanted), 'article')} and everything stored of them, "
                      "for good?", abort=True, err=True)
    with Archive(db) as archive:
        done = [forget_article(archive, url, article_key(site_for(url), url, None),
                               reason=reason) for url in wanted]
    if as_json:
        emit_json([{"url": f.url, "article_id": f.article_id, "versions": f.versions,
                    "fetches": f.fetches} for f in done])
        return
    for f in done:
        what = (f"removed {counted(f.versions, 'version')} and "
                f"{counted(f.fetches, 'fetch', 'fetches')}" if f.article_id
                else "was not archived; it never will be")
        click.echo(f"{f.url}  {what}")
