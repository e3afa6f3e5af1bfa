"""The queue benchmark: `scraper crawl --queue` with `scraper worker`s on a loopback Redis.

    python bench/scaleout.py [--hosts 200] [--articles 5] [--only coordination,cpu,overhead,writer]
                             [--py-spy DIR]

Side by side in one run, each on a fresh redis-server (Unix socket, no persistence) and a
fresh archive, against a local multi-host site (127.0.1.1 … 127.0.1.N, one server per host,
every request stamped with the kernel's receive time for the politeness check):

1. coordination: 1, 2 and 4 workers (``--hosts 8`` each), N hosts × 5 small articles,
   200 ms latency, 0.5 s delay: throughput X(W) and efficiency X(W) / (W·X(1));
2. cpu: real corpus pages, no latency or delay: 1 worker with 1 extraction process vs
   2 workers with 1 each;
3. overhead: 1 worker with the usual pool vs a local `scraper crawl` of the same site; Redis
   commands per page; the time from sending a task to its start (p50, p99);
4. writer: versions stored per second by the coordinator from a backlog of results;
5. politeness: requests closer than the delay to one host, in every run above.

Every crawl of runs 1-3 is profiled (``scaleout_cpu``): CPU seconds per page of each role
(coordinator, workers' event loops, extraction processes, redis-server, the test servers),
how busy each extraction process was, and the fixed costs: the first extraction, the first
stored page, the tail after the last extraction. ``--py-spy DIR`` also samples worker 0's
event loop and the coordinator (for a flame graph; those runs' figures include py-spy).

Prints a Markdown report (the machine, the date, the figures) for bench/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

# run as a script, this file's folder comes first on sys.path, and "queue" would be this
# file, not the standard library's module that redis and concurrent.futures import
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import gzip
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from string import Template
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))  # last: nothing here shadows a module
from scaleout_cpu import Probe, markdown

HERE = Path(__file__).resolve().parent
CORPUS = Path(os.environ.get("SCRAPER_CORPUS", HERE.parents[1] / "shared" / "corpus"))
TEMPLATE = HERE.parent / "tests" / "fixtures" / "site" / "article.html"
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
FAILSAFE = 1800.0


# ---- the site ----------------------------------------------------------------------------

def small_page(n: int) -> bytes:
    body = "\n".join(f"<p>Story {n}, paragraph {i}: the council met on {n % 28 + 1} March and "
                     "voted on the budget for the coming year, after a long debate about "
                     "schools, roads and the harbour.</p>" for i in range(4))
    return Template(TEMPLATE.read_text()).substitute(
        title=f"Story number {n}", published="2024-10-10T12:00:00+00:00", body=body).encode()


def corpus_pages() -> list[bytes]:
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(CORPUS.glob("sites/*/*.html.gz"))]
    if not pages:
        raise SystemExit(f"bench/scaleout.py: no pages under {CORPUS}/sites (set SCRAPER_CORPUS)")
    return pages


class Host(ThreadingHTTPServer):
    """One host of the site: canned bodies, a latency, every request stamped by the kernel."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: str, pages: list[bytes], latency: float,
                 log: list[tuple[str, str, float]]) -> None:
        super().__init__((address, 0), Handler)
        self.socket.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.address, self.pages, self.latency, self.log = address, pages, latency, log
        base = f"http://{address}:{self.server_address[1]}"
        items = "".join(f"<item><title>Story {i}</title><link>{base}/news/{i}</link>"
                        f"<pubDate>Thu, 10 Oct 2099 12:{i % 60:02d}:00 +0000</pubDate></item>"
                        for i in range(len(pages)))
        self.feed = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>h</title>'
                     f"<link>{base}/</link>{items}</channel></rss>").encode()
        self.feed_url = f"{base}/rss"

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        request.settimeout(60)
        data, ancillary, _, _ = request.recvmsg(64, 1024, socket.MSG_PEEK)
        request.settimeout(None)
        for level, kind, d in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", d[:16])
                parts = data.split(b" ")
                self.log.append((self.address, parts[1].decode() if len(parts) > 1 else "?",
                                 sec + nsec / 1e9))
        super().finish_request(request, client_address)


