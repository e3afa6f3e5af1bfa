"""The one place where errors become what a user reads: one line on stderr and an exit code.

Exit codes: 0 done (including ``unchanged``), 1 when any URL or lookup failed or the archive
cannot be used, 2 for usage errors (an option, a URL, a site name, a file to read, the
config file), 130 when interrupted, 141 when stdout's reader went away (``| head -1``).
Expected failures never print a traceback.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from typing import Any, NoReturn

import click

from ..models import ScraperError, UnknownSite, UsageError


class ScraperGroup(click.Group):
    """Turns every expected error into one line on stderr and an exit code, in one place."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as err:  # e.g. `scraper --bogus`
            raise _one_line(err) from None
        except BrokenPipeError:  # `scraper --help | head -1`
            stdout_gone()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as err:  # a command's bad option or argument
            raise _one_line(err) from None
        except (UsageError, UnknownSite) as err:
            fail(str(err), code=2)
        except ScraperError as err:
            fail(str(err))
        except sqlite3.DatabaseError as err:  # a damaged file: the header was fine, a page not
            fail(f"the archive cannot be read: {err}")
        except KeyboardInterrupt:
            fail("interrupted", code=130)
        except BrokenPipeError:  # `scraper sites | head -1`: the reader has all it wants
            stdout_gone()


class OneLineUsageError(click.UsageError):
    """Click's usage error (exit 2), shown as one line like every other error."""

    def show(self, file: Any = None) -> None:
        hint = f" (see `{self.ctx.command_path} -h`)" if self.ctx else ""
        fail_line(f"{self.format_message()}{hint}")


def _one_line(err: click.UsageError) -> click.UsageError:
    if isinstance(err, click.exceptions.NoArgsIsHelpError):
        return err  # `scraper` alone prints the help, as it should
    return OneLineUsageError(err.format_message(), err.ctx)


def fail_line(message: str) -> None:
    """Print an error as one line on stderr, whatever newlines the message holds."""
    click.echo(f"scraper: error: {' '.join(message.split())}", err=True)


def warn(message: str) -> None:
    """Print a warning or notice as one line on stderr."""
    click.echo(f"scraper: {' '.join(message.split())}", err=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print the error line and exit with ``code``."""
    fail_line(message)
    raise click.exceptions.Exit(code)


def stdout_gone() -> NoReturn:
    """Exit 141 (128 + SIGPIPE, as the shell reports a writer killed by it), saying nothing.

    stdout now points at /dev/null: what is still in its buffer is flushed there at exit
    instead of raising again (Python's "Exception ignored ... BrokenPipeError"), as the
    signal module's "Note on SIGPIPE" does.
    """
    try:
        stdout = sys.stdout.fileno()
    except (OSError, ValueError):  # not a file (click's CliRunner): nothing left to flush
        raise click.exceptions.Exit(141) from None
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stdout)
    os.close(devnull)
    raise click.exceptions.Exit(141)


def stamp(line: str) -> str:
    """A log line of a crawl (or of any command's -v) as cron keeps it: an ISO time first."""
    from ..store import utc_now

    return f"{utc_now()} {line}"


def log_line(line: str, verbose: bool = False) -> str:
    """A line of a command's log: stamped with its time under -v or when it goes to a file or
    cron's mail (stdout not a terminal), plain for a person at a terminal."""
    return stamp(line) if verbose or not sys.stdout.isatty() else line


class StampedFormatter(logging.Formatter):
    """The "scraper" logger's lines: the time, then ``scraper: message`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        return stamp(f"scraper: {' '.join(record.getMessage().split())}")


def log_to_stderr(ctx: click.Context, level: int) -> None:
    """Lines of the "scraper" logger at ``level`` and above on stderr, for this command only.

    ``scraper`` (main) has put a stderr handler on the logger already; run any other way
    (``CliRunner``, ``python -c``) it has none, so one is added, and removed at the end.
    """
    logger = logging.getLogger("scraper")
    old_level, handler = logger.level, None
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(StampedFormatter())
        logger.addHandler(handler)

    def restore() -> None:
        logger.setLevel(old_level)
        if handler is not None:
            logger.removeHandler(handler)

    ctx.call_on_close(restore)
