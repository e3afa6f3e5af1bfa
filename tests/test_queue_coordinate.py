"""The coordinator of `scraper crawl --queue` with a fake queue that runs each task at once
in this process: planning per host, storing, continuations, duplicates, refusals."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import deque
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from local_site import article_html, serve_site
from server import Response, TestServer

from scraper.config import Config, parse_config
from scraper.crawl import CrawlReport, run_crawl
from scraper.queue import versions
from scraper.queue.coordinate import Delivery, NoWorkers, run_queued
from scraper.queue.messages import (
    HostResult,
    HostTask,
    decode_result,
    decode_task,
    encode_result,
    encode_task,
)
from scraper.queue.work import Unshared, runner
from scraper.sites import declare, site_named
from scraper.store import Archive

SCHEMA, CODE = versions()


class FakeQueue:
    """Runs each task when it is sent (through the wire formats); results wait in a list."""

    def __init__(self, copies: int = 1, alter: Any = None, db: Path | None = None) -> None:
        self.db = db
        self.delivered: list[Delivery] = []
        self.run = runner()
        self.results: deque[Delivery] = deque()
        self.copies, self.alter = copies, alter
        self.tasks: list[HostTask] = []
        self.acked: list[str] = []

    async def send(self, task: HostTask) -> None:
        task = decode_task(json.loads(json.dumps(encode_task(task))))
        self.tasks.append(task)

        result, _ = await self.run(task, Unshared())
        if self.alter:
            result = self.alter(result)
        for copy in range(self.copies):  # a copy is what a killed coordinator left unacked
            self.results.append(Delivery(f"{len(self.tasks)}-{len(self.results)}",
                                         decode_result(encode_result(result)), copy > 0))

    async def receive(self, timeout: float) -> list[Delivery]:
        out = list(self.results)
        self.results.clear()
        self.delivered += out
        return out

    async def ack(self, message_ids: list[str]) -> None:
        self.acked += message_ids
        if self.db is not None:  # what is acknowledged is committed: another reader sees it
            sent = {d.message_id: d.result for d in self.delivered}
            urls = {r.job.url for i in message_ids for r in sent[i].urls}  # type: ignore[union-attr]
            with closing(sqlite3.connect(self.db)) as conn:
                seen = {row[0] for row in conn.execute("SELECT url FROM fetches")}
            assert urls <= seen, urls - seen


def two_sites(tmp_path: Path, a: TestServer, b: TestServer, delay: float = 0) -> Config:
    fa, sa = serve_site(a, 6)
    fb, sb = serve_site(b, 3)
    config = parse_config({"crawl": {"delay": delay}, "sites": {
        name: {"domains": [srv.host], "feeds": [feed], "sitemaps": [sitemap],
               "article_path": r"^/news/\d+$"}
        for name, srv, feed, sitemap in (("alpha", a, fa, sa), ("beta", b, fb, sb))}})
    declare(config.declared)
    return config


def queued(db: Path, config: Config, queue: Any, **kw: Any) -> CrawlReport:
    sites = [site_named("alpha"), site_named("beta")]
    with Archive(db) as archive:
        report = CrawlReport(archive.start_crawl(["alpha", "beta"]))
        asyncio.run(run_queued(archive, config, sites, queue, report, schema=SCHEMA,
                               code=CODE, **kw))
        archive.finish_crawl(report.crawl_id, dict(report.counts), report.status)
    return report


def local(db: Path, config: Config) -> CrawlReport:
    sites = [site_named("alpha"), site_named("beta")]
    with Archive(db) as archive:
        crawl_id = archive.start_crawl(["alpha", "beta"])
        report = asyncio.run(run_crawl(archive, config, sites, crawl_id=crawl_id))
        archive.finish_crawl(crawl_id, dict(report.counts), report.status)
    return report


def contents(db: Path) -> set[tuple[Any, ...]]:
    """What two archives of the same site must share: articles, versions, hashes, pages."""
    with Archive(db) as archive:
        return set(archive.db.conn.execute(
            "SELECT a.site, a.article_key, a.state, v.version, v.content_hash, v.title,"
            " v.text, v.html_raw, v.html_codec, v.extractor FROM articles a"
            " JOIN versions v ON v.article_id = a.id"))


@pytest.fixture
def hosts() -> Any:
    with TestServer("127.0.0.2") as a, TestServer("127.0.0.3") as b:
        yield a, b


def test_a_queued_crawl_archives_what_a_local_crawl_does(tmp_path: Path, hosts: Any) -> None:
    a, b = hosts
    config = two_sites(tmp_path, a, b)
    queue = FakeQueue(db=tmp_path / "q.db")
    report = queued(tmp_path / "q.db", config, queue, max_urls=2)
    assert local(tmp_path / "l.db", config).counts["new_version"] == 9
    assert report.counts["new_version"] == 9 and report.counts["discovered"] == 9
    assert contents(tmp_path / "q.db") == contents(tmp_path / "l.db")
    # one task per host at a time: discovery first, then the articles 2 by 2
    assert [len(t.jobs) for t in queue.tasks if t.host == "127.0.0.2"] == [0, 2, 2, 2]
    assert len(queue.acked) == len(queue.tasks)
    # an edit is a second version, in both
    a.route("/news/2", Response.html(article_html(2).replace("paragraph 1", "paragraph ONE")))
    with Archive(tmp_path / "q.db") as archive:  # make every article due now
        archive.db.conn.execute("UPDATE articles SET next_check = '2000-01-01T00:00:00+00:00'")
        archive.db.conn.commit()
    again = queued(tmp_path / "q.db", config, FakeQueue())
    assert (again.counts["new_version"], again.counts["unchanged"]) == (1, 8), again.counts


def test_every_result_delivered_twice_stores_the_same_archive(tmp_path: Path,
                                                              hosts: Any) -> None:
    config = two_sites(tmp_path, *hosts)
    once = queued(tmp_path / "once.db", config, FakeQueue())
    twice = queued(tmp_path / "twice.db", config, FakeQueue(copies=2))
    assert twice.counts == once.counts
    assert contents(tmp_path / "twice.db") == contents(tmp_path / "once.db")
    with Archive(tmp_path / "twice.db") as archive:
        assert archive.db.conn.execute("SELECT count(*) FROM fetches").fetchone()[0] == 9


def test_results_of_another_extractor_are_refused_with_one_line(
        tmp_path: Path, hosts: Any, caplog: pytest.LogCaptureFixture) -> None:
    config = two_sites(tmp_path, *hosts)

    def other(result: HostResult) -> HostResult:
        return HostResult(result.task_id, result.host, result.schema, "scraper 0.0.1 other",
                          urls=result.urls, links=result.links)

    with caplog.at_level(logging.WARNING, logger="scraper.queue"):
        queue = FakeQueue(alter=other)
        report = queued(tmp_path / "q.db", config, queue, stall=0.2)
    assert report.counts["new_version"] == 0
    assert contents(tmp_path / "q.db") == set()
    refusals = [r for r in caplog.records if "refusing results" in r.getMessage()]
    assert len(refusals) == 1 and "0.0.1 other" in refusals[0].getMessage()


def test_a_crawl_with_no_worker_answering_says_so(tmp_path: Path, hosts: Any) -> None:
    config = two_sites(tmp_path, *hosts)

    class Deaf(FakeQueue):
        async def send(self, task: HostTask) -> None:
            self.tasks.append(task)

    with pytest.raises(NoWorkers, match="scraper worker"):
        queued(tmp_path / "q.db", config, Deaf(), stall=0.05)


def test_past_max_time_no_task_is_sent_and_the_rest_is_skipped(tmp_path: Path,
                                                               hosts: Any) -> None:
    config = two_sites(tmp_path, *hosts)
    queued(tmp_path / "q.db", config, FakeQueue())  # every article archived, then all due
    with Archive(tmp_path / "q.db") as archive:
        archive.db.conn.execute("UPDATE articles SET next_check = '2000-01-01T00:00:00+00:00'")
        archive.db.conn.commit()
    queue = FakeQueue()
    report = queued(tmp_path / "q.db", config, queue, max_time=1e-9)
    assert queue.tasks == []
    assert report.status == "timed_out" and report.counts["skipped"] == 9


@pytest.mark.parametrize("copies", [1, 2])
def test_a_queued_crawl_counts_a_site_whose_discovery_failed_once_in_its_row(
        tmp_path: Path, hosts: Any, copies: int) -> None:
    a, b = hosts
    config = two_sites(tmp_path, a, b)
    for path in ("/rss", "/sitemap.xml"):  # beta's feed and sitemap are gone (404: no retry)
        b.route(path, Response(404, b"no", {"Content-Type": "text/plain"}))
    db = tmp_path / "q.db"
    # a result delivered twice (a coordinator killed before its ack) is one failure, as
    # in a local crawl: the unit is the site
    report = queued(db, config, FakeQueue(copies=copies))
    assert report.counts["discovery_failed"] == local(tmp_path / "l.db", config).counts[
        "discovery_failed"] == 1
    assert report.counts["discovered"] == 6
    with Archive(db) as archive:
        assert archive.db.conn.execute(
            "SELECT discovery_failed FROM crawls").fetchall() == [(1,)]


def test_a_host_whose_robots_txt_fails_is_stored_once_when_results_come_twice(
        tmp_path: Path, hosts: Any) -> None:
    a, b = hosts
    config = two_sites(tmp_path, a, b)
    db = tmp_path / "q.db"
    queued(db, config, FakeQueue())
    b.route("/robots.txt", Response(503, b"down", {"Content-Type": "text/plain"}))
    with Archive(db) as archive:  # make every article due now
        archive.db.conn.execute("UPDATE articles SET next_check = '2000-01-01T00:00:00+00:00'")
        archive.db.conn.commit()
    seen: list[Any] = []
    report = queued(db, config, FakeQueue(copies=2), on_result=seen.append)
    assert None not in seen  # a copy of a stored result is not reported again
    assert report.counts["skipped"] == 3  # beta's 3 articles, once each
    with Archive(db) as archive:
        rows = archive.db.conn.execute(
            "SELECT count(*), count(DISTINCT article_id) FROM fetches WHERE outcome = 'blocked'"
        ).fetchall()
    assert rows == [(3, 3)]
