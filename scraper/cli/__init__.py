"""The ``scraper`` command line: the only package that prints or exits.

One module per family of commands; ``errors`` is the one place where errors become a line
on stderr and an exit code (0 done, 1 failed, 2 usage, 130 interrupted, 141 broken pipe).
"""

from __future__ import annotations

import logging
import sys

import click

from .archiving import archive, extract_command
from .crawling import crawl, discover
from .errors import ScraperGroup, StampedFormatter
from .exporting import export_command
from .reading import diff, history, show
from .reextracting import reextract
from .site_list import sites
from .status import stats
from .takedown import forget
from .worker import worker

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=ScraperGroup, context_settings=CONTEXT)
@click.version_option(package_name="news-scraper", message="scraper %(version)s")
def cli() -> None:
    """Archive news articles and every edit to them in SQLite.

    Each archived page becomes an article; each change to its title, authors or body
    becomes a new version. Browse the archive with `scraper history`, `show` and `diff`,
    or in Datasette with `scraper serve`.
    """


def _serve() -> click.Command:
    from ..browse.serve import serve

    return serve


for command in (archive, history, show, diff, extract_command, crawl, discover, sites,
                stats, forget, reextract, export_command, worker, _serve()):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    _log_to_stderr()
    cli(prog_name="scraper")


def _log_to_stderr() -> None:
    """Warnings from the library (a feed skipped, a host backed off) as one stderr line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StampedFormatter())
    logger = logging.getLogger("scraper")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
