"""A scheduled crawl: discover new articles, re-check due ones, politely and in parallel.

One run, as cron starts it::

    lock → discover (feeds, sitemaps) → queue new + due articles per host
         → per-host workers: polite fetch → extraction in a process pool → store → next check

Per host: ``concurrency`` requests in flight and at least ``delay`` seconds (or robots.txt's
Crawl-delay, whichever is longer) between request starts; hosts proceed in parallel. A host
answering 403/429 several times in a row is left alone for the rest of the run. All database
writes happen in this process's event loop thread, the outcomes of many URLs in one
transaction (``store.batch``).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .config import Config, SiteSettings
from .discover import Link, discover, select
from .fetch import FetchPolicy, make_client, policy_for
from .identity import article_key
from .models import Article, CrawlStatus, Locked, Outcome, StoreError
from .pipeline import Extractor, Result, archive_url, extract_inline
from .robots import Robots
from .sites import Site
from .store import CRAWL_COUNTS, Archive
from .store.takedown import key_hash, tombstones
from .web import host_of

log = logging.getLogger("scraper.crawl")

# consecutive 403/429 answers after which a host is left alone for the rest of the run
REFUSAL_STREAK = 3
# sitemaps read per site and run: an index's newest few children hold what is new; a
# backfill of older months is a job for `scraper discover`, not for every cron run
ROUTINE_SITEMAPS = 3
# robots.txt Crawl-delay is honoured up to this: a day-long delay would hold the crawl lock
# (and so every later cron run) for days
MAX_CRAWL_DELAY = 60.0

@dataclass(frozen=True)
class Job:
    """One URL to fetch: a newly discovered article, or a known one due for a re-check."""

    site: Site
    url: str
    known: dict[str, Any] | None = None


@dataclass
class CrawlReport:
    """What a run did: counts by outcome, and how it ended."""

    crawl_id: int
    status: CrawlStatus = CrawlStatus.FINISHED  # or TIMED_OUT; the CLI sets the others
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    planned: int = 0  # URLs queued after discovery

    def stopped(self, status: CrawlStatus) -> None:
        """End the report early (Ctrl-C, SIGTERM): what was queued and not done is skipped."""
        self.status = status
        done = self.counts["checked"] + self.counts["skipped"]
        self.counts["skipped"] += max(0, self.planned - done)

    def summary(self) -> str:
        """The one-line summary cron mails."""
        c = self.counts
        parts = [f"{c['discovered']} discovered", f"{c['checked']} checked"]
        if c["discovery_failed"]:
            parts.insert(1, f"discovery failed for {c['discovery_failed']} "
                            f"site{'s' if c['discovery_failed'] > 1 else ''}")
        parts += [f"{c[o]} {o.label}" for o in Outcome if c[o]]
        parts += [f"{c['skipped']} skipped"] if c["skipped"] else []
        ended = ("" if self.status is CrawlStatus.FINISHED
                 else f" ({self.status.replace('_', ' ')})")
        return f"crawl {self.crawl_id}: " + ", ".join(parts) + f" in {self.seconds:.1f} s{ended}"

    def to_dict(self) -> dict[str, Any]:
        return {"crawl_id": self.crawl_id, "status": self.status.value, "seconds": self.seconds,
                **{k: self.counts[k] for k in CRAWL_COUNTS}}


# Descriptors of the lock files this process holds. A forked extraction worker inherits
# them, and flock belongs to the open file, not the process: a worker outliving a killed
# crawl would keep the archive locked. Workers close their copies (see _worker_start).
_LOCK_FDS: set[int] = set()


@contextmanager
def crawl_lock(db: Path) -> Iterator[None]:
    """Hold ``<db>.lock`` for the run; raises Locked at once when another crawl holds it.

    flock is released by the kernel when the process dies, even by SIGKILL, so a crashed
    crawl never leaves a stale lock behind.
    """
    try:
        fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        where = "" if db.parent.is_dir() else f" (no directory {db.parent})"
        raise StoreError(f"cannot create {db}.lock: {err.strerror}{where}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Locked(f"another crawl is running on {db}") from None
        _LOCK_FDS.add(fd)
        yield
    finally:
        _LOCK_FDS.discard(fd)
        os.close(fd)


class HostGate:
    """Politeness for one host: at most ``concurrency`` in flight, ``delay`` between starts."""

    def __init__(self, settings: SiteSettings) -> None:
        self.delay = settings.delay
        self.slots = asyncio.Semaphore(settings.concurrency)
        self._turn = asyncio.Lock()
        self._next_start = 0.0
        self.refusals = 0
        self.closed = False

    async def enter(self, sleep: Callable[[float], Any], deadline: float | None = None) -> bool:
        """Wait for this host's turn; False (and no slot taken) if it comes after deadline."""
        await self.slots.acquire()
        async with self._turn:
            wait = self._next_start - time.monotonic()
            if deadline is not None and time.monotonic() + max(wait, 0) >= deadline:
                self.slots.release()
                return False
            if wait > 0:
                await sleep(wait)
            self._next_start = time.monotonic() + self.delay
        return True

    def leave(self) -> None:
        self.slots.release()

    def touch(self) -> None:
        """A request went to this host outside the gate (robots.txt, a feed): the next one
        waits the delay too."""
        self._next_start = max(self._next_start, time.monotonic() + self.delay)

    def count(self, outcome: Result) -> None:
        """Track a streak of refusals; close the gate when it gets too long."""
        if outcome.status in (403, 429):
            self.refusals += 1
            if self.refusals >= REFUSAL_STREAK and not self.closed:
                self.closed = True
                log.warning("%s refused %d requests in a row: leaving it alone for this run",
                            urlsplit(outcome.url).hostname, self.refusals)
        else:
            self.refusals = 0


