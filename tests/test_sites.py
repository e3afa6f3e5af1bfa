"""Site adapters against the shared corpus: every real page, every adapter, the URL rules.

Each page in ``../shared/corpus/sites/<site>/`` (gzip'ed HTML plus a golden JSON) is extracted
through ``site_for`` and compared field by field with the corpus scoring rules
(``bench/scoring.py``). The corpus is read in place, never copied: set ``SCRAPER_CORPUS`` to
point elsewhere.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import json
import os
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import scraper_sites as sites_package
from scraper.extract import extract
from scraper.models import Article
from scraper.sites import Site, all_sites, python_adapters, site_for, site_named

ROOT = Path(__file__).parents[1]
CORPUS = Path(os.environ.get("SCRAPER_CORPUS") or ROOT.parent / "shared" / "corpus")
FIXTURES = Path(__file__).parent / "fixtures"
MISSING = (f"corpus not found at {CORPUS}: the shared test corpus lives in ../shared/corpus "
           "next to the project")


def _scoring() -> ModuleType:
    """bench/scoring.py, the corpus scoring rules (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("scoring", ROOT / "bench" / "scoring.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scoring = _scoring()


def corpus_pages() -> list[Any]:
    """One param per page with both a golden JSON and its HTML, or one that skips."""
    pages = sorted(p for p in (CORPUS / "sites").glob("*/*.json")
                   if p.with_name(p.stem + ".html.gz").exists())
    if not pages:
        return [pytest.param(None, id="no-corpus")]
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in pages]


PAGES = corpus_pages()


def gold_urls(site: str) -> list[str]:
    return [json.loads(p.read_text())["url"] for p in (CORPUS / "sites" / site).glob("*.json")
            if p.with_name(p.stem + ".html.gz").exists()]


@pytest.fixture(scope="module")
def extracted() -> dict[Path, tuple[dict[str, Any], Article]]:
    """Extraction results by page, shared by the per-field tests of that page."""
    return {}


def run(path: Path | None, cache: dict) -> tuple[dict[str, Any], Article, str]:
    """(golden JSON, extracted Article, the adapter's file) for one corpus page."""
    if path is None:
        pytest.skip(MISSING)
    if path not in cache:
        gold = json.loads(path.read_text(encoding="utf-8"))
        with gzip.open(path.with_name(path.stem + ".html.gz"), "rb") as f:
            html = f.read().decode("utf-8", errors="replace")
        cache[path] = (gold, extract(html, url=gold["url"]))
    gold, article = cache[path]
    return gold, article, f"sites/{path.parent.name}.py"


@pytest.mark.parametrize("path", PAGES)
def test_corpus_page_uses_its_sites_adapter(path: Path | None, extracted: dict) -> None:
    gold, article, adapter = run(path, extracted)
    assert path is not None
    assert article.site == path.parent.name, (
        f"{gold['url']} was extracted by {article.site!r}: add {adapter} with "
        f"domains matching the host, or fix its domains")


@pytest.mark.parametrize("path", PAGES)
def test_corpus_page_title(path: Path | None, extracted: dict) -> None:
    gold, article, adapter = run(path, extracted)
    assert scoring.title_ok(gold["title"], article.title), (
        f"adapter {adapter}: title was {article.title!r}, golden {gold['title']!r} "
        "(pick the right headline in the adapter's metadata hook)")


@pytest.mark.parametrize("path", PAGES)
def test_corpus_page_authors(path: Path | None, extracted: dict) -> None:
    gold, article, adapter = run(path, extracted)
    if not gold["authors"]:
        pytest.skip("no golden authors for this page")
    assert scoring.authors_ok(gold["authors"], article.authors), (
        f"adapter {adapter}: authors were {list(article.authors)}, golden {gold['authors']} "
        "(compared as a case-insensitive set)")


@pytest.mark.parametrize("path", PAGES)
def test_corpus_page_published(path: Path | None, extracted: dict) -> None:
    gold, article, adapter = run(path, extracted)
    if not gold["published"]:
        pytest.skip("no golden publication date for this page")
    assert scoring.published_ok(gold["published"], article.published), (
        f"adapter {adapter}: published was {article.published!r}, golden "
        f"{gold['published']!r} (compared to the minute in UTC)")


@pytest.mark.parametrize("path", PAGES)
def test_corpus_page_has_every_golden_paragraph(path: Path | None, extracted: dict) -> None:
    gold, article, adapter = run(path, extracted)
    text = scoring.norm_ws(article.text)
    # the body drops invisible characters (word joiner, zero-width space, soft hyphen)
    invisible = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))
    missing = [p for p in gold["paragraphs"]
               if scoring.norm_ws(p.translate(invisible)) not in text]
    assert not missing, (
        f"adapter {adapter}: {len(missing)} of {len(gold['paragraphs'])} golden paragraphs "
        f"missing from the body, first: {missing[0][:120]!r} (a drop selector too wide, or "
        "trafilatura discarded the block)")


# --- the registry ----------------------------------------------------------------------------

ADAPTERS = [s for s in all_sites() if s.name != "generic"]


