"""Fetching one page: ``make_client(...)`` and ``await fetch(client, url) -> Page``.

    >>> async with make_client() as client:
    ...     page = await fetch(client, "https://example.com/news/1", robots=Robots())

Redirects are followed by hand so every hop is checked (http(s) only, robots.txt);
connection errors, timeouts, 429 and 5xx are retried with tenacity; the body is
streamed under a size cap and decoded by ``decode_html``. Failures raise the
``FetchError`` subclasses drawn in ``scraper.models``.

Time is bounded twice: httpx's read timeout per network read, and ``total_timeout``
over the network time of all attempts together (waits between them not counted), since
a server that drips one byte per second never trips a per-read timeout.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
import socket
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import charset_normalizer
import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .models import (
    BadURL, Blocked, FetchError, HTTPStatus, Network, NotHTML, Page, TooLarge, WrongType,
)
from .robots import Robots

__all__ = ["DEFAULT_USER_AGENT", "decode_html", "fetch", "make_client"]

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = (
    "news-scraper/0.1 (+https://github.com/news-scraper/news-scraper; archiving news edits)"
)
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class Accept:
    """The content types a fetch takes: exactly ``types``, or (empty) all but ``refused``.

    A refused type fails on its headers, before its body is downloaded.
    """

    name: str
    types: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()  # prefixes

    def allows(self, mime: str) -> bool:
        return mime in self.types if self.types else not mime.startswith(self.refused)


HTML = Accept("HTML", HTML_TYPES)
REDIRECT_CODES = (301, 302, 303, 307, 308)
# We decompress by hand (see _Body), so we advertise exactly what we can decode; pinned
# so that installing brotli or zstandard later cannot make httpx offer more.
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_LOOKS_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta)[\s>/]", re.IGNORECASE)


def make_client(
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    connect_timeout: float = 10,
    read_timeout: float = 30,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient for ``fetch``: our User-Agent, timeouts, no automatic redirects."""
    return httpx.AsyncClient(
        headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        follow_redirects=False,  # fetch() follows by hand to check every hop
        http2=False,
        transport=transport,  # tests pass an httpx.MockTransport
    )


