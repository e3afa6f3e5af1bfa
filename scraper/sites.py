"""Site adapters: the ``Site`` base class, the ``Draft`` its hooks see, and ``site_for(url)``.

An adapter is a subclass of ``Site`` in its own module under the repository's ``sites/``
folder, installed as the package ``scraper_sites`` (never as a bare ``sites``, which any
``sites/`` folder in the current directory would shadow). It declares data (domains, feeds,
sitemaps, an article URL pattern, an article id pattern, selectors to drop) and at most two
small pure hooks: ``metadata(tree, draft) -> Draft`` and ``body(tree, draft) -> list[str]``.
The generic adapter (``sites/_generic.py``) serves every other domain through the same path.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from .config import check_site_name
from .models import Draft, ScraperError, UnknownSite, UsageError
from .web import host_of

__all__ = ["Draft", "Site", "all_sites", "site_for", "site_named"]

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    from .config import SiteSpec

PACKAGE = "scraper_sites"


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
    # regex searched in the URL path; the first group that matched is the article's stable id
    # (kept when the slug is edited). None: the canonical URL is the identity.
    article_id: ClassVar[str | None] = None
    # CSS selectors removed from the page before body extraction
    drop: ClassVar[tuple[str, ...]] = ()
    # None: the client's default User-Agent
    user_agent: ClassVar[str | None] = None
    # where a site declared in the config file comes from ("scraper.toml [sites.NAME]");
    # None for a Python adapter
    declared_in: ClassVar[str | None] = None

    def matches(self, url: str) -> bool:
        """True when the URL's host is one of ``domains`` or a subdomain of one."""
        host = host_of(url)
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def is_article_url(self, url: str) -> bool:
        """True when the URL looks like an article of this site."""
        if self.article_path is None:
            return True
        return re.search(self.article_path, urlsplit(url).path) is not None

    def article_key(self, url: str) -> str | None:
        """The site's stable id of the article at ``url`` (from ``article_id``), or None."""
        if self.article_id is None:
            return None
        found = re.search(self.article_id, urlsplit(url).path)
        return next((g for g in found.groups() if g), None) if found else None

    def metadata(self, tree: HTMLParser, draft: Draft) -> Draft:
        """Correct title, authors, dates or tags from the parsed page; the adapter's last word."""
        return draft

    def body(self, tree: HTMLParser, draft: Draft) -> list[str]:
        """The article's paragraphs, given the page and the draft (after ``metadata``)."""
        return list(draft.paragraphs)

    def __repr__(self) -> str:
        return f"<Site {self.name}>"


def _package() -> ModuleType:
    """The adapters' package: installed as ``scraper_sites``, or ``sites/`` beside ``scraper/``."""
    try:
        return importlib.import_module(PACKAGE)
    except ModuleNotFoundError as err:
        if err.name != PACKAGE:
            raise
    # a checkout run without installing it (sys.path holds only the repository root)
    folder = Path(__file__).resolve().parents[1] / "sites"
    spec = importlib.util.spec_from_file_location(
        PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None or not folder.is_dir():
        raise ScraperError(f"the site adapters are missing: no {PACKAGE} package and no {folder}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    return module


def _check(cls: type[Site] | Site, where: str) -> None:
    """Refuse an adapter without a name or with a regex that does not compile."""
    if not cls.name:
        raise ScraperError(f"the site adapter {cls.__name__} in {where} has no name")
    try:  # the one rule for a site's name, whichever way the site is defined
        check_site_name(cls.name)
    except UsageError as err:
        raise ScraperError(f"{where}: {err}") from None
    for field in ("article_path", "article_id"):
        try:
            pattern = re.compile(getattr(cls, field) or "")
        except re.error as err:
            raise ScraperError(f"{where}: {field} is not a valid regex: {err}") from None
        if field == "article_id" and cls.article_id is not None and not pattern.groups:
            raise ScraperError(f"{where}: article_id needs a (group) around the id")


@cache
def python_adapters() -> tuple[Site, ...]:
    """Every adapter under ``sites/``, the generic one last. Refuses duplicate names."""
    package = _package()
    found: dict[str, Site] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        where = f"sites/{info.name}.py"
        try:
            module = importlib.import_module(f"{PACKAGE}.{info.name}")
        except Exception as err:  # a broken adapter: one line naming it, not a traceback
            line = f" (line {err.lineno})" if isinstance(err, SyntaxError) else ""
            raise ScraperError(f"cannot load the site adapter {where}{line}: "
                               f"{type(err).__name__}: {err}") from err
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, Site) and obj is not Site
                    and obj.__module__ == module.__name__):
                _check(obj, where)
                if obj.name in found:
                    raise ScraperError(f"two site adapters are named {obj.name!r}")
                found[obj.name] = obj()
    if "generic" not in found:
        raise ScraperError(f"the generic site adapter (sites/_generic.py) is missing from "
                           f"{package.__path__[0]}")
    generic = found.pop("generic")
    return (*found.values(), generic)


class DeclaredSite(Site):
    """A site declared in the config file: its data on the instance, no hooks (the generic
    path extracts it). A plain class, so that it pickles into the extraction processes."""

    def __init__(self, spec: SiteSpec) -> None:
        for key in ("name", "domains", "feeds", "sitemaps", "news_sitemaps", "article_path",
                    "article_id", "drop"):
            setattr(self, key, getattr(spec, key))
        self.declared_in = spec.source  # type: ignore[misc]


# Sites declared in the config file (``declare``): data only, extracted by the generic path.
_declared: tuple[Site, ...] = ()


def all_sites() -> tuple[Site, ...]:
    """Every site: the Python adapters, then those the config file declares, the generic last."""
    *adapters, generic = python_adapters()
    return (*adapters, *_declared, generic)


def declare(specs: Iterable[SiteSpec]) -> tuple[Site, ...]:
    """Make the config file's declared sites known (replacing any declared before).

    A name that is also a Python adapter's is refused (UsageError), as are bad patterns.
    """
    global _declared
    taken = {site.name: site for site in python_adapters()}
    made: dict[str, Site] = {}
    for spec in specs:
        if spec.name in taken:
            module = type(taken[spec.name]).__module__.rpartition(".")[2]
            raise UsageError(f"{spec.source}: {spec.name!r} is already the Python adapter "
                             f"sites/{module}.py; give the declared site another name")
        # one site per host: site_for() must name the same site the crawl stored it under
        for other in (*taken.values(), *made.values()):
            if overlap := next((d for d in spec.domains if other.matches(f"http://{d}/")
                                or any(d.endswith("." + o) or o.endswith("." + d)
                                       for o in other.domains)), None):
                raise UsageError(f"{spec.source}: the domain {overlap} is already "
                                 f"{other.name}'s; a host belongs to one site")
        site = DeclaredSite(spec)
        try:
            _check(site, spec.source)
        except ScraperError as err:
            raise UsageError(str(err)) from None
        made[spec.name] = site
    _declared = tuple(made.values())
    return _declared


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
