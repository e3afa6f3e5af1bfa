"""Crash safety: a real `scraper crawl` killed with SIGKILL at many points leaves an intact
archive, and the next crawl finishes the interrupted work.

Each crawl runs in a fork of tests/crawl_child.py (see there) against a local site of
ARTICLES small pages. Kill points:

- ``request-K``: the server kills the crawl when it receives its K-th request, after a
  delay of a few milliseconds (0 = before answering), so kills land while the crawl waits
  on the network, extracts, or writes; the crawl cannot finish first, as the server holds
  its later requests and the crawl waits before closing its row (see KillSwitch);
- ``write-N``: the crawl kills itself inside its N-th write, before its COMMIT (or, in a
  batch, before its RELEASE): 1 is the schema migration of the new file, 2 marks crawls
  killed earlier, 3 opens this crawl's row, then each article is one write, its version
  and its fetch record together, in a batch of writes (store.batch) that the kill loses
  whole, and the last, 20, closes the crawl's row;
- a kill at a batch's commit, with several articles in it
  (``test_a_kill_inside_a_write_batch_...``);
- ``pool-K``: as request-K, with the real extraction process pool running;
- odd points also checkpoint the WAL every few pages, so kills hit checkpoints as well.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from local_site import CrawlChild, assert_intact, rows, serve_site, tag_for
from server import Response, TestServer

pytestmark = pytest.mark.slow  # robustness tests: -m "not slow" skips them

ARTICLES = 16
REQUESTS = ARTICLES + 3  # robots.txt, the feed, the sitemap, then one per article
DELAYS = (0.0, 0.004, 0.012, 0.025)  # seconds between the K-th request and the kill
FAILSAFE = 60.0  # seconds a held request waits for a kill that normally comes in ms

POINTS = (
    [f"request-{k}" for k in (1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 15, 17, 19)]
    + [f"write-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 10, 13, 16, 19, 20)]
    + [f"pool-{k}" for k in (4, 8, 12, 16)]
)


class KillSwitch(TestServer):
    """A TestServer that SIGKILLs a crawl at its armed request, and lets it get no further.

    The kill comes ``delay`` s after the armed request is answered (at once, unanswered, for
    0), and the crawl cannot outrun it: every later request is held unanswered until the kill
    has landed, and the flag file made before the armed request is answered makes the crawl
    wait before it closes its row (crawl_child's ``hold_if``). So the kill always lands while
    the crawl works on the pages it got or waits for the next, its row still ``running``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._arm_lock = threading.Lock()
        self._kill_at = 0  # 0: disarmed
        self._count = 0  # requests since arm()
        self._delay = 0.0
        self._flag = Path()
        self._pid = 0
        self._pid_known = threading.Event()
        self._released = threading.Event()  # the kill has landed, or the server stops

    def arm(self, nth: int, delay: float, flag: Path) -> None:
        """Kill the crawl started next at its nth request from now, ``delay`` s after it.

        ``flag`` is created when that request arrives, before it is answered.
        """
        with self._arm_lock:
            self._kill_at, self._count, self._delay, self._flag = nth, 0, delay, flag
            self._pid_known.clear()
            self._released.clear()

    def target(self, pid: int) -> None:
        self._pid = pid
        self._pid_known.set()

    def requests_since_arm(self) -> int:
        with self._arm_lock:
            return self._count

    def stop(self) -> None:
        self._released.set()  # no held request may outlive the server
        super().stop()

    def _next(self, method: str, path: str, headers: dict[str, str]) -> Response:
        response = super()._next(method, path, headers)
        with self._arm_lock:
            if not self._kill_at:
                return response
            self._count += 1
            number, kill_at = self._count, self._kill_at
        if number > kill_at:
            return Response(handler=self._hold)
        if number < kill_at:
            return response
        self._flag.touch()
        if not self._pid_known.wait(FAILSAFE):
            return response  # no kill: the crawl holds, then fails the test (crawl_child)
        if self._delay:  # answer first; the kill lands while the crawl works on it
            threading.Timer(self._delay, self._kill).start()
            return response
        self._kill()
        return Response(handler=self._hold)

    def _kill(self) -> None:
        try:
            os.kill(self._pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        with self._arm_lock:
            self._kill_at = 0
        self._released.set()

    def _hold(self, request: BaseHTTPRequestHandler) -> None:
        """Answer nothing until the kill has landed: the crawl is dead by then."""
        self._released.wait(FAILSAFE)


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[KillSwitch, str, str]]:
    with KillSwitch() as server:
        feed, sitemap = serve_site(server, ARTICLES)
        yield server, feed, sitemap


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrawlChild]:
    runner = CrawlChild(tag_for(tmp_path_factory.mktemp("crash")))
    yield runner
    runner.close()


