"""`scraper crawl --queue` and `scraper worker` processes on a real redis-server, against a
local multi-host site (127.0.0.2, .3, .4: Linux routes 127.0.0.0/8 to loopback).

Kill points are reached by construction: a page whose response the server holds until the
test has killed what it wanted to kill. Nothing waits a guessed time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from local_site import article_html, assert_intact, rows, serve_site
from redis_server import RedisServer
from server import Response, TestServer

pytestmark = pytest.mark.slow

HOSTS = {"alpha": ("127.0.0.2", 6), "beta": ("127.0.0.3", 4), "gamma": ("127.0.0.4", 4)}
ARTICLES = sum(n for _, n in HOSTS.values())
DELAY = 0.3
FAILSAFE = 120.0


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux


class LoggedServer(TestServer):
    """A TestServer that logs every request with its host and the time its first bytes
    reached the kernel (SO_TIMESTAMPNS), read by the accepting side before the request is
    handled: a stamp taken in Python would come late whenever this process waits for a CPU
    (five busy processes on two cores), and two requests could look closer than they were."""

    log: ClassVar[list[tuple[str, str, float]]] = []

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self._httpd.socket.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        handle = self._httpd.finish_request

        def stamped(request: socket.socket, address: Any) -> None:
            request.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            request.settimeout(FAILSAFE)
            data, ancillary, _, _ = request.recvmsg(64, 1024, socket.MSG_PEEK)
            request.settimeout(None)
            stamps = [struct.unpack("qq", d[:16]) for level, kind, d in ancillary
                      if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS]
            assert stamps, "the kernel gave no receive time"
            path = data.split(b" ")[1].decode() if data.count(b" ") > 1 else "?"
            self.log.append((self.host, path, stamps[0][0] + stamps[0][1] / 1e9))
            handle(request, address)

        self._httpd.finish_request = stamped  # type: ignore[method-assign]


class Hold:
    """A response the server holds until ``release()``; ``arrived`` is set when asked for."""

    def __init__(self, html: str) -> None:
        self.arrived, self.released = threading.Event(), threading.Event()
        self.body = html.encode()

    def response(self) -> Response:
        def write(req: BaseHTTPRequestHandler) -> None:
            self.arrived.set()
            while not (self.released.is_set() or req.test_server.stopping.is_set()):  # type: ignore[attr-defined]
                self.released.wait(0.05)
            req.send_response(200)
            req.send_header("Content-Type", "text/html; charset=utf-8")
            req.send_header("Content-Length", str(len(self.body)))
            req.end_headers()
            req.wfile.write(self.body)

        return Response(handler=write)

    def wait(self) -> None:
        assert self.arrived.wait(FAILSAFE), "the held page was never asked for"

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, LoggedServer]]:
    LoggedServer.log = []
    servers = {name: LoggedServer(host).start() for name, (host, _) in HOSTS.items()}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


def config_for(tmp_path: Path, servers: dict[str, LoggedServer]) -> Path:
    tables = []
    for name, server in servers.items():
        feed, sitemap = serve_site(server, HOSTS[name][1])
        tables.append(f"""
