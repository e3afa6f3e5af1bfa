"""The ``scraper`` command line: the only module that prints or exits.

Exit codes: 0 done (including ``unchanged``), 1 when any URL or lookup failed, 2 usage errors.
Expected failures print one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from .models import ScraperError, UnknownSite, UsageError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class ScraperGroup(click.Group):
    """Turns every expected error into one line on stderr and an exit code, in one place."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as err:  # e.g. `scraper --bogus`
            raise _one_line(err) from None

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


def fail(message: str, code: int = 1) -> NoReturn:
    fail_line(message)
    raise click.exceptions.Exit(code)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


db_option = click.option(
    "--db", "db", envvar="SCRAPER_DB", default="archive.db", show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive database (env SCRAPER_DB).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group(cls=ScraperGroup, context_settings=CONTEXT)
@click.version_option(package_name="news-scraper", message="scraper %(version)s")
def cli() -> None:
    """Archive news articles and every edit to them in SQLite.

    Each archived page becomes an article; each change to its title, authors or body
    becomes a new version. Browse the archive with `scraper history`, `show` and `diff`.
    """


@cli.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL... | -")
@db_option
@json_option
@click.option("--ignore-robots", is_flag=True,
              help="Fetch even where robots.txt disallows it (for URLs you archive by hand).")
@click.option("--user-agent", metavar="UA", help="Send this User-Agent instead of the default.")
@click.option("--site", "site_name", metavar="NAME", help="Use this site adapter whatever the "
              "URL's host (e.g. for a mirror); see `scraper sites`.")
def archive(urls: tuple[str, ...], db: Path, as_json: bool, ignore_robots: bool,
            user_agent: str | None, site_name: str | None) -> None:
    """Fetch, extract and store each URL (`-` reads URLs from stdin, one per line).

    Prints one line per URL: `new version N`, `unchanged`, `not modified`, or the error.
    Exits 1 when any URL failed.
    """
    from .fetch import DEFAULT_USER_AGENT, make_client
    from .identity import check_http_url
    from .pipeline import archive_url
    from .robots import Robots
    from .sites import site_named
    from .store import Archive

    site = site_named(site_name) if site_name else None
    wanted = [u for arg in urls for u in (_stdin_urls() if arg == "-" else [arg])]
    if not wanted:
        raise UsageError("no URLs given")
    for url in wanted:  # check all before writing anything
        try:
            check_http_url(url)
        except ScraperError as err:
            raise UsageError(str(err)) from None

    async def run() -> list[Any]:
        store = Archive(db)
        ua = user_agent or (site and site.user_agent) or DEFAULT_USER_AGENT
        try:
            async with make_client(user_agent=ua) as client:
                robots = None if ignore_robots else Robots()
                results = []
                for url in wanted:
                    result = await archive_url(client, store, url, robots=robots, site=site,
                                               user_agent=user_agent)
                    if not as_json:
                        line = f"{url}  {result.describe()}"
                        click.echo(line, err=not result.ok)
                    results.append(result)
                return results
        finally:
            store.close()

    results = asyncio.run(run())
    if as_json:
        emit_json([r.to_dict() for r in results])
    if not all(r.ok for r in results):
        raise click.exceptions.Exit(1)


def _stdin_urls() -> list[str]:
    return [line.strip() for line in sys.stdin if line.strip() and not line.startswith("#")]


def _open(db: Path) -> Any:
    """The archive, read-only; closed when the command ends."""
    from .store import Archive

    archive = Archive(db, readonly=True)
    click.get_current_context().call_on_close(archive.close)
    return archive


def _article(store: Any, url: str) -> dict[str, Any]:
    from .identity import article_key
    from .sites import site_for

    from .identity import check_http_url

    try:
        url = check_http_url(url)
    except ScraperError as err:
        raise UsageError(str(err)) from None
    found = store.find_article(url, article_key(site_for(url), url, None))
    if found is None:
        raise ScraperError(f"no archived article for {url}")
    return found


def _version(store: Any, article: dict[str, Any], number: int | None) -> dict[str, Any]:
    row = store.version(article["id"], number)
    if row is None:
        raise ScraperError(f"version {number} of {article['url']} does not exist "
                           f"(see `scraper history {article['url']}`)")
    return row


# SQLite's largest integer: a bigger version number cannot be looked up at all.
VERSION_NUMBER = click.IntRange(min=1, max=2**63 - 1)

config_option = click.option(
    "--config", "config_path", envvar="SCRAPER_CONFIG",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Crawl configuration (TOML; env SCRAPER_CONFIG; default ./scraper.toml if present).",
)


def _finite(value: float | None, param: click.Parameter) -> float | None:
    # FloatRange lets "nan" through: NaN fails no comparison, and would mean no limit at all.
    if value is not None and value != value:
        raise click.BadParameter("nan is not a number of seconds", param=param)
    return value


def _crawl_sites(names: tuple[str, ...], configured: tuple[str, ...]) -> list[Any]:
    from .sites import all_sites, site_named

    chosen = names or configured
    if chosen:
        return [site_named(n) for n in dict.fromkeys(chosen)]
    return list(all_sites())  # the generic adapter too: its articles are re-checked


@cli.command()
@click.argument("site_names", nargs=-1, metavar="[SITE]...")
@db_option
@json_option
@config_option
@click.option("--max-time", type=click.FloatRange(min=1, max=7 * 86400), metavar="SECONDS",
              callback=lambda ctx, param, value: _finite(value, param),
              help="Stop taking new work after this long; in-flight work finishes.")
@click.option("-v", "--verbose", is_flag=True, help="Log each URL and its outcome.")
@click.option("--fail-if-locked", is_flag=True, help="Exit 1 instead of 0 when another crawl "
              "holds the archive.")
def crawl(site_names: tuple[str, ...], db: Path, as_json: bool, config_path: Path | None,
          max_time: float | None, verbose: bool, fail_if_locked: bool) -> None:
    """Discover new articles and re-check due ones, for cron.

    Crawls every site adapter (or the SITEs named, or those in the config file). New
    articles come from the sites' feeds and sitemaps; known ones are re-checked on a
    schedule that slows down as an article stops changing. A crawl started while another
    runs on the same archive exits at once, touching nothing.

    Prints a progress bar on a terminal; otherwise only errors and a one-line summary.
    """
    from .config import load_config
    from .crawl import Locked, crawl_lock, make_pool, run_crawl
    from .store import Archive, check_archive_file

    config = load_config(config_path)
    sites = _crawl_sites(site_names, config.sites)
    for name in config.overrides:
        from .sites import site_named

        site_named(name)  # a typo in [sites.NAME] is an error, not a silent no-op
    check_archive_file(db)  # a file we cannot use is refused before the lock file is made
    try:
        with crawl_lock(db), Archive(db) as archive:
            for stale in archive.mark_interrupted_crawls():
                click.echo(f"scraper: crawl {stale} did not finish (killed?); marked "
                           "interrupted", err=True)
            crawl_id = archive.start_crawl([s.name for s in sites])
            status = "failed"  # unless the run returns
            try:
                report = asyncio.run(_run_crawl(archive, config, sites, crawl_id, max_time,
                                                verbose, make_pool, run_crawl))
                status = report.status
            finally:
                archive.finish_crawl(crawl_id, dict(report.counts) if status != "failed"
                                     else {}, status)
    except Locked as err:
        click.echo(f"scraper: {err}; exiting", err=True)
        raise click.exceptions.Exit(1 if fail_if_locked else 0) from None
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.summary())
    if report.counts["error"] or report.counts["discovery_failed"]:
        raise click.exceptions.Exit(1)


