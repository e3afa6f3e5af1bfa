"""The coordinator's side of `scraper crawl --queue`: plan per host, send, store what returns.

    results an earlier run left → plan (discovery + due re-checks, per host)
      → one task per host in flight → store each result, acknowledge it after the commit
      → links found → new articles queued on their hosts → next task for that host → …

The coordinator is the archive's one writer and makes no request itself. Engine-agnostic:
it talks to a ``Queue`` (``engine.RedisQueue``, or a fake in tests).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from ..config import Config
from ..crawl import CrawlReport, already_had
from ..discover import select, sources_of
from ..feeds import Link
from ..fetch import policy_for
from ..identity import article_key
from ..models import CrawlStatus, Outcome, ScraperError
from ..pipeline import Result
from ..sites import Site
from ..store import Archive
from ..store.results import store_check, store_fetch, store_page
from ..store.takedown import forgotten, tombstones
from ..web import host_of
from .messages import BadMessage, HostResult, HostTask, Job, UrlResult

log = logging.getLogger("scraper.queue")

MAX_URLS = 50      # URLs per host task; the rest follows as the next task for that host
TASK_TIME = 300.0  # seconds a host task may take; what is not started by then comes back
STALL = 900.0      # no result for this long (and no --max-time): the workers are gone
GRACE = 60.0       # s past --max-time to wait for tasks in flight (their last fetches)


class Delivery(NamedTuple):
    """A message from the results stream; ``redelivered``: a coordinator read it before
    and died before acknowledging it, so it may be stored already."""

    message_id: str
    result: HostResult | BadMessage
    redelivered: bool = False


class Queue(Protocol):
    """What the coordinator needs of the engine."""

    async def send(self, task: HostTask) -> None: ...

    async def receive(self, timeout: float) -> list[Delivery]: ...

    async def ack(self, message_ids: list[str]) -> None: ...


class NoWorkers(ScraperError):
    """No result came back for too long: no `scraper worker` is taking tasks."""


@dataclass
class Plan:
    """Work per host not yet sent, and the tasks in flight (one per host at most)."""

    jobs: dict[str, deque[Job]] = field(default_factory=lambda: defaultdict(deque))
    discover: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    inflight: dict[str, str] = field(default_factory=dict)  # task id → host

    def hosts(self) -> list[str]:
        return sorted(set(self.jobs) | set(self.discover))

    def remaining(self) -> int:
        return sum(len(q) for q in self.jobs.values())


def discovery_host(site: Site) -> str | None:
    """The host a site's discovery runs under: its first feed or sitemap's, else None."""
    sources = sources_of(site)
    if sources:
        return host_of(sources[0].url)
    return site.domains[0] if site.domains else None


def plan(archive: Archive, config: Config, sites: list[Site], now: datetime) -> Plan:
    """Discovery of every site that has feeds, sitemaps or domains, and the due re-checks."""
    work = Plan()
    for site in sites:
        if (host := discovery_host(site)) is not None:
            work.discover[host].append(site.name)
    due = archive.due([s.name for s in sites], now.isoformat(timespec="seconds"),
                      config.max_checks)
    for row in due:
        url = row["canonical_url"] or row["url"]
        work.jobs[host_of(url)].append(Job(
            url=url, site=row["site"], key=row["article_key"], article_id=row["id"],
            etag=row["etag"], last_modified=row["last_modified"], raw_hash=row["raw_hash"]))
    return work


def next_task(work: Plan, host: str, config: Config, by_name: dict[str, Site], *,
              schema: int, code: str, max_urls: int = MAX_URLS,
              task_time: float = TASK_TIME) -> HostTask | None:
    """The host's next task (its discovery first), or None when it has nothing left."""
    sites = work.discover.pop(host, [])
    queue = work.jobs.get(host) or deque()
    jobs = [queue.popleft() for _ in range(min(max_urls, len(queue)))]
    if not sites and not jobs:
        return None
    names = {*sites, *(job.site for job in jobs)}
    settings = config.for_site(next(iter(sorted(names))))
    agents = {n: policy_for(by_name[n], config.for_site(n)).user_agent for n in names}
    return HostTask(host=host, schema=schema, code=code, jobs=tuple(jobs),
                    discover=tuple(sites), delay=max(config.for_site(n).delay for n in names),
                    concurrency=settings.concurrency, user_agents=agents, max_time=task_time)