class _Retry(Exception):
    """Internal: a retryable failure carrying the error to raise if it was the last try."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error, self.retry_after = error, retry_after


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    attempts: int = 4,
    max_retry_after: float = 120.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    robots: Robots | None = None,
    user_agent: str | None = None,
    max_redirects: int = 10,
    total_timeout: float | None = 120.0,
    accept: Accept = HTML,
) -> Page:
    """Fetch ``url`` (retrying, following redirects, under a size cap) into a Page.

    ``total_timeout`` caps the seconds spent on the network over every attempt (redirect
    hops, headers and bodies; not the waits between attempts). Running out is a Network
    error that is not retried: no time is left for another attempt. With ``accept=HTML``
    (pages) the body is decoded into ``Page.html``; for other types only ``Page.raw`` is
    filled (feeds and sitemaps are parsed from bytes).
    """
    agent = user_agent or client.headers.get("User-Agent") or DEFAULT_USER_AGENT
    # Accept-Encoding pinned whatever the client: _Body inflates exactly these, under the cap
    headers = {"User-Agent": agent, "Accept-Encoding": ACCEPT_ENCODING}
    # sent on every hop: the validators we stored came from the final URL of a past fetch
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    backoff = wait_exponential_jitter(initial=1, max=30)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return min(exc.retry_after, max_retry_after)
        return backoff(state)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0
        log.info("retrying %s in %.1fs: %s", url, delay, exc)

    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=wait,
        sleep=sleep,
        reraise=True,
        retry=retry_if_exception_type(_Retry),
        before_sleep=before_sleep,
    )
    started = time.monotonic()
    n = 0
    spent = 0.0  # network seconds of the attempts so far, against total_timeout
    try:
        async for attempt in retrying:
            with attempt:
                n = attempt.retry_state.attempt_number
                began = time.monotonic()
                left = None if total_timeout is None else max(0.0, total_timeout - spent)
                try:
                    async with asyncio.timeout(left):
                        page = await _follow(
                            client, url, headers, max_bytes, robots, agent, max_redirects,
                            accept,
                        )
                except TimeoutError as exc:  # ours: httpx's timeouts are TransportErrors
                    msg = f"no complete response within {total_timeout:g}s (slow drip?): {url}"
                    raise Network(msg, url=url) from exc
                finally:
                    spent += time.monotonic() - began
    except _Retry as last:  # retries exhausted: the caller sees our error, not tenacity's
        err = last.error
        if n > 1:
            err.args = (f"{err} (after {n} attempts)",)
        err.attempts = n
        raise err from err.__cause__
    except FetchError as err:
        err.attempts = n
        raise
    elapsed_ms = round((time.monotonic() - started) * 1000)
    return replace(page, attempts=n, elapsed_ms=elapsed_ms)


async def _follow(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    max_bytes: int,
    robots: Robots | None,
    agent: str,
    max_redirects: int,
    accept: Accept,
) -> Page:
    """One attempt: request ``url`` and each redirect hop, checking every one."""
    if not _is_web_url(url):
        raise BadURL(f"not an http(s) URL with a host: {url}", url=url)
    current, redirects = url, list[str]()
    while True:
        if robots is not None and not await robots.allowed(client, current, agent):
            raise Blocked(f"robots.txt disallows {current}", url=current)
        try:
            async with client.stream("GET", current, headers=headers) as response:
                status = response.status_code
                location = response.headers.get("Location")
                if status in REDIRECT_CODES and location:
                    if len(redirects) >= max_redirects:
                        msg = f"more than {max_redirects} redirects (loop?) from {url}"
                        raise FetchError(msg, url=url, status=status)
                    target = _join(response.url, location, current)
                    if not _is_web_url(target):
                        msg = f"redirect to a non-http(s) URL refused: {location} (from {current})"
                        raise BadURL(msg, url=target)
                    redirects.append(current)
                    current = target
                    continue
                return await _read(response, url, current, tuple(redirects), max_bytes,
                                   accept)
        except httpx.TransportError as exc:
            if _unknown_host(exc):  # no retry makes a name exist
                host = httpx.URL(current).host
                raise Network(f"cannot resolve host {host}", url=current) from exc
            reason = str(exc) or type(exc).__name__
            raise _Retry(Network(f"{reason} fetching {current}", url=current)) from exc
        except Network as exc:  # a corrupt or truncated body: retried like a reset
            raise _Retry(exc) from exc


def _unknown_host(exc: BaseException) -> bool:
    """True when the cause is DNS saying the name does not exist (not a temporary failure)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror):
            return seen.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5))
        seen = seen.__cause__ or seen.__context__
    return False


async def _read(
    response: httpx.Response,
    url: str,
    final_url: str,
    redirects: tuple[str, ...],
    max_bytes: int,
    accept: Accept,
) -> Page:
    """Turn a non-redirect response into a Page, or raise the matching error."""
    status = response.status_code
    h = response.headers
    etag, last_modified = h.get("ETag"), h.get("Last-Modified")
    if status == 304:
        return Page(
            url, final_url, 304, etag=etag, last_modified=last_modified, redirects=redirects
        )
    if status == 429 or status >= 500:
        error = HTTPStatus(f"HTTP {status} from {final_url}", url=final_url, status=status)
        raise _Retry(error, _retry_after(h.get("Retry-After")))
    if not 200 <= status < 300:
        raise HTTPStatus(f"HTTP {status} from {final_url}", url=final_url, status=status)
    content_type = h.get("Content-Type", "")
    mime = content_type.split(";")[0].strip().lower()
    if mime and not accept.allows(mime):  # refuse before downloading a PDF or a video
        refused = NotHTML if accept is HTML else WrongType
        msg = f"content type {mime} is not {accept.name}: {final_url}"
        raise refused(msg, url=final_url, status=status)
    length = h.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        msg = f"Content-Length {length} exceeds the {max_bytes}-byte cap: {final_url}"
        raise TooLarge(msg, url=final_url, status=status)
    body = _Body(final_url, h.get("Content-Encoding", ""), max_bytes)
    async for chunk in response.aiter_raw():
        body.feed(chunk)
    raw = body.finish()
    if accept is not HTML:
        return Page(url=url, final_url=final_url, status=status, raw=raw,
                    content_type=content_type, etag=etag, last_modified=last_modified,
                    redirects=redirects)
    if not mime and not _LOOKS_HTML.search(raw[:1024]):
        msg = f"no content type and the body is not HTML: {final_url}"
        raise NotHTML(msg, url=final_url, status=status)
    html, encoding = decode_html(raw, content_type)
    return Page(
        url=url,
        final_url=final_url,
        status=status,
        html=html,
        raw=raw,
        content_type=content_type,
        encoding=encoding,
        etag=etag,
        last_modified=last_modified,
        redirects=redirects,
    )


