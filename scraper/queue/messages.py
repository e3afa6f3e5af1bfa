"""What the coordinator and the workers send each other: pure encode/decode, no I/O.

A **host task** (coordinator → worker, a Taskiq task argument, JSON) is one host's work for
one turn: the sites whose feeds and sitemaps to read, the URLs to fetch with what the
archive knows of them (validators, raw hash), and the politeness settings::

    {"v": 1, "id": "…", "host": "example.com", "schema": 9, "code": "…",
     "discover": ["site"], "jobs": [{"url": …, "site": …, "key": …, "etag": …, …}],
     "settings": {"delay": 1.0, "concurrency": 1, "user_agent": …}, "max_time": 300}

A **host result** (worker → coordinator, one entry of the results stream) keeps the bulky
bytes out of the JSON: field ``meta`` is zstd-compressed JSON, and field ``raw:N`` the
zstd-compressed bytes of the N-th URL's page (``scraper.store.codec``), stored as they come.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..models import Article, Outcome, Page
from ..store import codec

FORMAT = 1  # bumped when a message's shape changes; part of the handshake
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # the start of every zstd frame


class BadMessage(ValueError):
    """A message that is not ours, or not of this format."""


@dataclass(frozen=True)
class Job:
    """One URL of a host task, with what the archive knows of it (None: a new article)."""

    url: str
    site: str
    key: str | None = None          # the article_key of a known article
    article_id: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    raw_hash: str | None = None

    @property
    def known(self) -> bool:
        return self.key is not None


@dataclass(frozen=True)
class HostTask:
    """One host's work for one turn (see the module docstring)."""

    host: str
    schema: int
    code: str
    jobs: tuple[Job, ...] = ()
    discover: tuple[str, ...] = ()  # site names whose feeds and sitemaps to read
    delay: float = 1.0
    concurrency: int = 1
    user_agents: dict[str, str] = field(default_factory=dict)  # per site, as resolved
    max_time: float = 300.0         # the rest comes back as ``left``: a continuation
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    sent: float = 0.0               # epoch seconds when the coordinator sent it (for logs)


def encode_task(task: HostTask) -> dict[str, Any]:
    """The JSON-ready form of a host task."""
    return {"v": FORMAT, "id": task.id, "host": task.host, "schema": task.schema,
            "code": task.code, "discover": list(task.discover),
            "jobs": [_compact(asdict(job)) for job in task.jobs],
            "settings": {"delay": task.delay, "concurrency": task.concurrency,
                         "user_agents": task.user_agents},
            "max_time": task.max_time, "sent": task.sent}


def decode_task(data: Any) -> HostTask:
    """A host task from its JSON form; BadMessage if it is not one of this format."""
    if not isinstance(data, dict) or data.get("v") != FORMAT:
        raise BadMessage(f"not a host task of format {FORMAT}: "
                         f"{str(data.get('v') if isinstance(data, dict) else data)[:40]}")
    try:
        settings = data["settings"]
        return HostTask(host=data["host"], schema=int(data["schema"]), code=data["code"],
                        jobs=tuple(Job(**job) for job in data["jobs"]),
                        discover=tuple(data["discover"]), delay=float(settings["delay"]),
                        concurrency=int(settings["concurrency"]),
                        user_agents=dict(settings["user_agents"]),
                        max_time=float(data["max_time"]), id=data["id"],
                        sent=float(data.get("sent", 0.0)))
    except (KeyError, TypeError, ValueError) as err:
        raise BadMessage(f"malformed host task: {err}") from None


Kind = Literal["page", "same", "failed", "skipped"]


@dataclass(frozen=True)
class UrlResult:
    """One URL's fetch: its ``fetches`` row, and the extracted article when there is one.

    ``kind``: "page" (fetched and extracted: ``article`` and ``page`` are set), "same" (a 304
    or the same bytes as last time: nothing to extract), "failed" (``outcome``, ``error``) or
    "skipped" (not tried: its robots.txt could not be read; stored as a failed attempt).
    ``started_at`` (ISO UTC, to the second) orders results of the same article.
    """

    job: Job
    kind: Kind
    started_at: str
    elapsed_ms: int
    status: int | None = None
    attempts: int | None = None
    final_url: str | None = None
    outcome: Outcome | None = None  # "same": not_modified/unchanged; "failed": the failure
    error: str | None = None
    article: Article | None = None
    page: Page | None = None
    raw_hash: str | None = None
    extractor: str | None = None
    etag: str | None = None           # "same": the response's validators, for the next check
    last_modified: str | None = None
    # "page", as received: the page's bytes zstd-compressed, as ``versions.html_raw`` keeps
    # them (the coordinator stores them without decompressing; ``page.raw`` is then empty)
    blob: bytes | None = None

    def fetch_row(self) -> dict[str, Any]:
        """The columns of its ``fetches`` row (outcome, article and version set on storing)."""
        return {"url": self.job.url, "started_at": self.started_at,
                "elapsed_ms": self.elapsed_ms, "status": self.status,
                "attempts": self.attempts, "final_url": self.final_url}