def new_jobs(archive: Archive, config: Config, site: Site, links: list[dict[str, Any]],
             now: datetime, taken_down: set[str]) -> list[Job]:
    """The links worth fetching (new, recent, on the site), newest first."""
    found = [Link(**link) for link in links]
    fresh = select(found, site, known=already_had(archive, site, found, taken_down),
                   max_age=config.for_site(site.name).max_age, now=now)
    return [Job(url=link.url, site=site.name) for link in fresh]


def apply_url(archive: Archive, r: UrlResult, site: Site, config: Config,
              redelivered: bool = False) -> Result | None:
    """Store one URL's result as a local crawl would; None when it was stored already."""
    job, schedule = r.job, config.for_site(site.name).schedule
    fetch = r.fetch_row()
    try:
        if r.kind == "page":
            assert r.article is not None and r.page is not None
            key = job.key or article_key(site, r.page.final_url, r.article.canonical_url)
            if when := forgotten(archive, [job.url, r.page.final_url, key]):
                return Result(job.url, Outcome.BLOCKED, error=f"forgotten on {when} (scraper "
                              "forget): not archived again (--force to archive it)")
            saved = store_page(archive, r.article, r.page, site_name=site.name, key=key,
                               fetched_at=r.started_at, raw_hash=r.raw_hash, fetch=fetch,
                               extractor=r.extractor, schedule=schedule,
                               redelivered=redelivered, blob=r.blob)
            if saved is None:
                return None
            return Result(job.url, saved.outcome, version=saved.version, status=r.status,
                          article_id=saved.article_id)
        if r.kind == "same":
            assert job.key is not None and r.outcome is not None
            if not store_check(archive, job.key, outcome=r.outcome, checked_at=r.started_at,
                               fetch=fetch, state="active", etag=r.etag,
                               last_modified=r.last_modified, schedule=schedule,
                               redelivered=redelivered):
                return None
            return Result(job.url, r.outcome, status=r.status, article_id=job.article_id)
        # "failed", or "skipped" (its robots.txt could not be read: blocked, as a local crawl)
        outcome = Outcome.BLOCKED if r.kind == "skipped" else r.outcome or Outcome.ERROR
        error = r.error
    except ScraperError as err:  # the archive refused it (no text, say): a failure like any
        outcome, error = err.outcome, " ".join(str(err).split())
    row = {**fetch, "error": error}
    gone = outcome == Outcome.GONE
    if job.known or gone:
        key = job.key or article_key(site, job.url, None)
        stored = store_check(archive, key, outcome=outcome, checked_at=r.started_at, fetch=row,
                             state="gone" if gone else None, schedule=schedule,
                             redelivered=redelivered)
    else:
        stored = store_fetch(archive, row, outcome, redelivered)
    if not stored:
        return None
    return Result(job.url, outcome, status=r.status, error=error, article_id=job.article_id,
                  attempts=r.attempts)