def pool_extractor(pool: Executor | None) -> Extractor:
    """Extraction in ``pool`` (off the event loop, one process per core), or inline."""

    async def extractor(html: str, url: str, site: Site) -> Article:
        # Imported at the first page to extract, never on a run of 304s; and before the
        # pool's first job, when its workers fork, so that they inherit it loaded.
        from .extract import extract

        if pool is None:
            return extract(html, url=url, site=site)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, _extract_job, html, url, site)

    return extractor


def _extract_job(html: str, url: str, site: Site) -> Article:
    """Runs in a worker process: extraction is CPU-bound and must stay off the event loop."""
    from .extract import extract

    return extract(html, url=url, site=site)


# More pages than this (a URL list, a re-extraction) extract in a process pool: starting it
# costs about a second, so a few pages extract inline.
POOL_FROM = 20


def make_pool() -> ProcessPoolExecutor:
    """One extraction process per core; the workers end when the crawl dies."""
    return ProcessPoolExecutor(max_workers=os.cpu_count() or 1, initializer=_worker_start)


def _worker_start() -> None:
    """In each new worker: let go of the crawl's lock, and exit when the crawl is gone.

    A worker waits for jobs on a pipe that it holds open itself, so when the crawl is
    SIGKILLed it would wait forever, one orphan per core per crash, each holding the lock.
    """
    for fd in _LOCK_FDS:
        os.close(fd)
    _LOCK_FDS.clear()
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="exit-with-crawl").start()


def _exit_with_parent(parent: int, every: float = 0.2) -> None:
    # A process is re-parented when its parent dies; polling getppid works everywhere.
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


