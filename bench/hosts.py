"""A crawl over many hosts at their politeness bound: how close does a re-check come to it?

    python bench/hosts.py [--hosts 500] [--per-host 20] [--delay 2] [--latency 0.05]
                          [--profile out.prof] [--ref REV]

One server process listens on 127.0.0.2, 127.0.0.3, ... (every 127.x.y.z is loopback on
Linux), the same port on each, one asyncio loop, HTTP/1.1 keep-alive. Each host serves
``robots.txt`` (404), an RSS feed of its articles and the articles (small pages), each with
an ETag (If-None-Match answered with 304), every answer after ``--latency`` seconds. The
server notes when each request's head arrived, per host, in its own loop.

Two crawls run in child processes, each the real ``run_crawl`` with one ``Site`` per host
(its feed, its domain), ``concurrency 1``:

1. set-up: the first crawl of every article, no delay, extraction in a process per core;
2. measured: every article made due, a re-check crawl with ``--delay`` seconds per host:
   robots.txt, the feed (a 304 since its validators were kept) and every article (a 304).

The politeness bound is hosts / delay requests a second. Reported for the re-check: its
requests a second over every request (robots.txt and feeds included) as a fraction of the
bound, the smallest gap between two requests to one host over every request (must never be
below the delay), CPU of the crawl process per re-checked article, and its peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PARAGRAPH = ("The harbour board met on a grey morning to decide the future of the old ferry "
             "pier, which has stood on the east side of the bay since the town was founded.")


def addresses(n: int) -> list[str]:
    """``n`` loopback addresses from 127.0.0.2, skipping .0 and .255 last octets."""
    out, ip = [], int(ipaddress.IPv4Address("127.0.0.2"))
    while len(out) < n:
        if ip & 0xFF not in (0, 255):
            out.append(str(ipaddress.IPv4Address(ip)))
        ip += 1
    return out


def page(host: str, n: str) -> bytes:
    body = "".join(f"<p>{PARAGRAPH} Story {n} on {host}, paragraph {i}.</p>" for i in range(4))
    return (f"<html><head><title>Story {n} on {host}</title></head><body><article><h1>Story "
            f"{n} on {host}</h1>{body}</article></body></html>").encode()


def feed(host: str, port: int, per_host: int) -> bytes:
    items = "".join(f"<item><title>Story {n}</title><link>http://{host}:{port}/news/{n}</link>"
                    "</item>" for n in range(per_host))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{host}</title>'
            f"<link>http://{host}:{port}/</link>{items}</channel></rss>").encode()


# --- the server (its own process) ---------------------------------------------------------


def serve(hosts: int, per_host: int, latency: float, port: int, out: Path) -> None:
    """Serve every host until SIGTERM, then write the arrivals to ``out`` as JSON."""
    arrivals: dict[str, list[tuple[float, str, int]]] = {}

    async def handle(host: str, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        seen = arrivals.setdefault(host, [])
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrived = time.monotonic()
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}
                if path.startswith("/news/"):
                    etag, body, kind = f'"{host}-{path}"', None, "text/html; charset=utf-8"
                elif path == "/rss":
                    etag, body, kind = '"feed-1"', None, "application/rss+xml"
                else:
                    etag, body, kind = None, b"", "text/plain"
                if etag and headers.get("if-none-match") == etag:
                    status = 304
                elif etag:
                    status = 200
                    body = (page(host, path.rsplit("/", 1)[1]) if path.startswith("/news/")
                            else feed(host, port, per_host))
                else:
                    status = 404
                seen.append((arrived, path, status))
                await asyncio.sleep(latency)
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found"}[status]
                head_out = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {kind}"]
                head_out += [f"ETag: {etag}"] if etag else []
                if status != 304:
                    head_out.append(f"Content-Length: {len(body or b'')}")
                writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode()
                             + (body if status != 304 and body else b""))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = []
        for host in addresses(hosts):
            servers.append(await asyncio.start_server(
                lambda r, w, h=host: handle(h, r, w), host, port, backlog=64))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print("ready", flush=True)
        await stop.wait()
        for server in servers:
            server.close()

    asyncio.run(main())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.write_text(json.dumps({"arrivals": arrivals, "cpu": usage.ru_utime + usage.ru_stime}))


# --- a crawl (its own process) -----------------------------------------------------------


def bench_site(i: int, host: str, port: int) -> Any:
    """The site of one host: its feed, its domain (a picklable instance, for the pool)."""
    from scraper.sites import Site

    global BenchHost
    if "BenchHost" not in globals():
        class BenchHost(Site):  # type: ignore[no-redef]
            article_path = r"^/news/\d+$"

        BenchHost.__qualname__ = "BenchHost"
    site = BenchHost()
    site.name = f"h{i:05d}"
    site.domains = (host,)
    site.feeds = (f"http://{host}:{port}/rss",)
    return site


def crawl(db: Path, hosts: int, per_host: int, port: int, delay: float, first: bool,
          profile: str | None) -> None:
    """One run_crawl over every host; prints what it cost as JSON."""
    from scraper.config import Config, SiteSettings
    from scraper.crawl import run_crawl
    from scraper.workers import make_pool
    from scraper.store import Archive

    sites = [bench_site(i, host, port) for i, host in enumerate(addresses(hosts))]
    config = Config(max_checks=hosts * per_host,
                    defaults=SiteSettings(delay=delay, concurrency=1, max_age=None))
    with Archive(db) as archive:
        if not first:
            with archive._write() as conn:  # every article due now
                conn.execute("UPDATE articles SET next_check = '2000-01-01T00:00:00+00:00'")
        crawl_id = archive.start_crawl([s.name for s in sites])
        pool = make_pool() if first else None
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile(time.perf_counter if os.environ.get("WALL_PROFILE")
                                        else time.process_time)
            profiler.enable()
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.monotonic()
        try:
            report = asyncio.run(run_crawl(archive, config, sites, crawl_id=crawl_id,
                                           pool=pool))
        finally:
            if pool is not None:
                pool.shutdown()
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        archive.finish_crawl(crawl_id, dict(report.counts), report.status)
    print(json.dumps({
        "wall": wall, "started": started, "counts": dict(report.counts),
        "status": str(report.status),
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "maxrss_mb": after.ru_maxrss / 1024}))


# --- the parent ---------------------------------------------------------------------------


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env=env)
    if done.returncode:
        sys.exit(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def gaps(arrivals: dict[str, list[list[Any]]], since: float) -> tuple[float, int]:
    """The smallest gap between two requests to one host after ``since``, and the requests."""
    smallest, total = float("inf"), 0
    for seen in arrivals.values():
        times = sorted(t for t, _, _ in seen if t >= since)
        total += len(times)
        smallest = min([smallest] + [b - a for a, b in zip(times, times[1:])])
    return smallest, total


def timeline(arrivals: dict[str, list[list[Any]]], since: float, wall: float) -> str:
    """Per host: when its first request came, the gaps, and when its last one came."""
    firsts, lasts, feed_to_page, all_gaps = [], [], [], []
    for seen in arrivals.values():
        run = sorted((t - since, path) for t, path, _ in seen if t >= since)
        if not run:
            continue
        firsts.append(run[0][0])
        lasts.append(run[-1][0])
        gaps_here = [b[0] - a[0] for a, b in zip(run, run[1:])]
        all_gaps += gaps_here
        paths = [p for _, p in run]
        if "/rss" in paths and paths.index("/rss") + 1 < len(run):
            feed_to_page.append(gaps_here[paths.index("/rss")])

    def median(xs: list[float]) -> float:
        return sorted(xs)[len(xs) // 2] if xs else float("nan")

    return (f"first request {min(firsts):.2f}–{max(firsts):.2f} s after the start; gaps "
            f"median {median(all_gaps):.3f} s, mean {sum(all_gaps) / len(all_gaps):.3f} s, "
            f"max {max(all_gaps):.2f} s; feed → first page median {median(feed_to_page):.2f} "
            f"s, max {max(feed_to_page, default=0):.2f} s; last request "
            f"{min(lasts):.1f}–{max(lasts):.1f} s; crawl ended at {wall:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--per-host", type=int, default=20)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--profile", help="write a cProfile of the re-check here")
    parser.add_argument("--ref", help="measure this commit's scraper/ (exported), not the tree")
    args = parser.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        code = ROOT
        if args.ref:
            code = Path(tmp) / "code"
            code.mkdir()
            subprocess.run(f"git -C {ROOT} archive {args.ref} scraper sites | tar -x -C {code}",
                           shell=True, check=True)
        env["PYTHONPATH"] = str(code)
        port = free_port("127.0.0.2")
        out = Path(tmp) / "arrivals.json"
        server = subprocess.Popen(
            [sys.executable, __file__, "serve", str(args.hosts), str(args.per_host),
             str(args.latency), str(port), str(out)], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            db = Path(tmp) / "hosts.db"
            common = [str(db), str(args.hosts), str(args.per_host), str(port)]
            first = child(["crawl", *common, "0", "first", ""], env)
            recheck = child(["crawl", *common, str(args.delay), "recheck",
                             args.profile or ""], env)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
        served = json.loads(out.read_text())
        if os.environ.get("KEEP_ARRIVALS"):
            Path(os.environ["KEEP_ARRIVALS"]).write_text(json.dumps(
                {"served": served, "started": recheck["started"]}))
    smallest, requests = gaps(served["arrivals"], recheck["started"])
    statuses: dict[str, int] = {}
    for seen in served["arrivals"].values():
        for t, path, status in seen:
            if t >= recheck["started"]:
                kind = "page" if path.startswith("/news/") else path.lstrip("/")
                statuses[f"{kind} {status}"] = statuses.get(f"{kind} {status}", 0) + 1
    bound = args.hosts / args.delay
    rate = requests / recheck["wall"]
    checks = args.hosts * args.per_host
    load = os.getloadavg()[0]
    print(f"{time.strftime('%Y-%m-%d')}, {platform.node()}: {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load {load:.1f}, {args.ref or 'working tree'}")
    print(f"first crawl (set-up, delay 0): {first['wall']:.1f} s, {first['counts']}")
    print("| hosts × articles | delay s | latency s | requests | wall s | requests/s | bound "
          "| fraction | smallest gap s | CPU s | CPU ms / re-check | peak RSS MB | server CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.hosts} × {args.per_host} | {args.delay:g} | {args.latency:g} | {requests:,} | "
          f"{recheck['wall']:.1f} | {rate:.1f} | {bound:.0f} | {rate / bound:.2f} | "
          f"{smallest:.3f} | {recheck['cpu']:.1f} | {recheck['cpu'] / checks * 1000:.2f} | "
          f"{recheck['maxrss_mb']:.0f} | {served['cpu']:.1f} |")
    print("server answered:", ", ".join(f"{v} × {k}" for k, v in sorted(statuses.items())))
    print("where the time goes:", timeline(served["arrivals"], recheck["started"],
                                           recheck["wall"]))
    print("crawl counts:", recheck["counts"], recheck["status"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]),
              Path(sys.argv[6]))
    elif len(sys.argv) > 1 and sys.argv[1] == "crawl":
        a = sys.argv[2:]
        crawl(Path(a[0]), int(a[1]), int(a[2]), int(a[3]), float(a[4]), a[5] == "first",
              a[6] or None)
    else:
        main()
