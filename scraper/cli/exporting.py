"""`scraper export`: the archive as JSON Lines, CSV, WARC or WACZ, for other tools."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import click

from ..models import UnknownSite, UsageError
from .files import written_whole
from .options import config_option, db_option, load_sites, open_archive

FORMATS = ("jsonl", "csv", "warc", "wacz")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".warc": "warc",
            ".warc.gz": "warc", ".wacz": "wacz"}


class Day(click.ParamType):
    """A day as YYYY-MM-DD; a message that says what is wrong with it, not only the format
    (click.DateTime says "does not match the format '%Y-%m-%d'" of 2026-13-01)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        # one-digit months and days too, as click.DateTime (strptime) took them
        if not (day := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)):
            self.fail(f"{text!r} is not a date (YYYY-MM-DD)", param, ctx)
        try:
            return datetime(*map(int, day.groups()))
        except ValueError as err:  # "month must be in 1..12", "day is out of range for month"
            self.fail(f"invalid date {text!r}: {err}", param, ctx)


DATE = Day()


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="jsonl or csv (one row per version), warc or wacz (the pages as "
                   "fetched, for web-archive tools). Default: from -o's suffix, else jsonl.")
@click.option("--site", "site_name", metavar="NAME", help="Only this site's articles.")
@click.option("--since", type=DATE, metavar="DATE",
              help="Only versions fetched on or after this day (YYYY-MM-DD, UTC).")
@click.option("--until", type=DATE, metavar="DATE",
              help="Only versions fetched on or before this day (YYYY-MM-DD, UTC).")
@click.option("--latest", is_flag=True,
              help="Only the current version of each article (default: every version).")
@click.option("-o", "--output", default="-", metavar="FILE", show_default=True,
              help="Write here ('-' for stdout); written to a temporary name and renamed "
                   "when complete.")
@db_option
@config_option
def export_command(fmt: str | None, site_name: str | None, since: datetime | None,
                   until: datetime | None, latest: bool, output: str, db: Path,
                   config_path: Path | None) -> None:
    """Export archived versions as JSON Lines, CSV, WARC 1.1 or WACZ.

    JSON Lines and CSV hold one row per version (URL, site, version, fetch time, title,
    authors, dates, text, word count, diff page link); WARC and WACZ hold each version's
    page with its HTTP response, its request and the extracted article, for pywb,
    ReplayWeb.page and other web-archive tools. Folded versions are left out.

    Example: scraper export --format wacz --site themoscowtimes -o tmt.wacz
    """
    from ..export import Selection, count, export

    fmt = fmt or _format_of(output)
    if since and until and since > until:
        raise UsageError(f"--since {since.date()} is after --until {until.date()}")
    if output == "-" and fmt in ("warc", "wacz") and sys.stdout.isatty():
        raise UsageError(f"a {fmt.upper()} is binary: pass -o FILE, or redirect stdout")
    archive = open_archive(db)
    if site_name is not None:
        _check_site(archive, site_name, config_path)
    selection = Selection(site=site_name, since=_day(since), until=_day(until), latest=latest)
    total = count(archive.db.conn, selection) if _stderr_is_terminal() else 0
    with _destination(output) as out, _progress(total) as progress:
        export(archive.db.conn, selection, fmt, out, progress)


def _stderr_is_terminal() -> bool:
    """A person watching (a progress bar helps), not cron's mail (it would fill it)."""
    return sys.stderr.isatty()


def _format_of(output: str) -> str:
    """The format an output file's name asks for (jsonl when it says nothing)."""
    name = Path(output).name.lower()
    return next((fmt for suffix, fmt in SUFFIXES.items() if name.endswith(suffix)), "jsonl")


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _check_site(archive: Any, name: str, config_path: Path | None) -> None:
    """A site with articles in the archive, or a known one (with none yet): else exit 2."""
    from ..sites import site_named

    found = archive.db.conn.execute("SELECT 1 FROM articles WHERE site = ? LIMIT 1",
                                    [name]).fetchone()
    if found is not None:
        return
    load_sites(config_path)
    try:
        site_named(name)
    except UnknownSite:
        archived = [r[0] for r in archive.db.conn.execute(
            "SELECT DISTINCT site FROM articles ORDER BY site")]
        raise UnknownSite(f"unknown site {name!r} (in the archive: "
                          f"{', '.join(archived) or 'none'})") from None


@contextmanager
def _destination(output: str) -> Iterator[BinaryIO]:
    """stdout, or a temporary file beside ``output`` renamed to it only when complete."""
    if output == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with written_whole(Path(output)) as handle:
        yield handle


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; otherwise silent (cron)."""
    if not total:
        yield lambda n: None
        return
    with click.progressbar(length=total, label="exporting", file=sys.stderr) as bar:
        yield bar.update
