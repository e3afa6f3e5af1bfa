"""scraper.fetch and scraper.robots: retries, redirects, caps, decoding, robots.txt.

httpx.MockTransport where a handler function is simplest; the real local server
(``server`` fixture) where sockets matter: streaming, resets, timeouts, redirects.
No test sleeps for real: ``FakeSleep`` records the delays tenacity asks for.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import socket
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import NamedTuple

import httpx
import pytest
from server import Response, TestServer

from scraper.fetch import (
    DEFAULT_USER_AGENT,
    FetchPolicy,
    decode_html,
    fetch,
    make_client,
    policy_for,
)
from scraper.models import BadURL, Blocked, FetchError, HTTPStatus, Network, NotHTML, Page, TooLarge
from scraper.robots import Robots

run = asyncio.run
URL = "https://news.example/story"
HTML = "<!doctype html><html><head><title>t</title></head><body><p>ok</p></body></html>"

# A realistic Russian news page; served as cp1251 with no charset declared anywhere.
RUSSIAN_PAGE = """<!DOCTYPE html>
<html lang="ru">
<head>
<title>Правительство утвердило новый бюджет на следующий год</title>
<link rel="stylesheet" href="/static/main.css">
</head>
<body>
<nav><a href="/">Главная</a> <a href="/politics">Политика</a> <a href="/economy">Экономика</a></nav>
<article>
<h1>Правительство утвердило новый бюджет на следующий год</h1>
<p class="byline">Автор: Иван Петров, 12 марта 2024 года</p>
<p>В среду правительство одобрило проект федерального бюджета на следующий год. По словам
министра финансов, расходы на образование и здравоохранение вырастут почти на десять процентов.</p>
<p>Депутаты начнут обсуждение документа уже на следующей неделе. Представители оппозиции
заявили, что намерены добиваться увеличения социальных выплат и пересмотра налоговой политики.</p>
<p>Эксперты отмечают, что дефицит бюджета останется на прежнем уровне, однако доходы от
экспорта энергоносителей могут снизиться из-за колебаний мировых цен.</p>
<p>«Мы рассчитываем, что экономика продолжит расти, а инфляция будет под контролем», — сказал
министр журналистам после заседания.</p>
</article>
<footer>© 2024 Новостное агентство. Все права защищены.</footer>
</body>
</html>
"""


class FakeSleep:
    """Stands in for asyncio.sleep: records each delay, never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Reply(NamedTuple):
    """A canned MockTransport response; a fresh streaming httpx.Response is built per request."""

    status: int
    body: bytes
    headers: dict[str, str]