def test_adapter_names_are_unique() -> None:
    # read the modules directly: all_sites() would refuse a duplicate before we could look
    names = []
    for info in pkgutil.iter_modules(sites_package.__path__):
        module = importlib.import_module(f"scraper_sites.{info.name}")
        names += [obj.name for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, Site) and obj is not Site
                  and obj.__module__ == module.__name__ and obj.name]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"two adapters share a name: {duplicates}"
    assert [s.name for s in all_sites()][-1] == "generic"


@pytest.mark.parametrize("site", ADAPTERS, ids=lambda s: s.name)
def test_every_site_has_a_page_test(site: Site) -> None:
    fixtures = FIXTURES / site.name
    if fixtures.is_dir() and any(fixtures.iterdir()):
        return
    if not (CORPUS / "sites").is_dir():
        pytest.skip(MISSING)
    assert any((CORPUS / "sites" / site.name).glob("*.html.gz")), (
        f"adapter sites/{site.name}.py has no test page: add real pages with their golden "
        f"JSON to the shared corpus (../shared/corpus/sites/{site.name}/, never copied here), "
        f"or a page the team writes under tests/fixtures/{site.name}/ with a test of its own "
        f"(see tests/test_moscowtimes.py)")


@pytest.mark.parametrize("site", ADAPTERS, ids=lambda s: s.name)
def test_site_for_matches_subdomain(site: Site) -> None:
    for domain in site.domains:
        assert site_for(f"https://www.{domain}/x") is site
        assert site_for(f"https://{domain}/x") is site
        assert site_for(f"https://edition.m.{domain}/x") is site
        # a lookalike host is not the site
        assert site_for(f"https://not{domain}/x").name != site.name
        assert site_for(f"https://{domain}.example.org/x").name != site.name


@pytest.mark.parametrize("url", ["https://example.org/2024/01/01/story",
                                 "https://news.example.co.uk/a/123.html", "not a url"])
def test_site_for_unknown_host_is_generic(url: str) -> None:
    assert site_for(url).name == "generic"


# Section, tag, author, live and video pages of each site: never articles.
INDEX_PAGES = {
    "apnews": ["https://apnews.com/", "https://apnews.com/hub/election-2024",
               "https://apnews.com/author/steve-peoples", "https://apnews.com/politics",
               "https://apnews.com/video/harris-trump-5c8e0f0a2e1b4d5e9f0a1b2c3d4e5f60"],
    "reuters": ["https://www.reuters.com/", "https://www.reuters.com/world/middle-east/",
                "https://www.reuters.com/authors/maya-gebeily/",
                "https://www.reuters.com/markets/companies/AAPL.O/",
                "https://www.reuters.com/video/watch/idOV123456032024RP1/"],
    "bbc": ["https://www.bbc.com/news", "https://www.bbc.co.uk/news/world",
            "https://www.bbc.com/news/topics/c1vw6q14rzqt",
            "https://www.bbc.co.uk/news/live/world-68123456",
            "https://www.bbc.com/news/av/world-europe-68123456",
            "https://www.bbc.com/news/videos/c4ng24g5y3go"],
    "theguardian": ["https://www.theguardian.com/world", "https://www.theguardian.com/world/spain",
                    "https://www.theguardian.com/profile/sam-jones",
                    "https://www.theguardian.com/world/video/2024/feb/23/valencia-fire-video",
                    "https://www.theguardian.com/world/2024/feb/24/all"],
    "cnbc": ["https://www.cnbc.com/world/", "https://www.cnbc.com/bitcoin/",
             "https://www.cnbc.com/greg-iacurci/",
             "https://www.cnbc.com/video/2023/04/28/bitcoin-price-outlook.html"],
    "voanews": ["https://www.voanews.com/", "https://www.voanews.com/usa",
                "https://www.voanews.com/z/599", "https://www.voanews.com/author/22345.html"],
    "latimes": ["https://www.latimes.com/sports", "https://www.latimes.com/topic/coliseum",
                "https://www.latimes.com/people/houston-mitchell"],
    "washingtonpost": ["https://www.washingtonpost.com/weather/",
                       "https://www.washingtonpost.com/people/matthew-cappucci/",
                       "https://www.washingtonpost.com/video/national/tornado/2024/04/26/"
                       "0f6c3a5e-1111-4d1b-9a7c-2a3b4c5d6e7f_video.html"],
    "cbc": ["https://www.cbc.ca/news", "https://www.cbc.ca/news/world",
            "https://www.cbc.ca/player/play/1.7287000", "https://www.cbc.ca/news/canada/toronto"],
    "euronews": ["https://www.euronews.com/", "https://www.euronews.com/news/europe",
                 "https://www.euronews.com/tag/sweden",
                 "https://www.euronews.com/video/2024/04/30/swedish-police-leaks-video"],
}