async def run_crawl(
    archive: Archive,
    config: Config,
    sites: list[Site],
    *,
    crawl_id: int,
    max_time: float | None = None,
    pool: Executor | None = None,
    on_total: Callable[[int], None] = lambda n: None,
    on_result: Callable[[Result], None] = lambda o: None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Callable[[float], Any] = asyncio.sleep,
    report: CrawlReport | None = None,
) -> CrawlReport:
    """Discover, then fetch new and due articles until done or ``max_time`` runs out.

    Counts go into ``report`` as each URL ends (pass one in to keep them if the run is
    interrupted), which is also returned.
    """
    clock = time.monotonic()
    deadline = clock + max_time if max_time else None
    report = report if report is not None else CrawlReport(crawl_id)
    extractor = pool_extractor(pool)
    robots = Robots()
    # each site's policy, resolved once for the run (User-Agent precedence in policy_for)
    policies = {site.name: policy_for(site, config.for_site(site.name)) for site in sites}
    async with make_client(policy_for(None, config.defaults), transport=transport) as client:
        jobs = await _plan(client, archive, config, sites, policies, robots, report, sleep,
                           deadline)
        report.planned = len(jobs)
        on_total(len(jobs))
        await work_politely(client, archive, jobs, config, policies, robots, report,
                            extractor=extractor, sleep=sleep, deadline=deadline,
                            on_result=on_result, after_discovery=True)
    report.seconds = time.monotonic() - clock
    return report


async def work_politely(
    client: httpx.AsyncClient,
    archive: Archive,
    jobs: list[Job],
    config: Config,
    policies: dict[str, FetchPolicy],
    robots: Robots,
    report: CrawlReport,
    *,
    extractor: Extractor = extract_inline,
    sleep: Callable[[float], Any] = asyncio.sleep,
    deadline: float | None = None,
    on_result: Callable[[Result], None] = lambda o: None,
    mirror: bool = False,
    force: bool = False,
    after_discovery: bool = False,
) -> None:
    """Fetch, extract and store ``jobs``: hosts in parallel, each at its politeness bound.

    Per host: ``concurrency`` requests in flight and ``delay`` seconds (or robots.txt's
    Crawl-delay, when the policy respects robots.txt and it is longer) between request
    starts; a host refusing several requests in a row is left alone. The crawl and
    `scraper archive` of a list share it. ``mirror`` and ``force`` as in ``archive_url``.
    ``after_discovery`` (the crawl): discovery has just sent requests to these hosts, and a
    robots.txt fetched here is one more, so each host's first page waits the delay too.
    """
    queues: dict[str, asyncio.Queue[Job]] = {}
    gates: dict[str, HostGate] = {}
    workers: dict[str, int] = {}
    for job in jobs:
        host = host_of(job.url)
        if host not in queues:
            settings = config.for_site(job.site.name)
            queues[host], gates[host] = asyncio.Queue(), HostGate(settings)
            workers[host] = settings.concurrency
            if after_discovery:
                gates[host].touch()
        queues[host].put_nowait(job)

    async def worker(host: str) -> None:
        queue, gate = queues[host], gates[host]
        while not queue.empty():
            if gate.closed or (deadline and time.monotonic() >= deadline):
                if deadline and time.monotonic() >= deadline:
                    report.status = CrawlStatus.TIMED_OUT
                report.counts["skipped"] += queue.qsize()
                while not queue.empty():
                    queue.get_nowait()
                return
            job = queue.get_nowait()
            settings = config.for_site(job.site.name)
            policy = policies.get(job.site.name) or policy_for(job.site, settings)
            if policy.respect_robots:
                await _apply_crawl_delay(client, robots, gate, job.url, policy.user_agent,
                                         settings, pace=after_discovery)
            if not await gate.enter(sleep, deadline):
                report.status = CrawlStatus.TIMED_OUT
                report.counts["skipped"] += 1
                continue  # the rest of the queue is skipped at the top of the loop
            # the policy's network budget, shortened near --max-time: no fetch may outlast it
            # by more than a second
            if deadline is not None:
                left = max(1.0, deadline - time.monotonic())
                policy = replace(policy, total_timeout=min(policy.total_timeout or left, left))
            try:
                outcome = await archive_url(
                    client, archive, job.url, policy,
                    robots=robots, site=job.site, known=job.known, extractor=extractor,
                    schedule=settings.schedule, sleep=sleep, mirror=mirror, force=force)
            finally:
                gate.leave()
            gate.count(outcome)
            report.counts["checked"] += 1
            report.counts[outcome.outcome] += 1
            on_result(outcome)

    # the outcomes of many URLs in one transaction, committed also when the run is
    # interrupted (Ctrl-C, SIGTERM: the tasks are cancelled) or ends at --max-time
    with archive.batched():
        await asyncio.gather(*(worker(host) for host, n in workers.items() for _ in range(n)))


