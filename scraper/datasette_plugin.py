"""The Datasette plugin: `scraper serve` and plain `datasette archive.db` both load it.

Registered by the ``datasette`` entry point in pyproject.toml. It applies to every
served database that holds the archive's tables, and adds:

- metadata: a description of every table and column, facets, default sorts, full-text
  search over versions and the latest versions, and canned queries (``QUERIES``);
- ``/-/diff/<article id>?from=N&to=M``: the article's versions and a word-level diff;
- ``/-/html/<version id>``: the archived page's HTML as ``text/plain``, never
  ``text/html``, so that an archived page's scripts cannot run on Datasette's origin;
- cells: ``html_zlib`` (large, compressed) becomes a link to ``/-/html/``, and version
  numbers and ``diff_url`` become links to the diff page.

With more than one archive served at once, both pages take ``?db=<database name>``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
import time
import weakref
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from datasette import hookimpl
from datasette.utils.asgi import BadRequest, NotFound, Request, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from markupsafe import Markup, escape

from .diff import (
    Chunk, changed_fields, changed_paragraphs, format_field, word_diff, words_changed,
)
from .views import DIFF_PATH

if TYPE_CHECKING:  # Datasette imports this module while datasette.app is half-imported
    from datasette.app import Datasette
    from datasette.database import Database

TEMPLATES = Path(__file__).parent / "templates"
ARCHIVE_TABLES = frozenset({"articles", "versions", "fetches"})
# A database that is not (yet) an archive is looked at again after this many seconds.
RECHECK_S = 10.0
LIST_FIELDS = ("authors", "tags")


# --- metadata -------------------------------------------------------------------------
# Every table and column is described: tests/test_datasette.py fails on a new column that
# is not, and says to add it here.

UTC = " (ISO 8601, UTC)"
_VERSION_COLUMNS = {
    "id": "Version id (links to the archived HTML and the FTS index).",
    "article_id": "The article (articles.id).",
    "version": "1 for the first version seen, then 2, 3, ... Links to the diff page.",
    "fetched_at": "When this version was first fetched" + UTC,
    "content_hash": "sha256 of the normalised title, authors and body: a new version is "
                    "stored only when it changes.",
    "title": "The headline.",
    "authors": "The byline, as a JSON list of names.",
    "published": "The publication time the page states.",
    "modified": "The update time the page states.",
    "description": "The page's summary (standfirst or og:description).",
    "language": "The page's language code.",
    "image": "The lead image URL.",
    "tags": "Keywords or sections, as a JSON list.",
    "text": "The article body as plain text, paragraphs separated by blank lines.",
    "word_count": "Words in the body.",
    "url": "The URL that was requested.",
    "final_url": "The URL after redirects.",
    "html_zlib": "The fetched page's HTML, zlib-compressed: shown as a link to it as plain text.",
}
_ARTICLE_COLUMNS = {
    "id": "Article id.",
    "site": "The site adapter that reads its pages (see `scraper sites`).",
    "url": "The first URL the article was seen at.",
    "canonical_url": "The page's canonical URL, when it is on the same site.",
    "article_key": "The article's identity: the site's stable id, or the normalised canonical "
                   "URL.",
    "first_seen": "When the article was first archived" + UTC,
    "last_checked": "When the article was last fetched" + UTC,
    "last_changed": "When its latest version was stored" + UTC,
    "etag": "The last ETag, sent back as If-None-Match.",
    "last_modified": "The last Last-Modified header, sent back as If-Modified-Since.",
    "state": "active, or gone (the page answered 404 or 410).",
    "next_check": "When the crawl checks it next" + UTC,
    "check_count": "How many times it has been checked.",
    "raw_hash": "sha256 of the last fetched body: the same bytes again skip extraction.",
}
_CRAWL_COLUMNS = {
    "id": "Crawl id.",
    "started_at": "When the crawl started" + UTC,
    "finished_at": "When it ended" + UTC + "; empty while it runs or if it died.",
    "sites": "The sites crawled, as a JSON list.",
    "status": "running, finished, timed_out (stopped by --max-time), failed, or interrupted"
              " (killed before it could finish; marked by the next crawl).",
    "discovered": "New article URLs found in feeds and sitemaps.",
    "discovery_failed": "Sites none of whose feeds and sitemaps could be read (the run exits 1).",
    "checked": "Pages fetched.",
    **{outcome: f"Fetches whose outcome was {outcome}." for outcome in (
        "new_version", "unchanged", "not_modified", "gone", "blocked", "no_article", "error")},
    "skipped": "Queued pages left unfetched when the crawl stopped.",
}
_FETCH_COLUMNS = {
    "id": "Fetch id.",
    "url": "The URL fetched.",
    "started_at": "When the fetch started" + UTC,
    "elapsed_ms": "How long it took, retries included, in milliseconds.",
    "status": "The last HTTP status, if any.",
    "outcome": "new_version, unchanged, not_modified, gone, blocked, no_article or error.",
    "error": "What went wrong, for a failed fetch.",
    "attempts": "HTTP attempts made (retries included).",
    "final_url": "The URL after redirects.",
    "article_id": "The article, when the page was one already archived or newly stored.",
    "version": "The version stored or found unchanged.",
}
_CHANGE_COLUMNS = {
    "id": "The new version's id (versions.id).",
    "article_id": _VERSION_COLUMNS["article_id"],
    "site": _ARTICLE_COLUMNS["site"],
    "version": "The new version's number.",
    "previous_version": "The version before it.",
    "fetched_at": "When the new version was first fetched" + UTC,
    "previous_fetched_at": "When the previous version was first fetched" + UTC,
    "title": "The new headline.",
    "previous_title": "The headline before.",
    "words_added": "Words added to the body (a word-level diff, computed when stored).",
    "words_removed": "Words removed from the body.",
    "title_changed": "1 if the headline changed.",
    "authors_changed": "1 if the byline changed.",
    "body_changed": "1 if the body text changed.",
    "dates_changed": "1 if the stated publication or update time changed.",
    "changed": "The fields that changed (title, authors, body, dates), as a JSON list.",
    "diff_url": "The diff page of this change.",
}
_LATEST_COLUMNS = {
    **_VERSION_COLUMNS,
    "id": "The latest version's id (versions.id).",
    "site": _ARTICLE_COLUMNS["site"],
    "state": _ARTICLE_COLUMNS["state"],
    "version": "The latest version's number: how many versions the article has.",
    "fetched_at": "When the latest version was first fetched" + UTC,
    "first_seen": _ARTICLE_COLUMNS["first_seen"],
    "last_checked": _ARTICLE_COLUMNS["last_checked"],
    "diff_url": "The article's diff page: its versions and the latest change.",
}
del _LATEST_COLUMNS["html_zlib"]
_DAY_AGO = "strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 day')"
_FAILED = "('new_version', 'unchanged', 'not_modified')"

QUERIES: dict[str, dict[str, Any]] = {
    "recent_changes": {
        "title": "Recent changes",
        "description": "Versions stored in the last N days (default 7), newest first.",
        "params": ["days"],
        "sql": "SELECT fetched_at, site, title, previous_title, words_added, words_removed,"
               " changed, diff_url, article_id, version FROM changes WHERE fetched_at >="
               " strftime('%Y-%m-%dT%H:%M:%S', 'now',"
               " '-' || coalesce(nullif(:days, ''), '7') || ' days')"
               " ORDER BY fetched_at DESC",
    },
    "most_edited": {
        "title": "Most-edited articles",
        "description": "Articles with more than one version, most versions first.",
        "sql": "SELECT article_id, site, title, version AS version_count,"
               " fetched_at AS last_changed, first_seen, diff_url FROM latest_versions"
               " WHERE version > 1 ORDER BY version DESC, fetched_at DESC LIMIT 100",
    },
    "articles_gone": {
        "title": "Articles gone",
        "description": "Articles whose page now answers 404 or 410, most recently checked first.",
        "sql": "SELECT a.id AS article_id, a.site, l.title, a.url, a.first_seen, a.last_checked,"
               " l.version AS version_count, l.diff_url FROM articles a"
               " LEFT JOIN latest_versions l ON l.article_id = a.id"
               " WHERE a.state = 'gone' ORDER BY a.last_checked DESC",
    },
    "fetch_failures": {
        "title": "Fetch failures in the last day",
        "description": "Failed fetches of the last 24 hours by site (or host, for a page never "
                       "archived) and outcome, with the latest error of each group.",
        # SQLite takes bare columns next to max() from the row holding the maximum.
        "sql": "WITH failed AS (SELECT f.*, a.site AS site_name,"
               " substr(f.url, instr(f.url, '//') + 2) AS rest FROM fetches f"
               " LEFT JOIN articles a ON a.id = f.article_id"
               f" WHERE f.outcome NOT IN {_FAILED} AND f.started_at >= {_DAY_AGO})"
               " SELECT coalesce(site_name, substr(rest, 1, instr(rest || '/', '/') - 1))"
               " AS site, outcome, count(*) AS failures, max(started_at) AS last_failure,"
               " status AS last_status, error AS last_error, url AS last_url FROM failed"
               " GROUP BY 1, 2 ORDER BY failures DESC, site, outcome",
    },
    "title_changes": {
        "title": "Headline changes",
        "description": "Every version whose headline differs from the one before, newest "
                       "first.",
        "sql": "SELECT fetched_at, site, previous_title, title, article_id, previous_version,"
               " version, diff_url FROM changes WHERE title_changed ORDER BY fetched_at DESC",
    },
}
_FTS = {"fts_table": "versions_fts", "fts_pk": "id",
        # "escaped" keeps "quoted phrases" and never fails on punctuation (U.S., Xi-Putin);
        # _searchmode=raw in the URL gives FTS5 operators (OR, NEAR, prefix*).
        "searchmode": "escaped"}
DATABASE_METADATA: dict[str, Any] = {
    "title": "News archive",
    "description": "Every version of every archived news article. Start with the canned "
                   "queries, the changes view, or a search of versions.",
    "tables": {
        "articles": {
            "description": "One row per article: where it was first seen, its identity, "
                           "when it was checked, and whether it is gone.",
            "columns": _ARTICLE_COLUMNS, "facets": ["site", "state"],
            "sort_desc": "first_seen", "label_column": "article_key",
        },
        "versions": {
            "description": "A row each time an article's title, authors or body changed "
                           "(A→B→A keeps three). Full-text search covers title and text.",
            "columns": _VERSION_COLUMNS, **_FTS,
            "facets": [{"array": "authors"}, {"date": "fetched_at"}],
            "sort_desc": "fetched_at",
        },
        "fetches": {
            "description": "Every fetch attempt, failures included, so cron trouble is "
                           "queryable.",
            "columns": _FETCH_COLUMNS, "facets": ["outcome", "status", {"date": "started_at"}],
            "sort_desc": "started_at",
        },
        "crawls": {
            "description": "One row per `scraper crawl` run: when, which sites, how it ended "
                           "and its counts by outcome.",
            "columns": _CRAWL_COLUMNS, "facets": ["status"], "sort_desc": "started_at",
        },
        "versions_fts": {
            "description": "The full-text index over versions.title and versions.text.",
            "columns": {"title": _VERSION_COLUMNS["title"], "text": _VERSION_COLUMNS["text"]},
        },
        "change_stats": {
            "description": "Words added and removed by each version after the first, "
                           "computed once when stored; read it through the changes view.",
            "columns": {"version_id": "The version (versions.id).",
                        "words_added": _CHANGE_COLUMNS["words_added"],
                        "words_removed": _CHANGE_COLUMNS["words_removed"]},
            "hidden": True,
        },
        "latest_versions": {
            "description": "One row per article: its current version, without the raw HTML.",
            "columns": _LATEST_COLUMNS, **_FTS,
            "facets": ["site", {"array": "authors"}, {"date": "fetched_at"}],
            "sort_desc": "fetched_at",
        },
        "changes": {
            "description": "Each version after the first, beside the one before it: what "
                           "changed and how many words. diff_url opens the diff page.",
            "columns": _CHANGE_COLUMNS,
            "facets": ["site", {"array": "changed"}, {"date": "fetched_at"}],
            "sort_desc": "fetched_at",
        },
    },
    "queries": QUERIES,
}
INSTANCE_METADATA = {
    "title": DATABASE_METADATA["title"],
    "description": "Every version of archived news articles: search them, see what changed "
                   "and when, and read word-level diffs.",
}

# --- which databases are archives ---------------------------------------------------------

# Per Datasette instance: database name -> (is an archive, when we looked).
_seen: weakref.WeakKeyDictionary[Datasette, dict[str, tuple[bool, float]]] = (
    weakref.WeakKeyDictionary())


def archive_names(datasette: Datasette) -> list[str]:
    """Names of the served databases that hold the archive's tables."""
    seen = _seen.setdefault(datasette, {})
    names = []
    now = time.monotonic()
    for name, db in datasette.databases.items():
        if db.is_memory:
            continue
        known = seen.get(name)
        if known is None or (not known[0] and now - known[1] > RECHECK_S):
            known = seen[name] = (_is_archive(db), now)
        if known[0]:
            names.append(name)
    return names