def crawl_job(tmp_path: Path, feed: str, sitemap: str, name: str, **extra: object) -> dict:
    config = tmp_path / "scraper.toml"
    config.write_text("[crawl]\ndelay = 0\n")
    return {"db": str(tmp_path / "archive.db"), "config": str(config),
            "log": str(tmp_path / f"{name}.log"), "feed": feed, "sitemap": sitemap, **extra}


def kill_at(point: str, child: CrawlChild, server: KillSwitch, job: dict) -> None:
    """Run the crawl and kill it at ``point``; fails, saying why, if it was not killed there."""
    kind, _, number = point.partition("-")
    n = int(number)
    if n % 2:
        job["checkpoint"] = 4
    if kind == "write":
        child.start(**job, kill_in_write=n)
        ended = child.wait()
    else:
        flag = Path(job["log"]).with_suffix(".armed")
        server.arm(n, DELAYS[n % len(DELAYS)], flag)
        server.target(child.start(**job, pool=kind == "pool", hold_if=str(flag)))
        ended = child.wait()
        made = server.requests_since_arm()
        assert made >= n, f"{point} is never reached: the crawl made {made} requests ({ended})"
    log = Path(job["log"]).read_text()
    assert ended.get("signal") == signal.SIGKILL, f"{point}: the crawl was not killed " \
        f"({ended}); was the point reached?\n{log}"


def finish_and_check(child: CrawlChild, server: KillSwitch, tmp_path: Path, feed: str,
                     sitemap: str) -> str:
    """A crawl that is not killed; it must archive every article exactly once."""
    db = tmp_path / "archive.db"
    child.start(**crawl_job(tmp_path, feed, sitemap, "recovery"))
    ended = child.wait()
    log = (tmp_path / "recovery.log").read_text()
    assert ended.get("exit") == 0, log
    assert "Traceback" not in log and "another crawl is running" not in log, log
    assert_intact(db)
    archived = rows(db, "SELECT a.url, count(v.id) FROM articles a"
                        " LEFT JOIN versions v ON v.article_id = a.id GROUP BY a.id")
    assert sorted(archived) == sorted((server.url(f"/news/{i}"), 1)
                                      for i in range(1, ARTICLES + 1))
    statuses = [s for (s,) in rows(db, "SELECT status FROM crawls ORDER BY id")]
    assert statuses[-1] == "finished"
    assert set(statuses[:-1]) <= {"interrupted"}, statuses
    # An article's version and its fetches row commit in one transaction: no version
    # without the fetch that stored it, whatever the kill point.
    orphans = rows(db, "SELECT count(*) FROM versions v WHERE NOT EXISTS (SELECT 1 FROM"
                       " fetches f WHERE f.article_id = v.article_id AND f.version = v.version)")
    assert orphans[0][0] == 0
    return log


