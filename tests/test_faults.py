"""Faults, one URL each, through ``archive_url``: every one ends in a recorded outcome.

Each test serves a fault from the local server (builders in ``faults.py``, pages in
tests/fixtures/faults/), archives the URL into a fresh archive and checks what the issue
asks: how many requests the server saw, the ``fetches`` row (outcome, status, a one-line
error, attempts), that no version is stored when there is no article, and that time (and,
for the big bodies, memory) stayed bounded. No test waits for real: ``FakeSleep`` records
the waits tenacity asks for.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from faults import (
    MiB,
    Sent,
    archive,
    check,
    drip,
    empty,
    FakeSleep,
    failing,
    gzip_bomb,
    huge_body,
    mislabelled,
    page,
    stalled,
    stored_text,
    throttled,
    truncated_gzip,
    typed,
)
from server import Response, TestServer

from scraper.robots import Robots

pytestmark = pytest.mark.slow  # robustness tests: -m "not slow" skips them

ARTICLE = page("article.html")
ARTICLE_SENTENCE = "The harbour bridge reopened to traffic on Thursday morning"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


# --- throttling: 429 ---------------------------------------------------------------------


def test_429_with_retry_after_waits_as_told_then_archives(server: TestServer, db: Path) -> None:
    server.route("/story", throttled("7"), Response.html(ARTICLE))
    done = archive(server, "/story", db)
    check(done, outcome="new_version", status=200, attempts=2, versions=1)
    assert done.waits == [7] and server.hits("/story") == 2


def test_429_retry_after_beyond_the_cap_waits_only_120_s(server: TestServer, db: Path) -> None:
    server.route("/story", throttled("86400"), Response.html(ARTICLE))
    done = archive(server, "/story", db)
    check(done, outcome="new_version", status=200, attempts=2, versions=1)
    assert done.waits == [120]


def test_429_that_never_lifts_is_an_error_after_4_attempts(server: TestServer, db: Path) -> None:
    server.route("/story", throttled("7"))
    done = archive(server, "/story", db)
    check(done, outcome="error", status=429, attempts=4, error=r"HTTP 429 .* \(after 4 attempts\)")
    assert done.waits == [7, 7, 7] and server.hits("/story") == 4


# --- server errors: 5xx streaks --------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_streak_that_recovers_gives_a_new_version(
    server: TestServer, db: Path, status: int
) -> None:
    server.route("/story", *failing(status, times=2, then=Response.html(ARTICLE)))
    done = archive(server, "/story", db)
    check(done, outcome="new_version", status=200, attempts=3, versions=1)
    assert server.hits("/story") == 3
    assert len(done.waits) == 2 and all(1 <= w <= 31 for w in done.waits)  # backoff + jitter


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_streak_that_never_recovers_is_an_error_after_4_attempts(
    server: TestServer, db: Path, status: int
) -> None:
    server.route("/story", *failing(status, times=1))
    done = archive(server, "/story", db)
    check(done, outcome="error", status=status, attempts=4,
          error=rf"HTTP {status} from .*/story \(after 4 attempts\)")
    assert server.hits("/story") == 4 and len(done.waits) == 3


# --- the network: resets, stalls, drips --------------------------------------------------------


def test_connection_reset_mid_body_is_retried_then_archives(server: TestServer, db: Path) -> None:
    body = ARTICLE.encode()
    server.route("/story", Response.reset_after(body, sent=500), Response.html(ARTICLE))
    done = archive(server, "/story", db)
    check(done, outcome="new_version", status=200, attempts=2, versions=1)
    assert server.hits("/story") == 2 and ARTICLE_SENTENCE in stored_text(db)


def test_connection_reset_every_time_is_an_error_after_4_attempts(
    server: TestServer, db: Path
) -> None:
    server.route("/story", Response.reset_after(ARTICLE.encode(), sent=500))
    done = archive(server, "/story", db)
    check(done, outcome="error", status=None, attempts=4,
          error=r"fetching http://127\.0\.0\.1:\d+/story \(after 4 attempts\)")
    assert server.hits("/story") == 4


def test_stalled_read_times_out_on_each_of_4_attempts(server: TestServer, db: Path) -> None:
    server.route("/story", stalled(ARTICLE.encode(), sent=500))
    done = archive(server, "/story", db, read_timeout=0.2)
    check(done, outcome="error", status=None, attempts=4, error=r"\(after 4 attempts\)")
    assert server.hits("/story") == 4 and done.seconds < 3


def test_slow_drip_is_cut_off_at_the_total_timeout_and_not_retried(
    server: TestServer, db: Path
) -> None:
    # a byte every 20 ms never trips the 2 s read timeout: only the deadline ends it
    server.route("/story", drip(ARTICLE.encode(), every=0.02))
    done = archive(server, "/story", db, read_timeout=2, total_timeout=0.5)
    check(done, outcome="error", status=None, attempts=1,
          error=r"no complete response within 0\.5s \(slow drip\?\)")
    assert server.hits("/story") == 1 and done.seconds < 2


def test_total_timeout_is_shared_by_all_attempts(server: TestServer, db: Path) -> None:
    # the first attempt's read timeout uses 0.3 s of the 0.5 s; the second runs out
    server.route("/story", stalled(ARTICLE.encode(), sent=500))
    done = archive(server, "/story", db, read_timeout=0.3, total_timeout=0.5)
    check(done, outcome="error", status=None, attempts=2, error=r"within 0\.5s")
    assert server.hits("/story") == 2 and done.seconds < 2


def test_robots_txt_that_drips_is_given_up_and_nothing_is_fetched(
    server: TestServer, db: Path
) -> None:
    # RFC 9309: a robots.txt that cannot be read means "disallow all" for the run
    server.route("/robots.txt", drip(b"User-agent: *\nDisallow: /private/\n" * 100, every=0.02))
    server.route("/story", Response.html(ARTICLE))
    done = archive(server, "/story", db, robots=Robots(timeout=0.3, attempts=2,
                                                       sleep=FakeSleep()))
    check(done, outcome="blocked", status=None, attempts=1, versions=0,
          error=r"cannot read robots.txt of .* \(not read within 0.3 s\); not fetched, try again")
    assert server.hits("/robots.txt") == 2 and server.hits("/story") == 0
    assert done.seconds < 2


# --- bodies: gzip, size ----------------------------------------------------------------------


def test_truncated_gzip_body_is_retried_then_an_error(server: TestServer, db: Path) -> None:
    server.route("/story", truncated_gzip(ARTICLE.encode()))
    done = archive(server, "/story", db)
    check(done, outcome="error", status=None, attempts=4,
          error=r"truncated gzip body: .*/story \(after 4 attempts\)")
    assert server.hits("/story") == 4


def test_truncated_gzip_body_then_a_whole_one_archives(server: TestServer, db: Path) -> None:
    server.route("/story", truncated_gzip(ARTICLE.encode()), Response.html(ARTICLE))
    check(archive(server, "/story", db), outcome="new_version", status=200, attempts=2,
          versions=1)


def test_gzip_bomb_is_refused_at_the_10_mb_cap_without_inflating_it(
    server: TestServer, db: Path
) -> None:
    server.route("/story", gzip_bomb(64 * MiB))  # 64 KiB on the wire
    done = archive(server, "/story", db, measure_memory=True)
    check(done, outcome="error", status=None, attempts=1,
          error=r"body larger than the 10485760-byte cap")
    assert server.hits("/story") == 1
    assert done.peak < 24 * MiB, f"peak {done.peak / MiB:.0f} MiB"


def test_50_mb_body_with_its_length_declared_is_refused_unread(
    server: TestServer, db: Path
) -> None:
    sent = Sent()
    server.route("/story", huge_body(50 * MiB, sent))
    done = archive(server, "/story", db, measure_memory=True)
    check(done, outcome="error", status=200, attempts=1,
          error=r"Content-Length 52428800 exceeds the 10485760-byte cap")
    assert done.peak < 4 * MiB, f"peak {done.peak / MiB:.0f} MiB"
    assert sent.bytes < 50 * MiB  # the client hung up: the rest never left the server


def test_50_mb_body_of_unknown_length_is_cut_off_at_the_10_mb_cap(
    server: TestServer, db: Path
) -> None:
    sent = Sent()
    server.route("/story", huge_body(50 * MiB, sent, declare_length=False))
    done = archive(server, "/story", db, measure_memory=True)
    check(done, outcome="error", status=None, attempts=1,
          error=r"body larger than the 10485760-byte cap")
    assert done.peak < 24 * MiB, f"peak {done.peak / MiB:.0f} MiB"
    assert sent.bytes < 20 * MiB  # read to the cap (plus socket buffers), not to the end


# --- redirects -------------------------------------------------------------------------------


def test_redirect_loop_is_an_error_after_10_hops(server: TestServer, db: Path) -> None:
    server.route("/a", Response.redirect("/b"))
    server.route("/b", Response.redirect("/a"))
    done = archive(server, "/a", db)
    check(done, outcome="error", status=302, attempts=1,
          error=r"more than 10 redirects \(loop\?\) from .*/a")
    assert server.hits("/a") + server.hits("/b") == 11


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/pub/story.html"])
def test_redirect_to_a_non_web_scheme_is_refused(
    server: TestServer, db: Path, target: str
) -> None:
    server.route("/story", Response.redirect(target))
    done = archive(server, "/story", db)
    check(done, outcome="error", status=None, attempts=1,
          error=rf"redirect to a non-http\(s\) URL refused: {re.escape(target)}")
    assert server.hits("/story") == 1


# --- what the body is ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "content_type"), [
    ("report.pdf", "application/pdf"),
    ("photo.png", "image/png"),
    ("data.json", "application/json; charset=utf-8"),
])
def test_non_html_content_type_is_refused(
    server: TestServer, db: Path, name: str, content_type: str
) -> None:
    server.route("/story", typed(name, content_type))
    done = archive(server, "/story", db)
    mime = content_type.split(";")[0]
    check(done, outcome="error", status=200, attempts=1,
          error=rf"content type {re.escape(mime)} is not HTML")


def test_cp1251_bytes_declared_utf8_come_out_as_readable_russian(
    server: TestServer, db: Path
) -> None:
    server.route("/story", mislabelled(page("russian-declared-utf8.html"), "cp1251", "utf-8"))
    check(archive(server, "/story", db), outcome="new_version", status=200, attempts=1,
          versions=1)
    assert "Мост через гавань в четверг утром снова открыли для движения" in stored_text(db)


def test_utf8_bytes_declared_latin1_come_out_as_readable_french(
    server: TestServer, db: Path
) -> None:
    server.route("/story", mislabelled(page("french-declared-latin1.html"), "utf-8",
                                       "iso-8859-1"))
    check(archive(server, "/story", db), outcome="new_version", status=200, attempts=1,
          versions=1)
    text = stored_text(db)
    assert "Les premières voitures ont traversé peu après six heures" in text
    assert "Ã" not in text and "â€" not in text  # no mojibake


def test_empty_200_is_no_article(server: TestServer, db: Path) -> None:
    server.route("/story", empty())
    check(archive(server, "/story", db), outcome="no_article", status=200, attempts=1,
          error=r"no article text found on .*/story")


def test_page_without_article_text_is_no_article(server: TestServer, db: Path) -> None:
    server.route("/story", Response.html(page("no-article.html")))
    check(archive(server, "/story", db), outcome="no_article", status=200, attempts=1,
          error=r"no article text found on .*/story \(only navigation links and headings\)")


def test_access_denied_page_is_no_article_and_says_so(server: TestServer, db: Path) -> None:
    server.route("/story", Response.html(page("access-denied.html")))
    check(archive(server, "/story", db), outcome="no_article", status=200, attempts=1,
          error=r"not an article: error page \(its title says 'Access Denied'\)")


def test_captcha_page_is_no_article_and_says_so(server: TestServer, db: Path) -> None:
    server.route("/story", Response.html(page("captcha.html")))
    check(archive(server, "/story", db), outcome="no_article", status=200, attempts=1,
          error=r"not an article: captcha page \(its title says 'Just a moment\.\.\.'\)")


def test_paywall_teaser_is_no_article_and_says_so(server: TestServer, db: Path) -> None:
    server.route("/story", Response.html(page("paywall-teaser.html")))
    check(archive(server, "/story", db), outcome="no_article", status=200, attempts=1,
          error=r"not an article: paywall teaser \(isAccessibleForFree false, the page says "
                r"'Subscribe to continue reading', and \d+ words of text\)")


@pytest.mark.parametrize("name", ["paywall-teaser.html", "captcha.html", "access-denied.html"])
def test_known_article_behind_a_wall_keeps_its_stored_version(
    server: TestServer, db: Path, name: str
) -> None:
    server.route("/story", Response.html(ARTICLE), Response.html(page(name)))
    check(archive(server, "/story", db), outcome="new_version", status=200, attempts=1,
          versions=1)
    check(archive(server, "/story", db), outcome="no_article", status=200, attempts=1,
          error=r"not an article|paywall teaser", versions=1)
    assert ARTICLE_SENTENCE in stored_text(db)


# --- gone ------------------------------------------------------------------------------------


def article_state(db: Path) -> tuple[str, str | None]:
    with sqlite3.connect(db) as conn:
        state, next_check = conn.execute("SELECT state, next_check FROM articles").fetchone()
    return state, next_check


@pytest.mark.parametrize("status", [404, 410])
def test_404_or_410_of_a_known_article_is_gone_and_marks_it_gone(
    server: TestServer, db: Path, status: int
) -> None:
    server.route("/story", Response.html(ARTICLE), *failing(status, times=1))
    check(archive(server, "/story", db), outcome="new_version", status=200, attempts=1,
          versions=1)
    assert article_state(db)[0] == "active"
    done = archive(server, "/story", db)
    check(done, outcome="gone", status=status, attempts=1,
          error=rf"HTTP {status} from .*/story$", versions=1)
    assert article_state(db) == ("gone", None)  # kept, never scheduled again
    assert server.hits("/story") == 2 and done.waits == []  # not retried


@pytest.mark.parametrize("status", [404, 410])
def test_404_or_410_of_an_unknown_url_is_gone_and_stores_nothing(
    server: TestServer, db: Path, status: int
) -> None:
    server.route("/story", *failing(status, times=1))
    check(archive(server, "/story", db), outcome="gone", status=status, attempts=1,
          error=rf"HTTP {status} from")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
