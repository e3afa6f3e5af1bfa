"""Turn a page's HTML into an ``Article``: trafilatura for the body, JSON-LD and meta for
the metadata, and the site adapter's ``metadata`` and ``body`` hooks for the last word.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import trafilatura
from cssselect import GenericTranslator
from lxml import etree
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from .metadata import clean_authors, clean_tags, head_metadata, normalize_date, tag_list
from .metadata.authors import pick_authors
from .metadata.dates import HTMLDATE_FORMAT, not_after
from .metadata.titles import clean_text
from .models import Article, ExtractError
from .refusal import SHORT_TEXT_WORDS, refuse_link_list, refuse_non_article, word_count
from .sites import Draft

if TYPE_CHECKING:
    from lxml.etree import _Element

    from .sites import Site

# Deeper pages are refused unparsed: lxml (under trafilatura) stops at 256 levels and drops
# the rest of the page, and selectolax slows quadratically with depth (100,000 nested
# <div>s take it over a minute). Real pages nest 20 to 60 deep.
_MAX_DEPTH = 250
# Bigger pages are refused too: trafilatura spends about half a millisecond per element
# (100,000 one-word paragraphs, a 1 MB page, take it over a minute). The 144 real pages of
# the shared corpus have 700 elements (median) to 9,900 (a long Wikipedia article, 3.7 s).
_MAX_ELEMENTS = 30_000


def extract(html: str, url: str, site: Site | None = None, *,
            now: datetime | None = None) -> Article:
    """Extract the article on ``html`` fetched from ``url`` at ``now`` (default: the current
    time; no date later than it is kept); raises ExtractError, never None."""
    from .sites import site_for

    now = now or datetime.now(timezone.utc)

    site = site or site_for(url)
    # parsed once here, for the depth check, and handed to trafilatura (which copies it)
    body_tree = trafilatura.load_html(html) if html.strip() else None
    if body_tree is not None and (too := _too_big(body_tree)):
        raise ExtractError(f"{too} on {url or 'the page'}: refused, as extracting it would take "
                           "minutes or lose part of the page")
    tree = HTMLParser(html)
    doc = _trafilatura(html if body_tree is None else body_tree, url, site, now)
    paragraphs = _paragraphs(doc.body) if doc is not None and doc.body is not None else []
    # a Python adapter's page keeps its page-level title (its hooks pick the headline);
    # the generic path and the sites declared in the config prefer the visible <h1>
    generic = site.name == "generic" or site.declared_in is not None
    meta = _merge(head_metadata(tree, visible_headline=generic), doc)
    meta.update(meta.pop("dates").choose(doc.date if doc is not None else None, url, now))
    if paragraphs and meta.get("title") and _same(paragraphs[0], meta["title"]):
        paragraphs = paragraphs[1:]  # the headline repeated as the first block
    draft = site.metadata(tree, _draft(url, meta, paragraphs))
    draft = replace(draft, paragraphs=tuple(p for p in site.body(tree, draft) if p))
    text = "\n\n".join(draft.paragraphs)
    refuse_non_article(url, html, tree, draft, text)
    refuse_link_list(url, tree, text)
    return Article(
        url=url,
        text=text,
        title=draft.title,
        canonical_url=urljoin(url, draft.canonical_url) if draft.canonical_url else None,
        site=site.name,
        authors=tuple(clean_authors(draft.authors, meta.get("site_name"))),
        published=not_after(normalize_date(draft.published), now),
        modified=not_after(normalize_date(draft.modified), now),
        description=draft.description,
        language=draft.language,
        image=draft.image,
        tags=clean_tags(draft.tags),
    )


# trafilatura's options, chosen by measuring body F1 on the shared corpus (bench/README.md)
# deduplicate off: its cache is process-wide, so a re-fetched page would lose text
_OPTIONS: dict[str, Any] = {"include_comments": False, "favor_recall": True,
                            "include_tables": True, "include_images": False,
                            "deduplicate": False}
# A shorter body is extracted a second time with trafilatura's default (precision-leaning)
# settings, and the longer of the two kept: favor_recall sometimes settles on a small block
_RETRY_BELOW_WORDS = SHORT_TEXT_WORDS


def _trafilatura(source: Any, url: str, site: Site, now: datetime) -> Any:
    """trafilatura's document for the page: metadata, and the body by _OPTIONS or, for a short
    body, whichever of that and trafilatura's defaults is longer."""
    prune = _xpaths(site.drop) or None
    # htmldate (trafilatura's date) as trafilatura asks it, but keeping the time it finds
    dates = {"original_date": True, "extensive_search": True, "outputformat": HTMLDATE_FORMAT,
             # a day a zone ahead of UTC may already have begun (dates.py drops what is
             # truly later than now)
             "max_date": (now + timedelta(hours=14)).date().isoformat()}
    # Any: trafilatura types its result as Document | dict (the latter only with as_dict)
    doc: Any = trafilatura.bare_extraction(source, url=url, with_metadata=True,
                                           prune_xpath=prune, date_extraction_params=dates,
                                           **_OPTIONS)
    if doc is None or _words(doc) < _RETRY_BELOW_WORDS:
        options = _OPTIONS | {"favor_recall": False}
        other: Any = trafilatura.bare_extraction(source, url=url, prune_xpath=prune, **options)
        if other is not None and (doc is None or _words(other) > _words(doc)):
            if doc is None:
                return other
            doc.body, doc.text = other.body, other.text
    return doc