class _Stream(httpx.AsyncByteStream):
    """Body as one network chunk, streamed: httpx pre-reads (and decodes) plain bytes content."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


def reply(
    status: int = 200,
    body: str | bytes = HTML,
    *,
    content_type: str | None = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Reply:
    data = body.encode() if isinstance(body, str) else body
    base = {"Content-Type": content_type} if content_type else {}
    return Reply(status, data, {**base, "Content-Length": str(len(data)), **(headers or {})})


def serve(*replies: Reply) -> tuple[Callable[[httpx.Request], httpx.Response], list[httpx.Request]]:
    """A MockTransport handler serving ``replies`` in order (the last repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        r = replies[min(len(seen), len(replies)) - 1]
        return httpx.Response(r.status, headers=r.headers, stream=_Stream(r.body))

    return handler, seen


POLICY_FIELDS = {f.name for f in fields(FetchPolicy)}


def split(kwargs: dict[str, object]) -> tuple[FetchPolicy, dict[str, object]]:
    """A FetchPolicy from the keyword arguments that name its fields; the rest for fetch()."""
    chosen = {k: v for k, v in kwargs.items() if k in POLICY_FIELDS}
    policy = FetchPolicy(**chosen)  # type: ignore[arg-type]
    return policy, {k: v for k, v in kwargs.items() if k not in POLICY_FIELDS}


def mock_fetch(*responses: Reply, url: str = URL, **kwargs: object) -> Page:
    handler, _ = serve(*responses)
    policy, rest = split(kwargs)

    async def go() -> Page:
        async with make_client(policy, transport=httpx.MockTransport(handler)) as client:
            return await fetch(client, url, policy, **rest)  # type: ignore[arg-type]

    return run(go())


def real_fetch(url: str, **kwargs: object) -> Page:
    policy, rest = split(kwargs)

    async def go() -> Page:
        async with make_client(policy) as client:
            return await fetch(client, url, policy, **rest)  # type: ignore[arg-type]

    return run(go())


# --- retries -------------------------------------------------------------------------------


def test_503_503_200_takes_three_attempts_with_two_backoff_waits() -> None:
    sleep = FakeSleep()
    page = mock_fetch(reply(503), reply(503), reply(200), sleep=sleep)
    assert (page.status, page.attempts) == (200, 3)
    assert len(sleep.delays) == 2
    assert 1 <= sleep.delays[0] <= 2 and 2 <= sleep.delays[1] <= 3  # exponential + jitter


def test_429_with_retry_after_seconds_waits_that_long() -> None:
    sleep = FakeSleep()
    page = mock_fetch(reply(429, headers={"Retry-After": "7"}), reply(), sleep=sleep)
    assert page.attempts == 2 and sleep.delays == [7]


def test_retry_after_http_date_is_honoured() -> None:
    sleep = FakeSleep()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    mock_fetch(reply(503, headers={"Retry-After": when}), reply(), sleep=sleep)
    assert 27 <= sleep.delays[0] <= 30


def test_retry_after_longer_than_the_cap_is_capped() -> None:
    sleep = FakeSleep()
    mock_fetch(
        reply(429, headers={"Retry-After": "3600"}), reply(), sleep=sleep, max_retry_after=60
    )
    assert sleep.delays == [60]


def test_persistent_503_raises_http_status_after_the_last_attempt() -> None:
    sleep = FakeSleep()
    with pytest.raises(HTTPStatus) as info:
        mock_fetch(reply(503), sleep=sleep, attempts=3)
    assert (info.value.status, info.value.attempts) == (503, 3)
    assert len(sleep.delays) == 2
    assert "503" in str(info.value) and URL in str(info.value) and "\n" not in str(info.value)


def test_404_is_not_retried_and_is_gone() -> None:
    sleep = FakeSleep()
    with pytest.raises(HTTPStatus) as info:
        mock_fetch(reply(404), reply(), sleep=sleep)
    assert info.value.gone and info.value.attempts == 1 and sleep.delays == []


def test_read_timeout_is_retried_then_raises_network(server: TestServer) -> None:
    server.route("/slow", Response(200, HTML.encode(), {"Content-Type": "text/html"}, delay=0.5))
    sleep = FakeSleep()
    with pytest.raises(Network) as info:
        real_fetch(server.url("/slow"), read_timeout=0.05, attempts=2, sleep=sleep)
    assert info.value.attempts == 2 and len(sleep.delays) == 1
    assert server.url("/slow") in str(info.value)


def test_connection_reset_mid_body_is_retried(server: TestServer) -> None:
    body = HTML.encode() * 100
    server.route("/story", Response.reset_after(body, sent=100), Response.html(HTML))
    page = real_fetch(server.url("/story"), sleep=FakeSleep())
    assert page.attempts == 2 and page.html == HTML


# --- URLs and redirects --------------------------------------------------------------------


def test_redirects_are_followed_and_recorded(server: TestServer) -> None:
    server.route("/old", Response.redirect("/middle", 301))
    server.route("/middle", Response.redirect(server.url("/new?x=1"), 302))
    server.route("/new", Response.html(HTML))
    page = real_fetch(server.url("/old"))
    assert page.url == server.url("/old")
    assert page.final_url == server.url("/new?x=1")
    assert page.redirects == (server.url("/old"), server.url("/middle"))
    assert page.status == 200 and page.html == HTML


def test_redirect_to_file_url_is_refused(server: TestServer) -> None:
    server.route("/evil", Response.redirect("file:///etc/passwd"))
    with pytest.raises(BadURL, match="file:///etc/passwd"):
        real_fetch(server.url("/evil"))


def test_redirect_loop_is_refused(server: TestServer) -> None:
    server.route("/a", Response.redirect("/b"))
    server.route("/b", Response.redirect("/a"))
    with pytest.raises(FetchError, match="more than 5 redirects"):
        real_fetch(server.url("/a"), max_redirects=5)
    assert server.hits("/a") + server.hits("/b") == 6


def test_non_http_url_is_refused_without_a_request() -> None:
    handler, seen = serve(reply())

    async def go(url: str) -> Page:
        async with make_client(transport=httpx.MockTransport(handler)) as client:
            return await fetch(client, url)

    for bad in ("ftp://news.example/x", "file:///etc/passwd", "http:///nohost", "news.example"):
        with pytest.raises(BadURL, match="not an http"):
            run(go(bad))
    assert seen == []


# --- size caps and compression -------------------------------------------------------------


def test_content_length_over_the_cap_is_refused_up_front() -> None:
    with pytest.raises(TooLarge, match="Content-Length 5000"):
        mock_fetch(reply(body="x" * 5000), max_bytes=1000)


def test_streamed_body_over_the_cap_is_refused(server: TestServer) -> None:
    server.route(
        "/big",
        Response(
            200, b"<html>" + b"x" * 50_000, {"Content-Type": "text/html"}, content_length=False
        ),
    )
    with pytest.raises(TooLarge, match="10000-byte cap"):
        real_fetch(server.url("/big"), max_bytes=10_000)


def gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes gzipped (about 1000:1), built without holding them in memory."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    return b"".join([z.compress(block) for _ in range(size >> 20)] + [z.flush()])


def test_gzip_bomb_never_inflates_past_the_cap() -> None:
    bomb = gzip_bomb(64 << 20)  # ~64 KB on the wire, 64 MiB inflated, in one chunk
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            mock_fetch(reply(body=bomb, headers={"Content-Encoding": "gzip"}), max_bytes=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak} bytes: the bomb was inflated past the cap"


def test_gzip_body_is_decoded(server: TestServer) -> None:
    server.route(
        "/gz",
        Response(
            200,
            gzip.compress(HTML.encode()),
            {"Content-Type": "text/html", "Content-Encoding": "gzip"},
        ),
    )
    page = real_fetch(server.url("/gz"))
    assert page.html == HTML
    assert "gzip" in server.requests[0].headers["accept-encoding"]


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_body_is_decoded_whether_zlib_wrapped_or_raw(wbits: int) -> None:
    z = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = z.compress(HTML.encode()) + z.flush()
    page = mock_fetch(reply(body=body, headers={"Content-Encoding": "deflate"}))
    assert page.html == HTML and page.raw == HTML.encode()


def test_truncated_gzip_is_a_retryable_network_error() -> None:
    broken = gzip.compress(HTML.encode() * 50)[:-40]
    sleep = FakeSleep()
    with pytest.raises(Network, match="truncated gzip"):
        mock_fetch(
            reply(body=broken, headers={"Content-Encoding": "gzip"}), sleep=sleep, attempts=2
        )
    assert len(sleep.delays) == 1


# --- content types and decoding ------------------------------------------------------------


def test_non_html_content_type_is_refused() -> None:
    with pytest.raises(NotHTML, match="content type application/pdf is not HTML"):
        mock_fetch(reply(body=b"%PDF-1.7", content_type="application/pdf"))


def test_missing_content_type_is_accepted_only_when_the_body_looks_like_html() -> None:
    assert mock_fetch(reply(content_type=None)).html == HTML
    with pytest.raises(NotHTML, match="no content type"):
        mock_fetch(reply(body=b"%PDF-1.7 binary", content_type=None))


def test_xhtml_is_accepted() -> None:
    page = mock_fetch(reply(content_type="application/xhtml+xml"))
    assert page.html == HTML


def test_cp1251_page_without_any_charset_decodes_to_cyrillic(server: TestServer) -> None:
    server.route("/ru", Response(200, RUSSIAN_PAGE.encode("cp1251"), {"Content-Type": "text/html"}))
    page = real_fetch(server.url("/ru"))
    assert page.html == RUSSIAN_PAGE
    assert "Правительство утвердило новый бюджет" in page.html
    assert page.encoding == "cp1251"


def test_meta_charset_is_used_when_the_header_has_none() -> None:
    html = '<html><head><meta charset="windows-1251"><title>Новости</title></head></html>'
    assert decode_html(html.encode("cp1251"), "text/html") == (html, "cp1251")
    old = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=koi8-r">'
        "<title>Новости дня</title></head></html>"
    )
    assert decode_html(old.encode("koi8-r"), "text/html") == (old, "koi8-r")


