"""Crawl speed and memory: our crawl beside the extraction-only ceiling, trafilatura, newspaper4k.

    python bench/crawl.py [--pages 1000] [--rss-pages 10000] [--concurrency 16] [--latency 0.05]
                          [--steps ceiling,crawl,recrawl,trafilatura,newspaper] [--repeat 3]
                          [--no-readme]

One run starts bench/crawl_site.py (N real corpus pages under distinct URLs, an RSS feed and a
sitemap listing all N, ~50 ms per response, ETags switchable) on 127.0.0.1 and measures, each
tool in its own child process so that its memory is its own:

1. our first crawl: ``run_crawl`` (as ``scraper crawl`` runs it: lock, archive, ``make_pool()``)
   with a Site subclass whose feed and sitemap are the local server's; delay 0, concurrency
   ``--concurrency``; pages/s and peak memory of the process tree;
2. the extraction-only ceiling: the same N pages through ``scraper.extract`` in a
   ProcessPoolExecutor of one process per core, no network, no database;
3. re-crawls of the same unchanged pages, every article made due first: with ETags (304s) and
   without (200 with the same bytes: our raw-hash skip);
4. trafilatura's CLI (``--input-file``, ``--parallel``, SLEEP_TIME 0) and newspaper4k's
   ``fetch_news`` thread pool on the same URLs;
5. our first crawl again at ``--rss-pages`` (10,000) for its peak memory.

``--repeat N`` runs steps 1 and 2 N times, interleaved (ceiling, crawl, ceiling, crawl ...)
so that a change in the machine's load hits both, and reports the median of the wall times
and, separately, of the CPU per page.

Memory is sampled every 50 ms over the child's whole process tree (so the extraction workers
count) from /proc: the sum of RSS (pages shared by forked workers counted once per process,
an over-count) and the sum of PSS (shared pages split between their users: what the tree
really holds). Prints a Markdown table and writes it into bench/README.md under ``## Crawl``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if os.environ.get("BENCH_CRAWL_SRC"):  # --ref: import the exported commit, not the install
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "__module__", "").startswith("__editable__")]
    sys.path.insert(0, os.environ["BENCH_CRAWL_SRC"])
from crawl_site import DEFAULT_CORPUS, corpus_pages  # noqa: E402

from scraper.sites import Site  # noqa: E402

STEPS = ("ceiling", "crawl", "recrawl", "trafilatura", "newspaper")
START, END = "<!-- bench/crawl.py results: start -->", "<!-- bench/crawl.py results: end -->"


class BenchNews(Site):
    """The benchmark site; its feed and sitemap are set to the local server's at run time."""

    name = "benchnews"
    domains = ("127.0.0.1",)
    article_path = r"^/news/\d+$"


def bench_site(base: str) -> BenchNews:
    site = BenchNews()
    site.feeds = (f"{base}/rss",)  # type: ignore[misc]
    site.sitemaps = (f"{base}/sitemap.xml",)  # type: ignore[misc]
    return site


# --- the child processes: each prints one JSON line on stdout -------------------------------

