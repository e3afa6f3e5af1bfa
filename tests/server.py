"""A real HTTP server on 127.0.0.1 for tests: canned responses per path, requests recorded.

    >>> with TestServer() as server:
    ...     server.route("/a", Response(503), Response.html("<p>ok</p>"))  # 503 once, then ok
    ...     server.url("/a")                       # "http://127.0.0.1:PORT/a"
    ...     server.requests                        # [Seen("GET", "/a", {...}), ...]

A sequence of responses is served in order and the last one repeats. Unknown paths
get 404. The server speaks HTTP/1.0 and closes each connection, so a body without
Content-Length simply ends at the close. ``Response.handler`` takes over writing
the response for streaming, stalls and aborts (see ``Response.reset_after``, and the
fault builders in ``faults.py``); a handler that waits should wait on
``req.test_server.stopping``, which is set when the server stops.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple, Self

__all__ = ["Response", "Seen", "TestServer"]


@dataclass(frozen=True)
class Response:
    """One canned response: status, body bytes, headers, an optional delay before it."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # False: send no Content-Length (the body then ends when the connection closes)
    content_length: bool = True
    # when set, called instead of the default writer, to stream, stall or abort
    handler: Callable[[BaseHTTPRequestHandler], None] | None = None

    @classmethod
    def html(
        cls,
        text: str,
        *,
        status: int = 200,
        charset: str = "utf-8",
        headers: dict[str, str] | None = None,
    ) -> Response:
        """An HTML page encoded in ``charset`` and declared so in Content-Type."""
        return cls(
            status,
            text.encode(charset),
            {"Content-Type": f"text/html; charset={charset}", **(headers or {})},
        )

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        """A redirect to ``location`` (absolute or relative)."""
        return cls(status, headers={"Location": location})

    @classmethod
    def reset_after(
        cls, body: bytes, sent: int, *, headers: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        """Promise ``body`` (full Content-Length) but reset the connection after ``sent`` bytes."""

        def write(req: BaseHTTPRequestHandler) -> None:
            req.send_response(status)
            for name, value in {"Content-Type": "text/html", **(headers or {})}.items():
                req.send_header(name, value)
            req.send_header("Content-Length", str(len(body)))
            req.end_headers()
            req.wfile.write(body[:sent])
            req.wfile.flush()
            # SO_LINGER 0 turns close() into a TCP RST: "connection reset by peer"
            req.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            req.connection.close()
            req.close_connection = True

        return cls(handler=write)


class Seen(NamedTuple):
    """A request the server received; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]


class TestServer:
    """ThreadingHTTPServer on an ephemeral port in a background thread."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, host: str = "127.0.0.1", *, keep_alive: bool = False) -> None:
        self.host = host  # any 127.x.y.z: many "hosts" on one machine
        # HTTP/1.1 keeps a connection open between requests (every response then needs its
        # Content-Length); the default HTTP/1.0 closes it after each response
        self.keep_alive = keep_alive
        self.connections = 0  # TCP connections accepted
        self._routes: dict[str, list[Response]] = {}
        self._lock = threading.Lock()
        self.requests: list[Seen] = []
        # set by stop(): handlers that stall or drip wait on it, so none outlives the test
        self.stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a stalled handler must not hang shutdown
        # a short poll interval: shutdown() waits up to one interval, once per test
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return f"http://{self.host}:{self.port}/{path.lstrip('/')}"

    def route(self, path: str, *responses: Response) -> None:
        """Serve ``responses`` for ``path`` in order, repeating the last one."""
        if not responses:
            raise ValueError("route() needs at least one Response")
        with self._lock:
            self._routes[path] = list(responses)

    def hits(self, path: str) -> int:
        """How many requests ``path`` (with any query string) received."""
        with self._lock:
            return sum(1 for r in self.requests if r.path.split("?")[0] == path)

    def start(self) -> Self:
        """Serve in a background thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, method: str, path: str, headers: dict[str, str]) -> Response:
        with self._lock:
            self.requests.append(Seen(method, path, headers))
            queue = self._routes.get(path) or self._routes.get(path.split("?")[0])
            if not queue:
                return Response(404, b"not found", {"Content-Type": "text/plain"})
            return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler_for(server: TestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        test_server = server  # for Response.handler functions: req.test_server.stopping
        protocol_version = "HTTP/1.1" if server.keep_alive else "HTTP/1.0"

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = server._next(self.command, self.path, headers)
            if response.delay:
                time.sleep(response.delay)
            if response.handler is not None:
                response.handler(self)
                return
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.content_length and "content-length" not in {
                k.lower() for k in response.headers
            }:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

        def handle(self) -> None:
            with server._lock:
                server.connections += 1
            try:
                super().handle()
            except (ConnectionError, OSError):
                pass  # the client gave up (timeout tests) or we reset on purpose

    return Handler
