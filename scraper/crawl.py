"""A scheduled crawl: discover new articles, re-check due ones, politely and in parallel.

One run, as cron starts it::

    lock → discover (feeds, sitemaps) → queue new + due articles per host
         → per-host workers: polite fetch → extraction in a process pool → store → next check

Per host (``scraper.hosts``): robots.txt first, then ``concurrency`` requests in flight and
at least ``delay`` seconds (or robots.txt's Crawl-delay, whichever is longer) between any two
request starts, discovery's included; hosts proceed in parallel. A host answering 403/429
several times in a row is left alone for the rest of the run; an origin whose robots.txt
cannot be read is not fetched from this run. All database writes happen in this process's
event loop thread, the outcomes of many URLs in one transaction (``store.batch``). Feeds and
sitemaps are asked for conditionally: their validators are saved once every link they listed
was dealt with (``scraper.store.feeds``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import httpx

from .config import Config, SiteSettings
from .discover import Conditional, Link, discover, select
from .fetch import FetchPolicy, make_client, policy_for
from .hosts import Gates, HostGate, Triage
from .identity import article_key
from .models import CrawlStatus, Outcome, counted
from .pipeline import Extractor, Result, archive_url, extract_inline, not_tried
from .robots import Robots
from .sites import Site
from .store import CRAWL_COUNTS, Archive
from .store.feeds import feed_validators, save_feed_validators
from .store.takedown import key_hash, tombstones
from .workers import pool_extractor

log = logging.getLogger("scraper.crawl")

# sitemaps read per site and run: an index's newest few children hold what is new; a
# backfill of older months is a job for `scraper discover`, not for every cron run
ROUTINE_SITEMAPS = 3
# outcomes after which a URL a feed listed needs no other try: the feed may be skipped
# (a 304) next time without losing it
DEALT_WITH = {Outcome.NEW_VERSION, Outcome.UNCHANGED, Outcome.NOT_MODIFIED, Outcome.GONE,
              Outcome.NO_ARTICLE}

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
            parts.insert(1, f"discovery failed for {counted(c['discovery_failed'], 'site')}")
        parts += [o.counted(c[o]) for o in Outcome if c[o]]
        parts += [f"{c['skipped']} skipped"] if c["skipped"] else []
        ended = ("" if self.status is CrawlStatus.FINISHED
                 else f" ({self.status.replace('_', ' ')})")
        return f"crawl {self.crawl_id}: " + ", ".join(parts) + f" in {self.seconds:.1f} s{ended}"

    def to_dict(self) -> dict[str, Any]:
        return {"crawl_id": self.crawl_id, "status": self.status.value, "seconds": self.seconds,
                **{k: self.counts[k] for k in CRAWL_COUNTS}}


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
    robots = Robots(sleep=sleep)
    # each site's policy, resolved once for the run (User-Agent precedence in policy_for)
    policies = {site.name: policy_for(site, config.for_site(site.name)) for site in sites}
    dealt: set[str] = set()  # URLs that need no other try (DEALT_WITH)

    def ended(result: Result) -> None:
        if result.outcome in DEALT_WITH:
            dealt.add(result.url)
        on_result(result)

    async with make_client(policy_for(None, config.defaults), transport=transport) as client:
        # one gate per host for the whole run: discovery's requests and the pages'
        # (a pool per host unless a test hands in its transport)
        gates = Gates(client, robots, sleep=sleep, default_delay=config.defaults.delay,
                      per_host=transport is None)
        try:
            jobs, read = await _plan(client, archive, config, sites, policies, robots,
                                     report, sleep, deadline, gates)
            report.planned = len(jobs)
            on_total(len(jobs))
            await work_politely(client, archive, jobs, config, policies, robots, report,
                                extractor=extractor, sleep=sleep, deadline=deadline,
                                on_result=ended, gates=gates)
        finally:
            await gates.aclose()
    new = {job.url for job in jobs if job.known is None}
    save_feed_validators(archive, {
        url: validators for feeds in read for url, validators in feeds.got.items()
        if url in feeds.listed and all(u in dealt or u not in new for u in feeds.listed[url])})
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
    gates: Gates | None = None,
) -> None:
    """Fetch, extract and store ``jobs``: hosts in parallel, each at its politeness bound.

    Per host (``scraper.hosts``): robots.txt first, then ``concurrency`` requests in flight
    and ``delay`` seconds (or robots.txt's Crawl-delay, when the policy respects robots.txt
    and it is longer) between request starts, counting every request of the run to that
    host (``gates``: the ones discovery used). A host refusing several requests in a row is
    left alone; an origin whose robots.txt cannot be read is not fetched from this run (its
    URLs end as ``blocked`` results and ``fetches`` rows, counted as skipped, and are tried
    again at their next check). The
    crawl and `scraper archive` of a list share it. ``mirror`` and ``force`` as in
    ``archive_url``.
    """
    own = gates is None
    # its own gates (`scraper archive`): a pool per host, as a crawl has (fetch sends each
    # request with its policy's User-Agent and timeouts, whatever the client)
    gates = gates if gates is not None else Gates(client, robots, sleep=sleep,
                                                  default_delay=config.defaults.delay,
                                                  per_host=True)
    settings_of: dict[str, tuple[SiteSettings, FetchPolicy]] = {}
    for job in jobs:
        if job.site.name not in settings_of:
            settings = config.for_site(job.site.name)
            settings_of[job.site.name] = (settings, policies.get(job.site.name)
                                          or policy_for(job.site, settings))
        settings = settings_of[job.site.name][0]
        gates.gate(job.url, settings.delay, settings.concurrency).frontier.append(job)

    # robots.txt verdict per scheme://host:port as the URL spells it: parsing each URL
    # (twice) to ask robots cost more CPU than the rest of the scheduling together
    verdicts: dict[str, str] = {}  # "" when the origin may be fetched from

    def triage(gate: HostGate, job: Job) -> Triage:
        policy = settings_of[job.site.name][1]
        if gate.closed:
            report.counts["skipped"] += 1
            return "drop"
        if not policy.respect_robots:
            return "go"
        spelled = _spelled_origin(job.url)
        why = verdicts.get(spelled)
        if why is None:
            if not robots.loaded(job.url):
                return "prepare"
            why = verdicts[spelled] = robots.unavailable(job.url) or ""
        if why:
            report.counts["skipped"] += 1  # not tried: a later run does it
            on_result(not_tried(archive, job.url, why, job.site, known=job.known, force=force,
                                schedule=settings_of[job.site.name][0].schedule))
            return "drop"
        return "go"

    async def prepare(gate: HostGate, job: Job) -> None:
        await gates.ready(gate, job.url, settings_of[job.site.name][1].user_agent)

    def expire(gate: HostGate) -> None:
        if deadline is not None:
            report.status = CrawlStatus.TIMED_OUT
        report.counts["skipped"] += len(gate.frontier)

    async def run(gate: HostGate, job: Job) -> None:
        settings, policy = settings_of[job.site.name]
        # the policy's network budget, shortened near --max-time: no fetch may outlast it
        # by more than a second
        if deadline is not None:
            left = max(1.0, deadline - time.monotonic())
            policy = replace(policy, total_timeout=min(policy.total_timeout or left, left))
        outcome = await archive_url(
            gates.client_for(gate), archive, job.url, policy,
            robots=robots, site=job.site, known=job.known, extractor=extractor,
            schedule=settings.schedule, sleep=sleep, mirror=mirror, force=force)
        gate.count(outcome.status, outcome.url)
        report.counts["checked"] += 1
        report.counts[outcome.outcome] += 1
        on_result(outcome)

    try:
        # the outcomes of many URLs in one transaction, committed also when the run is
        # interrupted (Ctrl-C, SIGTERM: the tasks are cancelled) or ends at --max-time
        with archive.batched():
            await gates.serve(run, triage=triage, prepare=prepare, expire=expire,
                              deadline=deadline)
    finally:
        if own:
            await gates.aclose()


def _spelled_origin(url: str) -> str:
    """``scheme://authority`` of ``url`` as written, without parsing it (a cache key)."""
    start = url.find("//") + 2
    ends = [i for i in (url.find("/", start), url.find("?", start), url.find("#", start))
            if i != -1]
    return url[:min(ends)] if ends else url