@pytest.mark.parametrize("point", POINTS)
def test_crawl_killed_at_any_point_leaves_an_intact_archive_and_the_next_crawl_finishes(
        point: str, site: tuple[KillSwitch, str, str], child: CrawlChild,
        tmp_path: Path) -> None:
    server, feed, sitemap = site
    kill_at(point, child, server, crawl_job(tmp_path, feed, sitemap, "killed"))
    assert not child.stray_processes(), "the killed crawl left processes behind"
    db = tmp_path / "archive.db"
    if db.exists():
        assert_intact(db)
        killed_crawl = rows(db, "SELECT status FROM crawls") if rows(
            db, "SELECT 1 FROM sqlite_master WHERE name = 'crawls'") else []
        assert killed_crawl in ([], [("running",)])
    log = finish_and_check(child, server, tmp_path, feed, sitemap)
    if rows(db, "SELECT count(*) FROM crawls")[0][0] > 1:
        assert "interrupted" in log


def test_repeated_kills_on_one_archive_then_one_crawl_finishes_the_work(
        site: tuple[KillSwitch, str, str], child: CrawlChild, tmp_path: Path) -> None:
    server, feed, sitemap = site
    # Every point is reached whatever the crawls before archived: a kill at request K leaves
    # at most K - 3 articles archived (discovery makes 3 requests, later ones are held), so
    # after request-9 and pool-6 at least 16 - 9 = 7 remain, enough for write-9 (1 marks the
    # killed crawls, 2 opens the row, 3..9 are articles); request-3 is discovery.
    for number, point in enumerate(("write-1", "request-9", "pool-6", "write-9", "request-3")):
        kill_at(point, child, server, crawl_job(tmp_path, feed, sitemap, f"killed-{number}"))
        assert not child.stray_processes()
        assert_intact(tmp_path / "archive.db")
    finish_and_check(child, server, tmp_path, feed, sitemap)
    statuses = rows(tmp_path / "archive.db", "SELECT status FROM crawls ORDER BY id")
    assert statuses == [("interrupted",)] * (len(statuses) - 1) + [("finished",)]


def test_a_kill_inside_a_write_batch_loses_that_batch_only_and_the_next_crawl_redoes_it(
        site: tuple[KillSwitch, str, str], child: CrawlChild, tmp_path: Path) -> None:
    server, feed, sitemap = site
    db = tmp_path / "archive.db"
    # batches of 4 articles: the first commits, the kill lands at the second's commit
    child.start(**crawl_job(tmp_path, feed, sitemap, "killed", batch_size=4, kill_in_batch=2))
    ended = child.wait()
    log = (tmp_path / "killed.log").read_text()
    assert ended.get("signal") == signal.SIGKILL, f"the crawl was not killed ({ended})\n{log}"
    held = next(line for line in log.splitlines()
                if line.startswith("crawl_child: killed in batch 2 holding")).split()[6:]
    assert len(held) == 4 and len(set(held)) == 4, held
    assert_intact(db)
    kept = rows(db, "SELECT a.url, v.version, v.content_hash, v.fetched_at FROM versions v"
                    " JOIN articles a ON a.id = v.article_id ORDER BY a.url")
    # the first batch is stored, and nothing of the killed one
    assert len(kept) == 4 and not {url for url, *_ in kept} & set(held)
    assert rows(db, "SELECT count(*) FROM fetches") == [(4,)]
    last_fetch = rows(db, "SELECT max(id) FROM fetches")[0][0]

    finish_and_check(child, server, tmp_path, feed, sitemap)
    # no stored version was lost or rewritten
    assert set(kept) <= set(rows(db, "SELECT a.url, v.version, v.content_hash, v.fetched_at"
                                     " FROM versions v JOIN articles a ON a.id = v.article_id"))
    # the next crawl fetched exactly what was not stored: the lost batch and what came after
    redone = [url for (url,) in rows(db, "SELECT url FROM fetches WHERE id > ?", (last_fetch,))]
    everything = {server.url(f"/news/{i}") for i in range(1, ARTICLES + 1)}
    assert sorted(redone) == sorted(everything - {url for url, *_ in kept})
    assert set(held) <= set(redone)
