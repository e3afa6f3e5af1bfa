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
from collections.abc import Iterable, Iterator
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


def _suffixes(host: str) -> Iterator[str]:
    """``host`` and every ``d`` with ``host.endswith("." + d)``: a.b.c, b.c, c."""
    yield host
    dot = host.find(".")
    while dot >= 0:
        yield host[dot + 1:]
        dot = host.find(".", dot + 1)


def _parents(domain: str) -> Iterator[str]:
    """Every ``d`` that ``domain`` is a subdomain of: b.c and c for a.b.c."""
    found = _suffixes(domain)
    next(found)
    return found


def _own_matches(site: Site) -> bool:
    """True when ``site`` decides ``matches`` itself: the domain index cannot answer for it."""
    return (getattr(type(site), "matches", None) is not Site.matches
            or "matches" in getattr(site, "__dict__", ()))


class _Index:
    """``site_for`` and ``site_named`` over one tuple of sites by dict look-ups, not scans."""

    # by_domain: each domain's first site in the order; asked: the few sites whose own
    # matches() decides, asked in their place since no domain index can answer for them

    def __init__(self, sites: tuple[Site, ...]) -> None:
        self.sites = sites
        self.by_domain: dict[str, int] = {}
        self.by_name: dict[str, Site] = {}
        asked: list[int] = []
        for at, site in enumerate(sites):
            self.by_name.setdefault(site.name, site)
            if at == len(sites) - 1:  # the generic one: chosen when nothing else matches
                continue
            if _own_matches(site):
                asked.append(at)
            else:
                for domain in site.domains:
                    self.by_domain.setdefault(domain, at)
        self.asked = tuple(asked)

    def site_for(self, url: str) -> Site:
        """The first site in the order that matches ``url``; the last one otherwise."""
        first = min((at for d in _suffixes(host_of(url)) if (at := self.by_domain.get(d))
                     is not None), default=len(self.sites) - 1)
        for at in self.asked:
            if at >= first:
                break
            if self.sites[at].matches(url):
                return self.sites[at]
        return self.sites[first]


# one index, rebuilt only when the tuple of sites is another one (a new declare, or a test's)
_index: _Index | None = None
# all_sites()'s tuple, kept while python_adapters() and _declared are the same objects
_every: tuple[tuple[Site, ...], tuple[Site, ...], tuple[Site, ...]] | None = None


def _indexed() -> _Index:
    """The index of ``all_sites()``, built once for each tuple it returns."""
    global _index
    sites = all_sites()
    if _index is None or _index.sites is not sites:
        _index = _Index(sites)
    return _index


def all_sites() -> tuple[Site, ...]:
    """Every site: the Python adapters, then those the config file declares, the generic last."""
    global _every
    adapters = python_adapters()
    if _every is None or _every[0] is not adapters or _every[1] is not _declared:
        *named, generic = adapters
        _every = (adapters, _declared, (*named, *_declared, generic))
    return _every[2]


def _overlaps(domain: str, other: Site) -> bool:
    """True when ``domain`` is, is under or is over one of ``other``'s domains."""
    return other.matches(f"http://{domain}/") or any(
        domain.endswith("." + o) or o.endswith("." + domain) for o in other.domains)


class _Claims:
    """The domains sites hold, so that a new domain finds the sites it overlaps by look-ups."""

    def __init__(self) -> None:
        self.sites: list[Site] = []
        self.exact: dict[str, list[int]] = {}  # a domain: the sites that hold it
        self.under: dict[str, list[int]] = {}  # a domain: the sites holding a subdomain of it
        self.asked: list[int] = []  # sites whose own matches() must be asked

    def add(self, site: Site) -> None:
        """Let later look-ups find ``site``."""
        at = len(self.sites)
        self.sites.append(site)
        if _own_matches(site):
            self.asked.append(at)
        for domain in site.domains:
            self.exact.setdefault(domain, []).append(at)
            for parent in _parents(domain):
                self.under.setdefault(parent, []).append(at)

    def first_clash(self, domains: tuple[str, ...]) -> tuple[str, Site] | None:
        """The first site (in the order added) any of ``domains`` overlaps, and the first of
        ``domains`` that does; the same answer as asking ``_overlaps`` of every pair."""
        candidates = set(self.asked)
        for domain in domains:
            # the site's matches(): a suffix of the URL's host; d.endswith("." + o): a parent
            for key in {*_suffixes(host_of(f"http://{domain}/")), *_parents(domain)}:
                candidates.update(self.exact.get(key, ()))
            candidates.update(self.under.get(domain, ()))  # o.endswith("." + d)
        for at in sorted(candidates):
            other = self.sites[at]
            if overlap := next((d for d in domains if _overlaps(d, other)), None):
                return overlap, other
        return None


def declare(specs: Iterable[SiteSpec]) -> tuple[Site, ...]:
    """Make the config file's declared sites known (replacing any declared before).

    A name that is also a Python adapter's is refused (UsageError), as are bad patterns.
    """
    global _declared
    taken = {site.name: site for site in python_adapters()}
    claims = _Claims()
    for site in taken.values():
        claims.add(site)
    made: dict[str, Site] = {}
    for spec in specs:
        if spec.name in taken:
            module = type(taken[spec.name]).__module__.rpartition(".")[2]
            raise UsageError(f"{spec.source}: {spec.name!r} is already the Python adapter "
                             f"sites/{module}.py; give the declared site another name")
        # one site per host: site_for() must name the same site the crawl stored it under
        if clash := claims.first_clash(spec.domains):
            overlap, other = clash
            raise UsageError(f"{spec.source}: the domain {overlap} is already "
                             f"{other.name}'s; a host belongs to one site")
        site = DeclaredSite(spec)
        try:
            _check(site, spec.source)
        except ScraperError as err:
            raise UsageError(str(err)) from None
        made[spec.name] = site
        claims.add(site)
    _declared = tuple(made.values())
    return _declared


def site_for(url: str) -> Site:
    """The adapter whose domains match the URL's host; the generic adapter otherwise."""
    return _indexed().site_for(url)


def site_named(name: str) -> Site:
    """The adapter called ``name``; raises UnknownSite listing the known names."""
    if (site := _indexed().by_name.get(name)) is not None:
        return site
    known = ", ".join(s.name for s in all_sites())
    raise UnknownSite(f"unknown site {name!r} (known: {known})")
