"""A local news site for the crawl benchmark: N real pages, an RSS feed, a sitemap, ~50 ms each.

    python bench/crawl_site.py --pages 1000 [--latency 0.05] [--corpus ../shared/corpus]

Prints ``PORT`` on the first line of stdout, then serves http://127.0.0.1:PORT/ until its
stdin closes (so it dies with the benchmark that started it) or it gets SIGTERM:

    /news/<i>        0 <= i < N: corpus page i mod 14 (gzip when accepted), ETag when enabled
    /rss             RSS 2.0 listing all N pages, newest first (ETag when enabled)
    /sitemap.xml     a urlset listing all N pages (ETag when enabled)
    /robots.txt      404, like every other path
    /_bench/stats    JSON counters (no latency, not counted)
    /_bench/etags/on, /_bench/etags/off   serve ETags and answer If-None-Match with 304, or not
                     (pages, feed and sitemap alike, as a CDN in front of a news site does)

One asyncio event loop speaking HTTP/1.1 with keep-alive: the latency is an ``asyncio.sleep``
per response, so concurrent requests wait it out together instead of queueing behind each
other. Bodies are built once at start; the corpus is read at run time, never copied.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from email.utils import formatdate
from pathlib import Path
from xml.sax.saxutils import escape

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def corpus_pages(corpus: Path) -> list[tuple[bytes, bytes]]:
    """(gzip bytes, raw bytes) of each real article page under corpus/sites/, sorted by path."""
    pages = []
    for path in sorted((corpus / "sites").glob("*/*.html.gz")):
        packed = path.read_bytes()
        pages.append((packed, gzip.decompress(packed)))
    if not pages:
        raise SystemExit(f"no pages under {corpus / 'sites'}: the corpus lives in ../shared/corpus")
    return pages


class Site:
    """The responses of the benchmark site, and counters of what was served."""

    def __init__(self, pages: list[tuple[bytes, bytes]], n: int, base: str) -> None:
        self.pages = pages
        self.etags = [f'"{hashlib.sha1(raw).hexdigest()[:20]}"' for _, raw in pages]
        self.n = n
        self.serve_etags = True
        self.counts: Counter[str] = Counter()
        self.in_flight = 0  # requests waiting out their latency now
        now = time.time()
        items = "".join(
            f"<item><title>Story {i}</title><link>{base}/news/{i}</link>"
            f"<guid>{base}/news/{i}</guid><pubDate>{formatdate(now - i, usegmt=True)}</pubDate>"
            "</item>" for i in range(n))
        self.feed = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                     f"<title>Bench News</title><link>{escape(base)}/</link>"
                     f"<description>crawl benchmark</description>{items}</channel></rss>"
                     ).encode()
        urls = "".join(f"<url><loc>{base}/news/{i}</loc></url>" for i in range(n))
        self.sitemap = ('<?xml version="1.0" encoding="UTF-8"?>'
                        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                        f"{urls}</urlset>").encode()

    def control(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/_bench/etags/on":
            self.serve_etags = True
        elif path == "/_bench/etags/off":
            self.serve_etags = False
        elif path != "/_bench/stats":
            return 404, {}, b"unknown control path"
        body = json.dumps({"etags": self.serve_etags, **self.counts}).encode()
        return 200, {"Content-Type": "application/json"}, body

    def listing(self, content_type: str, body: bytes,
                headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The feed or the sitemap, with its ETag (304 when it matches) when ETags are on."""
        out = {"Content-Type": content_type}
        if self.serve_etags:
            out["ETag"] = f'"{hashlib.sha1(body).hexdigest()[:20]}"'
            if out["ETag"] in headers.get("if-none-match", ""):
                self.counts["listing 304"] += 1
                return 304, out, b""
        return 200, out, body

    def respond(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request (counted)."""
        self.counts["requests"] += 1
        if path == "/rss":
            self.counts["feed"] += 1
            return self.listing("application/rss+xml; charset=utf-8", self.feed, headers)
        if path == "/sitemap.xml":
            self.counts["sitemap"] += 1
            return self.listing("application/xml", self.sitemap, headers)
        number = path[len("/news/"):] if path.startswith("/news/") else ""
        if not number.isdigit() or int(number) >= self.n:
            self.counts["404"] += 1
            return 404, {"Content-Type": "text/plain"}, b"not found"
        k = int(number) % len(self.pages)
        out = {"Content-Type": "text/html; charset=utf-8", "Vary": "Accept-Encoding"}
        if self.serve_etags:
            out["ETag"] = self.etags[k]
            if self.etags[k] in headers.get("if-none-match", ""):
                self.counts["304"] += 1
                return 304, out, b""
        self.counts["200"] += 1
        packed, raw = self.pages[k]
        if "gzip" in headers.get("accept-encoding", ""):
            out["Content-Encoding"] = "gzip"
            return 200, out, packed
        return 200, out, raw


REASONS = {200: "OK", 304: "Not Modified", 400: "Bad Request", 404: "Not Found"}


async def handle(site: Site, latency: float, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
    """Serve one connection: requests in order, keep-alive until the client closes."""
    site.counts["connections"] += 1  # a client that keeps its connections alive opens few
    try:
        while True:
            line = await reader.readline()
            if not line.strip():
                break
            method, target, *_ = line.decode("latin-1").split()
            headers: dict[str, str] = {}
            while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = raw.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if int(headers.get("content-length") or 0):
                await reader.readexactly(int(headers["content-length"]))
            path = target.split("?")[0]
            if path.startswith("/_bench/"):
                status, out, body = site.control(path)
            else:
                site.in_flight += 1
                site.counts["most in flight"] = max(site.counts["most in flight"], site.in_flight)
                try:
                    await asyncio.sleep(latency)  # overlaps across connections: no queueing
                finally:
                    site.in_flight -= 1
                status, out, body = site.respond(path, headers)
            close = headers.get("connection", "").lower() == "close"
            head = [f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}",
                    f"Content-Length: {0 if status == 304 else len(body)}",
                    f"Connection: {'close' if close else 'keep-alive'}",
                    *(f"{k}: {v}" for k, v in out.items()), "", ""]
            payload = "\r\n".join(head).encode("latin-1")
            if method != "HEAD" and status != 304:
                payload += body
            writer.write(payload)  # one write: head and body in the same segments
            await writer.drain()
            if close:
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass  # a client that hung up, or a malformed request line: drop the connection
    finally:
        writer.close()


async def serve(pages: list[tuple[bytes, bytes]], n: int, latency: float, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    holder: dict[str, Site] = {}
    server = await asyncio.start_server(
        lambda r, w: handle(holder["site"], latency, r, w), "127.0.0.1", port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    holder["site"] = Site(pages, n, f"http://127.0.0.1:{port}")
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # stdin reaching EOF means the benchmark that started us is gone: stop with it
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)),
                     daemon=True).start()
    print(port, flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per response")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("SCRAPER_CORPUS", DEFAULT_CORPUS)))
    args = parser.parse_args()
    asyncio.run(serve(corpus_pages(args.corpus), args.pages, args.latency, args.port))


if __name__ == "__main__":
    main()