def _is_archive(db: Database) -> bool:
    # get_metadata is synchronous, so this cannot go through Datasette's async execute().
    try:
        conn = sqlite3.connect(f"file:{quote(str(Path(db.path).resolve()))}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return ARCHIVE_TABLES <= tables


# --- hooks ----------------------------------------------------------------------------------


@hookimpl
def get_metadata(datasette: Datasette, key: str | None, database: str | None,
                 table: str | None) -> dict[str, Any] | None:
    names = archive_names(datasette)
    if not names:
        return None
    # Copies: Datasette merges other metadata into what a hook returns, in place.
    return {**copy.deepcopy(INSTANCE_METADATA),
            "databases": {name: copy.deepcopy(DATABASE_METADATA) for name in names}}


@hookimpl
def prepare_jinja2_environment(env: Environment, datasette: Datasette) -> None:
    # Datasette finds a plugin's templates only in a plugin that is a package; this one is a
    # module. Appended last, so a --template-dir can still override scraper_diff.html.
    env.loader = ChoiceLoader([env.loader, FileSystemLoader(str(TEMPLATES))])  # type: ignore[list-item]


@hookimpl
def register_routes(datasette: Datasette) -> list[tuple[str, Any]]:
    return [(r"^/-/diff/(?P<article_id>\d+)$", diff_page),
            (r"^/-/html/(?P<version_id>\d+)$", html_page)]


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str,
                datasette: Datasette) -> Markup | None:
    if column not in ("html_zlib", "version", "diff_url"):
        return None  # the common case, decided before looking at the databases
    names = archive_names(datasette)
    if database not in names:
        return None
    db_arg = {"db": database} if len(names) > 1 else {}
    if column == "diff_url" and isinstance(value, str) and value.startswith(DIFF_PATH):
        label = "history" if table == "latest_versions" else "diff"
        if db_arg:
            value += ("&" if "?" in value else "?") + urlencode(db_arg)
        return _link(datasette.urls.path(value), label)
    if table != "versions":
        return None
    if column == "html_zlib" and isinstance(value, bytes):
        version_id = _field(row, "id")
        if version_id is None:
            return None
        size = f"{len(value):,} B" if len(value) < 1024 else f"{len(value) / 1024:,.0f} KB"
        return _link(_url(datasette, f"/-/html/{version_id}", db_arg),
                     f"HTML ({size} compressed)")
    if column == "version" and isinstance(value, int):
        article_id = _field(row, "article_id")
        if article_id is None:
            return None
        return _link(_url(datasette, f"{DIFF_PATH}{article_id}", {"to": value, **db_arg}),
                     str(value))
    return None