class Handler(BaseHTTPRequestHandler):
    server: Host

    def do_GET(self) -> None:
        time.sleep(self.server.latency)
        if self.path == "/rss":
            self._send(200, self.server.feed, "application/rss+xml")
        elif (m := re.fullmatch(r"/news/(\d+)", self.path)) and int(m[1]) < len(self.server.pages):
            self._send(200, self.server.pages[int(m[1])], "text/html; charset=utf-8")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Site:
    """N hosts, each serving ``per_host`` pages, a feed and a 404 robots.txt."""

    def __init__(self, n: int, pages: list[bytes], per_host: int, latency: float) -> None:
        self.log: list[tuple[str, str, float]] = []
        self.hosts = [Host(f"127.0.1.{i + 1}" if i < 254 else f"127.0.2.{i - 253}",
                           [pages[(i * per_host + j) % len(pages)] for j in range(per_host)],
                           latency, self.log) for i in range(n)]
        for host in self.hosts:
            threading.Thread(target=host.serve_forever, args=(0.5,), daemon=True).start()

    def config(self, path: Path, delay: float) -> Path:
        names = [f"h{i}" for i in range(len(self.hosts))]
        tables = "".join(f'\n[sites.{name}]\ndomains = ["{h.address}"]\nfeeds = ["{h.feed_url}"]\n'
                         f"article_path = '^/news/\\d+$'\n" for name, h in zip(names, self.hosts))
        path.write_text(f"[crawl]\ndelay = {delay}\nmax_age = \"3650d\"\nsites = "
                        f"{json.dumps(names)}\n{tables}")
        return path

    def pages_served(self) -> int:
        return sum(1 for _, path, _ in self.log if path.startswith("/news/"))

    def violations(self, delay: float) -> tuple[int, float]:
        """(gaps shorter than the delay, the shortest gap) over all hosts."""
        by_host: dict[str, list[float]] = defaultdict(list)
        for host, _, at in self.log:
            by_host[host].append(at)
        gaps = [b - a for t in by_host.values() for a, b in zip(sorted(t), sorted(t)[1:])]
        return sum(1 for g in gaps if g < delay), min(gaps, default=0.0)

    def stop(self) -> None:
        for host in self.hosts:
            host.shutdown()
            host.server_close()


# ---- Redis and processes -----------------------------------------------------------------

class Redis:
    def __init__(self, folder: Path) -> None:
        self.sock = folder / "redis.sock"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", str(self.sock), "--save", "",
             "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.url = f"unix://{self.sock}?db=0"
        import redis

        self.client = redis.Redis.from_url(self.url)
        failsafe = time.monotonic() + 20
        while True:
            try:
                self.client.ping()
                break
            except Exception:
                if time.monotonic() > failsafe:
                    raise
                time.sleep(0.01)

    def commands(self) -> int:
        stats = self.client.info("commandstats")
        return sum(v["calls"] for v in stats.values())

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait()


