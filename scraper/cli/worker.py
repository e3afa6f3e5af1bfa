"""`scraper worker`: fetch and extract for `scraper crawl --queue`, on any machine."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import click

from .errors import log_to_stderr
from .options import config_option, load_sites, verbose_option


@click.command()
@click.option("--queue", "queue_url", envvar="SCRAPER_QUEUE", metavar="URL",
              help="The Redis the crawl sends tasks to (redis://HOST:PORT/DB; env "
                   "SCRAPER_QUEUE, or queue under [crawl] in the config).")
@config_option
@click.option("--hosts", type=click.IntRange(1, 10_000), default=8, show_default=True,
              help="Hosts handled at once (one task per host); fewer while the "
                   "extraction processes have pages waiting.")
@click.option("--processes", type=click.IntRange(0, 256), default=None,
              help="Extraction processes (default: one per core; 0: extract in this process).")
@click.option("--redeliver-after", type=click.FloatRange(min=0.1), default=None,
              metavar="SECONDS", help="Take over a task another worker has held this long "
              "without finishing (it died). Default 660: longer than a task may take.")
@click.option("--lease-ttl", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="A host's lease lapses this long after its worker died (default 30).")
@verbose_option
def worker(queue_url: str | None, config_path: Path | None, hosts: int,
           processes: int | None, redeliver_after: float | None, lease_ttl: float | None,
           verbose: bool) -> None:
    """Take host tasks from the queue: every request and the extraction, no database.

    Runs until stopped (SIGTERM or Ctrl-C let the tasks in hand finish). Give it the same
    config file as the crawl, for the sites it declares. At most one task per host runs
    at a time across all workers, each at the host's delay and robots.txt Crawl-delay.

    Example: scraper worker --queue redis://localhost:6379/0 --hosts 16
    """
    from ..queue import versions
    from ..queue.engine import IDLE_TIMEOUT, LEASE_TTL, redis_url, run_worker

    log_to_stderr(click.get_current_context(), logging.INFO if verbose else logging.WARNING)
    config = load_sites(config_path)
    url = queue_url or config.queue
    if url is None:
        raise click.UsageError("no queue: give --queue redis://HOST:PORT/DB (or SCRAPER_QUEUE)")
    try:
        url = redis_url(url)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--queue") from None
    schema, code = versions()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        count = (os.cpu_count() or 1) if processes is None else processes
        with _pool(count) as pool:
            from ..queue.work import runner
            from ..workers import pool_extractor

            # a slot more than processes: one job always waits in the pool's pipe
            run = runner(pool_extractor(pool), ahead=count + 1 if count else 0)
            try:
                await run_worker(url, run, schema=schema, code=code, hosts=hosts,
                                 idle_timeout=redeliver_after or IDLE_TIMEOUT,
                                 lease_ttl=lease_ttl or LEASE_TTL, stop=stop,
                                 admission=run)
            finally:
                await run.aclose()

    asyncio.run(main())


def _pool(processes: int) -> AbstractContextManager[Executor | None]:
    """Extraction processes that die with this worker; none when ``processes`` is 0."""
    if processes == 0:
        return nullcontext()
    from concurrent.futures import ProcessPoolExecutor

    from ..workers import _worker_start

    return ProcessPoolExecutor(max_workers=processes, initializer=_worker_start)
