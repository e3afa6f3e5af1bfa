"""`scraper sites`: the site adapters and what each declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .options import config_option, emit_json, json_option, load_sites


@click.command()
@json_option
@config_option
def sites(as_json: bool, config_path: Path | None) -> None:
    """List the sites: the Python adapters, those declared in the config file, and the
    generic one, with their domains, feeds, news sitemaps and sitemaps.

    Example: scraper sites --json
    """
    from ..sites import all_sites

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
        counts = ", ".join(_count(len(row[key]), noun) for key, noun in (
            ("feeds", "feed"), ("news_sitemaps", "news sitemap"), ("sitemaps", "sitemap")))
        click.echo(f"{row['name']:16} {row['kind']:8} {domains}  [{counts}]")


def _kind(site: Any) -> str:
    """adapter (sites/NAME.py), config (declared in the config file), or generic."""
    if site.declared_in:
        return "config"
    return "generic" if not site.domains else "adapter"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
