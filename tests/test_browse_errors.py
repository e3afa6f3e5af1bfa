"""Expected 4xx answers of the browsing pages: the status and message, and nothing on the console.

Datasette prints a rich traceback with locals (and an ``ERROR: conn=...`` line for a failed
query) for an error that reaches it; a bad link a reader followed is no server fault.
"""

from __future__ import annotations

import pytest
import rich  # noqa: F401  (the test extra brings it; Datasette prints tracebacks when present)
from browse_archive import Built, built, ds, get  # noqa: F401 (fixtures)
from datasette.app import Datasette

from scraper.browse.serve import build_datasette


@pytest.mark.parametrize("path, status, message", [
    ("/-/diff/999", 404, "No article 999 in archive"),
    ("/-/diff/{edited}?to=x", 400, "?to= must be a version number"),
    ("/-/diff/{edited}?to=9", 404, "No version 9"),
    ("/-/diff/1?db=nosuch", 404, "No such archive database"),
    ("/-/html/999999", 404, "No version 999999 in archive"),
    ("/archive/recent_changes.atom?site=nosuch", 404, "No site &#39;nosuch&#39; in this archive"),
    ("/archive/recent_changes.atom?article_id=x", 400, "?article_id= must be an article id"),
    ("/archive/recent_changes.atom?article_id=999", 404, "No article 999 in this archive"),
    ("/nosuch/recent_changes.atom", 404, "No archive database &#39;nosuch&#39;"),
    ("/archive/recent_changes?days=0", 400, "days must be a whole number from 1 to 36500"),
    ("/archive/recent_changes.json?days=0", 400, "days must be a whole number from 1 to 36500"),
])
def test_a_bad_request_is_answered_without_a_traceback(
        ds: Datasette, built: Built, capfd: pytest.CaptureFixture[str], path: str,
        status: int, message: str) -> None:
    capfd.readouterr()
    answer = get(ds, path.format(edited=built.edited))
    assert answer.status_code == status
    assert message in answer.text
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_the_error_page_is_datasettes(ds: Datasette) -> None:
    page = get(ds, "/-/diff/999")
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>Error 404</title>" in page.text and 'href="/-/static/app.css' in page.text
    answer = get(ds, "/archive/recent_changes.json?days=0")
    assert answer.json() == {"ok": False, "status": 400, "title": None, "error": (
        "days must be a whole number from 1 to 36500, not '0'")}


def test_a_bad_parameter_first_under_base_url_is_a_page_of_that_url(
        built: Built, capfd: pytest.CaptureFixture[str]) -> None:
    # refused before Datasette's router: its start-up may not have run, nor base_url stripped
    build_datasette(built.path)  # registers the plugin
    fresh = Datasette([str(built.path)], settings={"base_url": "/prefix/"})
    capfd.readouterr()
    page = get(fresh, "/archive/recent_changes?days=abc")  # the client adds the prefix
    assert page.status_code == 400 and "days must be a whole number" in page.text
    assert 'href="/prefix/-/static/app.css' in page.text
    assert get(fresh, "/archive/recent_changes?days=3").status_code == 200
    assert capfd.readouterr() == ("", "")
