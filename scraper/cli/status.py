"""`scraper stats`: what the archive holds and how the last crawls went, without SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..models import Outcome, counted
from .options import db_option, emit_json, json_option, open_archive


@click.command()
@db_option
@json_option
def stats(db: Path, as_json: bool) -> None:
    """Show the archive at a glance: articles by site and state, versions, the last day's
    fetches by outcome, the last crawls and the size of the database.

    Example: scraper stats --json
    """
    from ..store.stats import archive_stats

    data = archive_stats(open_archive(db))
    if as_json:
        emit_json(data)
        return
    click.echo(f"{data['database']}: {counted(data['articles'], 'article')}, "
               f"{counted(data['versions'], 'version')}, {_size(data['bytes'])}")
    if data["first_version"]:
        click.echo(f"versions stored from {data['first_version']} to {data['last_version']}")
    for site, states in data["sites"].items():
        click.echo(f"  {site:16} " + ", ".join(f"{n} {state}" for state, n in states.items()))
    fetches = data["fetches_last_day"]
    click.echo("fetches in the last day: " + (", ".join(
        _outcome(outcome, n) for outcome, n in fetches.items()) or "none"))
    for crawl in data["crawls"]:
        # worded as the crawl's own summary, and only when discovery failed: a crawl that
        # found nothing because its feeds could not be read must not look like a quiet one
        failed = (f"discovery failed for {counted(crawl['discovery_failed'], 'site')}, "
                  if crawl["discovery_failed"] else "")
        click.echo(f"  crawl {crawl['id']}: {crawl['status']}, started {crawl['started_at']}, "
                   f"{crawl['discovered']} discovered, {failed}{crawl['checked']} checked, "
                   f"{Outcome.NEW_VERSION.counted(crawl['new_version'])}, "
                   f"{Outcome.ERROR.counted(crawl['error'])}")
    if not data["crawls"]:
        click.echo("no crawls yet")


def _outcome(outcome: str, n: int) -> str:
    """``2 new versions``, as the crawl summary says it (an unknown value as stored)."""
    try:
        return Outcome(outcome).counted(n)
    except ValueError:
        return f"{n} {outcome.replace('_', ' ')}"


def _size(n: Any) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
