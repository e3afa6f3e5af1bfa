"""The plugin's own pages: an article's diff page and a version's archived HTML.

- ``/-/diff/<article id>?from=N&to=M``: the article's versions and a word-level diff;
- ``/-/html/<version id>``: the archived page's HTML as ``text/plain``, never
  ``text/html``, so that an archived page's scripts cannot run on Datasette's origin.

With more than one archive served at once, both take ``?db=<database name>``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from datasette.utils.asgi import BadRequest, NotFound, Request, Response
from datasette.views.base import DatasetteError
from markupsafe import Markup, escape

from ..diff import Chunk, changed_fields, changed_paragraphs, format_field, word_diff, words_changed
from ..models import StoreError
from ..store import page_html
from ..web import is_web_url
from .archives import archive_names
from .atom import feed_path
from .views import DIFF_PATH

if TYPE_CHECKING:  # Datasette imports the plugin while datasette.app is half-imported
    from datasette.app import Datasette
    from datasette.database import Database

LIST_FIELDS = ("authors", "tags")


async def diff_page(datasette: Datasette, request: Request) -> Response:
    """The article's timeline and a word-level diff of two of its versions."""
    db = await _archive_db(datasette, request, "versions")
    article_id = int(request.url_vars["article_id"])
    article = (await db.execute(
        "SELECT id, site, url, article_key, state, first_seen, last_checked FROM articles"
        " WHERE id = ?", [article_id])).first()
    if article is None:
        raise NotFound(f"No article {article_id} in {db.name}")
    timeline = [dict(r) for r in await db.execute(
        "SELECT id, version, fetched_at, title, word_count FROM versions WHERE article_id = ?"
        " AND NOT folded ORDER BY version", [article_id])]  # a folded false edit is no version
    if not timeline:
        raise NotFound(f"Article {article_id} has no versions")
    numbers = [v["version"] for v in timeline]
    new_n = _number_arg(request, "to", numbers) or numbers[-1]
    earlier = [n for n in numbers if n < new_n]  # numbers may skip folded versions
    old_n = _number_arg(request, "from", numbers) or (earlier[-1] if earlier else None)
    new = await _version(db, article_id, new_n)
    old = await _version(db, article_id, old_n) if old_n is not None else None
    full = request.args.get("full") == "1"
    db_arg = {"db": db.name} if len(archive_names(datasette)) > 1 else {}
    base = f"{DIFF_PATH}{article_id}"
    for v in timeline:
        v["when"] = _when(v["fetched_at"])
        v["href"] = page_url(datasette, base, {"from": v["version"] - 1, "to": v["version"],
                                           **db_arg} if v["version"] > 1 else
                         {"to": v["version"], **db_arg})
        v["html_href"] = page_url(datasette, f"/-/html/{v['id']}", db_arg)
        v["selected"] = v["version"] in (old_n, new_n)
    context: dict[str, Any] = {
        "database": db.name, "article": dict(article), "timeline": timeline,
        # only a web URL becomes a link: never a javascript: one, whatever the database holds
        "article_link": article["url"] if is_web_url(article["url"]) else None,
        "old": old, "new": new, "full": full, "db_arg": db_arg,
        "form_action": datasette.urls.path(base),
        "toggle_href": page_url(datasette, base, {**({"from": old_n} if old_n else {}), "to": new_n,
                                              **({} if full else {"full": "1"}), **db_arg}),
        "article_href": datasette.urls.row(db.name, "articles", str(article_id)),
        "versions_href": datasette.urls.table(db.name, "versions") + f"?article_id={article_id}",
        "scraper_feeds": [{"title": "Changes to this article (Atom)",
                           "href": feed_path(datasette, db.name, article_id=article_id)}],
    }
    if old is not None:
        # A word diff of two long texts takes a fraction of a second: off the event loop.
        context.update(await asyncio.to_thread(_compare, old, new, full))
    else:
        context["text"] = _marked([Chunk("equal", new["text"])])
    html = await datasette.render_template("scraper_diff.html", context, request=request)
    return Response.html(html)