# --- pages ----------------------------------------------------------------------------------


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
        " ORDER BY version", [article_id])]
    if not timeline:
        raise NotFound(f"Article {article_id} has no versions")
    numbers = [v["version"] for v in timeline]
    new_n = _number_arg(request, "to", numbers) or numbers[-1]
    old_n = _number_arg(request, "from", numbers) or (new_n - 1 if new_n > 1 else None)
    new = await _version(db, article_id, new_n)
    old = await _version(db, article_id, old_n) if old_n is not None else None
    full = request.args.get("full") == "1"
    db_arg = {"db": db.name} if len(archive_names(datasette)) > 1 else {}
    base = f"{DIFF_PATH}{article_id}"
    for v in timeline:
        v["when"] = _when(v["fetched_at"])
        v["href"] = _url(datasette, base, {"from": v["version"] - 1, "to": v["version"],
                                           **db_arg} if v["version"] > 1 else
                         {"to": v["version"], **db_arg})
        v["html_href"] = _url(datasette, f"/-/html/{v['id']}", db_arg)
        v["selected"] = v["version"] in (old_n, new_n)
    context: dict[str, Any] = {
        "database": db.name, "article": dict(article), "timeline": timeline,
        # only a web URL becomes a link: never a javascript: one, whatever the database holds
        "article_link": article["url"] if article["url"].startswith(("http://", "https://"))
        else None,
        "old": old, "new": new, "full": full, "db_arg": db_arg,
        "form_action": datasette.urls.path(base),
        "toggle_href": _url(datasette, base, {**({"from": old_n} if old_n else {}), "to": new_n,
                                              **({} if full else {"full": "1"}), **db_arg}),
        "article_href": datasette.urls.row(db.name, "articles", str(article_id)),
        "versions_href": datasette.urls.table(db.name, "versions") + f"?article_id={article_id}",
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
    row = (await db.execute("SELECT article_id, version, html_zlib FROM versions WHERE id = ?",
                            [version_id])).first()
    if row is None:
        raise NotFound(f"No version {version_id} in {db.name}")
    html = zlib.decompress(row["html_zlib"]).decode("utf-8", "replace") if row["html_zlib"] else ""
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
        raise NotFound(f"No version {raw} (this article has versions 1 to {numbers[-1]})")
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


def _field(row: Any, key: str) -> Any:
    try:
        value = row[key]
    except (IndexError, KeyError):
        return None  # not among the columns the user picked (?_col=)
    # A foreign key Datasette expanded to its label: {"value": 1, "label": "..."}
    return value["value"] if isinstance(value, dict) else value


def _url(datasette: Datasette, path: str, args: dict[str, Any]) -> str:
    return str(datasette.urls.path(path + ("?" + urlencode(args) if args else "")))


def _link(href: str, label: str) -> Markup:
    return Markup('<a href="{}">{}</a>').format(href, label)
