"""One URL through fetch → extract → store, with every attempt recorded.

The only module that joins the stages; it raises nothing for a failed URL but returns
a ``Result`` (the failure is also a ``fetches`` row), so a batch goes on.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .fetch import HTML_BYTES, FetchPolicy, Sleep, fetch, html_of, policy_for
from .identity import article_key, check_http_url
from .models import Article, ExtractError, Outcome, Page, ScraperError, UnknownSite
from .robots import Robots
from .schedule import DEFAULT_SCHEDULE
from .sites import Site, site_for, site_named
from .store import Archive, Schedule, utc_now
from .store.takedown import forgotten, unforget

log = logging.getLogger("scraper.pipeline")


@dataclass(frozen=True)
class Result:
    """What happened to one URL: ``outcome`` is its ``fetches.outcome``."""

    url: str
    outcome: Outcome
    version: int | None = None
    status: int | None = None
    error: str | None = None
    article_id: int | None = None
    attempts: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def describe(self) -> str:
        """The one-line human form: ``new version 2``, ``unchanged``, or the error."""
        if self.outcome == Outcome.NEW_VERSION:
            return f"new version {self.version}"
        if self.outcome.ok:
            return self.outcome.label
        if self.outcome == Outcome.GONE and self.article_id is None:
            return f"not found: {self.error}"  # never archived: nothing is "gone"
        return f"{self.outcome.label}: {self.error}"

    def to_dict(self) -> dict[str, object]:
        return {"url": self.url, "outcome": self.outcome.value, "version": self.version,
                "status": self.status, "error": self.error}


def _forgotten(url: str, when: str) -> Result:
    return Result(url, Outcome.BLOCKED, error=f"forgotten on {when} (scraper forget): not "
                  "archived again (--force to archive it)")


def _archived_site(name: str, given: Site) -> Site:
    """The site an archived article is stored as (``--site`` does not change it): all its
    versions are extracted alike, as `scraper reextract` expects; the one given when that
    site's adapter is gone."""
    try:
        return site_named(name)
    except UnknownSite:
        return given


def not_tried(archive: Archive, url: str, why: str, site: Site, *,
              known: dict[str, Any] | None = None, schedule: Schedule = DEFAULT_SCHEDULE,
              force: bool = False) -> Result:
    """A URL not fetched because its origin's robots.txt could not be read (RFC 9309:
    disallow, try later).

    Outcome ``blocked`` and a ``fetches`` row saying why, as for any failed attempt, linked
    to the article when it is archived; a known article gets its next check as after a
    failed one (and that counts as a check). Left due, a host that stays down would add a
    row for each of its articles on every run, and take the run's re-check budget
    (``max_checks``) from the sites that answer. A URL that `scraper forget` removed leaves
    no row, as in ``archive_url``.
    """
    known, refused = _look_up(archive, site, url, known, force)
    if refused is not None:
        return refused
    _record_failure(archive, site, url, known, schedule, {
        "url": url, "started_at": utc_now(), "elapsed_ms": 0, "status": None,
        "outcome": Outcome.BLOCKED, "error": why})
    return Result(url, Outcome.BLOCKED, error=why, article_id=known["id"] if known else None)


def _look_up(archive: Archive, site: Site, url: str, known: dict[str, Any] | None,
             force: bool) -> tuple[dict[str, Any] | None, Result | None]:
    """The archived article of ``url`` (``known`` when the caller has it, None when new)
    and None; or None and the result, for a URL that `scraper forget` removed (unless
    ``force``), which is neither fetched nor named in a row. A known article is asked too:
    `scraper forget` may have run while a crawl was under way."""
    key = known["article_key"] if known else article_key(site, url, None)
    if not force and (when := forgotten(archive, [url, key])):
        return None, _forgotten(url, when)
    return known or archive.find_article(url, key), None


def _record_failure(archive: Archive, site: Site | None, url: str,
                    known: dict[str, Any] | None, schedule: Schedule,
                    row: dict[str, Any]) -> None:
    """Store a failed attempt's ``fetches`` row: with a known article, which gets its next
    check (and the row points at it), or with a new URL found gone (404, 410), recorded as
    a gone article; else alone (``site`` is None for a URL refused before it had one)."""
    gone = row["outcome"] == Outcome.GONE
    if known or (gone and site is not None):
        key = known["article_key"] if known else article_key(site, url, None)  # type: ignore[arg-type]
        archive.mark_checked(key, state="gone" if gone else None, schedule=schedule, fetch=row)
    else:
        archive.record_fetch(**row)


# Gets the fetched page as bytes (``Page.raw``) and decodes it where it extracts: in a worker
# process for the crawl, so that the crawl neither decodes nor holds the text (twice or four
# times the bytes as a str) of the pages that wait for extraction.
Extractor = Callable[[Page, Site], Awaitable[Article]]


