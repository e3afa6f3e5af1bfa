"""``site_for``, ``site_named`` and ``declare`` with many sites: dict look-ups, same answers.

The semantics are pinned against the straightforward scan (every site's ``matches`` in
order, every pair of sites' domains compared) on random nested domains; the scale tests
count the work done on the declared domain strings instead of timing anything.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

import scraper.sites as sites_module
from scraper.config import SiteSpec, parse_config
from scraper.models import UsageError
from scraper.sites import Site, all_sites, declare, python_adapters, site_for, site_named
from scraper.web import host_of


@pytest.fixture(autouse=True)
def _undeclare() -> Iterator[None]:
    """No declared site leaks into the next test."""
    yield
    declare(())


def spec(name: str, *domains: str) -> SiteSpec:
    return SiteSpec(name=name, domains=domains, source=f"scraper.toml [sites.{name}]")


def refusal(*specs: SiteSpec) -> str:
    with pytest.raises(UsageError) as caught:
        declare(specs)
    return str(caught.value)


# ---- the old linear algorithms, the reference the index must agree with ----

def scan_site_for(url: str) -> Site:
    sites = all_sites()
    return next((s for s in sites[:-1] if s.matches(url)), sites[-1])


def scan_clash(specs: list[SiteSpec]) -> str | None:
    """The message the pairwise check gives for ``specs``, or None when they are accepted."""
    others: list[Site] = list(python_adapters())
    for s in specs:
        for other in others:
            if overlap := next((d for d in s.domains if other.matches(f"http://{d}/")
                                or any(d.endswith("." + o) or o.endswith("." + d)
                                       for o in other.domains)), None):
                return (f"{s.source}: the domain {overlap} is already {other.name}'s; "
                        "a host belongs to one site")
        others.append(sites_module.DeclaredSite(s))
    return None


# ---- semantics ----

def test_a_declared_site_matches_its_subdomains_whatever_the_port_case_or_trailing_dot() -> None:
    config = parse_config({"sites": {"harbour": {"domains": ["Harbour.Example."]}}})
    declare(config.declared)
    harbour = site_named("harbour")
    for url in ("https://harbour.example/x", "https://www.harbour.example/x",
                "HTTPS://News.HARBOUR.Example.:8443/x", "http://a.b.harbour.example:80/",
                "https://harbour.example./x?y=1"):
        assert site_for(url) is harbour, url
    for url in ("https://notharbour.example/x", "https://harbour.example.org/x",
                "https://example/x", "not a url", "https://harbour.example@evil.example/"):
        assert site_for(url).name == "generic", url


def test_a_parent_domain_declared_after_its_subdomain_is_refused() -> None:
    assert refusal(spec("a", "news.harbour.example"), spec("b", "harbour.example")) == (
        "scraper.toml [sites.b]: the domain harbour.example is already a's; "
        "a host belongs to one site")


def test_a_subdomain_declared_after_its_parent_is_refused() -> None:
    assert refusal(spec("a", "harbour.example"), spec("b", "x.news.harbour.example")) == (
        "scraper.toml [sites.b]: the domain x.news.harbour.example is already a's; "
        "a host belongs to one site")


def test_the_same_domain_twice_is_refused_but_lookalikes_and_own_subdomains_are_not() -> None:
    assert refusal(spec("a", "harbour.example"), spec("b", "harbour.example")) == (
        "scraper.toml [sites.b]: the domain harbour.example is already a's; "
        "a host belongs to one site")
    made = declare([spec("a", "harbour.example", "www.harbour.example"),
                    spec("b", "notharbour.example"), spec("c", "harbour.example.org")])
    assert [s.name for s in made] == ["a", "b", "c"]


def test_the_message_names_the_first_site_in_the_order_and_the_first_clashing_domain() -> None:
    # c clashes with b through its first domain and with a through its second: a comes first
    assert refusal(spec("a", "x.example"), spec("b", "y.example"),
                   spec("c", "y.example", "sub.x.example")) == (
        "scraper.toml [sites.c]: the domain sub.x.example is already a's; "
        "a host belongs to one site")
    # a parent of two adapters' domains names the first adapter (bbc before theguardian)
    assert refusal(spec("a", "co.uk")) == (
        "scraper.toml [sites.a]: the domain co.uk is already bbc's; a host belongs to one site")


def test_index_and_pairwise_scan_agree_on_random_nested_domains() -> None:
    labels = ["a", "b", "c", "bbc", "co", "uk", "example"]
    rng = random.Random(10)
    for trial in range(300):
        specs = [spec(f"s{i}", *{".".join(rng.choices(labels, k=rng.randint(1, 3)))
                                 for _ in range(rng.randint(1, 3))})
                 for i in range(rng.randint(1, 6))]
        expected = scan_clash(specs)
        if expected is None:
            declare(specs)
            for _ in range(30):
                host = ".".join(rng.choices(labels, k=rng.randint(1, 4)))
                url = f"https://{host.upper() if rng.random() < .2 else host}:8080/p"
                assert site_for(url) is scan_site_for(url), (trial, url)
        else:
            assert refusal(*specs) == expected, trial


class Special(Site):
    """An adapter that decides ``matches`` itself: any host's /special/ pages, and one host."""

    name = "special"
    domains = ("never-looked-at.example",)

    def matches(self, url: str) -> bool:
        return "/special/" in url or host_of(url) == "claimed.example"