async def _run_crawl(archive: Any, config: Any, sites: list[Any], crawl_id: int,
                     max_time: float | None, verbose: bool, make_pool: Any,
                     run_crawl: Any) -> Any:
    """Run the crawl with a progress bar on a terminal, or error lines otherwise."""
    bar: Any = None
    show_bar = sys.stdout.isatty() and not verbose

    def on_total(n: int) -> None:
        nonlocal bar
        if show_bar and n:
            bar = click.progressbar(length=n, label="crawling", file=sys.stdout)
            bar.__enter__()

    def on_result(outcome: Any) -> None:
        if verbose:
            click.echo(f"{outcome.url}  {outcome.describe()}")
        elif not outcome.ok and outcome.outcome != "gone":
            click.echo(f"{outcome.url}  {outcome.describe()}", err=True)
        if bar is not None:
            bar.update(1)

    with make_pool() as pool:
        try:
            return await run_crawl(archive, config, sites, crawl_id=crawl_id, max_time=max_time,
                                   pool=pool, on_total=on_total, on_result=on_result)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)


@cli.command()
@click.argument("site_name", metavar="SITE")
@db_option
@json_option
@config_option
@click.option("--all", "show_all", is_flag=True, help="Also list articles already archived.")
def discover(site_name: str, db: Path, as_json: bool, config_path: Path | None,
             show_all: bool) -> None:
    """Print the candidate article URLs of SITE from its feeds and sitemaps, newest first.

    Writes nothing. Articles already in the archive are left out unless --all is given.
    """
    from datetime import datetime, timezone

    from .config import load_config
    from .discover import discover as find_links, select
    from .fetch import DEFAULT_USER_AGENT, make_client
    from .identity import article_key
    from .robots import Robots
    from .sites import site_named

    config = load_config(config_path)
    site = site_named(site_name)
    settings = config.for_site(site.name)

    async def run() -> list[Any]:
        ua = settings.user_agent or site.user_agent or DEFAULT_USER_AGENT
        async with make_client(user_agent=ua) as client:
            return await find_links(client, site, robots=Robots())

    # Open the archive first: an unusable one fails before any request is made.
    store = _open(db) if db.exists() and not show_all else None
    links = asyncio.run(run())
    if store is not None:
        keys = {link.url: article_key(site, link.url, None) for link in links}
        known = store.known(list(keys.values()), list(keys))
        links = [l for l in links if l.url not in known and keys[l.url] not in known]
    links = select(links, site, known=set(), max_age=None if show_all else settings.max_age,
                   now=datetime.now(timezone.utc))
    if as_json:
        emit_json([{"url": l.url, "published": l.published, "title": l.title,
                    "source": l.source} for l in links])
        return
    for link in links:
        click.echo(f"{link.published or '-':25}  {link.url}")
    if not links:  # say why, so an empty answer is not mistaken for a broken command
        why = ("it declares no feeds or sitemaps" if not (site.feeds or site.sitemaps)
               else "every candidate is archived already (--all lists them)" if known
               else "its feeds and sitemaps list no article newer than max_age")
        click.echo(f"scraper: no candidates for {site.name}: {why}", err=True)


