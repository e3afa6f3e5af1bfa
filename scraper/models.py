"""The values that flow through the pipeline, and the errors it raises.

discover → fetch → extract → store: each stage takes and returns these frozen
values; nothing here does I/O.

The error tree (lower layers raise, ``scraper.cli`` turns them into one line)::

    ScraperError
    ├── UsageError          bad input from the user (URL, option, config)
    ├── UnknownSite         no adapter of that name
    ├── FetchError          the page could not be fetched
    │   ├── BadURL          not http(s), or no host: on the first request or a redirect
    │   ├── Blocked         robots.txt disallows the URL
    │   ├── HTTPStatus      a final non-2xx/304 status (``.status``; 404/410 are ``.gone``)
    │   ├── WrongType       the content type is not one asked for
    │   │   └── NotHTML     ... not HTML, for a page
    │   ├── TooLarge        the body is larger than the cap
    │   └── Network         connection error or timeout after the last retry
    ├── FeedError           a feed or sitemap refused or unreadable (scraper.discover)
    ├── ExtractError        the page holds no article
    │   └── NotAnArticle    an error page, a captcha, or a paywall teaser
    ├── StoreError          the archive cannot be used
    │   ├── SchemaTooNew    the database was written by a newer version
    │   └── NotStorable     a value the archive refuses (no text, no key, unknown outcome)
    └── Locked              another crawl holds the archive's lock (scraper.crawl)

What happened to one URL is an ``Outcome``: the one list of the ``fetches.outcome`` values,
and of the per-outcome counts of a crawl.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What one fetch of a URL came to: the values of ``fetches.outcome``."""

    NEW_VERSION = "new_version"    # a new version was stored
    UNCHANGED = "unchanged"        # fetched, and the content is the latest version's
    NOT_MODIFIED = "not_modified"  # the server answered 304 to a conditional GET
    GONE = "gone"                  # 404 or 410: the article was taken down
    BLOCKED = "blocked"            # robots.txt disallows it, or `scraper forget` removed it
    NO_ARTICLE = "no_article"      # the page holds no article (error page, captcha, teaser)
    ERROR = "error"                # anything else: network, HTTP status, size, type

    @property
    def ok(self) -> bool:
        """True when the page was read and the archive is current."""
        return self in (Outcome.NEW_VERSION, Outcome.UNCHANGED, Outcome.NOT_MODIFIED)

    @property
    def label(self) -> str:
        """The words a person reads: ``not modified``."""
        return self.value.replace("_", " ")

    def counted(self, n: int) -> str:
        """``n`` of this outcome as a person reads it: ``1 new version``, ``4 new versions``,
        ``2 unchanged`` (the nouns agree with the count; the adjectives need not)."""
        if self in (Outcome.NEW_VERSION, Outcome.ERROR):
            return counted(n, self.label)
        return f"{n} {self.label}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 article``, ``2 articles``: a count with its noun in agreement."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


class CrawlStatus(StrEnum):
    """The values of ``crawls.status``."""

    RUNNING = "running"          # started and not closed (yet, or it was killed)
    FINISHED = "finished"        # every planned URL was handled
    TIMED_OUT = "timed_out"      # --max-time ended it; what was left is counted as skipped
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C / SIGTERM, or found killed by a later run
    FAILED = "failed"            # ended by an unexpected error


class ScraperError(Exception):
    """Base of every error the scraper raises on purpose."""

    outcome = Outcome.ERROR  # the `fetches.outcome` this error is recorded as


class UsageError(ScraperError):
    """The user asked for something that cannot be done as asked."""


class UnknownSite(ScraperError):
    """No site adapter has that name."""


class FetchError(ScraperError):
    """A page could not be fetched; ``status`` is the last HTTP status, if any."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None,
                 attempts: int = 0) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


class BadURL(FetchError):
    """The URL (or a redirect target) is not an http(s) URL with a host."""


class Blocked(FetchError):
    """robots.txt disallows fetching the URL."""

    outcome = Outcome.BLOCKED


class HTTPStatus(FetchError):
    """The server answered with an error status after any retries."""

    @property
    def gone(self) -> bool:
        return self.status in (404, 410)

    @property
    def outcome(self) -> Outcome:  # type: ignore[override]
        return Outcome.GONE if self.gone else Outcome.ERROR


class WrongType(FetchError):
    """The response's content type is not one the caller accepts (HTML, or a feed)."""


class NotHTML(WrongType):
    """The response is not an HTML document."""


class TooLarge(FetchError):
    """The response body is larger than the configured cap."""


class Network(FetchError):
    """Connection error or timeout, after the last retry."""


class FeedError(ScraperError):
    """A feed or sitemap was refused (entities, size, content type) or could not be read."""


class ExtractError(ScraperError):
    """The page holds no article text."""

    outcome = Outcome.NO_ARTICLE


class NotAnArticle(ExtractError):
    """An error page, a captcha or a paywall teaser: never stored as a version."""


class StoreError(ScraperError):
    """The archive database cannot be used."""


class SchemaTooNew(StoreError):
    """The database was created by a newer version of this tool."""


class NotStorable(StoreError):
    """A value the archive refuses to store: a version without text or key, an unknown
    outcome or state. A bug in the caller, never the user's input."""


class Locked(ScraperError):
    """Another crawl holds the lock on this archive."""


@dataclass(frozen=True)
class Page:
    """One fetched HTTP response: its bytes, and its text unless fetched as bytes.

    ``url`` is what was asked for, ``final_url`` where redirects ended.
    A 304 Not Modified is a Page with ``status == 304`` and empty ``html``. A page fetched
    with ``HTML_BYTES`` (the pipeline's) has empty ``html`` and ``encoding`` too: whoever
    extracts it decodes ``raw`` (``fetch.html_of``).
    """

    url: str
    final_url: str
    status: int
    html: str = ""
    raw: bytes = b""
    content_type: str = ""
    encoding: str = ""
    etag: str | None = None
    last_modified: str | None = None
    redirects: tuple[str, ...] = ()
    attempts: int = 1
    elapsed_ms: int = 0
    # the request and response heads as sent and received (``fetch.exchange``): WARC export
    http: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class Metadata:
    """What a page says about its article besides the body; keyword-only fields.

    Dates are ISO 8601 strings, with time and UTC offset whenever the page gives them.
    """

    _: KW_ONLY
    title: str | None = None
    canonical_url: str | None = None
    authors: tuple[str, ...] = ()
    published: str | None = None
    modified: str | None = None
    description: str | None = None
    language: str | None = None
    image: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Draft(Metadata):
    """The article as extracted before a site adapter's hooks: change it with
    ``dataclasses.replace``.

    Dates are as the page wrote them (normalised to ISO 8601 after the hooks); ``paragraphs``
    is trafilatura's body, the headline already removed from its start.
    """

    url: str
    paragraphs: tuple[str, ...] = ()
    # JSON-LD isAccessibleForFree false: with a paywall prompt on the page and a short body,
    # a paywall teaser (scraper/refusal.py)
    paywalled: bool = False


@dataclass(frozen=True)
class Article(Metadata):
    """The article found on a page: body text and metadata.

    ``text`` is the body, paragraphs separated by one blank line.
    """

    url: str
    text: str
    site: str = "generic"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: tuples become lists."""
        d = asdict(self)
        d["authors"] = list(self.authors)
        d["tags"] = list(self.tags)
        if not d["extra"]:
            del d["extra"]
        first = ("url", "text", "title", "canonical_url", "site")
        return {**{k: d.pop(k) for k in first}, **d}

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n\n") if p.strip()]