def test_http_charset_wins_over_meta() -> None:
    html = '<html><head><meta charset="utf-8"><title>Новости</title></head></html>'
    text, encoding = decode_html(html.encode("cp1251"), "text/html; charset=windows-1251")
    assert (text, encoding) == (html, "cp1251")


def test_bogus_declared_charset_falls_through() -> None:
    html = "<html><head><meta charset='no-such-thing'><title>Café crème</title></head></html>"
    assert decode_html(html.encode("utf-8"), "text/html; charset=x-bogus") == (html, "utf-8")


def test_latin1_label_decodes_as_windows_1252() -> None:
    text, _ = decode_html("<p>“quoted”</p>".encode("cp1252"), "text/html; charset=iso-8859-1")
    assert text == "<p>“quoted”</p>"


# --- conditional GET -----------------------------------------------------------------------


def test_conditional_get_sends_validators_and_304_is_a_page() -> None:
    handler, seen = serve(reply(304, b"", headers={"ETag": '"v2"'}))

    async def go() -> Page:
        async with make_client(transport=httpx.MockTransport(handler)) as client:
            return await fetch(
                client, URL, etag='"v1"', last_modified="Wed, 21 Oct 2015 07:28:00 GMT"
            )

    page = run(go())
    assert seen[0].headers["If-None-Match"] == '"v1"'
    assert seen[0].headers["If-Modified-Since"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert page.not_modified and page.html == "" and page.etag == '"v2"'


def test_page_records_validators_and_response_details() -> None:
    page = mock_fetch(
        reply(headers={"ETag": '"abc"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"})
    )
    assert page.etag == '"abc"' and page.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert page.content_type == "text/html; charset=utf-8" and page.encoding == "utf-8"
    assert page.raw == HTML.encode() and page.attempts == 1 and page.elapsed_ms >= 0


def test_client_sends_our_user_agent_and_follows_no_redirects(server: TestServer) -> None:
    server.route("/", Response.html(HTML))
    real_fetch(server.url("/"))
    assert server.requests[0].headers["user-agent"] == DEFAULT_USER_AGENT
    assert make_client().follow_redirects is False


# --- robots.txt ----------------------------------------------------------------------------


def test_robots_disallow_raises_blocked_and_the_page_is_never_requested(
    server: TestServer,
) -> None:
    server.route(
        "/robots.txt",
        Response(200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"}),
    )
    server.route("/private/story", Response.html(HTML))
    with pytest.raises(Blocked, match="robots.txt disallows .*/private/story"):
        real_fetch(server.url("/private/story"), robots=Robots())
    assert server.hits("/private/story") == 0


def test_robots_404_allows_everything(server: TestServer) -> None:
    server.route("/story", Response.html(HTML))
    page = real_fetch(server.url("/story"), robots=Robots())
    assert page.status == 200 and server.hits("/robots.txt") == 1


def test_robots_5xx_is_retried_then_disallows_all_for_the_run(server: TestServer) -> None:
    # RFC 9309 2.3.1.3: an unreachable robots.txt means "disallow all"
    server.route("/robots.txt", Response(503))
    server.route("/story", Response.html(HTML))
    sleep = FakeSleep()
    robots = Robots(sleep=sleep)
    with pytest.raises(Blocked):
        real_fetch(server.url("/story"), robots=robots)
    assert server.hits("/robots.txt") == 3 and server.hits("/story") == 0
    assert sleep.delays == [2.0, 4.0]
    assert "HTTP 503" in (robots.unavailable(server.url("/other")) or "")


def test_robots_is_fetched_once_per_host_and_exposes_delay_and_sitemaps(
    server: TestServer,
) -> None:
    server.route(
        "/robots.txt",
        Response(
            200,
            (
                b"User-agent: news-scraper\nCrawl-delay: 3\nDisallow: /admin\n\n"
                b"User-agent: *\nDisallow: /\n\nSitemap: https://news.example/sitemap.xml\n"
            ),
        ),
    )
    robots = Robots()

    async def go() -> tuple[bool, bool, bool]:
        async with make_client() as client:
            ua = DEFAULT_USER_AGENT
            return (
                await robots.allowed(client, server.url("/story"), ua),
                await robots.allowed(client, server.url("/admin/x"), ua),
                await robots.allowed(client, server.url("/story"), "OtherBot/1.0"),
            )

    assert run(go()) == (True, False, False)
    assert server.hits("/robots.txt") == 1
    assert robots.crawl_delay(server.url("/x"), DEFAULT_USER_AGENT) == 3
    assert robots.sitemaps(server.url("/")) == ["https://news.example/sitemap.xml"]


def test_unknown_host_is_not_retried_and_says_so() -> None:
    import socket

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known") from socket.gaierror(
            socket.EAI_NONAME, "Name or service not known")

    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go() -> None:
        async with make_client(transport=httpx.MockTransport(refuse)) as client:
            await fetch(client, "https://no-such-host.example/a", sleep=fake_sleep)

    with pytest.raises(Network, match="cannot resolve host no-such-host.example") as caught:
        asyncio.run(go())
    assert caught.value.attempts == 1 and sleeps == []


@pytest.mark.parametrize("coding,wbits", [("deflate", -zlib.MAX_WBITS),
                                          ("deflate", zlib.MAX_WBITS),
                                          ("gzip", 16 + zlib.MAX_WBITS)])
def test_compressed_robots_txt_is_read_raw_deflate_included(
    server: TestServer, coding: str, wbits: int
) -> None:
    packer = zlib.compressobj(wbits=wbits)
    body = packer.compress(b"User-agent: *\nDisallow: /news\n") + packer.flush()
    server.route("/robots.txt", Response(200, body, {"Content-Type": "text/plain",
                                                     "Content-Encoding": coding}))
    server.route("/news/1", Response.html(HTML))
    with pytest.raises(Blocked, match="robots.txt disallows"):
        real_fetch(server.url("/news/1"), robots=Robots())
    assert server.hits("/news/1") == 0


def test_robots_txt_is_ignored_when_the_policy_says_so(server: TestServer) -> None:
    server.route("/robots.txt", Response(200, b"User-agent: *\nDisallow: /\n"))
    server.route("/news/1", Response.html(HTML))
    page = real_fetch(server.url("/news/1"), robots=Robots(), respect_robots=False)
    assert page.status == 200 and server.hits("/robots.txt") == 0


# --- retries that say what they do -------------------------------------------------------


def closed_port() -> int:
    """A 127.0.0.1 port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "scraper.fetch" and r.levelno == logging.INFO]


def test_refused_connection_is_retried_once_soon_and_the_retry_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/story"
    sleep = FakeSleep()
    with caplog.at_level(logging.INFO, logger="scraper"), \
            pytest.raises(Network, match="connection refused") as info:
        real_fetch(url, sleep=sleep)
    assert info.value.attempts == 2 and sleep.delays == [0.5]
    assert retry_lines(caplog) == [
        f"retrying {url} in 0.5 s (attempt 2 of 2): connection refused"]


def test_each_retry_is_one_log_line_saying_what_why_and_when(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sleep = FakeSleep()
    with caplog.at_level(logging.INFO, logger="scraper"):
        mock_fetch(reply(503), reply(429, headers={"Retry-After": "7"}), reply(), sleep=sleep)
    lines = retry_lines(caplog)
    assert len(lines) == 2
    # 1 s backoff plus up to 1 s of jitter
    assert re.fullmatch(rf"retrying {URL} in (1\.\d|2\.0) s \(attempt 2 of 4\): HTTP 503", lines[0])
    assert lines[1] == f"retrying {URL} in 7.0 s (attempt 3 of 4): HTTP 429"


# --- the policy ----------------------------------------------------------------------------


class Agent(NamedTuple):
    cli: str | None
    site_setting: str | None
    crawl_setting: str | None
    adapter: str | None
    expected: str


@pytest.mark.parametrize("case", [
    Agent("cli", "site", "crawl", "adapter", "cli"),
    Agent(None, "site", "crawl", "adapter", "site"),
    Agent(None, None, "crawl", "adapter", "crawl"),
    Agent(None, None, None, "adapter", "adapter"),
    Agent(None, None, None, None, DEFAULT_USER_AGENT),
])
def test_policy_for_decides_the_user_agent_in_one_order(case: Agent) -> None:
    from scraper.config import parse_config
    from scraper.sites import Site

    class Adapter(Site):
        name = "adapter"
        user_agent = case.adapter

    crawl = {"user_agent": case.crawl_setting} if case.crawl_setting else {}
    sites = {"adapter": {"user_agent": case.site_setting}} if case.site_setting else {}
    config = parse_config({"crawl": crawl, "sites": sites})
    policy = policy_for(Adapter(), config.for_site("adapter"), case.cli)
    assert policy.user_agent == case.expected


def test_the_exchange_keeps_request_and_response_heads_as_sent_and_received(
        server: TestServer) -> None:
    server.route("/old", Response.redirect("/new", 301))
    server.route("/new", Response.html(HTML))
    page = real_fetch(server.url("/old"), user_agent="test-agent/1")
    assert page.http is not None
    request, response = page.http["request"], page.http["response"]
    # the heads of the request that got the page, not of the redirect before it
    assert request["method"] == "GET" and request["url"] == server.url("/new")
    assert ["User-Agent", "test-agent/1"] in [[k.title(), v] for k, v in request["headers"]]
    assert response["status"] == 200 and response["reason"] == "OK"
    assert response["http_version"] in ("HTTP/1.0", "HTTP/1.1")  # as the server spoke
    names = [name.lower() for name, _ in response["headers"]]
    assert "content-type" in names and "content-length" in names