@cli.command()
@click.argument("url")
@db_option
@json_option
def history(url: str, db: Path, as_json: bool) -> None:
    """List the stored versions of the article at URL: time, hash, title and words."""
    store = _open(db)
    article = _article(store, url)
    versions = store.versions(article["id"])
    if as_json:
        emit_json({"article": _public(article), "versions": versions})
        return
    click.echo(f"{article['url']}  ({article['site']}, state {article['state']})")
    for v in versions:
        click.echo(f"  v{v['version']:<3} {v['fetched_at']}  {v['content_hash'][:12]}  "
                   f"{v['word_count']:>6} words  {v['title'] or ''}")


@cli.command()
@click.argument("url")
@click.option("--version", "number", type=VERSION_NUMBER, help="Version number "
              "(default: the latest).")
@db_option
@json_option
def show(url: str, number: int | None, db: Path, as_json: bool) -> None:
    """Print a stored version of the article at URL: metadata, then the text."""
    store = _open(db)
    article = _article(store, url)
    row = _version(store, article, number)
    row.pop("html", None)
    if as_json:
        emit_json(row)
        return
    click.echo(row["title"] or "(untitled)")
    for label, key in (("url", "url"), ("version", "version"), ("fetched", "fetched_at"),
                       ("published", "published"), ("modified", "modified"),
                       ("language", "language")):
        if row.get(key) not in (None, ""):
            click.echo(f"{label + ':':11}{row[key]}")
    for label, key in (("authors", "authors"), ("tags", "tags")):
        if row.get(key):
            click.echo(f"{label + ':':11}{', '.join(row[key])}")
    click.echo()
    click.echo(row["text"])