class _Body:
    """Collects a body under the cap, inflating gzip/deflate by hand.

    httpx's own decoder inflates a whole network chunk at once (64 KiB of gzip can hold
    64 MB), so a bomb would blow past the cap before we could count it; zlib's
    ``max_length`` lets us stop at exactly ``max_bytes + 1``.
    """

    def __init__(self, url: str, content_encoding: str, max_bytes: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in _WBITS):
            raise FetchError(f"unsupported Content-Encoding {content_encoding!r}: {url}", url=url)
        self.url, self.max_bytes, self.buf = url, max_bytes, bytearray()
        self.coding = codings[0] if codings else ""
        self.zlib = zlib.decompressobj(_WBITS[self.coding]) if self.coding else None
        self.fresh = True  # "deflate" may be raw or zlib-wrapped: decided on the first chunk

    def feed(self, data: bytes) -> None:
        if self.zlib is None:
            self._add(data)
            return
        while data and not self.zlib.eof:
            try:
                out = self.zlib.decompress(data, self.max_bytes - len(self.buf) + 1)
            except zlib.error as exc:
                if self.coding == "deflate" and self.fresh:  # servers send raw deflate too
                    self.zlib, self.fresh = zlib.decompressobj(-zlib.MAX_WBITS), False
                    continue
                msg = f"corrupt {self.coding} body ({exc}): {self.url}"
                raise Network(msg, url=self.url) from exc
            self.fresh = False
            self._add(out)  # raises once past the cap, so the loop runs at most twice
            data = self.zlib.unconsumed_tail

    def finish(self) -> bytes:
        if self.zlib is not None and not self.zlib.eof:
            raise Network(f"truncated {self.coding} body: {self.url}", url=self.url)
        return bytes(self.buf)

    def _add(self, data: bytes) -> None:
        if len(self.buf) + len(data) > self.max_bytes:
            msg = f"body larger than the {self.max_bytes}-byte cap: {self.url}"
            raise TooLarge(msg, url=self.url)
        self.buf += data


def decode_html(raw: bytes, content_type: str) -> tuple[str, str]:
    """Decode an HTML body: BOM, valid UTF-8, HTTP charset, <meta> charset, then detection."""
    bom = next((name for mark, name in _BOMS if raw.startswith(mark)), None)
    declared = [bom, _charset_param(content_type)]
    meta = _META_CHARSET.search(raw[:4096])
    meta_name = meta.group(1).decode("ascii", "replace") if meta else None
    # a <meta> that we could read as ASCII cannot really be UTF-16 (WHATWG: use UTF-8)
    if meta_name and meta_name.lower().replace("_", "-").startswith("utf-16"):
        meta_name = "utf-8"
    declared.append(meta_name)
    if bom is None and not raw.isascii() and not any(
        (_codec(name) or "").startswith(("utf-16", "utf-32")) for name in declared
    ):
        # Non-ASCII bytes that are valid UTF-8 are UTF-8 whatever the label says: text in
        # a legacy 8-bit charset is almost never valid UTF-8 by chance, while UTF-8 under
        # a server's default "iso-8859-1" label is common (and would decode to mojibake).
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    for name in declared:
        codec = _codec(name)
        if codec is None:
            continue  # unknown or bogus names fall through to the next source
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            continue  # the declaration lies; believe the bytes instead
    best = charset_normalizer.from_bytes(raw).best()
    if best is not None and best.encoding:
        return str(best), _codec(best.encoding) or best.encoding
    return raw.decode("utf-8", errors="replace"), "utf-8"


def _charset_param(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def _codec(name: str | None) -> str | None:
    """Python's codec name for a declared charset, or None if unknown."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    # as browsers do (WHATWG Encoding): latin-1 and ascii labels mean windows-1252
    return "cp1252" if codec in ("latin-1", "iso8859-1", "ascii") else codec


def _is_web_url(url: str) -> bool:
    """True for an http(s) URL with a host: the only kind we request, on any hop."""
    try:
        u = httpx.URL(url)
    except httpx.InvalidURL:
        return False
    return u.scheme in ("http", "https") and bool(u.host)


def _join(base: httpx.URL, location: str, current: str) -> str:
    try:
        return str(base.join(location))
    except httpx.InvalidURL as exc:
        raise BadURL(f"invalid redirect Location {location!r} from {current}", url=current) from exc


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
