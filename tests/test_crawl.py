"""Scheduled crawls against a local test site: a feed, a sitemap and article pages on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from string import Template

from click.testing import CliRunner
from server import Response, TestServer

from scraper import cli as cli_module
from scraper.cli import crawling as crawl_command
from scraper.config import Config, SiteSettings
from scraper.crawl import run_crawl
from scraper.sites import Site
from scraper.store import Archive
from scraper.workers import crawl_lock, make_pool

FIXTURES = Path(__file__).parent / "fixtures" / "site"
FAST = Config(defaults=SiteSettings(delay=0))
LOREM = ("The council met on {n} March and voted on the budget for the coming year, "
         "after a long debate about schools, roads and the harbour.")


class LocalNews(Site):
    """The test site; its feeds and sitemaps are set per test to the local server."""

    name = "localnews"
    domains = ("127.0.0.1",)
    article_path = r"^/news/\d+$"


def article_html(n: int, *, edit: str = "") -> str:
    body = "\n".join(f"<p>{LOREM.format(n=n + i)} Paragraph {i} of story {n}.</p>"
                     for i in range(4))
    return Template((FIXTURES / "article.html").read_text()).substitute(
        title=f"Story number {n}", published="2024-10-10T12:00:00+00:00",
        body=body + (f"\n<p>{edit}</p>" if edit else ""))


def feed_xml(server: TestServer, numbers: list[int]) -> str:
    items = "\n".join(
        f"<item><title>Story {n}</title><link>{server.url(f'/news/{n}')}</link>"
        f"<pubDate>Thu, 10 Oct 2099 1{n % 10}:00:00 +0300</pubDate></item>" for n in numbers)
    return Template((FIXTURES / "feed.xml").read_text()).substitute(
        base=server.url(""), items=items)


def sitemap_xml(server: TestServer, paths: list[str]) -> str:
    urls = "".join(f"<url><loc>{server.url(p)}</loc></url>" for p in paths)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')


def site_on(server: TestServer, feed_items: list[int], sitemap_paths: list[str]) -> LocalNews:
    server.route("/rss", Response(200, feed_xml(server, feed_items).encode(),
                                  {"Content-Type": "application/rss+xml"}))
    server.route("/sitemap.xml", Response(200, sitemap_xml(server, sitemap_paths).encode(),
                                          {"Content-Type": "application/xml"}))
    site = LocalNews()
    site.feeds = (server.url("/rss"),)  # type: ignore[misc]
    site.sitemaps = (server.url("/sitemap.xml"),)  # type: ignore[misc]
    return site


def serve_article(server: TestServer, n: int, *responses: Response) -> None:
    server.route(f"/news/{n}", *(responses or (Response.html(article_html(n)),)))


def crawl(db: Path, site: Site, config: Config = FAST, **kw: object):
    with Archive(db) as archive:
        crawl_id = archive.start_crawl([site.name])
        report = asyncio.run(run_crawl(archive, config, [site], crawl_id=crawl_id, **kw))
        archive.finish_crawl(crawl_id, dict(report.counts), report.status)
    return report


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def make_past_due(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE articles SET next_check = '2000-01-01T00:00:00+00:00'"
                     " WHERE next_check IS NOT NULL")


def test_first_crawl_archives_new_articles_from_feed_and_sitemap(server, tmp_path):
    site = site_on(server, [1, 2], ["/news/3", "/about", "/news/2"])
    for n in (1, 2, 3):
        serve_article(server, n)
    db = tmp_path / "archive.db"
    with make_pool() as pool:  # the real process pool, as `scraper crawl` uses it
        report = crawl(db, site, pool=pool)
    assert report.counts["discovered"] == 3
    assert report.counts["new_version"] == 3 and report.status == "finished"
    assert server.hits("/about") == 0  # not an article URL
    assert rows(db, "SELECT count(*) FROM versions") == [(3,)]
    assert rows(db, "SELECT status, discovered, new_version FROM crawls") == [("finished", 3, 3)]
    titles = {t for (t,) in rows(db, "SELECT title FROM versions")}
    assert titles == {"Story number 1", "Story number 2", "Story number 3"}


def test_a_legacy_charset_page_is_decoded_where_it_is_extracted(server, tmp_path):
    # the crawl hands the page's bytes to a worker process, which decodes them there
    russian = article_html(1).replace("Story number 1", "Новости дня")
    site = site_on(server, [1], [])
    serve_article(server, 1, Response(200, russian.encode("cp1251"),
                                      {"Content-Type": "text/html; charset=windows-1251"}))
    db = tmp_path / "archive.db"
    with make_pool() as pool:
        report = crawl(db, site, pool=pool)
    assert report.counts["new_version"] == 1
    assert rows(db, "SELECT title FROM versions") == [("Новости дня",)]
    with Archive(db) as archive:  # the bytes are kept as received, the header with them
        stored = archive.version(1, 1, html=True)
    assert stored is not None and "Новости дня" in stored["html"]


def test_edited_article_becomes_version_2_on_its_due_recheck_and_not_before(server, tmp_path):
    site = site_on(server, [1, 2], [])
    serve_article(server, 1)
    serve_article(server, 2)
    db = tmp_path / "archive.db"
    crawl(db, site)
    serve_article(server, 1, Response.html(article_html(1, edit="The mayor has resigned.")))

    report = crawl(db, site)  # minutes later: nothing is due, nothing new
    assert report.counts["checked"] == 0 and server.hits("/news/1") == 1
    assert rows(db, "SELECT count(*) FROM versions") == [(2,)]

    make_past_due(db)  # the 15 minutes have passed
    report = crawl(db, site)
    assert report.counts["new_version"] == 1 and report.counts["unchanged"] == 1
    versions = rows(db, "SELECT a.url, v.version FROM versions v JOIN articles a"
                        " ON a.id = v.article_id ORDER BY v.id")
    assert versions[-1] == (server.url("/news/1"), 2)
    assert "The mayor has resigned." in rows(db, "SELECT text FROM versions WHERE version = 2")[0][0]


def test_not_modified_recheck_stores_nothing(server, tmp_path):
    site = site_on(server, [1], [])
    serve_article(server, 1, Response.html(article_html(1), headers={"ETag": '"one"'}),
                  Response(304, headers={"ETag": '"one"'}))
    db = tmp_path / "archive.db"
    crawl(db, site)
    make_past_due(db)
    report = crawl(db, site)
    assert report.counts["not_modified"] == 1
    assert server.requests[-1].headers["if-none-match"] == '"one"'
    assert rows(db, "SELECT count(*) FROM versions") == [(1,)]
    assert rows(db, "SELECT outcome FROM fetches ORDER BY id") == [("new_version",),
                                                                   ("not_modified",)]


def test_same_bytes_again_skip_extraction(server, tmp_path, monkeypatch):
    site = site_on(server, [1], [])
    serve_article(server, 1)
    db = tmp_path / "archive.db"
    crawl(db, site)
    calls = []
    import sys

    # the crawl imports extract from its module when a page needs it (never for a 304)
    monkeypatch.setattr(sys.modules["scraper.extract"], "extract",
                        lambda *a, **k: calls.append(a))
    make_past_due(db)
    report = crawl(db, site)
    assert report.counts["unchanged"] == 1 and calls == []


def test_gone_article_is_marked_gone_and_never_rechecked(server, tmp_path):
    site = site_on(server, [1], [])
    serve_article(server, 1, Response.html(article_html(1)), Response(410, b"gone"))
    db = tmp_path / "archive.db"
    crawl(db, site)
    make_past_due(db)
    report = crawl(db, site)
    assert report.counts["gone"] == 1
    assert rows(db, "SELECT state, next_check FROM articles") == [("gone", None)]
    assert rows(db, "SELECT count(*) FROM versions") == [(1,)]
    make_past_due(db)
    assert crawl(db, site).counts["checked"] == 0


def test_max_time_stops_taking_work_and_finishes_in_flight(server, tmp_path):
    numbers = list(range(1, 11))
    site = site_on(server, numbers, [])
    for n in numbers:
        serve_article(server, n, Response(200, article_html(n).encode(),
                                          {"Content-Type": "text/html"}, delay=0.4))
    db = tmp_path / "archive.db"
    report = crawl(db, site, max_time=1.0)
    assert report.status == "timed_out"
    assert 1 <= report.counts["checked"] < 10
    assert report.counts["checked"] + report.counts["skipped"] == 10
    # every article that was taken finished: fetched, stored, recorded
    assert rows(db, "SELECT count(*) FROM fetches") == [(report.counts["checked"],)]
    assert rows(db, "SELECT count(*) FROM versions") == [(report.counts["new_version"],)]
    assert rows(db, "SELECT status FROM crawls") == [("timed_out",)]


def test_host_refusing_repeatedly_is_left_alone(server, tmp_path):
    numbers = list(range(1, 7))
    site = site_on(server, numbers, [])
    for n in numbers:
        serve_article(server, n, Response(403, b"forbidden", {"Content-Type": "text/html"}))
    report = crawl(tmp_path / "archive.db", site)
    assert report.counts["error"] == 3 and report.counts["skipped"] == 3
    assert sum(server.hits(f"/news/{n}") for n in numbers) == 3


def test_requests_to_one_host_are_spaced_by_the_delay(server, tmp_path):
    site = site_on(server, [1, 2, 3], [])
    for n in (1, 2, 3):
        serve_article(server, n)
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    config = Config(defaults=SiteSettings(delay=5.0))
    report = crawl(tmp_path / "archive.db", site, config, sleep=fake_sleep)
    assert report.counts["new_version"] == 3
    # every request to the host passes one gate: robots.txt, then a wait before the feed,
    # the sitemap and each page
    assert len(waits) == 5 and all(4.0 < w <= 5.0 for w in waits), waits


def test_second_crawl_during_the_first_exits_without_touching_the_database(tmp_path):
    db = tmp_path / "archive.db"
    Archive(db).close()
    with crawl_lock(db):  # the first crawl, still running
        before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
        result = CliRunner().invoke(cli_module.cli, ["crawl", "--db", str(db)])
        assert result.exit_code == 0
        assert "another crawl is running" in result.stderr
        locked = CliRunner().invoke(cli_module.cli, ["crawl", "--db", str(db),
                                                     "--fail-if-locked"])
        assert locked.exit_code == 1
        after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    assert after == before


def test_crawl_command_prints_one_line_summary_and_records_the_run(server, tmp_path,
                                                                   monkeypatch):
    site = site_on(server, [1, 2], [])
    serve_article(server, 1)
    serve_article(server, 2, Response(404, b"missing", {"Content-Type": "text/html"}))
    monkeypatch.setattr(crawl_command, "_crawl_sites", lambda names, configured: [site])
    config = tmp_path / "scraper.toml"
    config.write_text("[crawl]\ndelay = 0\n")
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(cli_module.cli, ["crawl", "--db", str(db),
                                                 "--config", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    # cron keeps the line with its time: ISO 8601, then the summary
    when, _, summary = lines[0].partition(" ")
    datetime.fromisoformat(when)
    assert len(lines) == 1 and summary.startswith("crawl 1: 2 discovered, 2 checked")
    assert "1 new version" in lines[0] and "1 gone" in lines[0]
    result = CliRunner().invoke(cli_module.cli, ["crawl", "--db", str(db), "--json",
                                                 "--config", str(config)])
    assert json.loads(result.stdout)["crawl_id"] == 2
    assert rows(db, "SELECT count(*) FROM crawls WHERE finished_at IS NOT NULL") == [(2,)]


def test_max_time_also_bounds_a_slow_discovery(server, tmp_path):
    import time

    site = site_on(server, [1], [])
    server.route("/rss", Response(200, feed_xml(server, [1]).encode(),
                                  {"Content-Type": "application/rss+xml"}, delay=4))
    serve_article(server, 1)
    start = time.monotonic()
    report = crawl(tmp_path / "archive.db", site, max_time=1.0)
    assert time.monotonic() - start < 3  # the feed alone takes 4 s
    assert report.status == "timed_out" and report.counts["checked"] == 0


def test_huge_crawl_delay_is_capped_and_max_time_still_ends_the_run(server, tmp_path):
    import time

    site = site_on(server, [1, 2, 3], [])
    server.route("/robots.txt", Response(200, b"User-agent: *\nCrawl-delay: 86400\n",
                                         {"Content-Type": "text/plain"}))
    for n in (1, 2, 3):
        serve_article(server, n)
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    report = crawl(tmp_path / "a.db", site, sleep=fake_sleep)
    # discovery too waits the Crawl-delay, capped at 60 s: before the feed, the sitemap and
    # each page
    assert report.counts["new_version"] == 3
    assert len(waits) == 5 and all(59 < w <= 60 for w in waits), waits
    start = time.monotonic()
    report = crawl(tmp_path / "b.db", site, max_time=2.0)
    # robots.txt is read; the feed would come 60 s later, past --max-time
    assert time.monotonic() - start < 5
    assert report.status == "timed_out" and report.counts["checked"] == 0
    assert server.hits("/rss") == 1  # the first crawl's


def test_articles_archived_by_hand_on_other_sites_are_rechecked(server, tmp_path):
    from test_pipeline import archive as archive_one

    from scraper.sites import site_named

    serve_article(server, 7)
    db = tmp_path / "archive.db"
    archive_one(db, server.url("/news/7"))  # the generic adapter: no feeds, no sitemaps
    serve_article(server, 7, Response.html(article_html(7, edit="A correction was added.")))
    make_past_due(db)
    report = crawl(db, site_named("generic"))
    assert report.counts["checked"] == 1 and report.counts["new_version"] == 1


def test_crawl_whose_site_cannot_be_discovered_exits_1_and_says_so(server, tmp_path,
                                                                     monkeypatch):
    site = LocalNews()
    site.feeds = (server.url("/missing-feed"),)  # type: ignore[misc]  (404, not retried)
    monkeypatch.setattr(crawl_command, "_crawl_sites", lambda names, configured: [site])
    db = tmp_path / "archive.db"
    result = CliRunner().invoke(cli_module.cli, ["crawl", "--db", str(db), "--json"])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["discovery_failed"] == 1 and summary["checked"] == 0
    assert rows(db, "SELECT discovery_failed, status FROM crawls") == [(1, "finished")]


def news_sitemap_xml(server: TestServer, numbers: list[int], published: str) -> str:
    urls = "".join(
        f"<url><loc>{server.url(f'/news/{n}')}</loc><news:news><news:publication>"
        f"<news:name>Local</news:name><news:language>en</news:language></news:publication>"
        f"<news:publication_date>{published}</news:publication_date>"
        f"<news:title>Story {n}</news:title></news:news></url>" for n in numbers)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + urls + '</urlset>')


def test_crawl_reads_the_news_sitemap_every_run_and_queues_its_urls_first(server, tmp_path):
    from datetime import UTC, datetime, timedelta

    from scraper.crawl import ROUTINE_SITEMAPS

    # a large archive index: 40 monthly files of 5 undated article URLs each
    months = [f"/archive/{year}-{month}.xml" for year in (2022, 2023, 2024) for month in
              range(1, 13)][:40]
    index = "".join(f"<sitemap><loc>{server.url(m)}</loc></sitemap>" for m in months)
    server.route("/archive/index.xml", Response(200, (
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"{index}</sitemapindex>").encode(), {"Content-Type": "application/xml"}))
    for i, month in enumerate(months):
        paths = [f"/news/{100 + 5 * i + k}" for k in range(5)]
        server.route(month, Response(200, sitemap_xml(server, paths).encode(),
                                     {"Content-Type": "application/xml"}))
    fresh = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    server.route("/news-sitemap.xml", Response(
        200, news_sitemap_xml(server, [1, 2], fresh).encode(), {"Content-Type": "text/xml"}))
    for n in range(1, 300):
        serve_article(server, n)

    class WithNews(LocalNews):
        sitemaps = (server.url("/archive/index.xml"),)  # declared first, read last
        news_sitemaps = (server.url("/news-sitemap.xml"),)

    report = crawl(tmp_path / "archive.db", WithNews())
    assert server.hits("/news-sitemap.xml") == 1
    # the archive index costs at most its small budget: itself and its newest children
    read = sum(server.hits(m) for m in months) + server.hits("/archive/index.xml")
    assert read == ROUTINE_SITEMAPS
    fetched = [r.path for r in server.requests if r.path.startswith("/news/")]
    assert fetched[:2] == ["/news/2", "/news/1"] or fetched[:2] == ["/news/1", "/news/2"]
    assert report.counts["discovered"] == 2 + 5 * (ROUTINE_SITEMAPS - 1)
