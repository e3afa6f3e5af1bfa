"""Expected 4xx answers of the plugin's pages, with nothing printed on the server's console.

Datasette 0.65's own ``handle_exception`` prints every exception that reaches it as a rich
traceback with locals (about 100 lines and 0.25 s) whenever rich is installed, a 404 included;
and Datasette awaits every plugin's ``handle_exception``, so a hook of ours cannot stop it.
So the plugin's routes answer their NotFound and BadRequest themselves (``answer_errors``),
with the page Datasette would have rendered. And a canned query's bad parameter
(``?days=0``) is refused before Datasette runs the query (``check_query_parameters``): a
query that fails there is logged as ``ERROR: conn=..., sql = ...`` on stderr.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from datasette.utils import add_cors_headers, tilde_decode
from datasette.utils.asgi import Base400, Forbidden, Request, Response

from .archives import archive_names
from .metadata import QUERIES, BadParameter, query_parameter

if TYPE_CHECKING:
    from datasette.app import Datasette

Route = Callable[..., Awaitable[Response]]
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

# /<database>/<query>, /<database>/<query>.json, ...: the canned queries whose SQL reads a
# checked parameter (:_scraper_NAME), with the names they read
_CHECKED = {name: re.findall(r":_scraper_(\w+)", query["sql"]) for name, query in QUERIES.items()}
_QUERY_PATH = re.compile(r"/(?P<database>[^/]+)/(?P<query>[^/.]+)(?:\.(?P<format>\w+))?")


async def error_response(datasette: Datasette, request: Request | None, status: int,
                         message: str, path: str = "") -> Response:
    """The error page (or JSON, for a .json path) Datasette renders for ``status``; without
    a request (outside Datasette's router), for ``path`` and an anonymous reader."""
    info = {"ok": False, "error": message, "status": status, "title": None}
    headers: dict[str, str] = {}
    if datasette.cors:
        add_cors_headers(headers)
    if (request.path if request else path).endswith(".json"):
        return Response.json(info, status=status, headers=headers)
    await datasette.invoke_startup()  # once; outside the router, it may not have run yet
    html = await datasette.render_template([f"{status}.html", "error.html"], info,
                                           request=request)
    return Response.html(html, status=status, headers=headers)


def answer_errors(route: Route) -> Route:
    """``route``, answering its NotFound/BadRequest itself instead of raising them to
    Datasette. Forbidden still goes to Datasette: its ``forbidden`` hook may log a user in."""

    @functools.wraps(route)  # Datasette passes the arguments the signature names
    async def answering(datasette: Datasette, request: Request, **kwargs: Any) -> Response:
        try:
            return await route(datasette=datasette, request=request, **kwargs)
        except Forbidden:
            raise
        except Base400 as err:
            return await error_response(datasette, request, err.status, str(err.args[0]))

    return answering


def check_query_parameters(datasette: Datasette) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware answering 400 to a canned query of an archive with a bad checked
    parameter, before Datasette runs (and logs) the query."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def checked(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("type") == "http":
                request = Request(scope, receive)
                message = await _bad_parameter(datasette, request)
                if message is not None:
                    await (await error_response(datasette, None, 400, message,
                                                request.path)).asgi_send(send)
                    return
            await app(scope, receive, send)

        return checked

    return wrap


async def _bad_parameter(datasette: Datasette, request: Request) -> str | None:
    """The message for a bad checked parameter of the canned query ``request`` asks for."""
    path = request.path
    base_url = datasette.setting("base_url")
    if base_url != "/" and path.startswith(base_url):  # as Datasette's router strips it
        path = "/" + path[len(base_url):]
    match = _QUERY_PATH.fullmatch(path)
    # .atom is the plugin's feed of changes (atom.py), not a rendering of the query
    if match is None or not _CHECKED.get(match["query"]) or match["format"] == "atom":
        return None
    route = tilde_decode(match["database"])
    names = [n for n in archive_names(datasette) if datasette.get_database(n).route == route]
    if not names:
        return None
    # Only where anyone may see the query: else Datasette's router decides (who the reader
    # is, 403), and the query it runs logs the error (rare: a private archive, a bad URL).
    visible, _ = await datasette.check_visibility(None, permissions=[
        ("view-query", (names[0], match["query"])), ("view-database", names[0]),
        "view-instance"])
    if not visible:
        return None
    for name in _CHECKED[match["query"]]:
        try:
            query_parameter(name, request.args.get(name))
        except BadParameter as err:
            return str(err)
    return None
