"""`scraper archive` (fetch, extract, store) and `scraper extract` (a saved page, offline)."""

from __future__ import annotations

import asyncio
import logging
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from ..models import UsageError
from .errors import log_line, log_to_stderr
from .options import (
    check_url,
    config_option,
    db_option,
    emit_json,
    json_option,
    load_sites,
    user_agent_option,
    verbose_option,
)


@click.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL... | -")
@db_option
@json_option
@click.option("--ignore-robots", is_flag=True,
              help="Fetch even where robots.txt disallows it (for URLs you archive by hand).")
@user_agent_option
@click.option("--site", "site_name", metavar="NAME", help="Use this site adapter whatever the "
              "URL's host (e.g. for a mirror); see `scraper sites`.")
@verbose_option
@click.option("--force", is_flag=True, help="Archive even a URL that `scraper forget` removed.")
@click.option("--delay", type=click.FloatRange(min=0, max=3600), metavar="SECONDS",
              help="Seconds between two requests to one host (default: the config's, 1).")
@config_option
def archive(urls: tuple[str, ...], db: Path, as_json: bool, ignore_robots: bool,
            user_agent: str | None, site_name: str | None, verbose: bool, force: bool,
            delay: float | None, config_path: Path | None) -> None:
    """Fetch, extract and store each URL (`-` reads URLs from stdin, one per line).

    Prints one line per URL: `new version N`, `unchanged`, `not modified`, or the error.
    Exits 1 when any URL failed. A URL typed on the command line that is not one stops
    everything (exit 2); a bad line of a list on stdin is reported with its number and
    skipped, the others archived (exit 1). Blank lines and `#` comments are skipped. With
    -v, each retry of a failing request is logged.

    Example: scraper archive https://www.bbc.com/news/articles/clymn8zyrp9o
    """
    from ..crawl import CrawlReport, Job, work_politely
    from ..fetch import make_client, policy_for
    from ..robots import Robots
    from ..sites import site_for, site_named
    from ..store import Archive
    from ..workers import POOL_FROM, make_pool, pool_extractor

    config = load_sites(config_path)
    site = site_named(site_name) if site_name else None
    for url in urls:  # typed URLs: all checked before anything is written
        if url != "-":
            check_url(url)
    wanted: list[str] = []
    bad: list[tuple[int, str]] = []  # bad lines of a list on stdin: (number, why)
    for arg in urls:
        if arg == "-":
            good, wrong = _stdin_urls()
            wanted += good
            bad += wrong
        else:
            wanted.append(arg)
    if not wanted:
        more = f" (and {len(bad) - 1} more bad lines)" if len(bad) > 1 else ""
        raise UsageError(f"no URLs given; stdin line {bad[0][0]}: {bad[0][1]}{more}" if bad
                         else "no URLs given")
    for number, why in bad:  # said with their number and skipped; the others are archived
        click.echo(log_line(f"scraper: stdin line {number}: {why}: skipped", verbose), err=True)
    skipped = len(bad)
    if verbose:
        log_to_stderr(click.get_current_context(), logging.INFO)
    if delay is not None:
        config = config.with_delay(delay)
    jobs = [Job(site or site_for(url), url) for url in dict.fromkeys(wanted)]
    policies = {job.site.name: policy_for(job.site, config.for_site(job.site.name), user_agent,
                                          respect_robots=not ignore_robots) for job in jobs}

    async def run() -> dict[str, Any]:
        results: dict[str, Any] = {}

        def done(result: Any) -> None:
            results[result.url] = result
            if not as_json:
                click.echo(log_line(f"{result.url}  {result.describe()}", verbose),
                           err=not result.ok)
            # an archived article keeps its site and identity: --site cannot move it, say so
            if site is not None and result.article_id is not None and (
                    (was := store.site_of(result.article_id)) not in (None, site.name)):
                click.echo(log_line(f"scraper: {result.url}: archived already as site "
                                    f"'{was}'; --site {site.name} does not change an "
                                    "archived article's site", verbose), err=True)

        # a long list extracts in a process per core, as a crawl does; a few URLs inline
        with Archive(db) as store, (make_pool() if len(jobs) > POOL_FROM else
                                    nullcontext(None)) as pool:
            async with make_client(policy_for(site, None, user_agent)) as client:
                # one host after another at its delay, many hosts at once, as a crawl does;
                # --site: a mirror's canonical link to the site is the article's identity
                await work_politely(client, store, jobs, config, policies, Robots(),
                                    CrawlReport(0), on_result=done, mirror=site is not None,
                                    force=force, sleep=_pause, extractor=pool_extractor(pool))
        return results

    by_url = asyncio.run(run())
    results = [by_url[job.url] for job in jobs if job.url in by_url]  # in the list's order
    left = [job.url for job in jobs if job.url not in by_url]
    for url in left:  # its host refused request after request: it was left alone
        click.echo(log_line(f"{url}  skipped: its host refused several requests in a row",
                            verbose), err=True)
    if as_json:
        emit_json([r.to_dict() for r in results]
                  + [{"url": url, "outcome": "skipped", "version": None, "status": None,
                      "error": "its host refused several requests in a row"} for url in left])
    if skipped or left or not all(r.ok for r in results):
        raise click.exceptions.Exit(1)


