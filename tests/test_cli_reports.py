"""What a new user met on a fresh clone (issue 8), each through the command line as they met it.

Every test here failed before its fix: a traceback, a wrong answer, or a wrong exit code.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from local_site import CrawlChild, rows, serve_site, tag_for
from server import Response, TestServer

from scraper.cli import cli
from scraper.sites import Site

# the politeness delay and retry waits are not what these tests are about
pytestmark = pytest.mark.usefixtures("no_waits")

FIXTURES = Path(__file__).parent / "fixtures" / "themoscowtimes"
ARTICLE = "/2023/04/17/china-minister-hails-strong-russia-ties-in-putin-meeting-a80850"
OLD_SENTENCE = "He added that Russia-China ties have"


def page(name: str = "seed-two-authors-updated.html") -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def run(*args: str) -> tuple[int, str, str]:
    if args[0] == "archive":  # pages served from 127.0.0.1 are read as The Moscow Times'
        args = (*args, "--site", "themoscowtimes")
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def archive_two_versions(server: TestServer, db: Path) -> str:
    """Archive the seed page, then its edit ("He later added"): two versions; returns the URL."""
    url = server.url(ARTICLE)
    edited = page().replace(OLD_SENTENCE, "He later added that Russia-China ties have")
    server.route(ARTICLE, Response.html(page()), Response.html(edited))
    for _ in range(2):
        assert run("archive", url, "--db", str(db))[0] == 0
    return url


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


# 1. discover with no archive and max_age filtering everything
def test_discover_with_no_archive_and_every_candidate_too_old_says_so(
        local_news: Site, server: TestServer, db: Path, tmp_path: Path) -> None:
    server.route("/rss", Response(200, b"<rss><channel><item><link>" + server.url(
        "/news/1").encode() + b"</link><pubDate>Mon, 01 Jan 2001 00:00:00 +0000</pubDate>"
        b"</item></channel></rss>", {"Content-Type": "application/rss+xml"}))
    server.route("/sitemap.xml", Response(200, b'<urlset xmlns="http://www.sitemaps.org/'
                 b'schemas/sitemap/0.9"><url><loc>' + server.url("/news/2").encode()
                 + b"</loc><lastmod>2001-01-01</lastmod></url></urlset>",
                 {"Content-Type": "application/xml"}))
    config = tmp_path / "scraper.toml"
    config.write_text('[crawl]\nmax_age = "1s"\n')
    code, out, err = run("discover", "localnews", "--db", str(db), "--config", str(config))
    assert (code, out) == (0, "")
    assert err.strip() == ("scraper: no candidates for localnews: of 2 found, "
                           "2 older than max_age (--all lists them)")
    assert not db.exists()
    code, out, _ = run("discover", "localnews", "--db", str(db), "--config", str(config),
                       "--all")
    assert code == 0 and len(out.splitlines()) == 2


# 1. discover with one candidate archived and the rest too old
def test_discover_counts_archived_and_too_old_candidates_apart(
        local_news: Site, server: TestServer, db: Path, tmp_path: Path) -> None:
    archived = CliRunner().invoke(cli, ["archive", server.url("/news/1"), "--db", str(db)])
    assert archived.exit_code == 0, archived.stderr
    config = tmp_path / "scraper.toml"
    config.write_text('[crawl]\nmax_age = "1s"\n')
    # the feed's items are dated 2099 (never too old); the sitemap's are undated (kept)
    server.route("/sitemap.xml", Response(200, b'<urlset xmlns="http://www.sitemaps.org/'
                 b'schemas/sitemap/0.9">' + b"".join(
                     b"<url><loc>" + server.url(f"/news/{i}").encode()
                     + b"</loc><lastmod>2001-01-01</lastmod></url>" for i in (3, 4))
                 + b"</urlset>", {"Content-Type": "application/xml"}))
    server.route("/rss", Response(200, b"<rss><channel><item><link>" + server.url(
        "/news/1").encode() + b"</link></item></channel></rss>",
        {"Content-Type": "application/rss+xml"}))
    code, out, err = run("discover", "localnews", "--db", str(db), "--config", str(config))
    assert (code, out) == (0, "")
    assert "of 3 found, 1 already archived and 2 older than max_age" in err
    assert "every candidate is archived already" not in err


# 3. a damaged page blob costs only that blob
def test_show_and_diff_read_an_article_whose_stored_page_is_damaged(
        server: TestServer, db: Path) -> None:
    url = archive_two_versions(server, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE versions SET html_raw = x'00ff00ff' WHERE version = 1")
    code, out, err = run("show", url, "--version", "1", "--db", str(db))
    assert code == 0 and "Li Shangfu" in out and err == ""
    code, out, err = run("diff", url, "--db", str(db), "--no-color")
    assert code == 0 and "{+later+}" in out and err == ""
    code, out, _ = run("history", url, "--db", str(db))
    assert code == 0 and "v2" in out


# 5. Ctrl-C during a crawl
@pytest.fixture
def crawl_child(tmp_path: Path) -> Iterator[CrawlChild]:
    child = CrawlChild(tag_for(tmp_path))
    yield child
    child.close()


@pytest.mark.parametrize(("sig", "code", "line"), [
    (signal.SIGINT, 130, "scraper: error: interrupted"),
    (signal.SIGTERM, 143, "scraper: error: terminated (SIGTERM)"),
], ids=["ctrl-c", "sigterm"])
def test_crawl_stopped_with_ctrl_c_is_recorded_interrupted_with_its_counts(
        server: TestServer, crawl_child: CrawlChild, tmp_path: Path, sig: int, code: int,
        line: str) -> None:
    feed, sitemap = serve_site(server, 8)
    arrived, release = threading.Event(), threading.Event()

    def hold(req: object) -> None:  # the crawl's request for /news/8 waits here for Ctrl-C
        arrived.set()
        release.wait(60)

    # the feed lists 1-4 (dated, fetched first), the sitemap 5-8 in order: 8 comes last
    server.route("/news/8", Response(handler=hold))  # type: ignore[arg-type]
    db = tmp_path / "archive.db"
    config = tmp_path / "scraper.toml"
    config.write_text("[crawl]\ndelay = 0\n")
    # batch_size 50 (and no timer): the 7 outcomes are all in the open write batch when the
    # signal comes, so the 7 stored versions below prove the batch is committed on the way out
    pid = crawl_child.start(db=str(db), config=str(config), log=str(tmp_path / "crawl.log"),
                            feed=feed, sitemap=sitemap, batch_size=50)
    try:
        assert arrived.wait(60), "the crawl never asked for /news/8"
        os.kill(pid, sig)
        ended = crawl_child.wait()
    finally:
        release.set()
    log = (tmp_path / "crawl.log").read_text()
    assert ended.get("exit") == code, log
    *_, summary, last = log.strip().splitlines()
    assert last == line and "Traceback" not in log
    when, _, summary = summary.partition(" ")  # the summary line starts with its ISO time
    datetime.fromisoformat(when)
    assert summary.startswith("crawl 1: 8 discovered, 7 checked, 7 new versions, 1 skipped in ")
    assert summary.endswith(" s (interrupted)") and " in 0.0 s " not in summary
    stored = rows(db, "SELECT count(*) FROM versions")[0][0]
    assert stored == 7
    assert rows(db, "SELECT status, checked, new_version, discovered, skipped FROM crawls") == [
        ("interrupted", 7, 7, 8, 1)]


# 6. a User-Agent that cannot be sent
@pytest.mark.parametrize("agent", ["a\nb", "a\rb", "", "caf\u00e9/1.0"])
def test_user_agent_that_cannot_be_a_header_is_a_usage_error(db: Path, agent: str) -> None:
    code, out, err = run("archive", "--user-agent", agent, "http://127.0.0.1:9/x", "--db",
                         str(db))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--user-agent" in err
    assert not db.exists()


def test_config_user_agent_with_a_carriage_return_is_refused(tmp_path: Path, db: Path) -> None:
    config = tmp_path / "scraper.toml"
    config.write_text('[crawl]\nuser_agent = "a\\rb"\n')
    code, _, err = run("crawl", "--config", str(config), "--db", str(db))
    assert code == 2 and "user_agent must be one line of printable ASCII" in err
    assert not db.exists()


# 9. extract --url that is no URL
def test_extract_with_a_url_that_is_not_one_exits_2() -> None:
    code, out, err = run("extract", str(FIXTURES / "seed-two-authors-updated.html"),
                         "--url", "not-a-url")
    assert (code, out) == (2, "")
    assert err.startswith("scraper: error: not an http(s) URL") and len(err.splitlines()) == 1


# 10. diff --to 1
def test_diff_to_version_1_of_two_says_it_is_the_first_not_the_only(
        server: TestServer, db: Path) -> None:
    url = archive_two_versions(server, db)
    code, out, err = run("diff", url, "--to", "1", "--db", str(db))
    assert code == 0 and err == ""
    assert "v1 is its first version" in out and "it has 2 versions" in out
    assert "only one version" not in out


# 12. the quick start's last command
def test_diff_of_an_article_with_one_version_is_a_friendly_exit_0(
        server: TestServer, db: Path) -> None:
    url = server.url(ARTICLE)
    server.route(ARTICLE, Response.html(page()))
    run("archive", url, "--db", str(db))
    code, out, err = run("diff", url, "--db", str(db))
    assert (code, err) == (0, "")
    assert out.startswith(f"{url} has one version so far (v1, ") and "nothing to compare" in out
    code, out, _ = run("diff", url, "--db", str(db), "--json")
    assert code == 0 and json.loads(out)["chunks"] == [] and json.loads(out)["to"] == 1


# Found in review: hosts that IDNA refuses ("xn--zz", Arabic-Indic digits) anywhere a URL
# comes in: typed by the user, a page's canonical link, a feed's link, a redirect.
BAD_IDNA_HOSTS = ("xn--zz.com", "\u0661\u0662\u0663.com")


@pytest.mark.parametrize("host", BAD_IDNA_HOSTS)
def test_archive_of_a_host_idna_refuses_is_a_usage_error(db: Path, host: str) -> None:
    code, out, err = run("archive", f"http://{host}/news/1", "--db", str(db))
    assert (code, out) == (2, "")
    assert err.startswith("scraper: error: not a valid host") and len(err.splitlines()) == 1
    assert not db.exists()


def test_a_canonical_link_on_a_host_idna_refuses_is_ignored(server: TestServer, db: Path) -> None:
    bad = f"https://xn--zz.{'127.0.0.1'}/2023/04/17/x-a80850"
    html = page().replace("<head>", f'<head><link rel="canonical" href="{bad}">', 1)
    server.route(ARTICLE, Response.html(html))
    code, out, err = run("archive", server.url(ARTICLE), "--db", str(db))
    assert code == 0 and out.strip().endswith("new version 1"), err


def test_a_redirect_to_a_host_idna_refuses_is_one_error_line(server: TestServer,
                                                            db: Path) -> None:
    server.route("/moved", Response.redirect("http://xn--zz.com/news/1"))
    code, _, err = run("archive", server.url("/moved"), "--db", str(db))
    assert code == 1 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "to a host that is not a valid name" in err


def test_discover_skips_feed_links_on_a_host_idna_refuses(
        local_news: Site, server: TestServer, db: Path) -> None:
    server.route("/rss", Response(200, (
        "<rss><channel><item><link>http://xn--zz.com/news/9</link></item>"
        f"<item><link>{server.url('/news/1')}</link></item></channel></rss>").encode(),
        {"Content-Type": "application/rss+xml"}))
    code, out, err = run("discover", "localnews", "--db", str(db), "--all")
    assert code == 0 and "Traceback" not in err
    assert server.url("/news/1") in out and "xn--zz" not in out


# Found by a newcomer's walk and the review
def test_diff_from_the_latest_version_says_there_is_nothing_after_it(
        server: TestServer, db: Path) -> None:
    url = archive_two_versions(server, db)
    code, out, err = run("diff", url, "--from", "2", "--db", str(db))
    assert (code, err) == (0, "")
    assert out.strip() == (f"{url}: nothing to compare v2 with: it is the latest version "
                           "(it has 2 versions)")
    code, out, _ = run("diff", url, "--from", "1", "--to", "1", "--db", str(db))
    assert code == 0 and "--from and --to name the same version" in out


def test_diff_with_color_keeps_its_escapes_in_a_pipe(server: TestServer, db: Path) -> None:
    url = archive_two_versions(server, db)
    code, out, _ = run("diff", url, "--color", "--db", str(db))  # CliRunner's stdout: no tty
    assert code == 0 and "\x1b[" in out and "later" in out
    code, out, _ = run("diff", url, "--db", str(db))
    assert "\x1b[" not in out and "{+later+}" in out


def test_saved_copies_archived_with_site_are_one_article_with_the_sites_identity(
        server: TestServer, db: Path) -> None:
    # Two saved copies of one Moscow Times article served locally, under other paths: their
    # canonical links name the site's -a80850 id, and --site says whose pages they are.
    server.route("/copy-1.html", Response.html(page()))
    server.route("/copy-2.html", Response.html(page("seed-edited-headline.html")))
    for copy, result in (("/copy-1.html", "new version 1"), ("/copy-2.html", "new version 2")):
        code, out, err = run("archive", server.url(copy), "--db", str(db))
        assert code == 0 and out.strip().endswith(result), err
    original = "https://www.themoscowtimes.com" + ARTICLE
    code, out, _ = run("history", original, "--db", str(db))
    assert code == 0 and "v1" in out and "v2" in out
    code, out, _ = run("diff", original, "--db", str(db), "--no-color")
    assert code == 0 and "title: " in out
