"""`scraper crawl` (the cron job) and `scraper discover` (what a crawl would find)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..models import CrawlStatus, Locked
from .errors import fail, log_to_stderr, stamp, warn
from .options import (
    config_option,
    db_option,
    emit_json,
    json_option,
    load_sites,
    open_archive,
    verbose_option,
)


def _finite(value: float | None, param: click.Parameter) -> float | None:
    # FloatRange lets "nan" through: NaN fails no comparison, and would mean no limit at all.
    if value is not None and value != value:
        raise click.BadParameter("nan is not a number of seconds", param=param)
    return value


def _crawl_sites(names: tuple[str, ...], configured: tuple[str, ...]) -> list[Any]:
    from ..sites import all_sites, site_named

    chosen = names or configured
    if chosen:
        return [site_named(n) for n in dict.fromkeys(chosen)]
    return list(all_sites())  # the generic adapter too: its articles are re-checked


@click.command()
@click.argument("site_names", nargs=-1, metavar="[SITE]...")
@db_option
@json_option
@config_option
@click.option("--max-time", type=click.FloatRange(min=1, max=7 * 86400), metavar="SECONDS",
              callback=lambda ctx, param, value: _finite(value, param),
              help="Stop taking new work after this long; in-flight work finishes.")
@verbose_option
@click.option("--fail-if-locked", is_flag=True, help="Exit 1 instead of 0 when another crawl "
              "holds the archive.")
@click.option("--queue", "queue_url", envvar="SCRAPER_QUEUE", metavar="URL",
              help="Send the fetching to `scraper worker`s through this Redis "
                   "(redis://HOST:PORT/DB; env SCRAPER_QUEUE, or queue under [crawl] in the "
                   "config); this run plans and stores. See README: Scaling out.")
def crawl(site_names: tuple[str, ...], db: Path, as_json: bool, config_path: Path | None,
          max_time: float | None, verbose: bool, fail_if_locked: bool,
          queue_url: str | None) -> None:
    """Discover new articles and re-check due ones, for cron.

    Crawls every site adapter (or the SITEs named, or those in the config file). New
    articles come from the sites' feeds and sitemaps; known ones are re-checked on a
    schedule that slows down as an article stops changing. A crawl started while another
    runs on the same archive exits at once, touching nothing. Stopped with Ctrl-C (exit
    130) or SIGTERM (exit 143), the run is recorded as `interrupted` with what it had done.

    Prints a progress bar on a terminal; otherwise only errors and a one-line summary.

    Example: scraper crawl --max-time 840
    """
    from ..crawl import CrawlReport, run_crawl
    from ..store import Archive, check_archive_file
    from ..workers import crawl_lock, make_pool

    # warnings always (a feed skipped, a host left alone), and with -v each retry too
    log_to_stderr(click.get_current_context(), logging.INFO if verbose else logging.WARNING)
    config = load_sites(config_path)
    sites = _crawl_sites(site_names, config.sites)
    queue_url = _queue_url(queue_url or config.queue)
    check_archive_file(db)  # a file we cannot use is refused before the lock file is made
    try:
        with crawl_lock(db), Archive(db) as archive:
            for stale in archive.mark_interrupted_crawls():
                click.echo(stamp(f"scraper: crawl {stale} did not finish (killed?); marked "
                                 "interrupted"), err=True)
            crawl_id = archive.start_crawl([s.name for s in sites])
            report = CrawlReport(crawl_id)
            started = time.monotonic()
            try:
                asyncio.run(_run_crawl(archive, config, sites, report, max_time, verbose,
                                       make_pool, run_crawl, queue_url))
            except (KeyboardInterrupt, Terminated):
                report.stopped(CrawlStatus.INTERRUPTED)
                report.seconds = time.monotonic() - started
                click.echo(stamp(report.summary()))
                raise
            except BaseException:
                report.status = CrawlStatus.FAILED
                raise
            finally:
                # The true counts in every case: the URLs that ended before a Ctrl-C are
                # stored, and the row says so.
                report.seconds = time.monotonic() - started
                archive.finish_crawl(crawl_id, dict(report.counts), report.status)
    except Locked as err:
        click.echo(stamp(f"scraper: {err}; exiting"), err=True)
        raise click.exceptions.Exit(1 if fail_if_locked else 0) from None
    except Terminated:
        fail("terminated (SIGTERM)", code=143)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(stamp(report.summary()))
    if report.counts["error"] or report.counts["discovery_failed"]:
        raise click.exceptions.Exit(1)


class Terminated(Exception):
    """SIGTERM (systemd stopping the unit, `kill`, a cron wrapper's timeout) ended the crawl."""


def _queue_url(url: str | None) -> str | None:
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise click.BadParameter(f"{url!r} is not a Redis URL (redis://HOST:PORT/DB)",
                                 param_hint="--queue")
    return url


async def _run_crawl(archive: Any, config: Any, sites: list[Any], report: Any,
                     max_time: float | None, verbose: bool, make_pool: Any,
                     run_crawl: Any, queue_url: str | None = None) -> Any:
    """Run the crawl with a progress bar on a terminal, or error lines otherwise.

    SIGTERM cancels it as Ctrl-C does, so the run is recorded (``Terminated``).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    terminated = False

    def on_term() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_term)
    try:
        if queue_url is not None:  # the workers fetch; this process plans and stores
            from ..queue import queued_crawl

            return await queued_crawl(archive, config, sites, report, queue_url,
                                      max_time=max_time, on_result=_result_line(verbose))
        return await _crawl_with_progress(archive, config, sites, report, max_time, verbose,
                                          make_pool, run_crawl)
    except asyncio.CancelledError:
        if terminated:
            raise Terminated() from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _result_line(verbose: bool) -> Any:
    def on_result(result: Any) -> None:
        if verbose:
            click.echo(stamp(f"{result.url}  {result.describe()}"))
        elif not result.ok and result.outcome != "gone":
            click.echo(stamp(f"{result.url}  {result.describe()}"), err=True)

    return on_result


async def _crawl_with_progress(archive: Any, config: Any, sites: list[Any], report: Any,
                               max_time: float | None, verbose: bool, make_pool: Any,
                               run_crawl: Any) -> Any:
    bar: Any = None
    show_bar = sys.stdout.isatty() and not verbose

    def on_total(n: int) -> None:
        nonlocal bar
        if show_bar and n:
            bar = click.progressbar(length=n, label="crawling", file=sys.stdout)
            bar.__enter__()

    def on_result(result: Any) -> None:
        if verbose:
            click.echo(stamp(f"{result.url}  {result.describe()}"))
        elif not result.ok and result.outcome != "gone":
            click.echo(stamp(f"{result.url}  {result.describe()}"), err=True)
        if bar is not None:
            bar.update(1)

    with make_pool() as pool:
        try:
            return await run_crawl(archive, config, sites, crawl_id=report.crawl_id,
                                   max_time=max_time, pool=pool, on_total=on_total,
                                   on_result=on_result, report=report)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)


@click.command()
@click.argument("site_name", metavar="SITE")
@db_option
@json_option
@config_option
@click.option("--all", "show_all", is_flag=True, help="Also list articles already archived "
              "and those older than the site's max_age.")
def discover(site_name: str, db: Path, as_json: bool, config_path: Path | None,
             show_all: bool) -> None:
    """Print the candidate article URLs of SITE from its feeds and sitemaps, newest first.

    Writes nothing. Articles already in the archive or removed by `scraper forget`, and
    those older than the site's max_age, are left out unless --all is given.

    Example: scraper discover themoscowtimes
    """
    from datetime import datetime, timezone

    from ..crawl import already_had, was_forgotten
    from ..identity import article_key
    from ..store.takedown import tombstones
    from ..discover import discover as find_links
    from ..discover import select
    from ..fetch import make_client, policy_for
    from ..robots import Robots
    from ..sites import site_named

    config = load_sites(config_path)
    site = site_named(site_name)
    settings = config.for_site(site.name)

    policy = policy_for(site, settings)

    async def run() -> list[Any]:
        async with make_client(policy) as client:
            return await find_links(client, site, policy, robots=Robots())

    # Open the archive first: an unusable one fails before any request is made.
    store = open_archive(db) if db.exists() and not show_all else None
    links = asyncio.run(run())
    found = len(links)
    archived = forgotten = 0
    if store is not None:
        gone = tombstones(store)
        had = already_had(store, site, links, gone)  # archived, or taken down by `forget`
        dropped = [link.url for link in links if had(link.url)]
        links = [link for link in links if not had(link.url)]
        # a forgotten URL is no longer in the archive: counted apart from the archived ones
        forgotten = sum(was_forgotten(url, article_key(site, url, None), gone)
                        for url in dropped)
        archived = len(dropped) - forgotten
    fresh = select(links, site, max_age=None if show_all else settings.max_age,
                   now=datetime.now(timezone.utc))
    too_old = len(links) - len(fresh)
    if as_json:
        emit_json([{"url": l.url, "published": l.published, "title": l.title,
                    "source": l.source} for l in fresh])
    else:
        for link in fresh:
            click.echo(f"{link.published or '-':25}  {link.url}")
    if not fresh:  # say why, so an empty answer is not mistaken for a broken command
        warn(f"no candidates for {site.name}: "
             f"{_why_none(site, found, archived, forgotten, too_old)}")


def _why_none(site: Any, found: int, archived: int, forgotten: int, too_old: int) -> str:
    """Why discovery left nothing to list, counting each reason."""
    if not (site.feeds or site.news_sitemaps or site.sitemaps):
        return "it declares no feeds or sitemaps"
    if not found:
        return "its feeds and sitemaps list no article URL"
    reasons = []
    if archived:
        reasons.append(f"{archived} already archived")
    if forgotten:
        reasons.append(f"{forgotten} forgotten")
    if too_old:
        reasons.append(f"{too_old} older than max_age")
    listed = " and ".join([", ".join(reasons[:-1]), reasons[-1]] if len(reasons) > 1
                          else reasons)
    return f"of {found} found, {listed} (--all lists them)"
