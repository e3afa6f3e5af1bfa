"""`scraper reextract`: the stored versions brought up to the current extractor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..models import StoreError, counted
from .errors import stamp
from .options import (
    check_url,
    config_option,
    db_option,
    emit_json,
    find_article,
    json_option,
    load_sites,
)


@click.command()
@click.argument("site_names", nargs=-1, metavar="[SITE]...")
@click.option("--url", help="Only the article at this URL.")
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.option("-v", "--verbose", is_flag=True, help="Log each version that changes.")
@db_option
@json_option
@config_option
def reextract(site_names: tuple[str, ...], url: str | None, dry_run: bool, verbose: bool,
              db: Path, as_json: bool, config_path: Path | None) -> None:
    """Extract again every stored version whose extractor is not the current one.

    After an adapter (or a config site, or the scraper) changed: each version whose raw HTML
    is kept is extracted again and updated in place (fields, word count, full-text index,
    content hash). A version whose content now equals the version before it was a false
    edit: it is folded, kept with its page and fetch time, but no longer a version in
    history, diffs and views. Safe beside a crawl; Ctrl-C stops it, and the next run goes
    on where it stopped.

    Example: scraper reextract themoscowtimes --dry-run
    """
    from ..extract import extractor_id
    from ..sites import site_named
    from ..store import Archive
    from ..store.reextract import reextract_counts, stale
    from ..workers import POOL_FROM, make_pool

    load_sites(config_path)
    for name in site_names:
        site_named(name)  # an unknown name is a usage error
    sites: dict[str, Any] = {}

    def site(name: str) -> Any:
        if name not in sites:
            try:
                sites[name] = site_named(name)
            except Exception:  # a site no longer known: the generic path extracts it
                sites[name] = site_named("generic")
        return sites[name]

    counts = reextract_counts()
    with Archive(db, readonly=dry_run) as archive:
        article_id = find_article(archive, check_url(url))["id"] if url else None
        todo = stale(archive, lambda name: extractor_id(site(name)), sites=site_names,
                     article_id=article_id)
        by_article: dict[int, list[Any]] = {}
        for row in todo:
            by_article.setdefault(row.article_id, []).append(row)
        # many versions extract in a process per core, as a crawl does; a few inline
        pool = make_pool() if len(todo) > POOL_FROM else None
        try:
            for aid, rows in by_article.items():
                _one_article(archive, aid, rows, site, pool, counts, dry_run, verbose)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    if as_json:
        emit_json({**counts, "dry_run": dry_run})
    else:
        click.echo(stamp(f"reextract{' (dry run)' if dry_run else ''}: {counts['reextracted']} "
                         f"re-extracted, {counts['changed']} changed, {counts['folded']} folded, "
                         f"{counts['failed']} failed"))
    if counts["failed"]:
        raise click.exceptions.Exit(1)


def _one_article(archive: Any, aid: int, rows: list[Any], site: Any, pool: Any,
                 counts: dict[str, Any], dry_run: bool, verbose: bool) -> None:
    """Extract one article's stale versions again, then write them (or say what would change)."""
    from ..extract import extractor_id
    from ..store.reextract import planned_folds, update_article
    from ..workers import _extract_job

    def failed(row: Any, err: Exception) -> None:  # that version stays as it was
        counts["failed"] += 1
        click.echo(stamp(f"scraper: {row.url} v{row.version}: {' '.join(str(err).split())}"),
                   err=True)

    pages = {}
    for row in rows:
        try:
            stored = archive.version(aid, row.version, html=True)
        except StoreError as err:  # a damaged page
            failed(row, err)
            continue
        if stored is not None:  # None: forgotten meanwhile
            pages[row.id] = stored["html"]
    jobs = {row.id: (pool.submit(_extract_job, pages[row.id], row.url, site(row.site))
                     if pool is not None else None) for row in rows if row.id in pages}
    extracted = {}
    for row in rows:
        if row.id not in jobs:
            continue
        try:
            job = jobs[row.id]
            article = (job.result() if job is not None
                       else _extract(pages[row.id], row.url, site(row.site)))
        except Exception as err:  # noqa: BLE001 - a bug in an adapter fails that version only
            failed(row, err)
            continue
        extracted[row.id] = (article, extractor_id(site(row.site)))
    counts["reextracted"] += len(extracted)
    if dry_run:
        from ..identity import content_hash

        old = {r["id"]: r["content_hash"] for r in archive._rows(
            "SELECT id, content_hash FROM versions WHERE article_id = ?", [aid])}
        hashes = {vid: content_hash(a) for vid, (a, _) in extracted.items()}
        counts["changed"] += sum(1 for vid, h in hashes.items() if old[vid] != h)
        already = _folded(archive, aid)
        folds = [n for n in planned_folds(archive, aid, hashes) if n not in already]
        counts["folded"] += len(folds)
        for number in folds:
            click.echo(f"would fold v{number} of {rows[0].url} (a false edit)")
        return
    changed, folded = update_article(archive, aid, extracted)
    counts["changed"] += changed
    counts["folded"] += len(folded)
    for number in folded:  # said always: a fold is the news of a run
        click.echo(stamp(f"{rows[0].url}  folded v{number} (a false edit)"))
    if verbose and changed:
        click.echo(stamp(f"{rows[0].url}  {counted(changed, 'version')} changed"))


def _extract(html: str, url: str, site: Any) -> Any:
    """Extraction in this process (a short run; tests replace it to stop a run midway)."""
    from ..extract import extract

    return extract(html, url=url, site=site)


def _folded(archive: Any, article_id: int) -> set[int]:
    return {r["version"] for r in archive._rows(
        "SELECT version FROM versions WHERE article_id = ? AND folded", [article_id])}