async def html_page(datasette: Datasette, request: Request) -> Response:
    """The archived HTML of one version, as plain text."""
    db = await _archive_db(datasette, request, "versions")
    version_id = int(request.url_vars["version_id"])
    row = (await db.execute("SELECT article_id, version, url, html_zlib, html_raw, html_codec,"
                            " http_exchange FROM versions WHERE id = ?", [version_id])).first()
    if row is None:
        raise NotFound(f"No version {version_id} in {db.name}")
    try:
        html = page_html(dict(row), f"version {row['version']} of {row['url']}")
    except StoreError as err:
        # A damaged blob costs only itself, and is no server fault: 410, the page is lost.
        raise DatasetteError(f"{str(err)[0].upper()}{str(err)[1:]}; the rest of the archive "
                             "is unaffected.", title="Damaged archived HTML", status=410) from None
    name = f"article-{row['article_id']}-v{row['version']}.html"
    # text/plain, nosniff and a sandbox: the archived page must never run as a page here.
    return Response.text(html, headers={
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Content-Disposition": f'inline; filename="{name}"',
    })


async def _archive_db(datasette: Datasette, request: Request, table: str) -> Database:
    names = archive_names(datasette)
    name = request.args.get("db") or (names[0] if names else None)
    if name is None or name not in names:
        raise NotFound("No such archive database" if name else "No archive database is served")
    await datasette.ensure_permissions(request.actor, [
        ("view-table", (name, table)), ("view-database", name), "view-instance"])
    return datasette.get_database(name)


def _number_arg(request: Request, key: str, numbers: list[int]) -> int | None:
    raw = request.args.get(key)
    if not raw:
        return None
    if not raw.isdigit():
        raise BadRequest(f"?{key}= must be a version number")
    if int(raw) not in numbers:
        raise NotFound(f"No version {raw} (this article has versions "
                       f"{', '.join(map(str, numbers))})")
    return int(raw)


async def _version(db: Database, article_id: int, number: int) -> dict[str, Any]:
    row = (await db.execute(
        "SELECT id, version, fetched_at, title, authors, published, modified, description,"
        " language, image, tags, text, word_count, url, final_url FROM versions"
        " WHERE article_id = ? AND version = ?", [article_id, number])).first()
    if row is None:
        raise NotFound(f"No version {number}")
    version = dict(row)
    for key in LIST_FIELDS:
        version[key] = json.loads(version[key] or "[]")
    version["when"] = _when(version["fetched_at"])
    return version


def _compare(old: dict[str, Any], new: dict[str, Any], full: bool) -> dict[str, Any]:
    chunks = word_diff(old["text"] or "", new["text"] or "")
    added, removed = words_changed(chunks)
    fields = changed_fields(old, new)
    return {
        "added": added, "removed": removed, "fields": fields,
        "title_diff": _marked(word_diff(old["title"] or "", new["title"] or ""))
        if "title" in fields else None,
        "metadata": [{"name": f, "old": format_field(old.get(f)),
                      "new": format_field(new.get(f))}
                     for f in fields if f not in ("title", "text")],
        "paragraphs": [_marked(chunks)] if full else
        [_marked(p) for p in changed_paragraphs(chunks)],
    }


def _marked(chunks: list[Chunk]) -> Markup:
    """Chunks as escaped HTML, insertions in <ins> and deletions in <del>."""
    out = []
    for c in chunks:
        if c.op == "equal" or not c.text.strip():
            if c.op != "delete":
                out.append(str(escape(c.text)))
            continue
        # whitespace around a change stays outside the mark, as in diff.render_plain
        core = c.text.strip()
        lead = c.text[: len(c.text) - len(c.text.lstrip())]
        trail = c.text[len(c.text.rstrip()):]
        tag = "ins" if c.op == "insert" else "del"
        out.append(f"{escape(lead)}<{tag}>{escape(core)}</{tag}>{escape(trail)}")
    return Markup("".join(out))


def _when(iso: str) -> str:
    return iso.replace("T", " ").replace("+00:00", " UTC")


def page_url(datasette: Datasette, path: str, args: dict[str, Any]) -> str:
    """The URL of ``path`` with query ``args``, under Datasette's base_url."""
    return str(datasette.urls.path(path + ("?" + urlencode(args) if args else "")))


def link(href: str, label: str) -> Markup:
    """An escaped ``<a>`` element."""
    return Markup('<a href="{}">{}</a>').format(href, label)