@pytest.fixture
def special(monkeypatch: pytest.MonkeyPatch) -> Special:
    """Special among the Python adapters, after bbc and before the declared sites."""
    site = Special()
    adapters = python_adapters()
    at = [s.name for s in adapters].index("bbc") + 1
    patched = (*adapters[:at], site, *adapters[at:])
    monkeypatch.setattr(sites_module, "python_adapters", lambda: patched)
    return site


def test_an_adapter_overriding_matches_is_asked_in_its_place_in_the_order(
        special: Special) -> None:
    declare([spec("harbour", "harbour.example")])
    harbour = site_named("harbour")
    assert site_for("https://www.bbc.com/special/1").name == "bbc"  # bbc is before it
    assert site_for("https://harbour.example/special/1") is special  # before declared sites
    assert site_for("https://elsewhere.example/special/1") is special
    assert site_for("https://claimed.example/x") is special
    assert site_for("https://harbour.example/news/1") is harbour
    assert site_for("https://never-looked-at.example/x").name == "generic"  # its matches said no
    assert refusal(spec("mine", "claimed.example")) == (
        "scraper.toml [sites.mine]: the domain claimed.example is already special's; "
        "a host belongs to one site")


def test_site_named_finds_adapters_and_declared_sites_and_lists_the_known_ones() -> None:
    declare([spec("harbour", "harbour.example")])
    assert site_named("bbc").name == "bbc" and site_named("harbour").declared_in
    assert site_named("generic") is all_sites()[-1]
    with pytest.raises(Exception, match=r"unknown site 'nosuch' \(known: apnews, .*harbour, "
                                        r"generic\)"):
        site_named("nosuch")


# ---- scale: count the work on the declared domain strings, never the time ----

class Counted(str):
    """A domain or name that counts every comparison, hash and search made on it."""

    ops = 0

    def __eq__(self, other: object) -> bool:
        Counted.ops += 1
        return str.__eq__(self, other)

    def __hash__(self) -> int:
        Counted.ops += 1
        return str.__hash__(self)

    def endswith(self, *args: object) -> bool:  # type: ignore[override]
        Counted.ops += 1
        return str.endswith(self, *args)  # type: ignore[arg-type]

    def find(self, *args: object) -> int:  # type: ignore[override]
        Counted.ops += 1
        return str.find(self, *args)  # type: ignore[arg-type]


def counted_specs(n: int) -> list[SiteSpec]:
    return [SiteSpec(name=Counted(f"s{i}"), domains=(Counted(f"site{i}.example"),
                                                     Counted(f"www.site{i}.example.org")),
                     source=f"scraper.toml [sites.s{i}]") for i in range(n)]


def work_to_declare(n: int) -> int:
    specs = counted_specs(n)
    Counted.ops = 0
    declare(specs)
    return Counted.ops


def test_declaring_thousands_of_sites_does_work_proportional_to_their_number() -> None:
    half, full = work_to_declare(2_500), work_to_declare(5_000)
    # the pairwise check compared each domain with every earlier site's: 5,000²/2 pairs
    assert full < 40 * 5_000, full
    assert full < 2.2 * half, (half, full)


def test_site_for_and_site_named_look_up_instead_of_scanning_thousands_of_sites() -> None:
    declare(counted_specs(5_000))
    site_for("https://www.site1.example/x")  # the index is built here, once
    site_named("s1")
    Counted.ops = 0
    for i in range(0, 5_000, 5):
        assert site_for(f"https://news.site{i}.example:8080/{i}").name == f"s{i}"
        assert site_for(f"https://www.site{i}.example.org/{i}").name == f"s{i}"
        assert site_for(f"https://site{i}.example.net/{i}").name == "generic"
        assert site_named(f"s{i}").name == f"s{i}"
    # a scan would compare every URL's host with every site's domains: millions of ops
    assert Counted.ops <= 10 * 1_000, Counted.ops
