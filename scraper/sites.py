"""Site adapters: the ``Site`` base class, loading of ``sites/``, and ``site_for(url)``.

An adapter is a subclass of ``Site`` in its own module under ``sites/``. It declares
data (domains, feeds, sitemaps, an article URL pattern, selectors to drop) and at most
two small pure hooks: ``article_key(url)`` and ``fix_metadata(tree, meta)``.
The generic adapter (``sites/_generic.py``) serves every other domain through the
same code path.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from .models import ScraperError, UnknownSite

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser


class Site:
    """Base of every adapter. Attributes are data; hooks are pure functions."""

    name: ClassVar[str] = ""
    domains: ClassVar[tuple[str, ...]] = ()
    feeds: ClassVar[tuple[str, ...]] = ()
    sitemaps: ClassVar[tuple[str, ...]] = ()
    # Google News sitemaps (or indexes of them): the last two days' articles, read on every
    # crawl; ``sitemaps`` above are archive sitemaps, read by a crawl only on a small budget
    news_sitemaps: ClassVar[tuple[str, ...]] = ()
    # regex matched against the URL path (search, not match); None accepts every path
    article_path: ClassVar[str | None] = None
    # CSS selectors removed from the page before body extraction
    drop: ClassVar[tuple[str, ...]] = ()
    # None: the client's default User-Agent
    user_agent: ClassVar[str | None] = None

    def matches(self, url: str) -> bool:
        """True when the URL's host is one of ``domains`` or a subdomain of one."""
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def is_article_url(self, url: str) -> bool:
        """True when the URL looks like an article of this site."""
        if self.article_path is None:
            return True
        return re.search(self.article_path, urlsplit(url).path) is not None

    def article_key(self, url: str) -> str | None:
        """A stable identity for the article at ``url``, or None to use the canonical URL."""
        return None

    def fix_metadata(self, tree: HTMLParser, meta: dict[str, Any]) -> dict[str, Any]:
        """Correct the merged metadata from the parsed page; the adapter has the last word."""
        return meta

    def __repr__(self) -> str:
        return f"<Site {self.name}>"


@cache
def all_sites() -> tuple[Site, ...]:
    """Every adapter under ``sites/``, the generic one last. Refuses duplicate names."""
    import sites as package

    found: dict[str, Site] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        where = f"sites/{info.name}.py"
        try:
            module = importlib.import_module(f"sites.{info.name}")
        except Exception as err:  # a broken adapter: one line naming it, not a traceback
            line = f" (line {err.lineno})" if isinstance(err, SyntaxError) else ""
            raise ScraperError(f"cannot load the site adapter {where}{line}: "
                               f"{type(err).__name__}: {err}") from err
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, Site) and obj is not Site
                    and obj.__module__ == module.__name__):
                if not obj.name:
                    raise ScraperError(f"the site adapter {obj.__name__} in {where} has no name")
                if obj.name in found:
                    raise ScraperError(f"two site adapters are named {obj.name!r}")
                try:
                    re.compile(obj.article_path or "")
                except re.error as err:
                    raise ScraperError(f"{where}: article_path is not a valid regex: "
                                       f"{err}") from None
                found[obj.name] = obj()
    generic = found.pop("generic")
    return (*found.values(), generic)


def site_for(url: str) -> Site:
    """The adapter whose domains match the URL's host; the generic adapter otherwise."""
    sites = all_sites()
    for site in sites[:-1]:
        if site.matches(url):
            return site
    return sites[-1]


def site_named(name: str) -> Site:
    """The adapter called ``name``; raises UnknownSite listing the known names."""
    for site in all_sites():
        if site.name == name:
            return site
    known = ", ".join(s.name for s in all_sites())
    raise UnknownSite(f"unknown site {name!r} (known: {known})")