def already_had(archive: Archive, site: Site, links: list[Link],
                taken_down: set[str] | None = None) -> Callable[[str], bool]:
    """For discovered links: is the URL archived already (by URL or article key), or did
    `scraper forget` take it down? One query per batch, not per link."""
    keys = {link.url: article_key(site, link.url, None) for link in links}
    known = archive.known(list(keys.values()), list(keys))
    gone = tombstones(archive) if taken_down is None else taken_down
    return lambda url: (url in known or keys.get(url) in known
                        or was_forgotten(url, keys.get(url), gone))


def was_forgotten(url: str, key: str | None, taken_down: set[str]) -> bool:
    """Did `scraper forget` take down ``url`` or its article ``key`` (``tombstones``)?"""
    return key_hash(url) in taken_down or key_hash(key or url) in taken_down


async def _plan(client: httpx.AsyncClient, archive: Archive, config: Config, sites: list[Site],
                policies: dict[str, FetchPolicy], robots: Robots, report: CrawlReport,
                sleep: Callable[[float], Any], deadline: float | None = None,
                gates: Gates | None = None) -> tuple[list[Job], list[Conditional]]:
    """New articles from discovery (newest first), then due re-checks (most overdue first),
    and what the discoveries that finished read (for their feeds' validators).

    Discovery reads every feed and news sitemap, and archive sitemaps only on the small
    ROUTINE_SITEMAPS budget, each conditionally. Discovery that has not finished by the
    deadline is cancelled: --max-time bounds it too.
    """
    now = datetime.now(timezone.utc)
    # the generic adapter has nothing to discover; its articles are only re-checked
    finders = [s for s in sites if s.feeds or s.news_sitemaps or s.sitemaps or s.domains]
    stored = feed_validators(archive) if finders else {}
    reads = [Conditional(known=stored) for _ in finders]
    tasks = [asyncio.ensure_future(discover(
        client, site, policies[site.name], robots=robots, sleep=sleep, gates=gates,
        conditional=read, max_sitemaps=ROUTINE_SITEMAPS)) for site, read in zip(finders, reads)]
    timeout = max(0.0, deadline - time.monotonic()) if deadline else None
    _, pending = await asyncio.wait(tasks, timeout=timeout) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    if pending:
        report.status = CrawlStatus.TIMED_OUT
        await asyncio.gather(*pending, return_exceptions=True)
    jobs: list[Job] = []
    finished: list[Conditional] = []
    taken_down = tombstones(archive)  # what `scraper forget` removed is never queued again
    for site, task, read in zip(finders, tasks, reads):
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
        finished.append(read)
    due = archive.due([s.name for s in sites], now.isoformat(timespec="seconds"),
                      config.max_checks)
    by_name = {s.name: s for s in sites}
    jobs += [Job(by_name[row["site"]], row["canonical_url"] or row["url"], row) for row in due]
    return jobs, finished