@cli.command()
@click.argument("url")
@click.option("--from", "old", type=VERSION_NUMBER, help="Older version (default: the "
              "one before --to).")
@click.option("--to", "new", type=VERSION_NUMBER, help="Newer version (default: latest).")
@click.option("--color/--no-color", default=None, help="Colour insertions and deletions "
              "(default: when stdout is a terminal).")
@db_option
@json_option
def diff(url: str, old: int | None, new: int | None, color: bool | None, db: Path,
         as_json: bool) -> None:
    """Show a word-level diff between two versions of the article at URL.

    Without --color, deletions print as [-words-] and insertions as {+words+}.
    """
    from .diff import (
        changed_fields, changed_paragraphs, format_field, render_plain, word_diff, words_changed,
    )

    store = _open(db)
    article = _article(store, url)
    b = _version(store, article, new)
    if old is None:
        if b["version"] == 1:
            raise ScraperError(f"{article['url']} has only one version: nothing to compare")
        old = b["version"] - 1
    a = _version(store, article, old)
    chunks = word_diff(a["text"], b["text"])
    added, removed = words_changed(chunks)
    fields = changed_fields(a, b)
    if as_json:
        emit_json({
            "url": article["url"], "from": a["version"], "to": b["version"],
            "changed": fields, "words_added": added, "words_removed": removed,
            "metadata": {f: [a.get(f), b.get(f)] for f in fields if f != "text"},
            "chunks": [{"op": c.op, "text": c.text} for c in chunks],
        })
        return
    color = sys.stdout.isatty() if color is None else color
    click.echo(f"{article['url']}: v{a['version']} ({a['fetched_at']}) → v{b['version']} "
               f"({b['fetched_at']}): +{added} −{removed} words")
    for field in fields:
        if field != "text":
            old, new = format_field(a.get(field)), format_field(b.get(field))
            click.echo(f"{field}: {old} → {new}")
    for paragraph in changed_paragraphs(chunks):
        click.echo()
        click.echo(render_plain(paragraph, color=color).strip())


def _public(article: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in article.items() if k not in ("etag", "last_modified")}


@cli.command("extract")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False, path_type=Path))
@click.option("--url", default="", help="The URL the page came from: picks the site adapter "
              "and resolves relative links (default: the page's own canonical URL).")
def extract_command(file: Path, url: str) -> None:
    """Extract the article from a saved page (.html, .html.gz, or - for stdin) as JSON.

    No network and no database.
    """
    from .extract import extract
    from .fetch import decode_html

    if str(file) == "-":
        raw = sys.stdin.buffer.read()
    else:
        try:
            raw = file.read_bytes()
        except OSError as err:
            raise UsageError(f"cannot read {file}: {err.strerror or err}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise UsageError(f"{file} is not a readable gzip file: {err}") from None
    html, _ = decode_html(raw, "")
    # without --url, the page's own canonical URL picks the adapter
    emit_json(extract(html, url=url or _own_url(html)).to_dict())


def _own_url(html: str) -> str:
    """The absolute canonical (or og:url) URL a saved page declares, or ""."""
    from selectolax.lexbor import LexborHTMLParser

    from .metadata import head_metadata

    found = head_metadata(LexborHTMLParser(html)).get("canonical_url") or ""
    return found if found.startswith(("http://", "https://")) else ""


@cli.command()
@json_option
def sites(as_json: bool) -> None:
    """List the site adapters: name, domains, feeds and sitemaps."""
    from .sites import all_sites

    rows = [{"name": s.name, "domains": list(s.domains), "feeds": list(s.feeds),
             "sitemaps": list(s.sitemaps)} for s in all_sites()]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        domains = ", ".join(row["domains"]) or "(every other domain)"
        click.echo(f"{row['name']:16} {domains}  "
                   f"[{len(row['feeds'])} feeds, {len(row['sitemaps'])} sitemaps]")


def main() -> None:
    """Console-script entry point."""
    _log_to_stderr()
    cli(prog_name="scraper")


def _log_to_stderr() -> None:
    """Warnings from the library (a feed skipped, a host backed off) as one stderr line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("scraper: %(message)s"))
    logger = logging.getLogger("scraper")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


from .browse.serve import serve  # noqa: E402
cli.add_command(serve)
