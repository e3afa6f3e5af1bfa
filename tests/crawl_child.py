"""A crawl to kill: `scraper crawl` of a local test site, each run in a fresh fork of this process.

tests/test_crash.py and tests/test_concurrency.py start it as ``python tests/crawl_child.py TAG``.
It imports the scraper (and warms up extraction) once, then reads one JSON job per line on
stdin and runs each in a forked child, so a test can SIGKILL many crawls without paying
Python's start-up each time. For every job it prints one JSON line when the child starts,
``{"pid": N}``, and one when it ends, ``{"pid": N, "exit": CODE}`` or
``{"pid": N, "signal": SIG}``. TAG only marks the command line, so a test can find every
process that came from here (the forks and their extraction workers share it).

A job::

    {"db": PATH, "config": PATH, "log": PATH,      # the child's stdout and stderr go to log
     "feed": URL, "sitemap": URL,                  # the local site's discovery URLs
     "pool": false,                                # true: the real extraction process pool
     "kill_in_write": N,                           # SIGKILL itself inside its N-th write
                                                   #   transaction, before COMMIT (optional)
     "batch_size": N,                              # writes per batch (store.batch; optional)
     "kill_in_batch": N,                           # SIGKILL itself at its N-th batch commit,
                                                   #   before COMMIT, saying on stderr which
                                                   #   URLs the batch held (optional)
     "checkpoint": PAGES,                          # PRAGMA wal_autocheckpoint (optional)
     "hold_if": PATH}                              # wait to be killed before closing the
                                                   #   crawl's row if PATH exists (optional)

``hold_if`` is how tests/test_crash.py makes a timed kill land by construction: its server
creates PATH when the armed request arrives, before answering it, so a crawl that gets to
the end of its run with PATH present has a kill on its way and waits for it, its row still
``running``. A crawl that gets there without PATH never reached the armed request and ends
normally, which the test reports. The wait has a failsafe: after HOLD_FAILSAFE s with no
kill the child says so in its log and exits 3, so a broken test fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scraper import cli as cli_module  # noqa: E402
from scraper.cli import crawling as crawl_command  # noqa: E402
from scraper import workers as workers_module  # noqa: E402
from scraper.extract import extract  # noqa: E402
from scraper.sites import Site  # noqa: E402
from scraper.store import Archive  # noqa: E402
from scraper.store import batch as batch_module  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "site" / "article.html"
HOLD_FAILSAFE = 60.0  # seconds; the kill normally comes within milliseconds
HELD_NO_KILL = 3  # exit code of a crawl that held for a kill that never came


class LocalNews(Site):
    """The test site on 127.0.0.1; its feeds and sitemaps come with each job."""

    name = "localnews"
    domains = ("127.0.0.1",)
    article_path = r"^/news/\d+$"


def _kill_in_write(n: int) -> None:
    """Make the n-th write transaction of this process SIGKILL it before its COMMIT."""
    original = Archive._write
    seen = 0

    @contextmanager
    def write(self: Archive) -> Iterator[Any]:
        nonlocal seen
        with original(self) as conn:
            yield conn
            seen += 1
            if seen == n:
                os.kill(os.getpid(), signal.SIGKILL)

    Archive._write = write  # type: ignore[method-assign]


def _batches_of(size: int) -> None:
    """Commit every ``size`` writes, and never on the timer: batches by construction."""
    batch_module.BATCH_SIZE = size
    batch_module.BATCH_SECONDS = 3600.0


def _kill_in_batch(n: int) -> None:
    """SIGKILL this process at its n-th batch commit, before COMMIT, after printing
    ``crawl_child: killed in batch N holding URL URL ...`` on stderr."""
    held: list[str] = []
    commits = 0
    original_commit = batch_module.Batch.commit

    def holding(method_name: str, url_of: Any) -> None:
        original = getattr(Archive, method_name)

        def method(self: Archive, *args: Any, **kwargs: Any) -> Any:
            # noted before the write: the write that fills a batch commits it
            url = url_of(args, kwargs) if self._batch is not None else None
            if url:
                held.append(url)
            try:
                return original(self, *args, **kwargs)
            except BaseException:
                if url and held and held[-1] == url:
                    held.pop()  # no write made
                raise

        setattr(Archive, method_name, method)

    holding("save", lambda args, kwargs: args[1].url)
    holding("mark_checked", lambda args, kwargs: kwargs["fetch"]["url"])
    holding("record_fetch", lambda args, kwargs: args[0])

    def commit(self: batch_module.Batch) -> None:
        nonlocal commits
        if self.writes:
            commits += 1
            if commits == n:
                print(f"crawl_child: killed in batch {n} holding {' '.join(held)}",
                      file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        original_commit(self)
        held.clear()

    batch_module.Batch.commit = commit  # type: ignore[method-assign]


def _checkpoint_every(pages: int) -> None:
    """Checkpoint the WAL every few pages, so that kills land in checkpoints too."""
    original = Archive._setup

    def setup(self: Archive) -> None:
        original(self)
        self.db.conn.execute(f"PRAGMA wal_autocheckpoint = {pages}")

    Archive._setup = setup  # type: ignore[method-assign]


def _hold_before_finish(flag: Path) -> None:
    """Make the crawl wait to be killed before closing its row, when ``flag`` exists."""
    original = Archive.finish_crawl

    def finish_crawl(self: Archive, crawl_id: int, counts: dict[str, int], status: str) -> None:
        if flag.exists():
            # The armed request came and its kill is on the way: wait here, row 'running'.
            time.sleep(HOLD_FAILSAFE)
            print(f"crawl_child: held {HOLD_FAILSAFE:g} s before closing crawl {crawl_id}"
                  " and no kill came", file=sys.stderr, flush=True)
            os._exit(HELD_NO_KILL)
        original(self, crawl_id, counts, status)

    Archive.finish_crawl = finish_crawl  # type: ignore[method-assign]


def run_job(job: dict[str, Any]) -> int:
    """Run `scraper crawl` as the job says, in this (forked) process; returns the exit code."""
    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    site = LocalNews()
    site.feeds = (job["feed"],)  # type: ignore[misc]
    site.sitemaps = (job["sitemap"],)  # type: ignore[misc]
    crawl_command._crawl_sites = lambda names, configured: [site]  # type: ignore[assignment]
    if not job.get("pool"):
        workers_module.make_pool = lambda: nullcontext(None)  # type: ignore[assignment]
    if job.get("kill_in_write"):
        _kill_in_write(int(job["kill_in_write"]))
    if job.get("batch_size"):
        _batches_of(int(job["batch_size"]))
    if job.get("kill_in_batch"):
        _kill_in_batch(int(job["kill_in_batch"]))
    if job.get("checkpoint"):
        _checkpoint_every(int(job["checkpoint"]))
    if job.get("hold_if"):
        _hold_before_finish(Path(job["hold_if"]))
    try:
        cli_module.cli.main(["crawl", "--db", job["db"], "--config", job["config"]],
                            prog_name="scraper")
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 1
    return 0


def main() -> None:
    # One extraction here, so the forks start with trafilatura's lazy set-up done.
    extract(FIXTURE.read_text().replace("$body", "<p>" + "Warm up. " * 40 + "</p>"),
            url="http://127.0.0.1/news/0", site=LocalNews())
    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = run_job(job)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            print(json.dumps({"pid": pid, "signal": os.WTERMSIG(status)}), flush=True)
        else:
            print(json.dumps({"pid": pid, "exit": os.WEXITSTATUS(status)}), flush=True)


if __name__ == "__main__":
    main()