def child_crawl(opts: dict[str, Any]) -> dict[str, Any]:
    """Our crawl, as `scraper crawl` runs it, against the local site."""
    import resource

    from scraper.config import Config, SiteSettings
    from scraper.crawl import run_crawl
    from scraper.workers import crawl_lock, make_pool
    from scraper.store import Archive

    db, n = Path(opts["db"]), opts["pages"]
    if opts["recheck"]:  # every article due now, as if its re-check time had come
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE articles SET next_check = '2000-01-01T00:00:00+00:00'"
                         " WHERE next_check IS NOT NULL")
    config = Config(max_checks=max(n, 2000), defaults=SiteSettings(
        delay=0, concurrency=opts["concurrency"], max_age=None))
    planned: dict[str, float] = {}
    start = time.perf_counter()

    def on_total(count: int) -> None:
        planned.update(jobs=count, seconds=time.perf_counter() - start,
                       cpu=time.process_time())  # this process only: no worker yet

    with crawl_lock(db), Archive(db) as archive:
        crawl_id = archive.start_crawl([BenchNews.name])
        with make_pool() as pool:
            report = asyncio.run(run_crawl(
                archive, config, [bench_site(opts["base"])], crawl_id=crawl_id,
                max_time=opts["max_time"], pool=pool, on_total=on_total))
        archive.finish_crawl(crawl_id, dict(report.counts), report.status)
    seconds = time.perf_counter() - start
    me, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                      resource.RUSAGE_CHILDREN))
    return {"seconds": seconds, "plan_seconds": planned.get("seconds"),
            "plan_cpu": planned.get("cpu"),
            "cpu_self": me.ru_utime + me.ru_stime, "cpu_children": kids.ru_utime + kids.ru_stime,
            "jobs": planned.get("jobs"), "status": report.status, "counts": dict(report.counts),
            "maxrss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "maxrss_children_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def _extract_one(html: str, url: str) -> int:
    from scraper.extract import extract

    return len(extract(html, url=url, site=_SITE).text)


_SITE = BenchNews()


def child_ceiling(opts: dict[str, Any]) -> dict[str, Any]:
    """The same pages through scraper.extract on every core: no network, no database."""
    from concurrent.futures import ProcessPoolExecutor

    from scraper.fetch import decode_html

    # decoded once, as the crawl's fetch does in the parent before handing html to the pool
    pages = [decode_html(raw, "text/html; charset=utf-8")[0]
             for _, raw in corpus_pages(Path(opts["corpus"]))]
    n, base = opts["pages"], opts["base"]
    htmls = [pages[i % len(pages)] for i in range(n)]
    urls = [f"{base}/news/{i}" for i in range(n)]
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # warm every worker first (imports, lazy caches): the ceiling is the steady state
        list(pool.map(_extract_one, pages * workers, urls[:len(pages)] * workers))
        pids = list(pool._processes)  # the workers' CPU time, read from /proc around the run
        cpu, start = sum(map(_cpu_of, pids)), time.perf_counter()
        sizes = list(pool.map(_extract_one, htmls, urls, chunksize=4))
        seconds, cpu = time.perf_counter() - start, sum(map(_cpu_of, pids)) - cpu
    return {"seconds": seconds, "cpu": cpu, "workers": workers, "ok": sum(1 for s in sizes if s)}


def child_newspaper(opts: dict[str, Any]) -> dict[str, Any]:
    """newspaper4k's multithreaded fetch_news (download + parse) on the URL list."""
    import logging

    import newspaper
    from newspaper.mthreading import fetch_news

    logging.disable(logging.WARNING)
    config = newspaper.Config()
    config.fetch_images = False  # the pages' images live on the internet: never fetched here
    config.allow_binary_content = True  # skips a HEAD and a probing GET before every page
    config.memorize_articles = False
    urls = Path(opts["urls"]).read_text().split()
    articles = [newspaper.Article(url, config=config) for url in urls]
    start = time.perf_counter()
    error = None
    try:
        fetch_news(articles, threads=opts["threads"])
    except Exception as exc:  # fetch_news re-raises the first failed article's error
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "ok": sum(1 for a in articles if a.text), "error": error,
            "version": newspaper.__version__}


CHILDREN = {"_crawl": child_crawl, "_ceiling": child_ceiling, "_newspaper": child_newspaper}


# --- measuring a child: wall time and its process tree's memory -----------------------------

