"""Crawl configuration from a TOML file: which sites, and per-site politeness and schedule.

    [crawl]                      # defaults for every site
    sites = ["themoscowtimes"]   # default: every adapter in sites/
    delay = 1.0                  # seconds between requests to one host
    concurrency = 1              # requests in flight per host
    user_agent = "..."
    max_age = "2d"               # skip discovered items older than this
    max_checks = 2000            # re-checks of known articles per run, most overdue first
    schedule = [["3h", "15m"], ["1d", "1h"], ["7d", "3h"], ["30d", "3d"], ["365d", "30d"]]

    [sites.themoscowtimes]       # overrides for one site
    delay = 2.0

    [sites.harbourtimes]         # a site declared here, no Python: it has `domains`
    domains = ["harbourtimes.example"]
    feeds = ["https://harbourtimes.example/rss"]
    article_path = "^/news/\\d{4}/"

Unknown keys and bad values are refused with one line naming them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from .models import UsageError
from .schedule import DEFAULT_SCHEDULE, check_schedule, parse_duration

DEFAULT_CONFIG_FILE = "scraper.toml"


@dataclass(frozen=True)
class SiteSettings:
    """The politeness and schedule settings of one site."""

    delay: float = 1.0
    concurrency: int = 1
    user_agent: str | None = None
    max_age: timedelta | None = timedelta(days=2)
    schedule: tuple[tuple[timedelta, timedelta], ...] = DEFAULT_SCHEDULE


@dataclass(frozen=True)
class SiteSpec:
    """A site declared in the config file (a ``[sites.NAME]`` table with ``domains``): the
    data of an adapter, extracted through the generic path."""

    name: str
    domains: tuple[str, ...]
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    news_sitemaps: tuple[str, ...] = ()
    article_path: str | None = None
    article_id: str | None = None
    drop: tuple[str, ...] = ()
    source: str = ""  # "scraper.toml [sites.NAME]", for messages


@dataclass(frozen=True)
class Config:
    """The whole crawl configuration; ``Config()`` is the safe default."""

    sites: tuple[str, ...] = ()  # empty: every adapter
    max_checks: int = 2000
    defaults: SiteSettings = SiteSettings()
    overrides: dict[str, SiteSettings] = field(default_factory=dict)
    source: str = "(defaults)"
    declared: tuple[SiteSpec, ...] = ()  # sites declared with `domains`
    queue: str | None = None  # [crawl] queue = "redis://…": crawl through `scraper worker`s

    def for_site(self, name: str) -> SiteSettings:
        """The settings of site ``name``: its overrides over the defaults."""
        return self.overrides.get(name, self.defaults)

    def with_delay(self, delay: float) -> Config:
        """The same configuration with ``delay`` between requests to one host, every site."""
        return replace(self, defaults=replace(self.defaults, delay=delay),
                       overrides={k: replace(v, delay=delay) for k, v in self.overrides.items()})


_SITE_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_SITE_KEYS = {"delay", "concurrency", "user_agent", "max_age", "schedule"}
_CRAWL_KEYS = _SITE_KEYS | {"sites", "max_checks", "queue"}
# what a [sites.NAME] table with `domains` may say besides the settings above
_SPEC_LISTS = ("domains", "feeds", "sitemaps", "news_sitemaps", "drop")
_SPEC_PATTERNS = ("article_path", "article_id")


def load_config(path: Path | None) -> Config:
    """Read ``path`` (or ``./scraper.toml`` when it exists); the defaults when there is none."""
    if path is None:
        path = Path(DEFAULT_CONFIG_FILE)
        if not path.exists():
            return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot read config {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise UsageError(f"config {path} is not valid TOML: {err}") from None
    return config_from_text(text, str(path))


def config_from_text(text: str, source: str) -> Config:
    """The Config the TOML ``text`` of config file ``source`` says; UsageError if it is bad."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"config {source} is not valid TOML: {err}") from None
    return parse_config(data, source=source)


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    """Validate a parsed TOML document into a Config; UsageError names the bad key."""
    _unknown(data, {"crawl", "sites"}, source)
    crawl = _table(data.get("crawl", {}), source, "crawl")
    _unknown(crawl, _CRAWL_KEYS, f"{source} [crawl]")
    defaults = _site_settings(crawl, SiteSettings(), f"{source} [crawl]")
    overrides = {}
    declared = []
    for name, table in _table(data.get("sites", {}), source, "sites").items():
        where = f"{source} [sites.{name}]"
        table = _table(table, source, f"sites.{name}")
        if "domains" in table:
            _unknown(table, _SITE_KEYS | set(_SPEC_LISTS) | set(_SPEC_PATTERNS), where)
            declared.append(_site_spec(name, table, where))
            table = {k: v for k, v in table.items() if k in _SITE_KEYS}
        else:
            _unknown(table, _SITE_KEYS, where)
        overrides[name] = _site_settings(table, defaults, where)
    sites = crawl.get("sites", [])
    if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
        raise UsageError(f"{source} [crawl] sites must be a list of site names")
    max_checks = _number(crawl, "max_checks", 2000, int, f"{source} [crawl]", 0, 10_000_000)
    queue = crawl.get("queue")
    if queue is not None and not (isinstance(queue, str) and queue.startswith(
            ("redis://", "rediss://", "unix://"))):
        raise UsageError(f"{source} [crawl] queue must be a Redis URL (redis://HOST:PORT/DB)")
    return Config(tuple(sites), int(max_checks), defaults, overrides, source, tuple(declared),
                  queue)