@dataclass(frozen=True)
class HostResult:
    """What a worker sends back for a host task."""

    task_id: str
    host: str
    schema: int
    code: str
    urls: tuple[UrlResult, ...] = ()
    links: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # site → feed links
    discovery_failed: dict[str, str] = field(default_factory=dict)        # site → why
    left: tuple[Job, ...] = ()  # not started within the task's time: the coordinator resends


def failed_result(task: HostTask, error: str) -> HostResult:
    """The result of a task that broke: every URL failed with ``error`` (nothing lost)."""
    from ..store import utc_now

    now = utc_now()
    return HostResult(task.id, task.host, task.schema, task.code,
                      urls=tuple(UrlResult(job, "failed", now, 0, outcome=Outcome.ERROR,
                                           error=error) for job in task.jobs),
                      discovery_failed={name: error for name in task.discover})


_PAGE_FIELDS = ("url", "final_url", "status", "content_type", "encoding", "etag",
                "last_modified", "attempts", "elapsed_ms")


def encode_result(result: HostResult) -> dict[str, bytes]:
    """The fields of a results-stream entry: ``meta`` plus one ``raw:N`` per page."""
    fields: dict[str, bytes] = {}
    urls = []
    for n, url in enumerate(result.urls):
        item: dict[str, Any] = {
            "job": _compact(asdict(url.job)), "kind": url.kind, "started_at": url.started_at,
            "elapsed_ms": url.elapsed_ms, "status": url.status, "attempts": url.attempts,
            "final_url": url.final_url, "outcome": url.outcome.value if url.outcome else None,
            "error": url.error, "raw_hash": url.raw_hash, "extractor": url.extractor,
            "etag": url.etag, "last_modified": url.last_modified}
        if url.article is not None:
            item["article"] = url.article.to_dict()
        if url.page is not None:
            item["page"] = {**{k: getattr(url.page, k) for k in _PAGE_FIELDS},
                            "redirects": list(url.page.redirects), "http": url.page.http}
            fields[f"raw:{n}"] = url.blob or codec.compress(url.page.raw or url.page.html.encode())
        urls.append(_compact(item))
    meta = {"v": FORMAT, "task": result.task_id, "host": result.host, "schema": result.schema,
            "code": result.code, "urls": urls, "links": result.links,
            "discovery_failed": result.discovery_failed,
            "left": [_compact(asdict(job)) for job in result.left]}
    fields["meta"] = codec.pack_json(meta)
    return fields


def decode_result(fields: dict[bytes, bytes] | dict[str, bytes]) -> HostResult:
    """A host result from a results-stream entry; BadMessage if it is not one."""
    by_name = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}
    try:
        meta = codec.unpack_json(by_name["meta"], codec.ZSTD)
    except (KeyError, ValueError) as err:
        raise BadMessage(f"not a host result: {err}") from None
    if not isinstance(meta, dict) or meta.get("v") != FORMAT:
        raise BadMessage(f"not a host result of format {FORMAT}")
    try:
        urls = tuple(_url_result(item, by_name.get(f"raw:{n}"))
                     for n, item in enumerate(meta["urls"]))
        return HostResult(task_id=meta["task"], host=meta["host"], schema=int(meta["schema"]),
                          code=meta["code"], urls=urls, links=meta["links"],
                          discovery_failed=meta["discovery_failed"],
                          left=tuple(Job(**job) for job in meta["left"]))
    except (KeyError, TypeError, ValueError) as err:
        raise BadMessage(f"malformed host result: {err}") from None


def _url_result(item: dict[str, Any], raw: bytes | None) -> UrlResult:
    article = page = None
    if "article" in item:
        data = dict(item["article"])
        data["authors"], data["tags"] = tuple(data["authors"]), tuple(data["tags"])
        article = Article(**data)
    if "page" in item:
        if raw is None or not raw.startswith(ZSTD_MAGIC):
            raise ValueError(f"the page of {item['job']['url']} has no zstd bytes")
        data = dict(item["page"])
        page = Page(**{**data, "redirects": tuple(data["redirects"])})
    outcome = Outcome(item["outcome"]) if item.get("outcome") else None
    return UrlResult(job=Job(**item["job"]), kind=item["kind"], started_at=item["started_at"],
                     elapsed_ms=int(item["elapsed_ms"]), status=item.get("status"),
                     attempts=item.get("attempts"), final_url=item.get("final_url"),
                     outcome=outcome, error=item.get("error"), article=article, page=page,
                     raw_hash=item.get("raw_hash"), extractor=item.get("extractor"),
                     etag=item.get("etag"), last_modified=item.get("last_modified"),
                     blob=raw if page is not None else None)


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    """Leave out None values: most of a job's fields are empty for a new article."""
    return {k: v for k, v in d.items() if v is not None}