def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += map(int, Path(f"/proc/{p}/task/{task}/children").read_text().split())
        except OSError:
            pass  # exited meanwhile
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB summed over the process tree under ``pid``."""
    rss = pss = 0
    for p in _tree(pid):
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss


@dataclass
class Run:
    """One measured child process."""

    wall: float = 0.0
    peak_rss_kb: int = 0
    peak_pss_kb: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    returncode: int = 0
    stderr: str = ""


def measure(cmd: list[str], timeout: float) -> Run:
    """Run ``cmd``, sampling its tree's memory every 50 ms; kill its group at ``timeout``."""
    run = Run()
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                rss, pss = _memory_kb(proc.pid)
                run.peak_rss_kb, run.peak_pss_kb = (max(run.peak_rss_kb, rss),
                                                    max(run.peak_pss_kb, pss))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the group we started, and nothing else
            out, _ = proc.communicate()
            run.stderr = f"killed after {timeout:.0f} s\n"
        run.wall = time.perf_counter() - start
        done.set()
        sampler.join()
        run.returncode = proc.returncode
        err.seek(0)
        run.stderr += err.read()
    lines = [line for line in (out or "").splitlines() if line.startswith("{")]
    run.result = json.loads(lines[-1]) if lines else {}
    return run


class Server:
    """bench/crawl_site.py in a child process; stops when we close its stdin."""

    def __init__(self, pages: int, latency: float, corpus: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "crawl_site.py"), "--pages", str(pages),
             "--latency", str(latency), "--corpus", str(corpus)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def control(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base}/_bench/{path}", timeout=10) as response:
            return json.loads(response.read())

    def cpu_seconds(self) -> float:
        return _cpu_of(self.proc.pid)

    def stop(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Row:
    name: str
    pages: int
    seconds: float
    served: str
    server_cpu: float
    run: Run
    cpu: float = 0.0  # CPU seconds of the tool's whole process tree (user + system)
    load: float = 0.0  # the machine's 1-minute load average when the run ended
    note: str = ""

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_page(self) -> float:
        """CPU seconds per page; the ceiling's own figure excludes its workers' warm-up."""
        cpu = self.run.result.get("cpu", self.cpu)
        return cpu / self.pages if self.pages else 0.0


def served(before: dict[str, Any], after: dict[str, Any]) -> str:
    diff = {k: after.get(k, 0) - before.get(k, 0) for k in ("200", "304", "404", "listing 304",
                                                        "connections")}
    return ", ".join(f"{v} × {k}" for k, v in diff.items() if v) or "-"


def step(server: Server, name: str, pages: int, cmd: list[str], timeout: float,
         seconds_from: str = "result", note: str = "") -> Row:
    """Measure one tool against the server: its time, memory and what the server answered."""
    print(f"… {name}", file=sys.stderr, flush=True)
    before, cpu = server.control("stats"), server.cpu_seconds()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = measure(cmd, timeout)
    now = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child and all it reaped
    after = server.control("stats")
    if run.returncode != 0 or run.result.get("error"):
        tail = "\n".join(run.stderr.strip().splitlines()[-5:])
        note = (note + f" exit {run.returncode} {run.result.get('error') or ''} {tail}").strip()
    seconds = run.result.get("seconds", run.wall) if seconds_from == "result" else run.wall
    if "cpu_self" in run.result:  # our crawl: where its CPU went
        split = (f"CPU/page: {1000 * run.result['cpu_self'] / pages:.1f} ms crawl process + "
                 f"{1000 * run.result['cpu_children'] / pages:.1f} ms extraction workers")
        if run.result.get("plan_cpu") is not None:  # start-up and discovery left out
            split += (f" ({1000 * (run.result['cpu_self'] - run.result['plan_cpu']) / pages:.2f}"
                      f" ms after discovery)")
        note = f"{note}; {split}" if note else split
    tool_cpu = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
    return Row(name, pages, seconds, served(before, after), server.cpu_seconds() - cpu, run,
               tool_cpu, os.getloadavg()[0], note)


def child(name: str, **opts: Any) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), name, json.dumps(opts)]


def trafilatura_config(path: Path) -> Path:
    """trafilatura's own settings.cfg with its per-host sleep off and loopback allowed."""
    import trafilatura

    text = (Path(trafilatura.__file__).parent / "settings.cfg").read_text()
    text = re.sub(r"(?m)^SLEEP_TIME\s*=.*$", "SLEEP_TIME = 0", text)
    text = re.sub(r"(?m)^SSRF_PROTECTION\s*=.*$", "SSRF_PROTECTION = off", text)
    path.write_text(text)
    return path


