"""Turn a page's HTML into an ``Article``: trafilatura for the body, JSON-LD and meta for
the metadata, and the site adapter's ``metadata`` and ``body`` hooks for the last word.
Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import trafilatura
from cssselect import GenericTranslator
from lxml import etree
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from .metadata import clean_authors, clean_tags, head_metadata, normalize_date, tag_list
from .metadata.authors import pick_authors
from .models import Article, ExtractError, NotAnArticle
from .sites import Draft

if TYPE_CHECKING:
    from lxml.etree import _Element

    from .sites import Site

# Pages that are not articles, recognised by their title or their (short) text.
_NOT_ARTICLE = re.compile(
    r"access denied|attention required|just a moment\.\.\.|verify (?:you are|that you'?re) "
    r"(?:a )?human|are you a robot|captcha|unusual traffic|enable javascript and cookies|"
    r"\b404\b.{0,20}not found|page not found|page (?:does not|doesn'?t) exist|"
    r"subscribe (?:now )?to (?:continue|keep) reading|to continue reading,? (?:please )?"
    r"(?:subscribe|log ?in|sign in)|this (?:article|content) is (?:only )?(?:available|reserved) "
    r"(?:to|for) (?:subscribers|members)|already a subscriber\?|service unavailable|"
    r"internal server error|bad gateway",
    re.I,
)
# Below this many words a page matching the pattern above is refused; a long article that
# merely mentions "captcha" is kept.
_SHORT_TEXT_WORDS = 150
# Deeper pages are refused unparsed: lxml (under trafilatura) stops at 256 levels and drops
# the rest of the page, and selectolax slows quadratically with depth (100,000 nested
# <div>s take it over a minute). Real pages nest 20 to 60 deep.
_MAX_DEPTH = 250
# Bigger pages are refused too: trafilatura spends about half a millisecond per element
# (100,000 one-word paragraphs, a 1 MB page, take it over a minute). The 144 real pages of
# the shared corpus have 700 elements (median) to 9,900 (a long Wikipedia article, 3.7 s).
_MAX_ELEMENTS = 30_000


def extract(html: str, url: str, site: Site | None = None) -> Article:
    """Extract the article on ``html`` fetched from ``url``; raises ExtractError, never None."""
    from .sites import site_for

    site = site or site_for(url)
    # parsed once here, for the depth check, and handed to trafilatura (which copies it)
    body_tree = trafilatura.load_html(html) if html.strip() else None
    if body_tree is not None and (too := _too_big(body_tree)):
        raise ExtractError(f"{too} on {url or 'the page'}: refused, as extracting it would take "
                           "minutes or lose part of the page")
    tree = HTMLParser(html)
    doc = trafilatura.bare_extraction(
        html if body_tree is None else body_tree,
        url=url,
        with_metadata=True,  # trafilatura's default is off
        include_comments=False,
        favor_recall=True,
        include_tables=True,
        include_images=False,
        deduplicate=False,
        prune_xpath=_xpaths(site.drop) or None,
    )
    paragraphs = _paragraphs(doc.body) if doc is not None and doc.body is not None else []
    # an adapter's page keeps its page-level title: its own hook picks the headline
    meta = _merge(head_metadata(tree, visible_headline=site.name == "generic"), doc)
    if paragraphs and meta.get("title") and _same(paragraphs[0], meta["title"]):
        paragraphs = paragraphs[1:]  # the headline repeated as the first block
    draft = site.metadata(tree, _draft(url, meta, paragraphs))
    draft = replace(draft, paragraphs=tuple(p for p in site.body(tree, draft) if p))
    text = "\n\n".join(draft.paragraphs)
    _refuse_non_article(url, draft, text)
    _refuse_link_lists(url, tree, text)
    return Article(
        url=url,
        text=text,
        title=draft.title,
        canonical_url=urljoin(url, draft.canonical_url) if draft.canonical_url else None,
        site=site.name,
        authors=tuple(clean_authors(draft.authors, meta.get("site_name"))),
        published=normalize_date(draft.published),
        modified=normalize_date(draft.modified),
        description=draft.description,
        language=draft.language,
        image=draft.image,
        tags=clean_tags(draft.tags),
    )


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
        "published": doc.date,
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
            meta[key] = _norm(meta[key])
    return meta


# trafilatura's output elements that split the body into paragraphs of their own
_CONTAINERS = {"list", "table", "row", "div"}
_BLOCKS = {"p", "head", "quote", "item", "cell", "code", "list", "table", "row", "div"}


def _paragraphs(body: _Element) -> list[str]:
    """The body's blocks as whitespace-normalised paragraphs, in order."""
    out: list[str] = []
    if body.text and body.text.strip():
        out.append(_norm(body.text))
    for el in body:
        if el.tag in _CONTAINERS:
            out.extend(_paragraphs(el))
        else:
            text = _norm(_block_text(el))
            if text:
                out.append(text)
        if el.tail and el.tail.strip():
            out.append(_norm(el.tail))
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


# zero-width space, word joiner, BOM and soft hyphen: invisible, yet a CMS adds and drops them
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).translate(_INVISIBLE).split())


def _same(a: str, b: str) -> bool:
    return _norm(a).casefold() == _norm(b).casefold()


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


def _refuse_non_article(url: str, draft: Draft, text: str) -> None:
    # checked before the empty-text case: a captcha page often has no body text at all,
    # and the recorded reason should say it was a captcha
    words = len(text.split())
    if words < _SHORT_TEXT_WORDS:
        title = draft.title or ""
        if said := _NOT_ARTICLE.search(title) or _NOT_ARTICLE.search(text):
            phrase = " ".join(said.group(0).split())
            raise NotAnArticle(f"{url or 'the page'} is an error, captcha or paywall page, "
                               f"not an article (it says {phrase!r})")
        if draft.paywalled:
            raise NotAnArticle(f"{url or 'the page'} shows only a paywall teaser ({words} words)")
    if not text.strip():
        raise ExtractError(f"no article text found on {url or 'the page'}")


def _refuse_link_lists(url: str, tree: HTMLParser, text: str) -> None:
    """A short "body" made only of link texts and headings is navigation, a video or a
    gallery page: a section front's menus, a player's title, "more video" lists."""
    words = text.split()
    if len(words) >= _SHORT_TEXT_WORDS:
        return
    links = tree.css("a")
    if len(links) < 2:
        return
    headings = tree.css("h1, h2, h3, h4, h5, h6")
    known = {w for node in links + headings for w in node.text(deep=True).split()}
    if all(w in known for w in words):
        raise ExtractError(f"no article text found on {url or 'the page'} "
                           "(only navigation links and headings)")


@lru_cache(maxsize=256)
def _xpath(selector: str) -> str:
    return GenericTranslator().css_to_xpath(selector)


def _xpaths(selectors: tuple[str, ...]) -> list[str]:
    """The adapter's CSS drop selectors as XPath, for trafilatura's pruning."""
    return [_xpath(s) for s in selectors]