def scraper(*args: str, config: Path, log: Path | None = None,
            prefix: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SCRAPER_CONFIG": str(config)}
    return subprocess.Popen([*prefix, sys.executable, "-m", "scraper", *args], env=env,
                            stdout=subprocess.PIPE,
                            stderr=open(log, "w") if log else subprocess.PIPE)


def queued_run(site: Site, tmp: Path, name: str, workers: int, worker_args: list[str],
               delay: float, spy: Path | None = None) -> dict[str, Any]:
    """Start workers, time one `scraper crawl --queue` and profile its CPU, stop the workers.

    ``spy``: a folder for py-spy's samples of worker 0's event loop and of the coordinator
    (its CPU figures then include py-spy's own)."""
    folder = tmp / name
    folder.mkdir()
    redis = Redis(folder)
    config = site.config(folder / "scraper.toml", delay)
    site.log.clear()
    procs = [scraper("worker", "--queue", redis.url, "-v", *worker_args, config=config,
                     log=folder / f"worker-{i}.log") for i in range(workers)]
    spies: list[subprocess.Popen[bytes]] = []
    try:
        # workers are long-running services: their start (imports) is not part of a crawl
        failsafe = time.monotonic() + 120
        while _consumers(redis) < workers:
            if time.monotonic() > failsafe:
                raise SystemExit(f"{name}: the workers did not start")
            time.sleep(0.05)
        probe = Probe([p.pid for p in procs], redis.proc.pid, folder / "a.db")
        before = redis.commands()
        prefix: tuple[str, ...] = ()
        if spy is not None:
            spies.append(_spy(["--pid", str(procs[0].pid)], spy / f"{name}-worker0.txt"))
            prefix = (*_spy_command(spy / f"{name}-coordinator.txt"), "--")
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        probe.start()
        started = time.monotonic()
        crawl = scraper("crawl", "--queue", redis.url, "--db", str(folder / "a.db"), "--json",
                        config=config, prefix=prefix)
        out, err = crawl.communicate(timeout=FAILSAFE)
        seconds = time.monotonic() - started
        probe.stop()
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        commands = redis.commands() - before
    finally:
        for proc in spies:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=120)
        redis.stop()
    if crawl.returncode != 0:
        raise SystemExit(f"{name}: crawl failed: {err.decode()[-2000:]}")
    waits = [int(m) for p in folder.glob("worker-*.log")
             for m in re.findall(r"(\d+) ms after it was sent", p.read_text())]
    # the coordinator is the only child reaped while the crawl ran
    coordinator = (reaped.ru_utime + reaped.ru_stime) - (children.ru_utime + children.ru_stime)
    # py-spy's own lines ("py-spy> ...") share the coordinator's stdout
    report = json.loads("\n".join(line for line in out.decode().splitlines()
                                   if not line.startswith("py-spy>")))
    row = _row(name, site, seconds, report, delay, commands=commands, waits=waits)
    row["profile"] = probe.report(row["pages"], coordinator)
    return row


def _spy_command(out: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking",
            "--format", "raw", "--rate", "200", "-o", str(out)]


