"""The adapters import as ``scraper_sites``: a ``sites/`` folder in the current directory
changes nothing, and the project provides no top-level ``sites`` package.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from server import Response, TestServer

# the politeness delay and retry waits are not what these tests are about
pytestmark = pytest.mark.usefixtures("no_waits")

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "tests" / "fixtures" / "themoscowtimes" / "seed-two-authors-updated.html"
ARTICLE = "/2023/04/17/china-minister-hails-strong-russia-ties-in-putin-meeting-a80850"


@pytest.fixture
def shadowing_cwd(tmp_path: Path) -> Path:
    """A working directory holding a bogus ``sites/`` package that fails loudly when imported."""
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "__init__.py").write_text('raise RuntimeError("the cwd\'s sites/ was imported")\n')
    (folder / "_generic.py").write_text("")
    return tmp_path


def _python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """This interpreter run in ``cwd``, without a PYTHONPATH that could put the repo first."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_sites_command_ignores_a_sites_folder_in_the_cwd(shadowing_cwd: Path) -> None:
    proc = _python("-m", "scraper", "sites", "--json", cwd=shadowing_cwd)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    names = {site["name"] for site in json.loads(proc.stdout)}
    assert {"generic", "bbc", "themoscowtimes"} <= names


def test_archive_ignores_a_sites_folder_in_the_cwd(shadowing_cwd: Path,
                                                  server: TestServer) -> None:
    server.route(ARTICLE, Response.html(PAGE.read_text(encoding="utf-8")))
    db = shadowing_cwd / "archive.db"
    proc = _python("-m", "scraper", "archive", server.url(ARTICLE), "--db", str(db),
                   "--site", "themoscowtimes", cwd=shadowing_cwd)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip().endswith("new version 1")


def test_the_project_provides_no_bare_sites_package(tmp_path: Path) -> None:
    top_level = importlib.metadata.distribution("news-scraper").read_text("top_level.txt") or ""
    assert "sites" not in top_level.split(), f"the distribution installs {top_level.split()}"
    assert "scraper_sites" in top_level.split()
    # and nothing else on the installed path answers to the bare name either
    proc = _python("-c", "import importlib.util; print(importlib.util.find_spec('sites'))",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None", f"`import sites` finds {proc.stdout.strip()}"


def test_adapters_load_from_a_checkout_that_is_not_installed(tmp_path: Path) -> None:
    # as a script that puts the repository root on sys.path (tests/crawl_child.py does) sees
    # it when the project is not installed: the installed finder for scraper_sites is removed
    script = (
        "import sys\n"
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from scraper.sites import all_sites, site_for\n"
        "print(site_for('https://www.bbc.com/news/articles/clymn8zyrp9o').name,"
        " all_sites()[-1].name, type(all_sites()[0]).__module__)\n"
    )
    proc = _python("-c", script, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["bbc", "generic", "scraper_sites.apnews"]
