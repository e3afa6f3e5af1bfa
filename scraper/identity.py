"""Who an article is and what it says: URL normalisation, article keys, content hashes.

Pure functions, no I/O. ``article_key`` decides which archive row a page belongs to;
``content_hash`` decides whether a fetch is a new version of it.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import re
import string
import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from tld import get_fld

from .web import WEB_SCHEMES, ascii_host, is_web_url

if TYPE_CHECKING:
    from .models import Article
    from .sites import Site

# Query parameters that only say how a reader arrived (campaigns, click ids, share
# buttons), never which article it is. Dropping them merges the dozens of URLs
# social media and newsletters hand out for the same page. Compared lowercased;
# any name starting with one of TRACKING_PREFIXES is dropped too.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "twclid", "ttclid", "yclid",
    "igshid", "li_fat_id", "wbraid", "gbraid",          # ad-network click ids
    "mc_cid", "mc_eid",                                 # Mailchimp
    "_ga", "_gl",                                       # Google Analytics linker
    "_hsenc", "_hsmi", "mkt_tok", "vero_id",            # HubSpot, Marketo, Vero
    "oly_anon_id", "oly_enc_id", "rb_clickid", "s_cid",
    "cmp", "cmpid", "ocid", "ref_src", "ref_url",       # Guardian, MSN, Twitter embeds
    "smid", "smtyp", "sr_share", "ito", "xtor",         # NYT, WaPo, AT Internet
    "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee",  # BBC
    "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4",
    "wt.mc_id", "wt_mc", "guccounter", "spm", "__twitter_impression",
})
TRACKING_PREFIXES = ("utm_",)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 unreserved characters: escaping them changes nothing, so escapes are decoded
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_HEX = frozenset(string.hexdigits)
# WHATWG's path and query percent-encode sets, beyond controls, space and non-ASCII
_PATH_ESCAPED = frozenset('"#<>?`{}')
_QUERY_ESCAPED = frozenset('"#<>\'')

# Invisible characters a CMS adds or removes without an editor touching the text.
# A regex, not str.translate: translate looks every character up in a dict (0.16 ms for a
# 5,000-character article against 0.01 ms).
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]+")


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _escape(text: str, also: frozenset[str]) -> str:
    """``text`` with percent-escapes as browsers write them (WHATWG URL, RFC 3986 6.2.2).

    Non-ASCII, controls, space and the characters in ``also`` become UTF-8 escapes; an
    escape's hex digits are uppercased; an escaped unreserved character (``%7E``, ``%41``)
    is decoded; an escaped reserved one (``%2F``, ``%26``) stays escaped, since decoding it
    would change what the URL says. A ``%`` that starts no escape is kept as it is.
    """
    if text.isascii() and "%" not in text and not also.intersection(text) and all(
            " " < ch < "\x7f" for ch in text):
        return text  # the common case: nothing to do
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%" and len(text) >= i + 3 and all(c in _HEX for c in text[i + 1:i + 3]):
            byte = chr(int(text[i + 1:i + 3], 16))
            out.append(byte if byte in _UNRESERVED else "%" + text[i + 1:i + 3].upper())
            i += 3
            continue
        if not " " < ch < "\x7f" or ch in also:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass")))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def normalize_url(url: str) -> str:
    """The URL as one article's identity: the same string for every spelling of it.

    Scheme and host lowercased, the host in IDNA (punycode) form, percent-escapes as
    browsers write them (see ``_escape``), no fragment, default port or tracking params.
    A URL already normalised normalises to itself.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = ascii_host((parts.hostname or "").rstrip("."))
    if ":" in host:  # IPv6 literal: hostname drops the brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: leave the authority as written
        port, host = None, parts.netloc.rpartition("@")[2].lower()
    netloc = host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    # Filter the raw pairs rather than re-encoding them, so kept values stay byte-identical.
    kept = [
        pair for pair in _escape(parts.query, _QUERY_ESCAPED).split("&")
        if pair and not _is_tracking(unquote_plus(pair.partition("=")[0]))
    ]
    path = _escape(parts.path, _PATH_ESCAPED) or ("/" if netloc else "")
    return urlunsplit((scheme, netloc, path, "&".join(kept), ""))


