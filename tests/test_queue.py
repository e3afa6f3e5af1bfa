"""The queue's parts without a Redis server: message formats, host leases (fakeredis), the
worker's Taskiq task (InMemoryBroker), idempotent storing, and the coordinator (a fake queue)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from taskiq import InMemoryBroker

from scraper.models import Article, Outcome, Page
from scraper.queue import versions
from scraper.queue.engine import (
    RESULTS,
    TASK_NAME,
    HostBusy,
    Lease,
    VersionMismatch,
    host_task_function,
)
from scraper.queue.messages import (
    BadMessage,
    HostResult,
    HostTask,
    Job,
    UrlResult,
    decode_result,
    decode_task,
    encode_result,
    encode_task,
)
from scraper.store import Archive, codec
from scraper.store.results import store_check, store_page

SCHEMA, CODE = versions()
URL = "https://news.example/2024/story"


def task(**fields: Any) -> HostTask:
    return HostTask(**{"host": "news.example", "schema": SCHEMA, "code": CODE,
                       "jobs": (Job(URL, "generic", key="k1", article_id=3, etag='"e"'),
                                Job("https://news.example/new", "generic")),
                       "discover": ("harbour",), "delay": 2.5,
                       "user_agents": {"generic": "Bot/1"}, **fields})


def article(text: str = "Para one.\n\nPara two.", **fields: Any) -> Article:
    return Article(url=URL, text=text, title="A title", authors=("Ann", "Bo"),
                   tags=("x",), **fields)


def page_result(text: str = "Para one.\n\nPara two.", started_at: str = "2024-10-10T12:00:00+00:00",
                elapsed_ms: int = 12, raw: bytes = b"<html>one</html>") -> UrlResult:
    page = Page(url=URL, final_url=URL, status=200, raw=raw, etag='"v1"',
                redirects=("http://news.example/story",),
                http={"request": {"headers": [["User-Agent", "Bot"]]},
                      "response": {"headers": [["Content-Type", "text/html"]]}})
    return UrlResult(Job(URL, "generic"), "page", started_at, elapsed_ms, status=200,
                     attempts=1, final_url=URL, article=article(text), page=page,
                     raw_hash="ab" * 32, extractor="x 1")


# ---- messages ---------------------------------------------------------------------------

def test_a_host_task_survives_its_json_form() -> None:
    original = task()
    wire = json.loads(json.dumps(encode_task(original)))
    assert decode_task(wire) == original
    # a new article's job carries only its URL and site: compact
    assert wire["jobs"][1] == {"url": "https://news.example/new", "site": "generic"}


def test_a_host_result_keeps_pages_as_compressed_bytes_beside_the_json() -> None:
    failed = UrlResult(Job("https://news.example/x", "generic"), "failed",
                       "2024-10-10T12:00:01+00:00", 5, status=503, attempts=4,
                       outcome=Outcome.ERROR, error="HTTP 503")
    same = UrlResult(Job(URL, "generic", key="k1"), "same", "2024-10-10T12:00:02+00:00", 3,
                     status=304, outcome=Outcome.NOT_MODIFIED, etag='"v2"')
    raw = b"<html>" + b"news " * 2000 + b"</html>"
    result = HostResult("t1", "news.example", SCHEMA, CODE,
                        urls=(page_result(raw=raw), failed, same),
                        links={"harbour": [{"url": URL, "published": None, "title": "T",
                                            "source": "feed"}]},
                        discovery_failed={"other": "HTTP 500"}, left=(Job(URL, "generic"),))
    fields = encode_result(result)
    assert set(fields) == {"meta", "raw:0"}
    assert len(fields["raw:0"]) < len(raw) / 10  # zstd, not the page as it came
    back = decode_result({k.encode(): v for k, v in fields.items()})
    # the page's bytes stay compressed, to be stored as they are
    assert back.urls[0].blob == fields["raw:0"] and codec.decompress(
        fields["raw:0"], codec.ZSTD) == raw
    assert back.urls[0].page is not None and back.urls[0].page.raw == b""
    assert back == replace(result, urls=(replace(result.urls[0], blob=fields["raw:0"], page=replace(
        result.urls[0].page, raw=b"")), *result.urls[1:]))  # type: ignore[arg-type]


@pytest.mark.parametrize("fields", [{}, {"meta": b"not zstd"}, {"meta": b"\x28\xb5\x2f\xfd"},
                                    {"meta": encode_result(HostResult(
                                        "t", "h", 1, "c", urls=(page_result(),)))["meta"],
                                     "raw:0": b"not zstd"}])
def test_a_foreign_entry_on_the_results_stream_is_a_bad_message(fields: dict[str, bytes]) -> None:
    with pytest.raises(BadMessage):
        decode_result(fields)
    with pytest.raises(BadMessage):
        decode_task({"v": 99})


# ---- leases -----------------------------------------------------------------------------

@pytest.fixture
def redis() -> Iterator[fakeredis.FakeAsyncRedis]:
    yield fakeredis.FakeAsyncRedis()


def test_a_host_lease_has_one_holder_and_only_its_owner_extends_or_releases_it(
        redis: fakeredis.FakeAsyncRedis) -> None:
    async def go() -> None:
        mine, theirs = Lease(redis, "a.example", ttl=5), Lease(redis, "a.example", ttl=5)
        assert await mine.try_acquire()
        assert not await theirs.try_acquire()
        assert not await theirs.extend() and not await theirs.release()
        assert await redis.get(mine.key) == mine.token.encode()
        assert await mine.extend()
        assert await mine.release(delay_left=1.5)
        assert not await mine.release()  # not twice
        # the next holder learns what the delay still asks
        left = await theirs.acquire(timeout=5)
        assert 1.0 < left <= 1.5
        assert await Lease(redis, "b.example").try_acquire()  # hosts are independent
        with pytest.raises(HostBusy, match="a.example stayed busy"):
            await mine.acquire(timeout=0)  # never waits for ever (two tasks, two hosts)

    asyncio.run(go())


def test_a_lease_that_is_not_extended_lapses(redis: fakeredis.FakeAsyncRedis) -> None:
    async def go() -> None:
        dead = Lease(redis, "a.example", ttl=5)
        assert await dead.try_acquire()
        await redis.pexpire(dead.key, 1)  # as when its worker died and the TTL ran out
        while await redis.exists(dead.key):
            await asyncio.sleep(0.001)
        assert await Lease(redis, "a.example").try_acquire()
        assert not await dead.extend()  # the dead holder cannot take it back

    asyncio.run(go())


# ---- the worker's task, in Taskiq's InMemoryBroker ---------------------------------------

def run_in_broker(redis: fakeredis.FakeAsyncRedis, run: Any, data: dict[str, Any],
                  *, times: int = 1) -> list[VersionMismatch]:
    refused: list[VersionMismatch] = []
    requeued: list[dict[str, Any]] = []

    async def requeue(d: dict[str, Any]) -> None:
        requeued.append(d)

    async def go() -> None:
        broker = InMemoryBroker()
        fn = host_task_function(redis, run, schema=SCHEMA, code=CODE, lease_ttl=5,
                                requeue=requeue, refuse=refused.append)
        registered = broker.register_task(fn, task_name=TASK_NAME)
        await broker.startup()
        for _ in range(times):
            handle = await registered.kiq(data)
            result = await handle.wait_result(timeout=10)
            assert not result.is_err, result.error
        await broker.shutdown()

    asyncio.run(go())
    assert len(requeued) == len(refused)
    return refused


def test_a_worker_task_sends_its_result_once_and_releases_its_leases(
        redis: fakeredis.FakeAsyncRedis) -> None:
    calls: list[str] = []

    async def run(t: HostTask, claim: Any) -> tuple[HostResult, dict[str, float]]:
        calls.append(t.id)
        assert await claim.claim(t.host) == 0.0
        assert await redis.exists(f"scraper:lease:{t.host}")  # held while it runs
        return HostResult(t.id, t.host, t.schema, t.code, urls=(page_result(),)), {t.host: 30.0}

    sent = task()
    assert run_in_broker(redis, run, encode_task(sent), times=2) == []
    assert calls == [sent.id]  # the redelivered copy did nothing

    async def check() -> None:
        entries = await redis.xrange(RESULTS)
        assert len(entries) == 1
        assert decode_result(entries[0][1]).urls[0].article == article()
        assert not await redis.exists(f"scraper:lease:{sent.host}")
        assert 20_000 < await redis.pttl(f"scraper:pace:{sent.host}") <= 30_000

    asyncio.run(check())


def test_a_worker_refuses_a_task_of_another_version_and_puts_it_back(
        redis: fakeredis.FakeAsyncRedis) -> None:
    async def run(t: HostTask, claim: Any) -> tuple[HostResult, dict[str, float]]:
        raise AssertionError("a task of another version must not run")

    refused = run_in_broker(redis, run, encode_task(task(code="scraper 0.0.1 other")))
    assert len(refused) == 1 and "upgrade" in str(refused[0])
    assert asyncio.run(redis.xlen(RESULTS)) == 0


def test_a_worker_bug_fails_every_url_instead_of_losing_the_task(
        redis: fakeredis.FakeAsyncRedis) -> None:
    async def run(t: HostTask, claim: Any) -> tuple[HostResult, dict[str, float]]:
        raise KeyError("boom")

    run_in_broker(redis, run, encode_task(task()))
    (entry,) = asyncio.run(redis.xrange(RESULTS))
    result = decode_result(entry[1])
    assert [u.outcome for u in result.urls] == [Outcome.ERROR, Outcome.ERROR]
    assert "KeyError" in (result.urls[0].error or "")
    assert set(result.discovery_failed) == {"harbour"}


# ---- storing, idempotently ---------------------------------------------------------------

@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    with Archive(tmp_path / "archive.db") as a:
        yield a


def counts(archive: Archive) -> tuple[int, int]:
    c = archive.db.conn
    return (c.execute("SELECT count(*) FROM versions").fetchone()[0],
            c.execute("SELECT count(*) FROM fetches").fetchone()[0])


def store(archive: Archive, r: UrlResult, redelivered: bool = False) -> Any:
    assert r.article is not None and r.page is not None
    return store_page(archive, r.article, r.page, site_name="generic", key="k1",
                      fetched_at=r.started_at, raw_hash=r.raw_hash, fetch=r.fetch_row(),
                      extractor=r.extractor, redelivered=redelivered)


def test_a_duplicate_result_stores_nothing_new(archive: Archive) -> None:
    first = store(archive, page_result())
    assert first.outcome == Outcome.NEW_VERSION
    assert store(archive, page_result(), redelivered=True) is None
    assert counts(archive) == (1, 1)
    # a fresh result is never taken for a duplicate: another fetch may share the second
    assert store(archive, page_result()).outcome == Outcome.UNCHANGED
    assert counts(archive) == (1, 2)


def test_a_stale_result_never_creates_a_revert(archive: Archive) -> None:
    a_old = page_result("Version A.", "2024-10-10T12:00:00+00:00", elapsed_ms=10)
    b_new = page_result("Version B.", "2024-10-10T12:05:00+00:00")
    a_late = page_result("Version A.", "2024-10-10T12:01:00+00:00", elapsed_ms=11)
    assert store(archive, a_old).version == 1
    assert store(archive, b_new).version == 2
    late = store(archive, a_late)  # fetched before B, delivered after it
    assert late.outcome == Outcome.UNCHANGED and late.version == 2
    assert counts(archive) == (2, 3)  # its fetch is logged, as a check that changed nothing
    row = archive.find_article(URL, "k1")
    assert row is not None and row["last_checked"] == "2024-10-10T12:05:00+00:00"
    # a real later A is a third version (A→B→A keeps three)
    assert store(archive, page_result("Version A.", "2024-10-10T12:10:00+00:00")).version == 3


def test_a_stale_check_keeps_the_newer_validators(archive: Archive) -> None:
    store(archive, page_result(started_at="2024-10-10T12:05:00+00:00"))
    fetch = {"url": URL, "started_at": "2024-10-10T12:00:00+00:00", "elapsed_ms": 3,
             "status": 304, "attempts": 1, "final_url": URL}
    assert store_check(archive, "k1", outcome=Outcome.NOT_MODIFIED,
                       checked_at="2024-10-10T12:00:00+00:00", fetch=fetch, etag='"old"')
    assert not store_check(archive, "k1", outcome=Outcome.NOT_MODIFIED, redelivered=True,
                           checked_at="2024-10-10T12:00:00+00:00", fetch=fetch, etag='"old"')
    row = archive.find_article(URL, "k1")
    assert row is not None and row["etag"] == '"v1"' and row["check_count"] == 1
    assert counts(archive) == (1, 2)


# ---- configuration and command line ------------------------------------------------------

def test_the_queue_can_be_set_in_the_config_and_a_bad_one_is_refused() -> None:
    from scraper.config import parse_config
    from scraper.models import UsageError

    assert parse_config({"crawl": {"queue": "redis://q.example:6379/2"}}).queue == (
        "redis://q.example:6379/2")
    assert parse_config({}).queue is None
    with pytest.raises(UsageError, match=r"\[crawl\] queue must be a Redis URL"):
        parse_config({"crawl": {"queue": "http://q.example/"}})


@pytest.mark.parametrize("command", [["crawl", "--db", "{tmp}/a.db"], ["worker"]])
def test_a_queue_that_is_not_a_redis_url_is_a_usage_error(command: list[str],
                                                          tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scraper.cli import cli

    args = [a.replace("{tmp}", str(tmp_path)) for a in command] + ["--queue", "http://x/"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "not a Redis URL" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "a.db").exists()


def test_a_plain_crawl_does_not_import_the_queue_engine() -> None:
    import subprocess
    import sys

    code = ("import sys, scraper.cli, scraper.crawl; "
            "print(sorted(m for m in ('taskiq', 'redis', 'scraper.queue.engine') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
