"""`scraper archive -` of a long URL list over many hosts: is each host's delay kept, and how
close does the whole run come to the politeness bound?

    python bench/urllist.py [--hosts 20] [--per-host 100] [--delay 0.2]

Starts one small HTTP server per host on 127.0.0.1, 127.0.0.2, ... (every 127.x.y.z is
loopback on Linux), each serving a small article page for every /news/N, then runs the real
command (`python -m scraper archive - --delay D`) on the shuffled list in a subprocess. The
servers record when each request arrives. The politeness bound is what the delay alone costs:
(per-host − 1) × delay, as every host is worked at once. Reported: the wall time and its ratio
to the bound (issue 11's target: at most 1.2), and per host the smallest gap between two
requests (must be at least the delay, less the scheduling jitter of the two arrivals).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PARAGRAPH = ("The harbour board met on a grey morning to decide the future of the old ferry "
             "pier, which has stood on the east side of the bay since the town was founded.")


def page(host: str, n: str) -> bytes:
    body = "".join(f"<p>{PARAGRAPH} Story {n} on {host}, paragraph {i}.</p>" for i in range(4))
    return (f"<html><head><title>Story {n}</title></head><body><article><h1>Story {n} on "
            f"{host}</h1>{body}</article></body></html>").encode()


def serve(host: str, arrivals: list[tuple[float, str, str]]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrivals.append((accepted.pop(self.request.fileno(), time.monotonic()), host,
                             self.path))
            if not self.path.startswith("/news/"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = page(host, self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    accepted: dict[int, float] = {}  # socket fd -> when the accepting thread took it

    class Server(ThreadingHTTPServer):
        def process_request(self, request: Any, client_address: Any) -> None:
            # the connection's arrival, taken in the accepting thread: the handler thread's
            # start-up (milliseconds on a loaded machine) is not the client's doing
            accepted[request.fileno()] = time.monotonic()
            super().process_request(request, client_address)

    server = Server((host, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--per-host", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    arrivals: list[tuple[float, str, str]] = []
    servers = [serve(f"127.0.0.{n}", arrivals) for n in range(1, args.hosts + 1)]
    urls = [f"http://{s.server_address[0]}:{s.server_address[1]}/news/{k}"
            for s in servers for k in range(1, args.per_host + 1)]
    random.Random(7).shuffle(urls)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "scraper", "archive", "-", "--db", str(Path(tmp) / "a.db"),
             "--delay", str(args.delay)], input="\n".join(urls), capture_output=True, text=True)
        wall = time.monotonic() - started
    for server in servers:
        server.shutdown()
    lines = done.stdout.splitlines()
    pages = [(t, h) for t, h, p in arrivals if p.startswith("/news/")]
    gaps = {}
    for host in {h for _, h in pages}:
        times = sorted(t for t, h in pages if h == host)
        gaps[host] = min(b - a for a, b in zip(times, times[1:]))
    bound = (args.per_host - 1) * args.delay
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"| hosts × URLs | delay | exit | archived | wall s | bound s | wall / bound "
          f"| smallest gap on a host, s |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.hosts} × {args.per_host} | {args.delay} | {done.returncode} | "
          f"{sum(1 for line in lines if 'new version' in line)} / {len(urls)} | {wall:.1f} | "
          f"{bound:.1f} | {wall / bound:.2f} | {min(gaps.values()):.3f} |")
    if done.returncode:
        print(done.stderr[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