def startup_seconds(cmd: list[str]) -> float:
    """The median time ``cmd`` takes to start and exit (imports included)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return sorted(times)[1]


def run_all(args: argparse.Namespace, tmp: Path) -> tuple[list[Row], dict[str, Any]]:
    n, rows = args.pages, []
    extra: dict[str, Any] = {}
    server = Server(n, args.latency, args.corpus)
    try:
        urls = tmp / "urls.txt"
        urls.write_text("".join(f"{server.base}/news/{i}\n" for i in range(n)))
        db = tmp / "archive.db"
        crawl = dict(base=server.base, pages=n, db=str(db), concurrency=args.concurrency,
                     max_time=args.timeout)
        ceilings: list[Row] = []
        firsts: list[Row] = []
        for attempt in range(args.repeat):  # interleaved, so that load changes hit both
            if "ceiling" in args.steps:
                ceilings.append(step(server, "extraction-only ceiling", n, child(
                    "_ceiling", pages=n, base=server.base, corpus=str(args.corpus)),
                    args.timeout, note="scraper.extract, one process per core, no I/O"))
            if "crawl" in args.steps or "recrawl" in args.steps:
                db = tmp / f"archive-{attempt}.db"  # a first crawl: a fresh archive each time
                crawl["db"] = str(db)
                firsts.append(step(server, "our first crawl", n,
                                   child("_crawl", recheck=False, **crawl), args.timeout,
                                   note="feed + sitemap discovery included"))
        rows += [median_row(runs) for runs in (ceilings, firsts) if runs]
        if "recrawl" in args.steps:
            server.control("etags/on")
            rows.append(step(server, "our re-crawl, ETags (304)", n,
                             child("_crawl", recheck=True, **crawl), args.timeout,
                             note="all articles made due"))
            server.control("etags/off")
            rows.append(step(server, "our re-crawl, no ETags (same bytes)", n,
                             child("_crawl", recheck=True, **crawl), args.timeout,
                             note="raw-hash skip"))
            server.control("etags/on")
        if "trafilatura" in args.steps:
            exe = str(Path(sys.executable).with_name("trafilatura"))
            cfg = trafilatura_config(tmp / "trafilatura.cfg")
            startup = startup_seconds([exe, "--version"])
            out = tmp / "trafilatura-out"
            row = step(server, "trafilatura CLI", n, [
                exe, "--input-file", str(urls), "--parallel", str(args.concurrency),
                "--config-file", str(cfg), "--with-metadata", "--json", "-o", str(out)],
                args.timeout, seconds_from="wall")
            row.seconds = max(row.seconds - startup, 1e-9)
            row.note = (f"--parallel {args.concurrency}, SLEEP_TIME 0; wall − {startup:.1f} s "
                        f"start-up; {row.note}").strip("; ")
            rows.append(row)
        if "newspaper" in args.steps:
            row = step(server, "newspaper4k fetch_news", n,
                       child("_newspaper", urls=str(urls), threads=args.concurrency),
                       args.timeout)
            ok = row.run.result.get("ok", 0)
            row.note = (f"{args.concurrency} threads, {ok}/{n} with text; {row.note}").strip("; ")
            rows.append(row)
    finally:
        server.stop()
    if args.rss_pages and ("crawl" in args.steps):
        big = args.rss_pages
        server = Server(big, args.latency, args.corpus)
        try:
            db = tmp / "archive-big.db"
            rows.append(step(server, "our first crawl", big, child(
                "_crawl", recheck=False, base=server.base, pages=big, db=str(db),
                concurrency=args.concurrency, max_time=args.timeout * big / n), args.timeout *
                big / n + 60, note="for peak memory"))
            if "recrawl" in args.steps:  # re-checks at a size where start-up is amortised
                rows.append(step(server, "our re-crawl, ETags (304)", big, child(
                    "_crawl", recheck=True, base=server.base, pages=big, db=str(db),
                    concurrency=args.concurrency, max_time=args.timeout * big / n),
                    args.timeout * big / n + 60, note="all articles made due"))
        finally:
            server.stop()
    return rows, extra


def median_row(runs: list[Row]) -> Row:
    """One row for repeated runs: the median time and, separately, the median CPU/page."""
    if len(runs) == 1:
        return runs[0]
    middle = len(runs) // 2
    mid = sorted(runs, key=lambda r: r.seconds)[middle]
    cpu = sorted(r.cpu_per_page for r in runs)[middle] * mid.pages
    each = ", ".join(f"{r.rate:.1f}/s {1000 * r.cpu_per_page:.1f} ms" for r in runs)
    return replace(mid, run=replace(mid.run, result={**mid.run.result, "cpu": cpu}),
                   load=max(r.load for r in runs),
                   note=f"median of {len(runs)} (pages/s, CPU ms/page: {each}); {mid.note}")


def code_under_test(ref: str | None, tmp: Path) -> str:
    """Export ``ref`` for the children to import, and say which code is measured."""
    def git(*argv: str) -> str:
        return subprocess.run(["git", "-C", str(HERE.parent), *argv], capture_output=True,
                              text=True, check=True).stdout.strip()

    if ref:
        commit = git("rev-parse", "--short", ref)
        src = tmp / "src"
        src.mkdir()
        archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", commit, "scraper",
                                  "sites"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        os.environ["BENCH_CRAWL_SRC"] = str(src)  # read by the children at import
        return f"scraper at commit {commit}"
    try:
        dirty = git("status", "--porcelain", "--", "scraper", "sites")
        return f"scraper at commit {git('rev-parse', '--short', 'HEAD')}" + (
            " plus uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "scraper as installed"


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def table(rows: list[Row]) -> str:
    lines = ["| run | pages | seconds | pages/s | CPU ms/page | peak RSS sum (MB) "
             "| peak PSS sum (MB) | server answered | server CPU (s) | load | notes |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r.name} | {r.pages:,} | {r.seconds:.1f} | {r.rate:.1f} "
                     f"| {1000 * r.cpu_per_page:.1f} | {mb(r.run.peak_rss_kb)} "
                     f"| {mb(r.run.peak_pss_kb)} | {r.served} | {r.server_cpu:.1f} "
                     f"| {r.load:.1f} | {r.note} |")
    return "\n".join(lines)


def targets(rows: list[Row], n: int, big: int) -> list[str]:
    """One line per target: met or missed, with the measured ratio."""
    by = {(r.name, r.pages): r for r in rows}
    first, ceiling = by.get(("our first crawl", n)), by.get(("extraction-only ceiling", n))
    etag = by.get(("our re-crawl, ETags (304)", n))
    large = by.get(("our first crawl", big))
    peers = [by.get(("trafilatura CLI", n)), by.get(("newspaper4k fetch_news", n))]
    out = []

    def line(ok: bool, text: str) -> None:
        out.append(f"- **{'Met' if ok else 'Missed'}**: {text}")

    if first and ceiling:
        ratio = first.rate / ceiling.rate
        cpu = ceiling.cpu_per_page / first.cpu_per_page
        line(min(ratio, cpu) >= 0.9, f"first crawl ≥ 90% of the extraction-only ceiling in wall "
             f"time and in CPU per page: {ratio:.0%} in wall time ({first.rate:.1f} vs "
             f"{ceiling.rate:.1f} pages/s), {cpu:.0%} in CPU ({1000 * first.cpu_per_page:.1f} vs "
             f"{1000 * ceiling.cpu_per_page:.1f} ms/page)")
    def recrawl(first: Row, etag: Row, what: str) -> None:
        ratio = etag.rate / first.rate
        cpu = first.cpu_per_page / etag.cpu_per_page if etag.cpu_per_page else 0.0
        line(min(ratio, cpu) >= 20, f"{what}: {ratio:.1f}× in wall time ({etag.rate:.1f} vs "
             f"{first.rate:.1f} pages/s), {cpu:.1f}× in CPU ({1000 * etag.cpu_per_page:.2f} vs "
             f"{1000 * first.cpu_per_page:.1f} ms/page)")

    if first and etag:
        recrawl(first, etag, "re-crawl with ETags ≥ 20× the first crawl in wall time and in "
                "CPU per page")
    large_etag = by.get(("our re-crawl, ETags (304)", big))
    if large and large_etag:
        recrawl(large, large_etag, f"the same at N = {big:,} (start-up amortised)")
    if large:
        line(large.run.peak_rss_kb < 300 * 1024, f"peak memory < 300 MB at N = {big:,}: "
             f"{mb(large.run.peak_rss_kb)} MB RSS summed over the process tree "
             f"({mb(large.run.peak_pss_kb)} MB PSS)")
    if first and all(peers):
        slower = [p for p in peers if p and p.rate >= first.rate]
        ratios = ", ".join(f"{first.rate / p.rate:.1f}× {p.name}" for p in peers if p)
        line(not slower, f"faster than both peers on the same URLs: {ratios}")
    return out


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "?")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({model}), {ram:.0f} GiB RAM, Python "
            f"{platform.python_version()}, {platform.system()} {platform.release()}")


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("httpx", "trafilatura", "newspaper4k"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    return ", ".join(found)


def report(rows: list[Row], args: argparse.Namespace, command: str) -> str:
    return "\n".join([
        f"**{date.today().isoformat()}**, {machine()}; {args.code}; {versions()}.", "",
        f"`{command}` (latency {args.latency * 1000:.0f} ms per response, concurrency "
        f"{args.concurrency} for every tool, politeness delay 0)", "",
        table(rows), "", *targets(rows, args.pages, args.rss_pages)])


def write_readme(path: Path, body: str) -> None:
    """Put ``body`` between the result markers of the ``## Crawl`` section (made if missing)."""
    text = path.read_text() if path.exists() else (
        "# Benchmarks\n\nEach benchmark measures what it compares side by side in one run; "
        "every result says the machine and the date it was measured on.\n")
    block = f"{START}\n{body}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        usage = "```sh\n.venv/bin/python bench/crawl.py\n```"
        text = text.rstrip("\n") + f"\n\n## Crawl\n\n{usage}\n\n{block}\n"
    path.write_text(text)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] in CHILDREN:
        print(json.dumps(CHILDREN[sys.argv[1]](json.loads(sys.argv[2]))), flush=True)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="site size N (default 1000)")
    parser.add_argument("--rss-pages", type=int, default=10_000,
                        help="N of the extra first crawl measured for memory; 0 skips it")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="requests in flight to the site, for every tool (default 16)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the ceiling and the first crawl N times, interleaved, and "
                        "report their medians (default 1)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per response")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds allowed to each measured run at --pages (default 900)")
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("SCRAPER_CORPUS", DEFAULT_CORPUS)))
    parser.add_argument("--ref", help="benchmark this git commit of scraper/ and sites/ "
                        "(exported to a temp dir) instead of the installed working tree")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    args = parser.parse_args()
    args.steps = [s for s in args.steps.split(",") if s]
    if unknown := set(args.steps) - set(STEPS):
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    corpus_pages(args.corpus)  # fail early and clearly without the corpus
    command = "python bench/crawl.py " + " ".join(sys.argv[1:])
    tmp = Path(tempfile.mkdtemp(prefix="bench-crawl-"))
    try:
        args.code = code_under_test(args.ref, tmp)
        rows, _ = run_all(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    body = report(rows, args, command.strip())
    print(body)
    for row in rows:
        if row.run.returncode:
            print(f"\n{row.name} exited {row.run.returncode}:\n{row.run.stderr[-2000:]}",
                  file=sys.stderr)
    if not args.no_readme:
        write_readme(args.readme, body)


if __name__ == "__main__":
    main()
