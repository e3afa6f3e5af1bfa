"""Reading the archive: `scraper history`, `show` and `diff`. They never write."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..models import counted
from .options import (
    VERSION_NUMBER,
    config_option,
    db_option,
    emit_json,
    find_article,
    find_version,
    json_option,
    load_sites,
    open_archive,
)


@click.command()
@click.argument("url")
@db_option
@json_option
@config_option
def history(url: str, db: Path, as_json: bool, config_path: Path | None) -> None:
    """List the stored versions of the article at URL: time, hash, title and words.

    Example: scraper history https://www.bbc.com/news/articles/clymn8zyrp9o
    """
    load_sites(config_path)
    store = open_archive(db)
    article = find_article(store, url)
    versions = store.versions(article["id"])
    if as_json:
        emit_json({"article": _public(article), "versions": versions})
        return
    click.echo(f"{article['url']}  ({article['site']}, state {article['state']})")
    for v in versions:
        click.echo(f"  v{v['version']:<3} {v['fetched_at']}  {v['content_hash'][:12]}  "
                   f"{v['word_count']:>6} words  {v['title'] or ''}")


@click.command()
@click.argument("url")
@click.option("--version", "number", type=VERSION_NUMBER, help="Version number "
              "(default: the latest).")
@db_option
@json_option
@config_option
def show(url: str, number: int | None, db: Path, as_json: bool,
         config_path: Path | None) -> None:
    """Print a stored version of the article at URL: metadata, then the text.

    Example: scraper show https://www.bbc.com/news/articles/clymn8zyrp9o --version 1
    """
    load_sites(config_path)
    store = open_archive(db)
    row = find_version(store, find_article(store, url), number)
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


@click.command()
@click.argument("url")
@click.option("--from", "old", type=VERSION_NUMBER, help="Older version (default: the "
              "one before --to).")
@click.option("--to", "new", type=VERSION_NUMBER, help="Newer version (default: latest).")
@click.option("--color/--no-color", default=None, help="Colour insertions and deletions "
              "(default: when stdout is a terminal).")
@db_option
@json_option
@config_option
def diff(url: str, old: int | None, new: int | None, color: bool | None, db: Path,
         as_json: bool, config_path: Path | None) -> None:
    """Show a word-level diff between two versions of the article at URL.

    Without --color, deletions print as [-words-] and insertions as {+words+}. An article
    with one version has nothing to compare yet: that is said, and the exit code is 0.

    Example: scraper diff https://www.bbc.com/news/articles/clymn8zyrp9o --from 1 --to 3
    """
    from ..diff import (
        changed_fields,
        changed_paragraphs,
        format_field,
        render_plain,
        word_diff,
        words_changed,
    )

    load_sites(config_path)
    store = open_archive(db)
    article = find_article(store, url)
    b = find_version(store, article, new)
    if old is None and b["version"] == 1:
        _nothing_to_compare(article, b, count=len(store.versions(article["id"])),
                            as_json=as_json)
        return
    if old is None:  # the version before, a folded false edit skipped
        old = store.previous(article["id"], b["version"])
        if old is None:
            _nothing_to_compare(article, b, count=len(store.versions(article["id"])),
                                as_json=as_json)
            return
    a = find_version(store, article, old)
    if a["version"] == b["version"]:  # --from N alone with N the latest, or --from N --to N
        why = ("it is the latest version" if new is None
               else "--from and --to name the same version")
        click.echo(f"{article['url']}: nothing to compare v{a['version']} with: {why} "
                   f"(it has {counted(len(store.versions(article['id'])), 'version')})")
        return
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
            click.echo(f"{field}: {format_field(a.get(field))} → {format_field(b.get(field))}")
    for paragraph in changed_paragraphs(chunks):
        click.echo()
        # color= so that --color keeps its escapes in a pipe (less -R), where click strips them
        click.echo(render_plain(paragraph, color=color).strip(), color=color)


def _nothing_to_compare(article: dict[str, Any], first: dict[str, Any], count: int,
                        as_json: bool) -> None:
    """Version 1 asked for (or the only one): there is no older version to diff against."""
    if as_json:
        emit_json({"url": article["url"], "from": None, "to": first["version"], "changed": [],
                   "words_added": 0, "words_removed": 0, "metadata": {}, "chunks": [],
                   "versions": count})
        return
    if count == 1:
        click.echo(f"{article['url']} has one version so far (v{first['version']}, "
                   f"{first['fetched_at']}): nothing to compare yet")
    else:
        click.echo(f"{article['url']}: v{first['version']} is its first version, nothing "
                   f"before it to compare; it has {counted(count, 'version')}")


def _public(article: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in article.items() if k not in ("etag", "last_modified")}
