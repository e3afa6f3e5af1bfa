"""`scraper sites`: the site adapters and what each declares."""

from __future__ import annotations

import click

from .options import emit_json, json_option


@click.command()
@json_option
def sites(as_json: bool) -> None:
    """List the site adapters: name, domains, feeds, news sitemaps and sitemaps.

    Example: scraper sites --json
    """
    from ..sites import all_sites

    rows = [{"name": s.name, "domains": list(s.domains), "feeds": list(s.feeds),
             "news_sitemaps": list(s.news_sitemaps), "sitemaps": list(s.sitemaps)}
            for s in all_sites()]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        domains = ", ".join(row["domains"]) or "(every other domain)"
        counts = ", ".join(_count(len(row[key]), noun) for key, noun in (
            ("feeds", "feed"), ("news_sitemaps", "news sitemap"), ("sitemaps", "sitemap")))
        click.echo(f"{row['name']:16} {domains}  [{counts}]")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