def _spy(args: list[str], out: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*_spy_command(out), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # attached before the clock starts
    return proc


def _consumers(redis: Redis) -> int:
    """Workers waiting for a task (Redis 7.0 lists a consumer only once it got a message)."""
    return int(redis.client.info("clients")["blocked_clients"])


def local_run(site: Site, tmp: Path, name: str, delay: float) -> dict[str, Any]:
    """Time and profile a local `scraper crawl` (its loop as "worker loops", its pool as
    "extraction": the figures of the queued runs without the queue)."""
    folder = tmp / name
    folder.mkdir()
    config = site.config(folder / "scraper.toml", delay)
    site.log.clear()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    crawl = scraper("crawl", "--db", str(folder / "a.db"), "--json", config=config)
    probe = Probe([crawl.pid], None, folder / "a.db")
    probe.start()
    out, err = crawl.communicate(timeout=FAILSAFE)
    seconds = time.monotonic() - started
    probe.stop()
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    if crawl.returncode != 0:
        raise SystemExit(f"{name}: crawl failed: {err.decode()[-2000:]}")
    row = _row(name, site, seconds, json.loads(out), delay)
    row["profile"] = report = probe.report(row["pages"], None)
    # the crawl exited between two samples: its exact total, less what its pool used
    total = (reaped.ru_utime + reaped.ru_stime) - (children.ru_utime + children.ru_stime)
    roles = report["cpu_by_role"]
    roles["worker loops"] = total - roles.get("extraction", 0.0)
    report["cpu_total"] = sum(v for k, v in roles.items() if not k.startswith("of which"))
    report["machine_busy"] = report["cpu_total"] / (report["wall"] * (os.cpu_count() or 1))
    return row


def _row(name: str, site: Site, seconds: float, report: dict[str, Any], delay: float,
         **extra: Any) -> dict[str, Any]:
    pages = site.pages_served()
    bad, shortest = site.violations(delay)
    return {"name": name, "seconds": seconds, "pages": pages, "per_s": pages / seconds,
            "stored": report["new_version"], "violations": bad, "min_gap": shortest, **extra}


# ---- the writer --------------------------------------------------------------------------

def writer_run(tmp: Path, results: int, per_result: int) -> dict[str, Any]:
    """Fill the results stream with a backlog, then time the coordinator storing it."""
    from scraper.config import Config
    from scraper.crawl import CrawlReport
    from scraper.extract import extract
    from scraper.models import Outcome, Page
    from scraper.queue import queued_crawl, versions
    from scraper.queue.messages import HostResult, Job, UrlResult, encode_result
    from scraper.sites import site_named
    from scraper.store import Archive

    folder = tmp / "writer"
    folder.mkdir()
    redis = Redis(folder)
    schema, code = versions()
    generic = site_named("generic")
    raws = corpus_pages()
    articles = [extract(raw.decode("utf-8", "replace"), url="http://127.0.0.1/x", site=generic)
                for raw in raws]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    # the engine's own setup: the coordinator's group, then a backlog on the stream
    asyncio.run(_group(redis.url))
    for r in range(results):
        urls = []
        for j in range(per_result):
            n = r * per_result + j
            url = f"http://127.0.{r // 250 + 3}.{r % 250 + 1}/news/{j}"
            art = articles[n % len(articles)]
            art = replace(art, url=url, text=f"{art.text}\n\nEdit {n}.")
            page = Page(url=url, final_url=url, status=200, raw=raws[n % len(raws)],
                        http={"response": {"headers": [["Content-Type", "text/html"]]}})
            urls.append(UrlResult(Job(url, "generic"), "page", now, 10, status=200, attempts=1,
                                  final_url=url, article=art, page=page, raw_hash=f"{n:064x}",
                                  extractor="bench"))
        fields = encode_result(HostResult(f"t{r}", url, schema, code, urls=tuple(urls)))
        redis.client.xadd("scraper:results", fields)  # type: ignore[arg-type]
    stored = results * per_result
    with Archive(folder / "a.db") as archive:
        report = CrawlReport(archive.start_crawl([]))
        started = time.monotonic()
        asyncio.run(queued_crawl(archive, Config(), [], report, redis.url))
        seconds = time.monotonic() - started
    redis.stop()
    with closing(sqlite3.connect(folder / "a.db")) as conn:
        versions_stored = conn.execute("SELECT count(*) FROM versions").fetchone()[0]
    assert versions_stored == stored == report.counts[Outcome.NEW_VERSION], (
        versions_stored, stored, report.counts)
    return {"name": "writer", "seconds": seconds, "stored": stored, "per_s": stored / seconds}


async def _group(url: str) -> None:
    from redis.asyncio import Redis as AsyncRedis

    from scraper.queue.engine import COORDINATOR, RESULTS
    from scraper.queue.engine import _group as make_group

    client = AsyncRedis.from_url(url)
    await make_group(client, RESULTS, COORDINATOR)
    await client.aclose()


# ---- the report --------------------------------------------------------------------------

def pct(values: list[int], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--articles", type=int, default=5)
    parser.add_argument("--pages", type=int, default=30,
                        help="corpus pages per host in the cpu and overhead runs (20 hosts)")
    parser.add_argument("--only", default="coordination,cpu,overhead,writer")
    parser.add_argument("--py-spy", type=Path, metavar="DIR", dest="spy",
                        help="record py-spy samples (raw) of worker 0's loop and the "
                             "coordinator in the cpu and overhead runs into DIR")
    args = parser.parse_args()
    if args.spy:
        args.spy.mkdir(parents=True, exist_ok=True)
    if shutil.which("redis-server") is None:
        raise SystemExit("bench/scaleout.py: redis-server is not installed")
    only = set(args.only.split(","))
    rows: list[dict[str, Any]] = []
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if "coordination" in only:
            site = Site(args.hosts, [small_page(i) for i in range(args.articles)],
                        args.articles, latency=0.2)
            coord = [queued_run(site, tmp, f"coordination-{w}", w,
                                ["--hosts", "8", "--processes", "0"], delay=0.5)
                     for w in (1, 2, 4)]
            site.stop()
            rows += coord
            x1 = coord[0]["per_s"]
            lines.append("Coordination scaling (politeness-bound: "
                         f"{args.hosts} hosts × {args.articles} articles, 200 ms latency, "
                         "0.5 s delay, --hosts 8 per worker): "
                         + ", ".join(f"{w} worker{'s' * (w > 1)} {r['per_s']:.1f} pages/s "
                                     f"(efficiency {r['per_s'] / (w * x1):.2f})"
                                     for w, r in zip((1, 2, 4), coord)))
        if "cpu" in only or "overhead" in only:
            site = Site(20, corpus_pages(), args.pages, latency=0.0)
            if "cpu" in only:
                one = queued_run(site, tmp, "cpu-1x1", 1, ["--processes", "1"], delay=0.0,
                                 spy=args.spy)
                two = queued_run(site, tmp, "cpu-2x1", 2, ["--processes", "1"], delay=0.0,
                                 spy=args.spy)
                rows += [one, two]
                lines.append(f"CPU scaling (real pages, 20 hosts × {args.pages}): 1 worker × 1 process "
                             f"{one['per_s']:.1f} pages/s, 2 workers × 1 process "
                             f"{two['per_s']:.1f} pages/s: {two['per_s'] / one['per_s']:.2f}×")
            if "overhead" in only:
                pool = queued_run(site, tmp, "overhead-queue", 1, [], delay=0.0, spy=args.spy)
                local = local_run(site, tmp, "overhead-local", delay=0.0)
                rows += [pool, local]
                lines.append(f"Overhead: 1 worker with the usual pool {pool['per_s']:.1f} "
                             f"pages/s vs a local crawl {local['per_s']:.1f} pages/s: "
                             f"{pool['per_s'] / local['per_s']:.2f}×; "
                             f"{pool['commands'] / max(1, pool['pages']):.1f} Redis commands "
                             f"per page; from send to start p50 {pct(pool['waits'], 0.5)}, "
                             f"p99 {pct(pool['waits'], 0.99)}")
            site.stop()
        if "writer" in only:
            writer = writer_run(tmp, 100, 10)
            rows.append(writer)
            lines.append(f"Writer headroom: {writer['stored']} versions from a backlog in "
                         f"{writer['seconds']:.1f} s: {writer['per_s']:.0f} versions/s")
        fetching = [r for r in rows if "violations" in r]
        lines.append("Politeness: " + ", ".join(
            f"{r['name']} {r['violations']} (shortest gap {r['min_gap'] * 1000:.0f} ms)"
            for r in fetching))
    cpu = platform.processor() or platform.machine()
    print(f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores "
          f"({cpu}, {platform.system()}), Python {platform.python_version()}:\n")
    for line in lines:
        print(f"- {line}")
    print("\n| run | seconds | pages | pages/s | stored | violations |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['seconds']:.1f} | {r.get('pages', '-')} | {r['per_s']:.1f} "
              f"| {r['stored']} | {r.get('violations', '-')} |")
    profiled = [r for r in rows if "profile" in r]
    if profiled:
        print("\nCPU per process role (utime + stime from /proc over the crawl's clock):\n")
        for r in profiled:
            for line in markdown(r["name"], r["profile"]):
                print(f"- {line}")


if __name__ == "__main__":
    main()