async def _apply_crawl_delay(client: httpx.AsyncClient, robots: Robots, gate: HostGate,
                             url: str, agent: str, settings: SiteSettings,
                             pace: bool = False) -> None:
    """Stretch the host's delay to robots.txt's Crawl-delay when that is longer (capped)."""
    fetched = await robots.load(client, url, agent)
    wanted = robots.crawl_delay(url, agent)
    if wanted and wanted > MAX_CRAWL_DELAY and gate.delay < MAX_CRAWL_DELAY:
        log.warning("%s asks for a Crawl-delay of %gs; waiting %gs between requests",
                    urlsplit(url).hostname, wanted, MAX_CRAWL_DELAY)
    if wanted and wanted > gate.delay:
        gate.delay = max(settings.delay, min(wanted, MAX_CRAWL_DELAY))
    if fetched and pace:
        gate.touch()  # robots.txt was a request to the host too


def already_had(archive: Archive, site: Site, links: list[Link],
                taken_down: set[str] | None = None) -> Callable[[str], bool]:
    """For discovered links: is the URL archived already (by URL or article key), or did
    `scraper forget` take it down? One query per batch, not per link."""
    keys = {link.url: article_key(site, link.url, None) for link in links}
    known = archive.known(list(keys.values()), list(keys))
    gone = tombstones(archive) if taken_down is None else taken_down
    return lambda url: (url in known or keys.get(url) in known or key_hash(url) in gone
                        or key_hash(keys.get(url) or url) in gone)


async def _plan(client: httpx.AsyncClient, archive: Archive, config: Config, sites: list[Site],
                policies: dict[str, FetchPolicy], robots: Robots, report: CrawlReport,
                sleep: Callable[[float], Any], deadline: float | None = None) -> list[Job]:
    """New articles from discovery (newest first), then due re-checks (most overdue first).

    Discovery reads every feed and news sitemap, and archive sitemaps only on the small
    ROUTINE_SITEMAPS budget. Discovery that has not finished by the deadline is cancelled:
    --max-time bounds it too.
    """
    now = datetime.now(timezone.utc)
    # the generic adapter has nothing to discover; its articles are only re-checked
    finders = [s for s in sites if s.feeds or s.news_sitemaps or s.sitemaps or s.domains]
    tasks = [asyncio.ensure_future(discover(
        client, site, policies[site.name], robots=robots, sleep=sleep,
        max_sitemaps=ROUTINE_SITEMAPS)) for site in finders]
    timeout = max(0.0, deadline - time.monotonic()) if deadline else None
    _, pending = await asyncio.wait(tasks, timeout=timeout) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    if pending:
        report.status = CrawlStatus.TIMED_OUT
        await asyncio.gather(*pending, return_exceptions=True)
    jobs: list[Job] = []
    taken_down = tombstones(archive)  # what `scraper forget` removed is never queued again
    for site, task in zip(finders, tasks):
        if task.cancelled():
            log.warning("discovery for %s did not finish within --max-time", site.name)
            continue
        links = task.exception() or task.result()
        if isinstance(links, BaseException):
            log.warning("discovery failed for %s: %s", site.name, links)
            report.counts["discovery_failed"] += 1
            continue
        fresh = select(links, site, known=already_had(archive, site, links, taken_down),
                       max_age=config.for_site(site.name).max_age, now=now)
        report.counts["discovered"] += len(fresh)
        jobs += [Job(site, link.url) for link in fresh]
    due = archive.due([s.name for s in sites], now.isoformat(timespec="seconds"),
                      config.max_checks)
    by_name = {s.name: s for s in sites}
    jobs += [Job(by_name[row["site"]], row["canonical_url"] or row["url"], row) for row in due]
    return jobs
