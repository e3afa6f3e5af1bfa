"""Options and helpers that several commands share: the archive, JSON output, lookups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..models import ScraperError, UsageError

db_option = click.option(
    "--db", "db", envvar="SCRAPER_DB", default="archive.db", show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive database (env SCRAPER_DB).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
config_option = click.option(
    "--config", "config_path", envvar="SCRAPER_CONFIG",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration: sites declared there, politeness, schedule (TOML; env "
         "SCRAPER_CONFIG; default ./scraper.toml if present).",
)


def load_sites(config_path: Path | None) -> Any:
    """The configuration, with the sites it declares made known to ``site_for``/``site_named``."""
    from ..config import load_config

    return declare_config(load_config(config_path))


def declare_config(config: Any) -> Any:
    """Make ``config``'s declared sites known; UsageError/UnknownSite if it cannot be used."""
    from ..models import UnknownSite
    from ..sites import declare, site_named

    declare(config.declared)
    for name in config.overrides:  # a typo in [sites.NAME] is an error, not a silent no-op
        try:
            site_named(name)
        except UnknownSite as err:
            raise UnknownSite(f"{config.source} [sites.{name}]: {err}") from None
    return config


def _user_agent(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from ..config import check_user_agent

    if value is None:
        return None
    try:
        return check_user_agent(value)
    except UsageError as err:
        raise click.BadParameter(str(err).removeprefix("--user-agent "), param=param) from None


user_agent_option = click.option(
    "--user-agent", metavar="UA", callback=_user_agent,
    help="Send this User-Agent instead of the site's or the default.")
verbose_option = click.option("-v", "--verbose", is_flag=True,
                              help="Log each URL and its outcome, and each retry, on stderr.")

# SQLite's largest integer: a bigger version number cannot be looked up at all.
VERSION_NUMBER = click.IntRange(min=1, max=2**63 - 1)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON, non-ASCII kept."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def check_url(url: str) -> str:
    """The URL normalised for a request, or a usage error (exit 2) saying what is wrong."""
    from ..identity import check_http_url

    try:
        return check_http_url(url)
    except ScraperError as err:
        raise UsageError(str(err)) from None


def open_archive(db: Path) -> Any:
    """The archive, read-only; closed when the command ends."""
    from ..store import Archive

    archive = Archive(db, readonly=True)
    click.get_current_context().call_on_close(archive.close)
    return archive


def find_article(store: Any, url: str) -> dict[str, Any]:
    """The archived article at ``url`` (by identity, URL or canonical URL), or an error."""
    from ..identity import article_key
    from ..sites import site_for

    url = check_url(url)
    found = store.find_article(url, article_key(site_for(url), url, None))
    if found is None:
        raise ScraperError(f"no archived article for {url}")
    return found


def find_version(store: Any, article: dict[str, Any], number: int | None) -> dict[str, Any]:
    """Version ``number`` of the article (the latest when None), or an error naming it."""
    row = store.version(article["id"], number)
    if row is None:
        raise ScraperError(f"version {number} of {article['url']} does not exist "
                           f"(see `scraper history {article['url']}`)")
    return row