@pytest.mark.parametrize("name", sorted(INDEX_PAGES))
def test_article_path_accepts_corpus_urls_and_rejects_index_pages(name: str) -> None:
    site = site_named(name)
    if not (CORPUS / "sites").is_dir():
        pytest.skip(MISSING)
    for url in gold_urls(name):
        assert site.is_article_url(url), f"sites/{name}.py: article_path rejects {url}"
    for url in INDEX_PAGES[name]:
        assert not site.is_article_url(url), f"sites/{name}.py: article_path accepts {url}"


def test_every_corpus_site_has_index_pages_to_reject() -> None:
    if not (CORPUS / "sites").is_dir():
        pytest.skip(MISSING)
    for site in ADAPTERS:
        if any((CORPUS / "sites" / site.name).glob("*.html.gz")):
            assert site.name in INDEX_PAGES, f"add index pages of {site.name} to INDEX_PAGES"
            assert site.article_path, f"sites/{site.name}.py declares no article_path"


# --- article keys: the same story under every URL it is published at -------------------------


@pytest.mark.parametrize(("name", "urls", "key"), [
    ("apnews", ["https://apnews.com/article/mexico-economy-growth-3cc842471fb9df42315d658d88c8403a",
                "https://apnews.com/article/mexico-gdp-3cc842471fb9df42315d658d88c8403a?utm_x=1",
                "https://apnews.com/article/3cc842471fb9df42315d658d88c8403a"],
     "3cc842471fb9df42315d658d88c8403a"),
    ("bbc", ["https://www.bbc.com/news/explainers-63159607",
             "https://www.bbc.co.uk/news/explainers-63159607?at_medium=RSS"],
     "63159607"),
    ("bbc", ["https://www.bbc.com/news/articles/clymn8zyrp9o",
             "https://www.bbc.co.uk/news/articles/clymn8zyrp9o?xtor=AL-72"],
     "clymn8zyrp9o"),
    ("cbc", ["https://www.cbc.ca/news/world/gaza-israel-ceasefire-negotiations-sinwar-1.7287711",
             "https://www.cbc.ca/news/world/sinwar-hamas-leader-1.7287711?cmp=rss"],
     "1.7287711"),
    ("voanews", ["https://www.voanews.com/a/america-s-child-care-crisis-/7585813.html",
                 "https://www.voanews.com/a/7585813.html"],
     "7585813"),
])
def test_article_key_is_the_sites_stable_id(name: str, urls: list[str], key: str) -> None:
    site = site_named(name)
    assert {site.article_key(u) for u in urls} == {key}


def test_article_id_is_the_first_group_that_matched_in_the_path() -> None:
    class Two(Site):
        name = "two"
        article_id = r"/(?:story-(\d+)|s/([a-z]+))$"

    site = Two()
    assert site.article_key("https://x.example/news/story-42?id=7") == "42"  # the path only
    assert site.article_key("https://x.example/s/abc") == "abc"
    assert site.article_key("https://x.example/story-42/photos") is None
    assert Site().article_key("https://x.example/story-42") is None  # no pattern: no key


@pytest.mark.parametrize(("name", "url"), [
    ("apnews", "https://apnews.com/hub/election-2024"),
    ("bbc", "https://www.bbc.com/news/world"),
    ("cbc", "https://www.cbc.ca/news/world"),
    ("voanews", "https://www.voanews.com/usa"),
])
def test_article_key_is_none_without_an_id(name: str, url: str) -> None:
    assert site_named(name).article_key(url) is None


@pytest.mark.parametrize("name", ["apnews", "bbc", "cbc", "voanews"])
def test_article_key_of_every_corpus_url(name: str) -> None:
    if not (CORPUS / "sites").is_dir():
        pytest.skip(MISSING)
    site = site_named(name)
    for url in gold_urls(name):
        assert site.article_key(url), f"sites/{name}.py: no article_key for {url}"


@pytest.mark.parametrize("source, message", [
    ("class Broken(\n", "cannot load the site adapter sites/zz_broken.py (line 1)"),
    ("from scraper.sites import Site\nclass Nameless(Site):\n    domains = ('x.example',)\n",
     "Nameless in sites/zz_broken.py has no name"),
    ("from scraper.sites import Site\nclass Bad(Site):\n    name = 'bad'\n"
     "    article_path = r'^/(unclosed'\n", "article_path is not a valid regex"),
    ("from scraper.sites import Site\nclass Bad(Site):\n    name = 'bad'\n"
     "    article_id = r'-a\\d+$'\n", "sites/zz_broken.py: article_id needs a (group)"),
    ("from scraper.sites import Site\nclass Bad(Site):\n    name = 'Bad Name'\n",
     "sites/zz_broken.py: the site name 'Bad Name' must be lower-case letters"),
])
def test_a_broken_adapter_is_one_clear_error(source: str, message: str) -> None:
    import sys

    from scraper.models import ScraperError

    path = Path(sites_package.__path__[0]) / "zz_broken.py"
    path.write_text(source)
    python_adapters.cache_clear()
    try:
        with pytest.raises(ScraperError, match=re.escape(message)):
            all_sites()
    finally:
        path.unlink()
        sys.modules.pop("scraper_sites.zz_broken", None)
        python_adapters.cache_clear()