async def _pause(seconds: float) -> None:
    """The wait between two requests to one host: ``scraper.fetch.pause``, looked up when
    it is needed, so that a test of the command can make it record instead of wait."""
    from .. import fetch

    await fetch.pause(seconds)


def _stdin_urls() -> tuple[list[str], list[tuple[int, str]]]:
    """The URLs of a list on stdin, and its bad lines as (number, why).

    Blank lines and lines starting with ``#`` (after leading spaces) are skipped.
    """
    good: list[str] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(sys.stdin, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            good.append(check_url(line))
        except UsageError as err:
            bad.append((number, str(err)))
    return good, bad


@click.command("extract")
@click.argument("file", type=click.Path(allow_dash=True, dir_okay=False, path_type=Path))
@click.option("--url", default="", help="The URL the page came from: picks the site adapter "
              "and resolves relative links (default: the page's own canonical URL).")
@config_option
def extract_command(file: Path, url: str, config_path: Path | None) -> None:
    """Extract the article from a saved page (.html, .html.gz, or - for stdin) as JSON.

    No network and no database.

    Example: scraper extract saved.html.gz --url https://www.bbc.com/news/articles/clymn8zyrp9o
    """
    from ..extract import extract
    from ..fetch import DEFAULT_POLICY
    from ..web import BadCoding, OverCap, decode_html, inflate

    load_sites(config_path)
    if url:
        url = check_url(url)  # a URL that is not one is a usage error, as everywhere
    if str(file) == "-":
        raw = sys.stdin.buffer.read()
    else:
        try:
            raw = file.read_bytes()
        except OSError as err:
            raise UsageError(f"cannot read {file}: {err.strerror or err}") from None
    if raw[:2] == b"\x1f\x8b":
        try:  # the cap of a fetched page: a gzip bomb is refused, not inflated
            raw = inflate(raw, "gzip", DEFAULT_POLICY.max_bytes)
        except (BadCoding, OverCap) as err:
            raise UsageError(f"{file} is not a readable gzip file: {err}") from None
    html, _ = decode_html(raw, "")
    # without --url, the page's own canonical URL picks the adapter
    data = extract(html, url=url or _own_url(html)).to_dict()
    # no --url and none in the page: null, as for every other field nobody knows
    emit_json({**data, "url": data["url"] or None})


def _own_url(html: str) -> str:
    """The absolute canonical (or og:url) URL a saved page declares, or ""."""
    from selectolax.lexbor import LexborHTMLParser

    from ..metadata import head_metadata
    from ..web import is_web_url

    found = head_metadata(LexborHTMLParser(html)).get("canonical_url") or ""
    return found if is_web_url(found) else ""