async def extract_inline(page: Page, site: Site) -> Article:
    """Extract in this process (one-off archiving); the crawl uses a process pool instead."""
    return extract_page(page, site)


def extract_page(page: Page, site: Site) -> Article:
    """Decode and extract a fetched page (in whichever process runs it)."""
    from .extract import extract  # imported when a page needs it: never on a run of 304s

    return extract(html_of(page), url=page.final_url, site=site)


async def archive_url(
    client: httpx.AsyncClient,
    archive: Archive,
    url: str,
    policy: FetchPolicy | None = None,
    *,
    robots: Robots | None,
    site: Site | None = None,
    known: dict[str, Any] | None = None,
    extractor: Extractor = extract_inline,
    schedule: Schedule = DEFAULT_SCHEDULE,
    sleep: Sleep | None = None,
    mirror: bool = False,
    force: bool = False,
) -> Result:
    """Fetch, extract and store ``url``; record the attempt; never raise for a bad page.

    ``policy`` is how to fetch (see ``scraper.fetch``); None: the site's own
    (``policy_for(site)``). ``known`` is the article's row when the caller already has it
    (a re-check). A 304, or the same bytes as last time, skips extraction. ``mirror``: the
    user chose ``site`` for a page served elsewhere, so a canonical link on the site's
    domains gives the identity (see ``identity.article_key``). An article that `scraper
    forget` removed is not fetched again (outcome ``blocked``, and no ``fetches`` row that
    would name it) unless ``force``.
    """
    started, clock = utc_now(), time.monotonic()
    page: Page | None = None

    def fetch_row(**fields: Any) -> dict[str, Any]:
        """The ``fetches`` row of this attempt; stored with the article change it goes with."""
        return {"url": url, "started_at": started,
                "elapsed_ms": round((time.monotonic() - clock) * 1000),
                "status": page.status if page else None,
                "attempts": page.attempts if page else None,
                "final_url": page.final_url if page else None, **fields}

    try:
        url = check_http_url(url)
        site = site or site_for(url)
        known, refused = _look_up(archive, site, url, known, force)
        if refused is not None:
            return refused  # no fetch, and no row that names the URL
        if known and known.get("site") not in (None, site.name):
            site = _archived_site(known["site"], site)
        etag, last_modified = (known["etag"], known["last_modified"]) if known else (None, None)
        page = await fetch(client, url, policy or policy_for(site), robots=robots, etag=etag,
                           last_modified=last_modified, sleep=sleep, accept=HTML_BYTES)
        raw_hash = hashlib.sha256(page.raw).hexdigest() if page.raw else None
        if known and (page.not_modified or (raw_hash and raw_hash == known.get("raw_hash"))):
            outcome = Outcome.NOT_MODIFIED if page.not_modified else Outcome.UNCHANGED
            # "active": an article that was gone and is back is checked again
            archive.mark_checked(known["article_key"], state="active", etag=page.etag,
                                 last_modified=page.last_modified, schedule=schedule,
                                 fetch=fetch_row(outcome=outcome))
            return Result(url, outcome, status=page.status, article_id=known["id"])
        try:
            article = await extractor(page, site)
        except ScraperError:
            raise
        except Exception as exc:  # a bug in an adapter, a dead worker: this URL fails, not all
            log.debug("extraction of %s failed", url, exc_info=True)
            raise ExtractError(f"extraction failed on {url}: {type(exc).__name__}: {exc}") from exc
        # a known article keeps its identity even when its canonical URL or redirect changed
        key = known["article_key"] if known else article_key(
            site, page.final_url, article.canonical_url, mirror=mirror)
        if not force and (when := forgotten(archive, [page.final_url, key])):
            return _forgotten(url, when)  # it redirected or canonicalised to a forgotten one
        if force:
            unforget(archive, [url, page.final_url, key])  # archived again on purpose
        from .extract import extractor_id  # loaded already: an extractor ran

        saved = archive.save(article, page, site_name=site.name, key=key, fetched_at=started,
                             raw_hash=raw_hash, schedule=schedule, fetch=fetch_row(),
                             extractor=extractor_id(site))
        return Result(url, saved.outcome, version=saved.version, status=page.status,
                       article_id=saved.article_id)
    except ScraperError as err:
        status = getattr(err, "status", None) or (page.status if page else None)
        # one line, whatever the layer below put in its message (fetches.error, the CLI)
        result = Result(url, err.outcome, status=status, error=" ".join(str(err).split()),
                         attempts=getattr(err, "attempts", None) or None,
                         article_id=known["id"] if known else None)
    row = fetch_row(outcome=result.outcome, error=result.error, status=result.status)
    if page is None:
        row["attempts"] = result.attempts
    _record_failure(archive, site, url, known, schedule, row)
    return result
