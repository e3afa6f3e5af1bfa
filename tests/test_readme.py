"""README.md is the manual: its schema is the code's, and every command and option is in it."""

from __future__ import annotations

import re
from pathlib import Path

import click

from scraper.cli import cli
from scraper.store.schema_doc import END, START, readme_section, schema_markdown

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
# Options every command that reads the archive or prints data shares: documented once, in the
# paragraph above the commands table.
SHARED = {"--db", "--json", "--help", "--config"}


def test_readme_schema_is_the_one_the_code_builds() -> None:
    assert readme_section(README), f"README.md has no {START} ... {END} section"
    assert readme_section(README) == schema_markdown(), (
        "README.md's schema differs from the code: run `python -m scraper.store.schema_doc "
        "--write`")


def test_schema_section_names_every_table_and_view() -> None:
    section = readme_section(README)
    for name in ("articles", "versions", "fetches", "crawls", "versions_fts", "change_stats",
                 "latest_versions", "changes"):
        assert f"#### `{name}` (" in section, name
    assert "`raw_hash`" in section and "`discovery_failed`" in section


def _row(command: str) -> str:
    """The commands table's row of ``scraper COMMAND``."""
    rows = [line for line in README.splitlines() if line.startswith(f"| `scraper {command}")]
    assert rows, f"README.md's commands table has no row for `scraper {command}`"
    return rows[0]


def test_every_option_of_every_command_is_in_its_readme_row() -> None:
    intro = README[README.index("## Commands"):README.index("| command | what it does |")]
    for name in SHARED:
        assert f"`{name}" in intro or f"/{name}`" in intro, name
    missing = []
    for name, command in cli.commands.items():
        row = _row(name)
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            names = param.opts + param.secondary_opts
            if set(names) & SHARED:
                continue
            if not any(re.search(rf"`[^`]*(?<![\w-]){re.escape(o)}\b", row) for o in names):
                missing.append(f"scraper {name} {'/'.join(names)}")
    assert not missing, "README.md's commands table does not mention: " + ", ".join(missing)
