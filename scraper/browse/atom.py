"""Atom feeds of changes: ``/<archive>/recent_changes.atom``, ``?site=NAME``, ``?article_id=N``.

One entry per row of the ``changes`` view (each version after the first; a folded false edit
is no change), newest first, titled with the headline, summarising what changed and linking
the diff page.

Written with ``feedgen`` behind a route of our plugin, not with the ``datasette-atom``
plugin: that one needs ``atom_id``/``atom_title``/``atom_updated`` columns in the SQL (so
``changes.atom`` answers 400, and the view or the ``recent_changes`` query would have to
carry them), answers 500 for an empty feed (``max()`` of no rows), takes entry links as the
query returns them (relative here: SQL does not know the host), and cannot answer 404 for an
unknown site or article. Here every link is absolute and bad parameters get a 400 or 404.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from datasette.utils.asgi import BadRequest, NotFound, Request, Response
from feedgen.feed import FeedGenerator

from .. import __version__
from .archives import archive_names
from .views import DIFF_PATH

if TYPE_CHECKING:  # Datasette imports the plugin while datasette.app is half-imported
    from datasette.app import Datasette
    from datasette.database import Database

FEED_NAME = "recent_changes.atom"
FEED_ROUTE = r"^/(?P<database>[^/]+)/recent_changes\.atom$"
ATOM_TYPE = "application/atom+xml"
# A feed is read again and again by readers: the newest changes, not the whole history.
MAX_ENTRIES = 200
# SQLite integers are signed 64-bit: a larger ?article_id= is no article, and no 500 either.
_MAX_ID = 2**63 - 1
# Characters XML 1.0 forbids: a scraped headline can hold one, and lxml would refuse it.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = "1970-01-01T00:00:00+00:00"

_CHANGES_SQL = """SELECT c.id, c.article_id, c.site, c.version, c.previous_version,
    c.fetched_at, c.title, c.previous_title, c.words_added, c.words_removed,
    c.title_changed, c.authors_changed, c.body_changed, c.dates_changed,
    v.authors AS authors, p.authors AS previous_authors, a.url AS article_url
FROM changes c
JOIN versions v ON v.id = c.id
JOIN versions p ON p.article_id = c.article_id AND p.version = c.previous_version
JOIN articles a ON a.id = c.article_id
WHERE (:site IS NULL OR c.site = :site) AND (:article_id IS NULL OR c.article_id = :article_id)
ORDER BY c.fetched_at DESC, c.id DESC
LIMIT :limit"""


async def atom_feed(datasette: Datasette, request: Request) -> Response:
    """The feed of changes of one archive, of one site (?site=) or one article (?article_id=)."""
    db = await _feed_db(datasette, request)
    site, article_id = _filters(request)
    article_title = await _check_filters(db, site, article_id)
    params = {"site": site, "article_id": article_id, "limit": MAX_ENTRIES}
    rows = [dict(r) for r in await db.execute(_CHANGES_SQL, params)]
    db_arg = {"db": db.name} if len(archive_names(datasette)) > 1 else {}
    self_url = datasette.absolute_url(request, feed_path(datasette, db.name, site, article_id))

    fg = FeedGenerator()
    fg.id(self_url)  # the canonical address: the same on every read, whatever else is asked
    if article_id is not None:  # the page of this feed: the article's diff page
        fg.title(_xml(f"Changes to “{article_title or 'Untitled'}”"))
        html_path = str(datasette.urls.path(
            f"{DIFF_PATH}{article_id}" + ("?" + urlencode(db_arg) if db_arg else "")))
    else:  # the changes view, of the site if one
        fg.title(_xml(f"News archive: changes{f' on {site}' if site else ''}"))
        html_path = datasette.urls.table(db.name, "changes") + (
            "?" + urlencode({"site": site}) if site else "")
    fg.link(href=self_url, rel="self", type=ATOM_TYPE)
    fg.link(href=datasette.absolute_url(request, html_path), rel="alternate", type="text/html")
    # Atom wants an author on each entry or on the feed; many versions carry no byline.
    fg.author({"name": "News archive"})
    fg.generator("news-scraper", __version__)
    fg.updated(rows[0]["fetched_at"] if rows else await _last_fetch(db, site, article_id))
    for row in rows:  # newest first, as the query returns them
        _add_entry(fg, row, datasette.absolute_url(request, _diff_path(datasette, row, db_arg)))
    return Response(fg.atom_str(pretty=True).decode(),
                    content_type=f"{ATOM_TYPE}; charset=utf-8")


def feed_path(datasette: Datasette, database: str, site: str | None = None,
              article_id: int | None = None) -> str:
    """The path of a feed, under Datasette's base_url; the filters in a fixed order."""
    args = {k: v for k, v in (("site", site), ("article_id", article_id)) if v is not None}
    return (datasette.urls.database(database) + "/" + FEED_NAME
            + ("?" + urlencode(args) if args else ""))


def page_feeds(datasette: Datasette, database: str, request: Request) -> list[dict[str, str]]:
    """The feeds a page of the changes links to: the archive's, and the site's or article's
    its filters (``?site=``, ``?article_id=``) name."""
    feeds = [{"title": "Changes (Atom)", "href": feed_path(datasette, database)}]
    site = request.args.get("site")
    if site:
        feeds.append({"title": f"Changes on {site} (Atom)",
                      "href": feed_path(datasette, database, site=site)})
    raw = request.args.get("article_id") or ""
    if raw.isascii() and raw.isdigit() and len(raw) <= 19:
        feeds.append({"title": f"Changes to article {raw} (Atom)",
                      "href": feed_path(datasette, database, article_id=int(raw))})
    return feeds


