"""A small archive for the browse tests, built with ``Archive.save``, and ways to read pages.

Three articles: one edited twice (``edited``), one whose page is gone, one never changed;
and a few fetches, failed and not. Test modules import it as ``from browse_archive import``
(tests/ is on ``sys.path``, as for ``server``), the fixtures ``built`` and ``ds`` included.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from datasette.app import Datasette

from scraper.browse.serve import build_datasette, prepare_archive
from scraper.models import Article, Page
from scraper.store import Archive

EDITED = "https://example.com/politics/budget-passed-a1"
GONE = "https://example.com/politics/old-story-a2"
STEADY = "https://example.com/politics/steady-a3"
ONLY_IN_V1 = "harvest festival"
V1 = "The budget passed on Tuesday.\n\nThe minister praised the harvest festival."
V2 = "The budget passed late on Tuesday.\n\nThe minister praised the farmers."
V3 = V2 + "\n\nThe opposition called the vote rushed."
HTML_V1 = "<html><script>alert('archived')</script><p>The budget passed</p></html>"


@dataclass(frozen=True)
class Built:
    path: Path
    edited: int  # article ids
    gone: int
    steady: int


def ago(**delta: float) -> str:
    """An ISO 8601 UTC time this long ago."""
    return (datetime.now(UTC) - timedelta(**delta)).isoformat(timespec="seconds")


def save(archive: Archive, url: str, text: str, when: str, *, title: str,
         authors: tuple[str, ...] = ("Ann Lee",), html: str = "<p>page</p>") -> int:
    """Store one version of the article at ``url``; its article id."""
    article = Article(url=url, text=text, title=title, authors=authors, site="example",
                      published="2024-05-01T08:00:00+00:00")
    page = Page(url=url, final_url=url, status=200, html=html)
    return archive.save(article, page, site_name="example", key="example:" + url[-2:],
                        fetched_at=when).article_id


def build_archive(path: Path) -> Built:
    """The test archive at ``path``, prepared as `scraper serve` prepares it."""
    with Archive(path) as archive:
        edited = save(archive, EDITED, V1, ago(days=10), title="Budget passed", html=HTML_V1)
        save(archive, EDITED, V2, ago(days=2), title="Budget passed after late vote")
        save(archive, EDITED, V3, ago(hours=1), title="Budget passed after late vote",
             authors=("Ann Lee", "Bo Chen"))
        gone = save(archive, GONE, "An old story.", ago(days=30), title="Old story")
        archive.mark_checked("example:a2", state="gone", checked_at=ago(hours=3))
        steady = save(archive, STEADY, "Nothing changes here.", ago(days=1), title="Steady")
        fetch = archive.record_fetch
        fetch(GONE, started_at=ago(hours=3), elapsed_ms=40, status=404, outcome="gone",
              error="HTTP 404", article_id=gone)
        for hours in (5, 2):
            fetch("https://down.example.org/news/1", started_at=ago(hours=hours), elapsed_ms=9,
                  status=None, outcome="error", error=f"connection refused ({hours}h)")
        fetch("https://down.example.org/news/1", started_at=ago(days=3), elapsed_ms=9,
              status=503, outcome="error", error="too old to count")
        fetch(EDITED, started_at=ago(hours=1), elapsed_ms=50, status=200,
              outcome="new_version", article_id=edited, version=3)
    prepare_archive(path)  # what `scraper serve` does first: views and word counts
    return Built(path, edited, gone, steady)


def get(ds: Datasette, path: str) -> httpx.Response:
    """GET ``path`` through Datasette's in-process client."""
    return asyncio.run(ds.client.get(path))


def rows(ds: Datasette, path: str) -> list[dict[str, Any]]:
    """The rows of a table, view or query page, as JSON."""
    base, _, query = path.partition("?")
    response = get(ds, f"{base}.json?_shape=array&{query}")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The archive, built once per test module."""
    return build_archive(tmp_path_factory.mktemp("browse") / "archive.db")


@pytest.fixture(scope="module")
def ds(built: Built) -> Datasette:
    """A Datasette serving ``built`` with the plugin."""
    return build_datasette(built.path)
