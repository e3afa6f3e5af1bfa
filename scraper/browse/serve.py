"""`scraper serve`: Datasette on the archive, in this process, with the plugin loaded.

Kept out of cli.py because it is the one command that runs a server; cli.py imports it
(at its end), so this module must not import cli.
"""

from __future__ import annotations

import errno
import signal
import socket
import sqlite3
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import click

from ..models import ScraperError, StoreError, counted

if TYPE_CHECKING:
    from datasette.app import Datasette


def build_datasette(db: Path) -> Datasette:
    """A Datasette serving the archive at ``db``, with the scraper plugin registered."""
    from datasette.app import Datasette
    from datasette.plugins import pm

    from . import plugin

    # The entry point registers it when the package is installed; from a bare source tree
    # (or when Datasette skipped entry points) register it here.
    if not pm.is_registered(plugin) and pm.get_plugin("scraper") is None:
        pm.register(plugin, name="scraper")
    return Datasette([str(db)])


# Versions counted per write transaction: about 0.2 s each for 800-word articles, so a
# crawl running meanwhile waits seconds at most for the lock, never its 30 s busy timeout.
FILL_BATCH = 20


def prepare_archive(db: Path, progress: Callable[[int], None] | None = None) -> None:
    """Refuse a missing or foreign file; bring the schema, views and word counts up to date.

    ``progress(n)`` is called first when n versions still need their words counted.
    """
    from ..store import Archive
    from .views import ensure_views, fill_change_stats, pending_change_stats

    if not db.exists():
        # Archive() would create an empty one; serving that helps nobody.
        raise StoreError(f"no archive at {db} (run `scraper archive URL` first, or pass --db)")
    # Archive() would also turn any other SQLite file into an archive by migrating it.
    try:
        with closing(sqlite3.connect(f"file:{quote(str(db.resolve()))}?mode=ro",
                                     uri=True)) as conn:
            schema = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError:
        raise StoreError(f"{db} is not a SQLite database") from None
    if schema == 0:
        raise StoreError(f"{db} is not a scraper archive")
    with Archive(db) as archive:  # runs pending migrations; refuses a newer schema
        with _transaction(archive.db.conn):
            ensure_views(archive.db)
        pending = pending_change_stats(archive.db)
        if pending and progress:
            progress(pending)
        while pending > 0:
            with _transaction(archive.db.conn):
                done = fill_change_stats(archive.db, limit=FILL_BATCH)
            pending = pending - done if done else 0


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # BEGIN IMMEDIATE takes the write lock before the first read, as store.Archive does.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db", envvar="SCRAPER_DB", default="archive.db", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The archive database (env SCRAPER_DB).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 makes the archive reachable by others.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one (the URL printed names it).")
@click.option("--open", "open_browser", is_flag=True, help="Open the archive in a browser.")
def serve(db: Path, host: str, port: int, open_browser: bool) -> None:
    """Browse the archive in Datasette: search, facets, changes and word-level diffs.

    The same pages appear under plain `datasette archive.db`, as the package is a
    Datasette plugin. Stop with Ctrl-C.

    Example:

        scraper serve --open
    """
    import uvicorn

    prepare_archive(db, progress=lambda n: click.echo(
        f"Counting the words changed by {counted(n, 'version')} (once)...", err=True))
    # Listening before saying where: the URL names the real port (--port 0 picks a free one),
    # and a client that reads it can connect at once.
    sock = _listen(host, port)
    port = int(sock.getsockname()[1])
    ds = build_datasette(db)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/{ds.get_database().route}"
    config = uvicorn.Config(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    # From the line on, Ctrl-C is how the server is stopped: no error, exit 0. uvicorn's own
    # handler is installed before the line, not only once its loop runs, so a Ctrl-C in
    # between asks it to stop instead of raising KeyboardInterrupt inside asyncio's start-up
    # (a half-built event loop then printed a traceback as it was collected).
    previous = signal.signal(signal.SIGINT, server.handle_exit)
    try:
        click.echo(f"Serving {db} on {url}", err=True)
        if open_browser:
            webbrowser.open(url)
        server.run(sockets=[sock])  # returns once stopped (uvicorn re-raises into our handler)
    finally:
        signal.signal(signal.SIGINT, previous)
    click.echo("Stopped.", err=True)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port and listening; a ScraperError in one line if it cannot."""
    # uvicorn would log a traceback-like error and exit; say it in one line instead.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's default backlog
    except OSError as err:
        sock.close()
        why = "address already in use" if err.errno == errno.EADDRINUSE else err.strerror
        raise ScraperError(f"cannot listen on {host}:{port}: {why}") from None
    return sock
