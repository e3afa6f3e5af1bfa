"""`scraper sites`: the sites and what each declares; `scraper sites add URL` proposes one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..models import counted
from .errors import warn
from .files import written_whole
from .options import config_option, declare_config, emit_json, json_option, load_sites


@click.group(invoke_without_command=True)
@json_option
@config_option
@click.pass_context
def sites(ctx: click.Context, as_json: bool, config_path: Path | None) -> None:
    """List the sites: the Python adapters, those declared in the config file, and the
    generic one, with their domains, feeds, news sitemaps and sitemaps.

    `scraper sites add URL` proposes a site for the config file from its home page.

    Example: scraper sites --json
    """
    from ..sites import all_sites

    if ctx.invoked_subcommand is not None:
        return
    load_sites(config_path)
    rows = [{"name": s.name, "kind": _kind(s), "domains": list(s.domains),
             "feeds": list(s.feeds), "news_sitemaps": list(s.news_sitemaps),
             "sitemaps": list(s.sitemaps), "declared_in": s.declared_in}
            for s in all_sites()]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        domains = ", ".join(row["domains"]) or "(every other domain)"
        counts = ", ".join(counted(len(row[key]), noun) for key, noun in (
            ("feeds", "feed"), ("news_sitemaps", "news sitemap"), ("sitemaps", "sitemap")))
        click.echo(f"{row['name']:16} {row['kind']:8} {domains}  [{counts}]")


def _unused(name: str) -> None:
    """UsageError when a site is already called ``name``."""
    from ..models import UnknownSite, UsageError
    from ..sites import site_named

    try:
        site_named(name)
    except UnknownSite:
        return
    raise UsageError(f"a site named {name!r} exists already; pass --name")


def _kind(site: Any) -> str:
    """adapter (sites/NAME.py), config (declared in the config file), or generic."""
    if site.declared_in:
        return "config"
    return "generic" if not site.domains else "adapter"


@sites.command("add")
@click.argument("url")
@click.option("--name", metavar="NAME", help="The site's name (default: from its domain).")
@click.option("--write", is_flag=True, help="Append the block to the config file (default "
              "./scraper.toml) instead of only printing it.")
@config_option
def add(url: str, name: str | None, write: bool, config_path: Path | None) -> None:
    """Propose a site for the config file from its home page at URL.

    Finds the feeds the page announces, the sitemaps robots.txt names (or /sitemap.xml),
    which of them are Google News sitemaps, and an article URL pattern from the links the
    feeds list; prints the [sites.NAME] table (--write appends it to the config file).
    Fetches politely and writes nothing else.

    Example: scraper sites add https://www.harbourtimes.example/ --write
    """
    import asyncio

    from ..config import DEFAULT_CONFIG_FILE, check_site_name
    from ..fetch import make_client, policy_for
    from ..robots import Robots
    from ..siteprobe import probe_site, site_block
    from .options import check_url

    config = load_sites(config_path)
    url = check_url(url)
    if name is not None:
        _unused(check_site_name(name))  # before any request: a taken name fails at once
    policy = policy_for(None, config.defaults)

    async def run() -> Any:
        async with make_client(policy) as client:
            return await probe_site(client, url, policy, Robots(), name)

    proposal = asyncio.run(run())
    _unused(proposal.name)
    block = site_block(proposal)
    if not proposal.article_path:
        warn("no article URL pattern found: every URL of the site's feeds and sitemaps "
             "will be taken (set article_path)")
    if not (proposal.feeds or proposal.news_sitemaps or proposal.sitemaps):
        warn("the page announces no feed and robots.txt no sitemap: nothing to discover")
    if write:
        target = config_path or Path(DEFAULT_CONFIG_FILE)
        _append(target, block, config)
        warn(f"added [sites.{proposal.name}] to {target}")
    click.echo(block, nl=False)


def _append(target: Path, block: str, current: Any) -> None:
    """Append ``block`` to the config file ``target`` if the result loads as every command
    would load it; else UsageError and the file unchanged. A crash mid-write leaves the old
    file, never a half-written one: the new text is written aside, then renamed over it."""
    from ..config import config_from_text
    from ..models import ScraperError, UsageError

    try:
        old = target.read_bytes().decode("utf-8") if target.exists() else ""
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read config {target}: {err}") from None
    text = old + ("\n" if old else "") + block
    try:  # the same path as loading the file: a bad result would stop every later command
        declare_config(config_from_text(text, str(target)))
    except ScraperError as err:
        declare_config(current)  # this process goes on with the file as it is
        raise UsageError(f"{err} (not written to {target})") from None
    with written_whole(target, sync=True) as f:
        f.write(text.encode("utf-8"))