def entry_id(row: dict[str, Any]) -> str:
    """A change's Atom id: the same on every read, on any host, for this change only."""
    # Not a tag: URI, which needs an authority the minter owns (the archive is served at any
    # host, and the article's host is the publisher's); a name-based UUID of the article,
    # the version number and when it was fetched is as stable and needs none.
    name = f"{row['article_url']}#version={row['version']}&fetched_at={row['fetched_at']}"
    return uuid.uuid5(uuid.NAMESPACE_URL, name).urn


def change_summary(row: dict[str, Any]) -> str:
    """What a change changed, in a line or two of plain text."""
    parts = [f"Version {row['version']} (after version {row['previous_version']})."]
    if row["title_changed"]:
        parts.append(f"Headline: “{row['previous_title'] or ''}” → “{row['title'] or ''}”.")
    if row["authors_changed"]:
        parts.append(f"Byline: {_byline(row['previous_authors'])} → "
                     f"{_byline(row['authors'])}.")
    if row["body_changed"]:
        if row["words_added"] is None:  # counted by `scraper serve`, not yet here
            parts.append("Body text changed.")
        else:
            parts.append(f"Body: {_words(row['words_added'])} added, "
                         f"{_words(row['words_removed'])} removed.")
    if row["dates_changed"]:
        parts.append("Publication or update time changed.")
    if len(parts) == 1:
        parts.append("Other details changed (description, tags or image).")
    return _xml(" ".join(parts))


def _add_entry(fg: FeedGenerator, row: dict[str, Any], diff_url: str) -> None:
    entry = fg.add_entry(order="append")
    entry.id(entry_id(row))
    entry.title(_xml(row["title"] or "Untitled"))
    entry.updated(row["fetched_at"])
    entry.link(href=diff_url, rel="alternate", type="text/html")
    entry.summary(change_summary(row))
    entry.category(term=row["site"])
    authors = _authors(row["authors"])
    if authors:
        entry.author([{"name": _xml(a)} for a in authors])


def _diff_path(datasette: Datasette, row: dict[str, Any], db_arg: dict[str, str]) -> str:
    args = {"from": row["previous_version"], "to": row["version"], **db_arg}
    return str(datasette.urls.path(f"{DIFF_PATH}{row['article_id']}?{urlencode(args)}"))


async def _feed_db(datasette: Datasette, request: Request) -> Database:
    route = request.url_vars["database"]
    names = archive_names(datasette)
    matches = [name for name in names if datasette.get_database(name).route == route]
    if not matches:
        raise NotFound(f"No archive database {route!r}")
    name = matches[0]
    await datasette.ensure_permissions(request.actor, [
        ("view-table", (name, "changes")), ("view-database", name), "view-instance"])
    return datasette.get_database(name)


def _filters(request: Request) -> tuple[str | None, int | None]:
    # An empty value is no filter, as a submitted form with an empty field means.
    site = request.args.get("site") or None
    raw = (request.args.get("article_id") or "").strip()
    if not raw:
        return site, None
    # The length first: int() refuses digit strings past 4,300 digits with its own error.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or int(raw) > _MAX_ID:
        raise BadRequest(f"?article_id= must be an article id (a whole number), not {raw[:20]!r}")
    return site, int(raw)


async def _check_filters(db: Database, site: str | None, article_id: int | None) -> str | None:
    """Refuse an unknown site or article (404); the article's latest headline, if one."""
    if site is not None and (await db.execute(
            "SELECT 1 FROM articles WHERE site = ? LIMIT 1", [site])).first() is None:
        raise NotFound(f"No site {site[:100]!r} in this archive")
    if article_id is None:
        return None
    row = (await db.execute("SELECT site, title FROM latest_versions WHERE article_id = ?",
                            [article_id])).first()
    if row is None:
        raise NotFound(f"No article {article_id} in this archive")
    if site is not None and row["site"] != site:
        raise NotFound(f"Article {article_id} is not on site {site[:100]!r}")
    return str(row["title"]) if row["title"] else None


async def _last_fetch(db: Database, site: str | None, article_id: int | None) -> str:
    # A feed with no entries still needs <updated>: the newest version in its scope, so
    # that it too is the same on every read.
    row = (await db.execute(
        "SELECT max(v.fetched_at) FROM versions v JOIN articles a ON a.id = v.article_id"
        " WHERE NOT v.folded AND (:site IS NULL OR a.site = :site)"
        " AND (:article_id IS NULL OR v.article_id = :article_id)",
        {"site": site, "article_id": article_id})).first()
    return str(row[0]) if row and row[0] else _EPOCH


def _authors(raw: str | None) -> list[str]:
    try:
        authors = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(a) for a in authors if a] if isinstance(authors, list) else []


def _byline(raw: str | None) -> str:
    return ", ".join(_authors(raw)) or "none"


def _words(n: int) -> str:
    return f"{n} word{'' if n == 1 else 's'}"


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)