def check_http_url(url: str) -> str:
    """The URL stripped, if it is an absolute http(s) URL with a valid host and port.

    Raises BadURL saying what is wrong: the scheme, no host, a malformed host (spaces,
    empty labels, bad IPv6), a port out of range, whitespace or control characters.
    """
    from .models import BadURL

    url = url.strip()
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        raise BadURL(f"not a valid URL (it contains a space or control character): {url!r}",
                     url=url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:  # an unclosed [IPv6, a port that is no number or too big
        raise BadURL(f"not a valid URL ({err}): {url!r}", url=url) from None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        raise BadURL(f"not an http(s) URL: {url!r}", url=url)
    if port == 0:
        raise BadURL(f"not a valid port in URL: {url!r}", url=url)
    if not _valid_host(parts.hostname) or not is_web_url(url):
        raise BadURL(f"not a valid host in URL: {url!r}", url=url)
    return url


def _valid_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal, brackets already removed
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    # Letters, digits, '-' and '_' (seen in real hosts) per label; non-ASCII for IDNs.
    return all(0 < len(label) <= 63 and all(ch.isalnum() or ch in "-_" for ch in label)
               for label in labels)


def registrable_domain(url: str) -> str:
    """The host's domain under its public suffix (``www.bbc.co.uk`` → ``bbc.co.uk``)."""
    return _domain_of_host((urlsplit(url).hostname or "").rstrip("."))


@functools.lru_cache(maxsize=4096)
def _domain_of_host(host: str) -> str:
    # Asked twice for every new page, of a handful of hosts: tld's lookup was 0.18 ms of
    # the 5 ms the crawl process spends a page. IPs, localhost and unknown suffixes have no
    # registrable domain: the host stands alone.
    return get_fld(host, fix_protocol=True, fail_silently=True) or host


def trusted_canonical(url: str, canonical_url: str | None) -> str | None:
    """The canonical URL if it is http(s) on the URL's own registrable domain, else None."""
    if not canonical_url or not is_web_url(canonical_url):
        return None
    parts = urlsplit(canonical_url)
    # A hostile page must not claim another site's identity; www./m. differences are fine.
    if registrable_domain(canonical_url) != registrable_domain(url):
        return None
    # A misconfigured CMS points every article at the home page: that is no identity.
    if parts.path in ("", "/") and urlsplit(url).path not in ("", "/"):
        return None
    return canonical_url


def article_key(site: Site, url: str, canonical_url: str | None, *,
                mirror: bool = False) -> str:
    """The archive identity of an article: the site's own key, or the normalised URL.

    A canonical URL counts only when it is trusted and, for a site with an article URL
    pattern, matches it: many section pages' canonical would merge unrelated stories.
    Trusted means on the page's own site; with ``mirror`` (the user named the adapter for a
    page served elsewhere: ``archive --site``) a canonical on the adapter's domains too.
    """
    canonical = trusted_canonical(url, canonical_url) or (
        _on_adapter_domains(site, canonical_url) if mirror else None)
    if canonical and site.article_path and not site.is_article_url(canonical):
        canonical = None
    for candidate in (canonical, url):
        if candidate:
            key = site.article_key(candidate)
            if key:
                return f"{site.name}:{key}"
    return normalize_url(canonical or url)


def _on_adapter_domains(site: Site, canonical_url: str | None) -> str | None:
    """A canonical URL on the adapter's own domains, whatever host served the page.

    Only for a page whose adapter the user chose (``--site`` for a mirror or a saved copy
    served locally): its canonical link to the site is then the article's identity, so the
    copies and the original are one article. Never for a crawl, where an off-site redirect
    must not let a page claim the site's article.
    """
    if (not canonical_url or not site.domains or not is_web_url(canonical_url)
            or not site.matches(canonical_url) or urlsplit(canonical_url).path in ("", "/")):
        return None
    return canonical_url


def _normalize_text(value: str | None) -> str:
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", value or ""))
    return " ".join(text.split())


def content_hash(article: Article) -> str:
    """sha256 hex of the normalised title, authors and body: what an editor changes."""
    # Dates, description, image and tags stay out: a bumped "modified" time or a new
    # teaser image is not an edit. JSON makes the field boundaries unambiguous.
    authors = [a for a in map(_normalize_text, article.authors) if a]
    payload = [_normalize_text(article.title), authors, _normalize_text(article.text)]
    encoded = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()
