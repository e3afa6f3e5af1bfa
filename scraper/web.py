"""Byte, URL and host helpers that fetch, robots and discover share: each rule lives here once.

    >>> is_web_url("https://example.com/a")                  # what we ever request
    >>> web_url("/a#top", "https://example.com/feed")        # a link made absolute, or None
    >>> host_of("https://WWW.Example.com./a"), origin("https://example.com:8443/a")
    >>> inflate(gzip_bytes, "gzip", cap=50 << 20)            # one shot, bomb-safe
    >>> body = Inflater("deflate", cap); body.feed(chunk); body.finish()  # streamed
    >>> decode_html(raw, "text/html; charset=windows-1251")  # (text, codec)

Inflating is by hand everywhere, never by httpx: httpx inflates a whole network chunk at
once (64 KiB of gzip can hold 64 MiB), so a bomb would be in memory before it could be
counted; zlib's ``max_length`` stops at exactly ``cap + 1`` bytes. "deflate" is read
whether zlib-wrapped (as RFC 9110 says) or raw (as many servers send it).
"""

from __future__ import annotations

import codecs
import re
import zlib
from functools import lru_cache
from urllib.parse import urldefrag, urljoin, urlsplit

import charset_normalizer
import httpx
import idna  # httpx depends on it: the same IDNA 2008 tables as the requests we send

__all__ = ["CODINGS", "WEB_SCHEMES", "BadCoding", "Inflater", "OverCap", "ascii_host",
           "decode_html", "host_of", "inflate", "is_web_url", "origin", "web_url"]

WEB_SCHEMES = ("http", "https")
# what we advertise in Accept-Encoding: exactly what Inflater decodes, pinned so that
# installing brotli or zstandard later cannot make httpx offer more
CODINGS = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}

_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class BadCoding(ValueError):
    """A body that cannot be inflated: an unknown coding, corrupt or truncated data."""


class OverCap(ValueError):
    """A body larger than its cap once inflated."""


# Pure functions of a URL asked several times per fetch (the pipeline, robots.txt, each
# redirect hop): remembered, so that a URL is parsed by httpx once, not four to six times.
@lru_cache(maxsize=4096)
def is_web_url(url: str) -> bool:
    """True for an http(s) URL with a host that httpx can request: the only kind we fetch.

    The one test of "is this a URL we would request", for what a user types, a page's links
    and a redirect alike. A host IDNA refuses (``xn--zz.com``, digits of another script) is
    no host: httpx raises on it only when ``.host`` is read (an IDNAError, a UnicodeError).
    """
    try:
        u = httpx.URL(url)
        return u.scheme in WEB_SCHEMES and bool(u.host)
    except (httpx.InvalidURL, TypeError, ValueError):  # IDNAError and UnicodeError included
        return False


def web_url(url: str | None, base: str = "") -> str | None:
    """``url`` made absolute against ``base``, without fragment; None unless a web URL."""
    try:
        absolute = urldefrag(urljoin(base, url.strip())).url if url and url.strip() else ""
    except ValueError:  # e.g. a malformed IPv6 host
        return None
    return absolute if is_web_url(absolute) else None


def ascii_host(host: str) -> str:
    """A host as browsers send it: lowercased, IDNA labels as punycode (UTS #46 mapping).

    ``bücher.example`` → ``xn--bcher-kva.example``; ASCII hosts and IP literals are only
    lowercased; a name IDNA refuses (an underscore label, say) is kept as written.
    """
    host = host.lower()
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return host


def host_of(url: str) -> str:
    """The URL's host, lowercased and without a trailing dot; "" when it has none."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


@lru_cache(maxsize=4096)
def origin(url: str) -> str:
    """``scheme://host[:port]``: the unit a robots.txt governs."""
    u = httpx.URL(url)
    host = u.raw_host.decode("ascii")
    host = f"[{host}]" if ":" in host else host  # IPv6 literal
    port = f":{u.port}" if u.port is not None else ""
    return f"{u.scheme}://{host}{port}"


class Inflater:
    """Collects a (gzip, deflate or identity) body fed chunk by chunk, up to ``cap`` bytes.

    ``feed`` returns False once more than ``cap`` bytes have come out (``data`` then holds
    ``cap + 1``: the caller refuses or truncates); ``finish`` raises BadCoding when the
    compressed stream did not end. BadCoding from the constructor for an unknown coding.
    """

    def __init__(self, content_encoding: str, cap: int) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in _WBITS):
            raise BadCoding(f"unsupported Content-Encoding {content_encoding!r}")
        self.coding = codings[0] if codings else ""
        self.cap, self.data = cap, bytearray()
        self._zlib = zlib.decompressobj(_WBITS[self.coding]) if self.coding else None
        self._fresh = True  # "deflate" may be raw or zlib-wrapped: decided on the first bytes

    def feed(self, chunk: bytes) -> bool:
        """Add one chunk; False once the output passed the cap (stop feeding then)."""
        if self._zlib is None:
            self.data += chunk[: self.cap + 1 - len(self.data)]
            return len(self.data) <= self.cap
        while chunk and not self._zlib.eof:
            try:
                out = self._zlib.decompress(chunk, self.cap + 1 - len(self.data))
            except zlib.error as exc:
                if self.coding == "deflate" and self._fresh:  # not zlib-wrapped: raw deflate
                    self._zlib, self._fresh = zlib.decompressobj(-zlib.MAX_WBITS), False
                    continue
                raise BadCoding(f"corrupt {self.coding} body ({exc})") from exc
            self._fresh = False
            self.data += out
            if len(self.data) > self.cap:
                return False
            chunk = self._zlib.unconsumed_tail
        return True

    def finish(self) -> bytes:
        """The whole body; BadCoding if the compressed stream was cut off."""
        if self._zlib is not None and not self._zlib.eof:
            raise BadCoding(f"truncated {self.coding} body")
        return bytes(self.data)


def inflate(data: bytes, coding: str, cap: int) -> bytes:
    """``data`` decoded from ``coding``; OverCap past ``cap`` bytes, BadCoding if unreadable."""
    body = Inflater(coding, cap)
    if not body.feed(data):
        raise OverCap(f"over {cap} bytes once decompressed")
    return body.finish()


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
