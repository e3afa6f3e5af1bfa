"""Fetching one page: ``make_client(policy)`` and ``await fetch(client, url, policy) -> Page``.

    >>> policy = policy_for(site, config.for_site(site.name), cli_user_agent)  # once per site
    >>> async with make_client(policy) as client:
    ...     page = await fetch(client, "https://example.com/news/1", policy, robots=Robots())

``FetchPolicy`` (``scraper.policy``, re-exported here) is the one value saying how we
fetch (User-Agent, attempts, caps, time budgets, robots.txt or not); ``policy_for`` is the
one place that resolves it.
Redirects are followed by hand so every hop is checked (http(s) only, robots.txt);
connection errors, timeouts, 429 and 5xx are retried with tenacity, each retry logged at
INFO; a refused connection is retried only once, soon. The body is streamed under a size
cap and decoded by ``decode_html``. Failures raise the ``FetchError`` subclasses drawn in
``scraper.models``.

Time is bounded twice: httpx's read timeout per network read, and ``total_timeout``
over the network time of all attempts together (waits between them not counted), since
a server that drips one byte per second never trips a per-read timeout.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential_jitter,
)

from .models import (
    BadURL,
    Blocked,
    FetchError,
    HTTPStatus,
    Network,
    NotHTML,
    Page,
    TooLarge,
    WrongType,
)
from .policy import (
    DEFAULT_POLICY,
    DEFAULT_USER_AGENT,
    HTML,
    HTML_BYTES,
    Accept,
    FetchPolicy,
    make_client,
    policy_for,
    timeouts,
)
from .robots import Robots
from .web import CODINGS, BadCoding, Inflater, decode_html, is_web_url

__all__ = ["DEFAULT_POLICY", "DEFAULT_USER_AGENT", "HTML", "HTML_BYTES", "Accept", "FetchPolicy",
           "Sleep", "decode_html", "fetch", "html_of", "make_client", "pause", "policy_for"]

log = logging.getLogger(__name__)



REDIRECT_CODES = (301, 302, 303, 307, 308)
_LOOKS_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|title|meta)[\s>/]", re.IGNORECASE)


Sleep = Callable[[float], Awaitable[None]]


async def pause(seconds: float) -> None:
    """The real wait between attempts: what ``sleep=None`` means all the way down.

    Looked up when a fetch starts, so a test of a command (which cannot pass ``sleep``)
    can patch ``scraper.fetch.pause`` and never wait.
    """
    await asyncio.sleep(seconds)


class _Retry(Exception):
    """Internal: a retryable failure carrying the error to raise if it was the last try.

    ``reason`` is the short why of the retry log line; ``hopeless`` marks a failure that
    waiting hardly fixes (a refused connection: nothing listens), retried once, soon.
    """

    def __init__(self, error: FetchError, reason: str, retry_after: float | None = None,
                 hopeless: bool = False) -> None:
        super().__init__(str(error))
        self.error, self.reason, self.retry_after = error, reason, retry_after
        self.hopeless = hopeless


# A refused connection is tried this many times in all, this many seconds apart: once more
# covers a server that is restarting, and a closed port costs half a second, not ten.
REFUSED_ATTEMPTS = 2
REFUSED_WAIT = 0.5


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    policy: FetchPolicy = DEFAULT_POLICY,
    *,
    robots: Robots | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: Accept = HTML,
    sleep: Sleep | None = None,
) -> Page:
    """Fetch ``url`` under ``policy`` (retrying, following redirects, under a size cap).

    robots.txt is asked on every hop when ``robots`` (the run's cache) is given and the
    policy respects it. Running out of ``policy.total_timeout`` is a Network error that is
    not retried: no time is left for another attempt. With ``accept=HTML`` (pages) the body
    is decoded into ``Page.html``; with ``HTML_BYTES`` (the pipeline's pages) and for other
    types only ``Page.raw`` is filled (feeds and sitemaps are parsed from bytes). Each retry
    is logged at INFO: what, why, when. ``sleep`` waits between attempts (None: ``pause``,
    really waiting).
    """
    sleep = sleep or pause
    # Accept-Encoding pinned whatever the client: Inflater decodes exactly these, under the cap
    headers = {"User-Agent": policy.user_agent, "Accept-Encoding": CODINGS}
    # sent on every hop: the validators we stored came from the final URL of a past fetch
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    checker = robots if policy.respect_robots else None
    backoff = wait_exponential_jitter(initial=1, max=30)

    def failure(state: RetryCallState) -> _Retry | None:
        exc = state.outcome.exception() if state.outcome else None
        return exc if isinstance(exc, _Retry) else None

    def limit(state: RetryCallState) -> int:
        last = failure(state)
        return min(policy.attempts, REFUSED_ATTEMPTS) if last and last.hopeless \
            else policy.attempts

    def stop(state: RetryCallState) -> bool:
        return state.attempt_number >= limit(state)

    def wait(state: RetryCallState) -> float:
        last = failure(state)
        if last is not None and last.hopeless:
            return REFUSED_WAIT
        if last is not None and last.retry_after is not None:
            return min(last.retry_after, policy.max_retry_after)
        return backoff(state)

    def before_sleep(state: RetryCallState) -> None:
        last = failure(state)
        delay = state.next_action.sleep if state.next_action else 0
        log.info("retrying %s in %.1f s (attempt %d of %d): %s", url, delay,
                 state.attempt_number + 1, limit(state), last.reason if last else "?")

    retrying = AsyncRetrying(stop=stop, wait=wait, sleep=sleep, reraise=True,
                             retry=retry_if_exception_type(_Retry), before_sleep=before_sleep)
    started = time.monotonic()
    n = 0
    spent = 0.0  # network seconds of the attempts so far, against total_timeout
    total = policy.total_timeout
    try:
        async for attempt in retrying:
            with attempt:
                n = attempt.retry_state.attempt_number
                began = time.monotonic()
                left = None if total is None else max(0.0, total - spent)
                try:
                    async with asyncio.timeout(left):
                        page = await _follow(client, url, headers, policy, checker, accept)
                except TimeoutError as exc:  # ours: httpx's timeouts are TransportErrors
                    msg = f"no complete response within {total:g}s (slow drip?): {url}"
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
    policy: FetchPolicy,
    robots: Robots | None,
    accept: Accept,
) -> Page:
    """One attempt: request ``url`` and each redirect hop, checking every one."""
    if not is_web_url(url):
        raise BadURL(f"not an http(s) URL with a host: {url}", url=url)
    current, redirects = url, list[str]()
    while True:
        if robots is not None and not await robots.allowed(client, current, policy.user_agent):
            why = robots.unavailable(current) or f"robots.txt disallows {current}"
            raise Blocked(why, url=current)
        try:
            async with client.stream("GET", current, headers=headers,
                                     timeout=timeouts(policy)) as response:
                status = response.status_code
                location = response.headers.get("Location")
                if status in REDIRECT_CODES and location:
                    if len(redirects) >= policy.max_redirects:
                        msg = f"more than {policy.max_redirects} redirects (loop?) from {url}"
                        raise FetchError(msg, url=url, status=status)
                    target = _join(response.url, location, current)
                    if not is_web_url(target):
                        msg = f"redirect to a non-http(s) URL refused: {location} (from {current})"
                        raise BadURL(msg, url=target)
                    redirects.append(current)
                    current = target
                    continue
                return await _read(response, url, current, tuple(redirects), policy.max_bytes,
                                   accept)
        except httpx.TransportError as exc:
            if unknown_host(exc):  # no retry makes a name exist
                host = httpx.URL(current).host
                raise Network(f"cannot resolve host {host}", url=current) from exc
            if refused(exc):
                error = Network(f"connection refused fetching {current}", url=current)
                raise _Retry(error, "connection refused", hopeless=True) from exc
            reason = describe(exc)
            raise _Retry(Network(f"{reason} fetching {current}", url=current), reason) from exc
        except Network as exc:  # a corrupt or truncated body: retried like a reset
            raise _Retry(exc, str(exc).removesuffix(f": {current}")) from exc
        except UnicodeError as exc:
            # httpx reads a redirect's Location before we see it (even when not following);
            # a host IDNA refuses (xn--zz.com) raises there, as an IDNAError
            msg = f"redirect from {current} to a host that is not a valid name refused ({exc})"
            raise BadURL(msg, url=current) from exc


def exchange(response: httpx.Response) -> dict[str, Any]:
    """The request and response heads of ``response``, as sent and received (header case
    and order kept), for a WARC ``request`` and ``response`` record."""
    request = response.request

    def pairs(raw: list[tuple[bytes, bytes]]) -> list[list[str]]:
        return [[k.decode("latin-1"), v.decode("latin-1")] for k, v in raw]

    return {
        "request": {"method": request.method, "url": str(request.url),
                    "headers": pairs(request.headers.raw)},
        "response": {"http_version": response.http_version, "status": response.status_code,
                     "reason": response.reason_phrase, "headers": pairs(response.headers.raw)},
    }


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def unknown_host(exc: BaseException) -> bool:
    """True when the cause is DNS saying the name does not exist (not a temporary failure)."""
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return cause.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5))
    return False


def refused(exc: BaseException) -> bool:
    """True when the host answered that nothing listens on the port."""
    return any(isinstance(c, ConnectionRefusedError) for c in _causes(exc))


def describe(exc: httpx.TransportError) -> str:
    """A short why for a transport failure: ``read timeout``, else httpx's message (robots.txt
    words its failures with it too)."""
    if isinstance(exc, httpx.TimeoutException):
        return {httpx.ConnectTimeout: "connect timeout", httpx.ReadTimeout: "read timeout",
                httpx.WriteTimeout: "write timeout", httpx.PoolTimeout: "pool timeout"}.get(
                    type(exc), "timeout")
    return str(exc) or type(exc).__name__


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
        # read the (empty) body to its end: a response left unread closes its connection,
        # and a re-check would pay a new connection for every 304
        await response.aread()
        return Page(
            url, final_url, 304, etag=etag, last_modified=last_modified, redirects=redirects
        )
    if status == 429 or status >= 500:
        error = HTTPStatus(f"HTTP {status} from {final_url}", url=final_url, status=status)
        raise _Retry(error, f"HTTP {status}", _retry_after(h.get("Retry-After")))
    if not 200 <= status < 300:
        raise HTTPStatus(f"HTTP {status} from {final_url}", url=final_url, status=status)
    content_type = h.get("Content-Type", "")
    mime = content_type.split(";")[0].strip().lower()
    if mime and not accept.allows(mime):  # refuse before downloading a PDF or a video
        wrong = NotHTML if accept.page else WrongType
        msg = f"content type {mime} is not {accept.name}: {final_url}"
        raise wrong(msg, url=final_url, status=status)
    length = h.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        msg = f"Content-Length {length} exceeds the {max_bytes}-byte cap: {final_url}"
        raise TooLarge(msg, url=final_url, status=status)
    raw = await _body(response, final_url, max_bytes)
    if not accept.page:
        return Page(url=url, final_url=final_url, status=status, raw=raw,
                    content_type=content_type, etag=etag, last_modified=last_modified,
                    redirects=redirects)
    if not mime and not _LOOKS_HTML.search(raw[:1024]):
        msg = f"no content type and the body is not HTML: {final_url}"
        raise NotHTML(msg, url=final_url, status=status)
    html, encoding = decode_html(raw, content_type) if accept.decode else ("", "")
    return Page(
        http=exchange(response),
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


def html_of(page: Page) -> str:
    """The page's HTML as text, decoded now when fetch left it as bytes (``HTML_BYTES``)."""
    if page.html or not page.raw:
        return page.html
    return decode_html(page.raw, page.content_type)[0]


async def _body(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    """The response body, inflated by hand (see ``scraper.web``) and refused past the cap."""
    try:
        body = Inflater(response.headers.get("Content-Encoding", ""), max_bytes)
    except BadCoding as exc:  # a coding we never offered: no retry will change it
        raise FetchError(f"{exc}: {url}", url=url) from None
    try:
        async for chunk in response.aiter_raw():
            if not body.feed(chunk):
                msg = f"body larger than the {max_bytes}-byte cap: {url}"
                raise TooLarge(msg, url=url)
        return body.finish()
    except BadCoding as exc:  # corrupt or cut off: retried like a reset
        raise Network(f"{exc}: {url}", url=url) from exc


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