async def run_queued(archive: Archive, config: Config, sites: list[Site], queue: Queue,
                     report: CrawlReport, *, schema: int, code: str,
                     max_time: float | None = None, max_urls: int = MAX_URLS,
                     task_time: float = TASK_TIME, stall: float = STALL,
                     on_result: Callable[[Result], None] = lambda r: None) -> CrawlReport:
    """Store what earlier runs left, then plan, send and store this run's work."""
    clock = time.monotonic()
    deadline = clock + max_time if max_time else None
    by_name = {s.name: s for s in sites}
    refused: set[tuple[int, str]] = set()
    now = datetime.now(UTC)
    taken_down = tombstones(archive)
    work = Plan()
    planned_urls: set[str] = set()
    failed_sites: set[str] = set()  # sites whose discovery failed, each counted once

    def store(result: HostResult, redelivered: bool) -> set[str]:
        """Store a result: its URLs, and its links as new work; the hosts given work."""
        given: set[str] = set()
        for r in result.urls:
            site = by_name.get(r.job.site)
            if site is None:  # a task of an earlier run for a site not crawled now
                from ..sites import site_named
                site = site_named(r.job.site)
            done = apply_url(archive, r, site, config, redelivered)
            if done is None:
                continue  # stored already: a result delivered again
            if r.kind == "skipped":
                report.counts["skipped"] += 1
                on_result(done)
            else:
                report.counts["checked"] += 1
                report.counts[done.outcome] += 1
                on_result(done)
        for name, why in result.discovery_failed.items():
            # a site, as a local crawl counts them: a result delivered again (its ack lost
            # with a killed coordinator) is not a second failure
            if name not in failed_sites:
                failed_sites.add(name)
                log.warning("discovery failed for %s: %s", name, why)
                report.counts["discovery_failed"] += 1
        for name, links in result.links.items():
            if name not in by_name:
                continue
            fresh = new_jobs(archive, config, by_name[name], links, now, taken_down)
            for job in fresh:
                if job.url not in planned_urls:  # two results can list one new article
                    planned_urls.add(job.url)
                    report.counts["discovered"] += 1
                    work.jobs[host_of(job.url)].append(job)
                    given.add(host_of(job.url))
        if result.left:
            work.jobs[result.host].extendleft(reversed(result.left))
        return given

    async def take(timeout: float) -> int:
        """Store the results that come within ``timeout``, in one write batch, then
        acknowledge them: a crash before the commit leaves them to be read again."""
        batch = await queue.receive(timeout)
        given: set[str] = set()
        with archive.batched():
            for _, result, redelivered in batch:
                if isinstance(result, BadMessage):
                    log.warning("skipping a message on the results stream: %s", result)
                elif (result.schema, result.code) != (schema, code):
                    if (result.schema, result.code) not in refused:
                        refused.add((result.schema, result.code))
                        log.warning("refusing results of a worker on schema %s, extractor %s"
                                    " (this crawl: schema %s, extractor %s): upgrade it",
                                    result.schema, result.code, schema, code)
                    report.counts["skipped"] += len(result.urls)  # never stored; due next run
                    work.inflight.pop(result.task_id, None)
                else:
                    given |= store(result, redelivered)
                    if (host := work.inflight.pop(result.task_id, None)) is not None:
                        given.add(host)
        if batch:
            await queue.ack([delivery.message_id for delivery in batch])
        for host in sorted(given):
            await send(host)
        return len(batch)

    async def send(host: str) -> None:
        if host in work.inflight.values() or (deadline and time.monotonic() >= deadline):
            return
        # a task ends by the deadline: what it has not started then comes back as left
        budget = min(task_time, max(1.0, deadline - time.monotonic())) if deadline else task_time
        task = next_task(work, host, config, by_name, schema=schema, code=code,
                         max_urls=max_urls, task_time=budget)
        if task is not None:
            await queue.send(task)
            work.inflight[task.id] = host

    while await take(0):  # what a killed run's workers sent: stored before planning
        pass
    planned = plan(archive, config, sites, now)
    for host, jobs in planned.jobs.items():
        work.jobs[host].extend(jobs)
    for host, names in planned.discover.items():
        work.discover[host].extend(names)
    report.planned = planned.remaining()
    for host in work.hosts():
        await send(host)
    quiet_since = time.monotonic()
    while work.inflight:
        limit = (deadline + GRACE) if deadline else quiet_since + stall
        if time.monotonic() >= limit:
            if deadline:
                report.status = CrawlStatus.TIMED_OUT
                break
            raise NoWorkers(f"no result from any worker in {stall:g} s; is `scraper worker "
                            "--queue` running? The tasks stay queued for it")
        if await take(min(2.0, max(0.01, limit - time.monotonic()))):
            quiet_since = time.monotonic()
    if deadline and time.monotonic() >= deadline and work.remaining():
        report.status = CrawlStatus.TIMED_OUT
    report.counts["skipped"] += work.remaining()
    report.seconds = time.monotonic() - clock
    return report