def check_site_name(name: str) -> str:
    """``name`` if it can name a site; else UsageError. A name is typed on the command line,
    is a config table's key and a value of the ``site`` column: lower-case, no spaces."""
    if not _SITE_NAME.fullmatch(name):
        raise UsageError(f"the site name {name!r} must be lower-case letters, digits, '_' or "
                         "'-', starting with a letter")
    return name


def _site_spec(name: str, table: dict[str, Any], where: str) -> SiteSpec:
    """A declared site from its table; UsageError names a bad value."""
    lists: dict[str, tuple[str, ...]] = {}
    for key in _SPEC_LISTS:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            raise UsageError(f"{where}: {key} must be a list of strings")
        lists[key] = tuple(v.strip() for v in value)
    if not lists["domains"]:
        raise UsageError(f"{where}: domains must name at least one domain")
    lists["domains"] = tuple(d.lower().rstrip(".") for d in lists["domains"])
    patterns: dict[str, str | None] = {}
    for key in _SPEC_PATTERNS:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{where}: {key} must be a regular expression (a string)")
        patterns[key] = value
    return SiteSpec(name=name, **lists, **patterns, source=where)  # type: ignore[arg-type]


def _site_settings(table: dict[str, Any], base: SiteSettings, where: str) -> SiteSettings:
    settings = replace(
        base,
        delay=float(_number(table, "delay", base.delay, float, where, 0, 3600)),
        concurrency=int(_number(table, "concurrency", base.concurrency, int, where, 1, 64)),
    )
    if "user_agent" in table:
        ua = table["user_agent"]
        if not isinstance(ua, str):
            raise UsageError(f"{where}: user_agent must be a one-line string")
        settings = replace(settings, user_agent=check_user_agent(ua, f"{where}: user_agent"))
    try:
        if "max_age" in table:
            settings = replace(settings, max_age=parse_duration(table["max_age"]))
        if "schedule" in table:
            settings = replace(settings, schedule=_schedule(table["schedule"], where))
    except ValueError as err:
        raise UsageError(f"{where}: {err}") from None
    except OverflowError:  # "99999999999999d": more days than a timedelta holds
        raise UsageError(f"{where}: a duration is out of range") from None
    return settings


def check_user_agent(value: str, what: str = "--user-agent") -> str:
    """``value`` stripped, if it can be sent as a User-Agent header; UsageError otherwise.

    HTTP header values are visible ASCII, spaces and tabs: a newline would split the
    header (httpx refuses it only when the request is sent, after the retries).
    """
    ua = value.strip()
    if not ua:
        raise UsageError(f"{what} is empty")
    bad = next((c for c in ua if not (" " <= c <= "~" or c == "\t")), None)
    if bad is not None:
        raise UsageError(f"{what} must be one line of printable ASCII (it contains {bad!r})")
    return ua


def _schedule(value: Any, where: str) -> tuple[tuple[timedelta, timedelta], ...]:
    pairs = value if isinstance(value, list) else [None]
    if not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        raise UsageError(f'{where}: schedule must be a list of [age, interval] pairs, '
                         f'e.g. [["3h", "15m"], ["1d", "1h"]]')
    schedule = tuple((parse_duration(age), parse_duration(every)) for age, every in pairs)
    check_schedule(schedule)
    return schedule


def _number(table: dict[str, Any], key: str, default: float, kind: type, where: str,
            low: float, high: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            kind is int and not isinstance(value, int)):
        raise UsageError(f"{where}: {key} must be a{'n integer' if kind is int else ' number'}")
    if not low <= value <= high:
        raise UsageError(f"{where}: {key} = {value} is out of range ({low} to {high})")
    return value


def _table(value: Any, source: str, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{source}: [{name}] must be a table")
    return value


def _unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise UsageError(f"{where}: unknown key {extra[0]!r} (known: {', '.join(sorted(known))})")