def _words(doc: Any) -> int:
    return word_count(doc.text or "")


def _draft(url: str, meta: dict[str, Any], paragraphs: list[str]) -> Draft:
    """The merged metadata and trafilatura's body as the typed value the adapter hooks see."""

    def text(key: str) -> str | None:
        value = meta.get(key)
        return value if isinstance(value, str) and value.strip() else None

    def texts(key: str) -> tuple[str, ...]:
        value = meta.get(key) or ()
        return tuple(str(v) for v in ([value] if isinstance(value, str) else value) if v)

    return Draft(
        url=url, title=text("title"), authors=texts("authors"), published=text("published"),
        modified=text("modified"), description=text("description"), language=text("language"),
        image=text("image"), tags=texts("tags"), canonical_url=text("canonical_url"),
        paragraphs=tuple(paragraphs), paywalled=bool(meta.get("paywalled")),
    )


def _merge(meta: dict[str, Any], doc: Any) -> dict[str, Any]:
    """Fill what JSON-LD and meta tags left empty from trafilatura's metadata."""
    if doc is None:
        return meta
    fallbacks = {
        "title": doc.title,
        "description": doc.description,
        "language": doc.language,
        "image": doc.image,
        "tags": tag_list(doc.tags) or tag_list(doc.categories),
        "canonical_url": doc.url,
    }
    # trafilatura's byline: the last source of authors, or the first naming a person
    meta["authors"] = pick_authors([meta.get("authors") or [], (doc.author or "").split(";")],
                                   meta.get("site_name"))
    for key, value in fallbacks.items():
        if value and not meta.get(key):
            meta[key] = value
    for key in ("title", "description"):
        if isinstance(meta.get(key), str):
            meta[key] = clean_text(meta[key])
    return meta


# trafilatura's output elements that split the body into paragraphs of their own
_CONTAINERS = {"list", "table", "row", "div"}
_BLOCKS = {"p", "head", "quote", "item", "cell", "code", "list", "table", "row", "div"}


def _paragraphs(body: _Element) -> list[str]:
    """The body's blocks as whitespace-normalised paragraphs, in order."""
    out: list[str] = []
    if body.text and body.text.strip():
        out.append(clean_text(body.text))
    for el in body:
        if el.tag in _CONTAINERS:
            out.extend(_paragraphs(el))
        else:
            text = clean_text(_block_text(el))
            if text:
                out.append(text)
        if el.tail and el.tail.strip():
            out.append(clean_text(el.tail))
    return out


def _block_text(el: _Element) -> str:
    """An element's text, with a space wherever a line break or nested block separates words."""
    parts = [el.text or ""]
    for child in el:
        if child.tag == "lb":
            parts.append(" ")
        elif child.tag in _BLOCKS:
            parts.append(f" {_block_text(child)} ")
        else:
            parts.append(_block_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _same(a: str, b: str) -> bool:
    return clean_text(a).casefold() == clean_text(b).casefold()


def _too_big(root: _Element) -> str | None:
    """Why the tree is too deep or too big to extract in bounded time; None if it is not."""
    depth = elements = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth, elements = depth + 1, elements + 1
        if depth > _MAX_DEPTH:
            return f"HTML nested more than {_MAX_DEPTH} levels deep"
        if elements > _MAX_ELEMENTS:
            return f"more than {_MAX_ELEMENTS} HTML elements"
    return None


@lru_cache(maxsize=256)
def _xpath(selector: str) -> str:
    return GenericTranslator().css_to_xpath(selector)


def _xpaths(selectors: tuple[str, ...]) -> list[str]:
    """The adapter's CSS drop selectors as XPath, for trafilatura's pruning."""
    return [_xpath(s) for s in selectors]


def extractor_id(site: Site) -> str:
    """What extracts ``site``'s pages now: recorded with each version, so that `scraper
    reextract` knows which versions an older extractor produced.

    The scraper's and trafilatura's versions, a hash of the extraction code (this module,
    ``metadata/``, ``refusal.py``) and a hash of the site's definition (its adapter module,
    or its table in the config file).
    """
    return f"{_code_id()} {site.name}:{_site_hash(site)}"


@lru_cache(maxsize=1)
def _code_id() -> str:
    from importlib.metadata import version

    from . import __version__

    here = Path(__file__).parent
    files = [here / "extract.py", here / "refusal.py", *sorted((here / "metadata").glob("*.py"))]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]
    return f"scraper {__version__}+{digest} trafilatura {version('trafilatura')}"


@lru_cache(maxsize=256)  # once per site object: it is asked for every version stored
def _site_hash(site: Site) -> str:
    if site.declared_in is not None:  # a site of the config file: its data is its definition
        data = repr(sorted((k, v) for k, v in vars(site).items()))
    else:
        try:
            data = inspect.getsource(sys.modules[type(site).__module__])
        except (OSError, TypeError, KeyError):  # defined where no source is kept
            data = type(site).__qualname__
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:12]
