"""What `pip install .` (not only `pip install -e .`) puts in place: every package of ours."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_of_scraper_is_listed_for_setuptools() -> None:
    # An explicit packages list installs no subpackage it omits; an editable install hides
    # that, because it maps the whole scraper/ folder.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts)
               for p in (ROOT / "scraper").rglob("__init__.py")}
    assert on_disk <= set(config["packages"]), sorted(on_disk - set(config["packages"]))
    assert config["package-dir"] == {"scraper_sites": "sites"}
