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


def test_every_module_an_example_imports_is_installed_or_says_how() -> None:
    # a reader who installed the project (with `.[test]`) runs the examples as they are:
    # what the project does not bring needs its `pip install` beside the example
    import sys
    import tomllib

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(
        encoding="utf-8"))["project"]
    brought = {re.split(r"[\s<>=!~\[;]", d, maxsplit=1)[0].lower().replace("-", "_")
               for d in project["dependencies"]} | {"scraper"}
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks, "README.md has no Python example"
    for block in blocks:
        before = README[:README.index(block)].rstrip()
        before = before[:before.rfind("\n")].rstrip()  # without the ```python line
        paragraph = before[before.rfind("\n\n"):]  # the text that introduces the example
        for line in block.splitlines():
            found = re.match(r"\s*(?:import|from)\s+(.+?)(?:\s+import\s|$)", line)
            if not found:
                continue
            for part in found[1].split(","):
                module = part.split()[0].split(".")[0]
                if module in sys.stdlib_module_names or module.lower() in brought:
                    continue
                assert re.search(rf"pip install [^`\n]*\b{module}\b", paragraph), (
                    f"README.md's example imports {module}, which the project does not "
                    f"install: say `pip install {module}` just before it")
