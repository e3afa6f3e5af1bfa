"""The Datasette plugin: `scraper serve` and plain `datasette archive.db` both load it.

Registered by the ``datasette`` entry point in pyproject.toml. It applies to every
served database that holds the archive's tables (``archives``), and adds:

- metadata: a description of every table and column, facets, default sorts, full-text
  search over versions and the latest versions, and canned queries (``metadata``), whose
  parameters it checks (``:_scraper_days`` is ``?days=``, checked);
- the diff page and the archived-HTML page (``pages``);
- Atom feeds of changes, ``/<archive>/recent_changes.atom`` (``atom``), linked from the
  changes view, the recent_changes query and the diff page;
- quiet 4xx answers: no traceback on the console for a bad link (``errors``);
- cells: ``html_zlib`` (large, compressed) becomes a link to ``/-/html/``, and version
  numbers and ``diff_url`` become links to the diff page.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from datasette import hookimpl
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, TemplateNotFound
from markupsafe import Markup

from .archives import archive_names
from .atom import FEED_ROUTE, atom_feed, page_feeds
from .errors import answer_errors, check_query_parameters
from .metadata import DATABASE_METADATA, INSTANCE_METADATA, query_parameter
from .pages import diff_page, html_page, link, page_url
from .views import DIFF_PATH

if TYPE_CHECKING:  # Datasette imports this module while datasette.app is half-imported
    from datasette.app import Datasette
    from datasette.utils.asgi import Request

TEMPLATES = Path(__file__).parent / "templates"
# Datasette's own names for the templates of one table's or one canned query's page, whatever
# the database is called: the changes view and the recent_changes query get ours, which add
# <link rel="alternate"> to the feeds and are otherwise Datasette's (they extend its template).
FEED_PAGES = {re.compile(r"table-.+-changes\.html"): "scraper_changes_table.html",
              re.compile(r"query-.+-recent_changes\.html"): "scraper_changes_query.html"}


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
    # Datasette finds a plugin's templates only beside a plugin that is a package; this one
    # is the module scraper.browse.plugin. Appended last, so a --template-dir can still
    # override scraper_diff.html.
    env.loader = ChoiceLoader([env.loader, FileSystemLoader(str(TEMPLATES)),  # type: ignore[list-item]
                              _FeedPagesLoader()])


class _FeedPagesLoader(BaseLoader):
    """Answers Datasette's per-page template names of FEED_PAGES with our templates."""

    def get_source(self, environment: Environment,
                   template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        for pattern, ours in FEED_PAGES.items():
            if pattern.fullmatch(template):
                path = TEMPLATES / ours
                return path.read_text(encoding="utf-8"), str(path), lambda: True
        raise TemplateNotFound(template)

    def list_templates(self) -> list[str]:
        """None to list: its names are patterns. Datasette's router lists every loader's
        templates (for pages/) when its app is built after startup, as `datasette` does."""
        return []


@hookimpl
def extra_template_vars(template: str, database: str | None, view_name: str,
                        request: Request | None, datasette: Datasette) -> dict[str, Any]:
    # Only the pages of FEED_PAGES, and only an archive's: another database's table named
    # `changes` renders as it always did.
    if (request is None or database is None
            or not any(p.fullmatch(template or "") for p in FEED_PAGES)
            or database not in archive_names(datasette)):
        return {}
    return {"scraper_feeds": page_feeds(datasette, database, request)}


@hookimpl
def register_routes(datasette: Datasette) -> list[tuple[str, Any]]:
    # each answers its own 404/400: raised to Datasette, one prints a traceback (errors.py)
    return [(r"^/-/diff/(?P<article_id>\d+)$", answer_errors(diff_page)),
            (r"^/-/html/(?P<version_id>\d+)$", answer_errors(html_page)),
            (FEED_ROUTE, answer_errors(atom_feed))]


@hookimpl
def asgi_wrapper(datasette: Datasette) -> Callable[[Any], Any]:
    # a canned query's bad ?days= is refused before Datasette runs (and logs) the query
    return check_query_parameters(datasette)


@hookimpl
def register_magic_parameters(datasette: Datasette) -> list[tuple[str, Any]]:
    # :_scraper_days in a canned query is ?days= checked: bad input gets a message, where
    # SQLite's date arithmetic would quietly return nothing.
    return [("scraper", _checked_parameter)]


def _checked_parameter(name: str, request: Request) -> int:
    return query_parameter(name, request.args.get(name))


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str,
                datasette: Datasette) -> Markup | None:
    if column not in ("html_zlib", "html_raw", "version", "diff_url"):
        return None  # the common case, decided before looking at the databases
    names = archive_names(datasette)
    if database not in names:
        return None
    db_arg = {"db": database} if len(names) > 1 else {}
    if column == "diff_url" and isinstance(value, str) and value.startswith(DIFF_PATH):
        label = "history" if table == "latest_versions" else "diff"
        if db_arg:
            value += ("&" if "?" in value else "?") + urlencode(db_arg)
        return link(datasette.urls.path(value), label)
    if table != "versions":
        return None
    if column in ("html_zlib", "html_raw") and isinstance(value, bytes):
        version_id = _field(row, "id")
        if version_id is None:
            return None
        size = f"{len(value):,} B" if len(value) < 1024 else f"{len(value) / 1024:,.0f} KB"
        return link(page_url(datasette, f"/-/html/{version_id}", db_arg),
                    f"HTML ({size} compressed)")
    if column == "version" and isinstance(value, int):
        article_id = _field(row, "article_id")
        if article_id is None:
            return None
        return link(page_url(datasette, f"{DIFF_PATH}{article_id}", {"to": value, **db_arg}),
                    str(value))
    return None


def _field(row: Any, key: str) -> Any:
    try:
        value = row[key]
    except (IndexError, KeyError):
        return None  # not among the columns the user picked (?_col=)
    # A foreign key Datasette expanded to its label: {"value": 1, "label": "..."}
    return value["value"] if isinstance(value, dict) else value