[sites.{name}]
domains = ["{server.host}"]
feeds = ["{feed}"]
sitemaps = ["{sitemap}"]
article_path = '^/news/\\d+$'
""")
    path = tmp_path / "scraper.toml"
    # only these sites: a crawl of every adapter would reach for the internet
    path.write_text(f"[crawl]\ndelay = {DELAY}\nsites = {json.dumps(list(HOSTS))}\n"
                    + "".join(tables))
    return path


class Fleet:
    """`scraper worker` processes and `scraper crawl` runs, all stopped at the end."""

    def __init__(self, tmp_path: Path, config: Path, redis: RedisServer) -> None:
        self.tmp, self.config, self.redis = tmp_path, config, redis
        self.workers: list[subprocess.Popen[str]] = []
        self.env = {**os.environ, "SCRAPER_CONFIG": str(config)}
        self.env.pop("SCRAPER_QUEUE", None)

    def worker(self, *extra: str) -> subprocess.Popen[str]:
        with open(self.tmp / f"worker-{len(self.workers)}.log", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "scraper", "worker", "--queue", self.redis.url,
                 "--processes", "0", "--redeliver-after", "1", "--lease-ttl", "1", *extra],
                env=self.env, stdout=subprocess.DEVNULL, stderr=log, text=True)
        self.workers.append(proc)
        return proc

    def crawl(self, db: Path, *extra: str, queue: bool = True) -> subprocess.Popen[str]:
        args = ["--queue", self.redis.url] if queue else []
        return subprocess.Popen([sys.executable, "-m", "scraper", "crawl", "--db", str(db),
                                 "--json", *args, *extra],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def worker_logs(self) -> str:
        return "".join(p.read_text() for p in sorted(self.tmp.glob("worker-*.log")))

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


@pytest.fixture
def fleet(tmp_path: Path, site: dict[str, LoggedServer], redis: RedisServer) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path, config_for(tmp_path, site), redis)
    try:
        yield fleet
    finally:
        fleet.stop()


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=FAILSAFE)
    return proc.returncode, out, err


def archived(db: Path) -> set[tuple[Any, ...]]:
    return set(rows(db, "SELECT a.site, a.article_key, v.version, v.content_hash, v.text"
                        " FROM articles a JOIN versions v ON v.article_id = a.id"))


def worst_pair() -> tuple[Any, ...]:
    by_host: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for host, path, at in LoggedServer.log:
        by_host[host].append((at, path))
    pairs = [(b[0] - a[0], host, a[1], b[1]) for host, t in by_host.items()
             for a, b in zip(sorted(t), sorted(t)[1:])]
    return min(pairs)


def min_gaps() -> dict[str, float]:
    """The shortest time between two requests to each host."""
    times: dict[str, list[float]] = defaultdict(list)
    for host, _, at in LoggedServer.log:
        times[host].append(at)
    return {host: min((b - a for a, b in zip(sorted(t), sorted(t)[1:])), default=99.0)
            for host, t in times.items()}


def test_three_workers_archive_every_article_once_politely_as_a_local_crawl(
        tmp_path: Path, fleet: Fleet) -> None:
    for _ in range(3):
        fleet.worker()
    code, out, err = finish(fleet.crawl(tmp_path / "queued.db"))
    assert code == 0, err
    report = json.loads(out)
    assert (report["discovered"], report["new_version"], report["error"]) == (ARTICLES,
                                                                              ARTICLES, 0)
    assert rows(tmp_path / "queued.db", "SELECT count(*), count(DISTINCT article_key)"
                " FROM articles") == [(ARTICLES, ARTICLES)]
    gaps = min_gaps()
    assert set(gaps) == {host for host, _ in HOSTS.values()}
    assert min(gaps.values()) >= DELAY, (worst_pair(), fleet.worker_logs())
    code, _, err = finish(fleet.crawl(tmp_path / "local.db", queue=False))
    assert code == 0, err
    assert archived(tmp_path / "queued.db") == archived(tmp_path / "local.db")
    assert_intact(tmp_path / "queued.db")


def test_a_worker_killed_mid_task_and_the_work_still_completes(
        tmp_path: Path, fleet: Fleet, site: dict[str, LoggedServer]) -> None:
    hold = Hold(article_html(3))
    site["alpha"].route("/news/3", hold.response(), Response.html(article_html(3)))
    first = fleet.worker()
    crawl = fleet.crawl(tmp_path / "a.db")
    hold.wait()  # the only worker is inside the alpha task, waiting for /news/3
    first.kill()
    first.wait()
    hold.release()
    fleet.worker()  # takes the dead worker's task over once it has been idle 1 s
    fleet.worker()
    code, out, err = finish(crawl)
    assert code == 0, err
    assert json.loads(out)["new_version"] == ARTICLES
    assert rows(tmp_path / "a.db", "SELECT count(*) FROM versions") == [(ARTICLES,)]
    assert site["alpha"].hits("/news/3") == 2  # asked by the dead worker, then again
    gaps = min_gaps()
    assert min(gaps.values()) >= DELAY, (worst_pair(), fleet.worker_logs())


def test_a_killed_coordinator_leaves_results_that_the_next_run_stores(
        tmp_path: Path, fleet: Fleet, site: dict[str, LoggedServer], redis: RedisServer) -> None:
    hold = Hold(article_html(2))
    site["beta"].route("/news/2", hold.response())
    fleet.worker()
    crawl = fleet.crawl(tmp_path / "a.db")
    hold.wait()
    crawl.kill()
    crawl.wait()
    hold.release()  # the worker finishes its task: the result waits in Redis
    assert _results_waiting(redis) >= 1
    code, _, err = finish(fleet.crawl(tmp_path / "a.db"))
    assert code == 0, err
    assert "did not finish (killed?)" in err
    assert site["beta"].hits("/news/2") == 1  # stored from the result that waited
    assert rows(tmp_path / "a.db", "SELECT count(DISTINCT article_key) FROM articles") == [
        (ARTICLES,)]
    assert rows(tmp_path / "a.db", "SELECT count(*) FROM versions") == [(ARTICLES,)]
    assert rows(tmp_path / "a.db", "SELECT status FROM crawls ORDER BY id") == [
        ("interrupted",), ("finished",)]
    assert_intact(tmp_path / "a.db")


def test_redis_stopped_mid_run_is_one_line_and_the_next_run_finishes(
        tmp_path: Path, fleet: Fleet, site: dict[str, LoggedServer], redis: RedisServer) -> None:
    hold = Hold(article_html(4))
    site["gamma"].route("/news/4", hold.response(), Response.html(article_html(4)))
    worker = fleet.worker()
    crawl = fleet.crawl(tmp_path / "a.db")
    hold.wait()
    redis.stop()
    code, out, err = finish(crawl)
    hold.release()
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert lines[-1].startswith("scraper: error: cannot use the queue at "), err
    assert "Traceback" not in err
    assert worker.wait(timeout=FAILSAFE) == 1
    assert_intact(tmp_path / "a.db")
    redis.start()  # empty: Redis keeps nothing here, the archive holds what was stored
    fleet.worker()
    fleet.worker()
    code, out, err = finish(fleet.crawl(tmp_path / "a.db"))
    assert code == 0, err
    assert rows(tmp_path / "a.db", "SELECT count(DISTINCT article_key) FROM articles") == [
        (ARTICLES,)]
    assert rows(tmp_path / "a.db", "SELECT count(*) FROM versions") == [(ARTICLES,)]
    assert rows(tmp_path / "a.db", "SELECT status FROM crawls ORDER BY id") == [
        ("failed",), ("finished",)]


def test_without_redis_the_crawl_says_so_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scraper", "crawl", "--db", str(tmp_path / "a.db"), "--queue",
         f"unix://{tmp_path}/none.sock"], capture_output=True, text=True, timeout=FAILSAFE,
        check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "scraper: error: cannot use the queue at unix://"), proc.stderr
    assert "Traceback" not in proc.stderr


def _results_waiting(redis: RedisServer) -> int:
    """How many results wait on the stream once every task sent has been done."""
    import redis as redis_py

    client = redis_py.Redis.from_url(redis.url)
    failsafe = time.monotonic() + FAILSAFE
    try:
        # polled: a worker's send is not announced anywhere; the failsafe only bounds a hang
        while True:
            (group,) = client.xinfo_groups("scraper:tasks")
            if group["pending"] == 0 and group["lag"] == 0:
                return int(client.xlen("scraper:results"))
            assert time.monotonic() < failsafe, "the worker never finished its tasks"
            time.sleep(0.01)
    finally:
        client.close()


def test_a_worker_of_another_version_refuses_to_start_in_one_line(
        tmp_path: Path, redis: RedisServer) -> None:
    import redis as redis_py

    client = redis_py.Redis.from_url(redis.url)
    client.set("scraper:handshake", json.dumps({"schema": 1, "code": "scraper 0.0.1 old"}))
    client.close()
    proc = subprocess.run([sys.executable, "-m", "scraper", "worker", "--queue", redis.url,
                           "--processes", "0"], capture_output=True, text=True,
                          timeout=FAILSAFE, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "the coordinator runs schema 1, extractor scraper 0.0.1 old" in proc.stderr
