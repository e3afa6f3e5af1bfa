"""A reader that stops early (`scraper sites | head -1`): a quiet exit 141, nothing on stderr."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

import pytest

# bench/ is scripts, not a package: its export.py builds the benchmark's archives
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from export import build

F_GETPIPE_SZ = 1032  # Linux: the capacity of a pipe, in bytes
BROKEN_PIPE = 141  # 128 + SIGPIPE, as the shell reports `git log | head -1`'s git
PARAGRAPH = "The council met on Monday and voted on the budget for the coming year. " * 20
PAGES = [(f"<html><body><h1>Story {n}</h1><p>{PARAGRAPH}</p></body></html>".encode(),
          f"Story {n}", PARAGRAPH) for n in range(3)]


def first_line_then_close(args: list[str], at_least: int, tmp_path: Path) -> tuple[int, str]:
    """Run ``scraper ARGS``, read one line of its stdout, close the pipe; (status, stderr).

    ``at_least`` bytes of output cannot all fit in the pipe and the line read, so the
    command is still writing when the pipe closes: it meets the broken pipe by construction.
    """
    err_path = tmp_path / "stderr"
    with open(err_path, "wb") as err:
        child = subprocess.Popen([sys.executable, "-m", "scraper", *args], bufsize=0,
                                 stdout=subprocess.PIPE, stderr=err)
        assert child.stdout is not None
        capacity = fcntl.fcntl(child.stdout.fileno(), F_GETPIPE_SZ)
        line = child.stdout.readline()  # unbuffered: reads this one line and no more
        assert at_least > capacity + len(line)
        child.stdout.close()
        status = child.wait(timeout=120)
    assert line
    return status, err_path.read_text()


def test_sites_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    config = tmp_path / "scraper.toml"
    hosts = [[f"s{n:04d}-{k}-a-rather-long-host-name-for-this-test.example" for k in range(3)]
             for n in range(600)]
    config.write_text("".join(f"[sites.s{n:04d}]\ndomains = {names!r}\n".replace("'", '"')
                              for n, names in enumerate(hosts)))
    printed = sum(len(", ".join(names)) for names in hosts)  # a line per site shows its hosts
    status, err = first_line_then_close(["sites", "--config", str(config)], printed, tmp_path)
    assert (status, err) == (BROKEN_PIPE, "")


@pytest.mark.parametrize("fmt", ["jsonl", "warc"])
def test_export_into_a_closed_pipe_exits_quietly(tmp_path: Path, fmt: str) -> None:
    db = tmp_path / "archive.db"
    versions = 400
    build(db, versions, PAGES)
    status, err = first_line_then_close(
        ["export", "--db", str(db), "--format", fmt, "-o", "-"],
        versions * len(PARAGRAPH), tmp_path)  # every version's text is exported
    assert (status, err) == (BROKEN_PIPE, "")
