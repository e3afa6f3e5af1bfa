"""Bad input on the command line: one clear line on stderr, a non-zero exit, nothing written.

Exit codes: 2 when what was typed or named is invalid (an option value, a URL, a site
name, a file given to read, the config file); 1 when the archive (``--db``) cannot be
used or a lookup finds nothing. "Nothing written": no archive appears where there was
none, and every file in the working directory keeps its bytes and mtime. Left out of the
comparison: SQLite's ``-shm`` index and an empty ``-wal``, which any read-only connection
to a WAL archive creates and leaves behind.

Most cases run through click's CliRunner; those marked REAL run `python -m scraper` in a
subprocess, to show that a real process prints no traceback either.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from scraper.cli import cli
from scraper.models import Article, Page
from scraper.store import Archive

URL = "https://example.com/news/1"
ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def archive_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive holding one version of one article (URL)."""
    path = tmp_path_factory.mktemp("template") / "archive.db"
    with Archive(path) as archive:
        archive.save(Article(url=URL, text="The council met.\n\nIt voted.", title="Council"),
                     Page(url=URL, final_url=URL, status=200, html="<p>The council met.</p>"),
                     site_name="generic", key=URL)
    return path


def _archive(tmp: Path, template: Path) -> None:
    shutil.copy(template, tmp / "archive.db")


def _corrupt(tmp: Path, template: Path) -> None:
    (tmp / "archive.db").write_bytes(random.Random(5).randbytes(16384))


def _newer(tmp: Path, template: Path) -> None:
    _archive(tmp, template)
    with closing(sqlite3.connect(tmp / "archive.db")) as conn:
        conn.execute("PRAGMA user_version = 99")


def _foreign(tmp: Path, template: Path) -> None:
    with closing(sqlite3.connect(tmp / "archive.db")) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
        conn.execute("INSERT INTO contacts VALUES ('Ann', '555')")
        conn.commit()


def _truncated(tmp: Path, template: Path) -> None:
    """A copy cut short (a full disk, a broken transfer): a good header, pages missing."""
    data = template.read_bytes()
    (tmp / "archive.db").write_bytes(data[:len(data) // 3])


def _damaged(tmp: Path, template: Path) -> None:
    """A good first page (header, schema), then garbage: a failing disk."""
    data = bytearray(template.read_bytes())
    data[4096:] = random.Random(7).randbytes(len(data) - 4096)
    (tmp / "archive.db").write_bytes(bytes(data))


def _db_directory(tmp: Path, template: Path) -> None:
    (tmp / "archive.db").mkdir()


def _unreadable(tmp: Path, template: Path) -> None:
    page = tmp / "page.html"
    page.write_text("<p>secret</p>")
    page.chmod(0)


def _files(**files: str | bytes) -> Callable[[Path, Path], None]:
    def write(tmp: Path, template: Path) -> None:
        for name, content in files.items():
            path = tmp / name.replace("__", ".")
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
    return write


def _config(text: str) -> Callable[[Path, Path], None]:
    return _files(scraper__toml=text)


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str  # a fragment of the one stderr line
    setup: Callable[[Path, Path], None] | None = None
    stdin: str | None = None
    real: bool = False  # run `python -m scraper` in a subprocess
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


DB = ("--db", "archive.db")
CFG = ("--config", "scraper.toml")
CASES: dict[str, Case] = {
    # invalid URLs and unsupported schemes: refused before the archive is opened
    "url without scheme": Case(("archive", "example.com/news/1", *DB), 2, "not an http(s) URL"),
    "url scheme only": Case(("archive", "http://", *DB), 2, "not an http(s) URL"),
    "url with a space in the host": Case(("archive", "http://exa mple.com/x", *DB), 2,
                                         "space", real=True),
    "url with a newline": Case(("archive", "http://example.com/a\nb", *DB), 2, "control"),
    "javascript: url": Case(("archive", "javascript:alert(1)", *DB), 2, "not an http(s) URL"),
    "mailto: url": Case(("archive", "mailto:news@example.com", *DB), 2, "not an http(s) URL"),
    "file: url": Case(("archive", "file:///etc/passwd", *DB), 2, "not an http(s) URL"),
    "ftp: url": Case(("archive", "ftp://example.com/news/1", *DB), 2, "not an http(s) URL"),
    "url with unclosed ipv6 host": Case(("archive", "http://[::1/news", *DB), 2,
                                        "Invalid IPv6 URL", real=True),
    "url with port out of range": Case(("archive", "http://example.com:99999/", *DB), 2,
                                       "Port out of range"),
    "url with an empty host label": Case(("archive", "http://example..com/", *DB), 2,
                                         "not a valid host"),
    "one bad url among good ones": Case(("archive", URL, "ftp://example.com/x", *DB), 2,
                                        "'ftp://example.com/x'"),
    "empty stdin for archive -": Case(("archive", "-", *DB), 2, "no URLs given", stdin=""),
    # header values that cannot be sent: refused at once, not after the retries
    "user agent with a newline": Case(("archive", URL, "--user-agent", "a\nb", *DB), 2,
                                      "one line of printable ASCII", real=True),
    "user agent with non-ascii": Case(("archive", URL, "--user-agent", "caf\u00e9", *DB), 2,
                                      "printable ASCII"),
    "config user agent with a carriage return": Case(("crawl", *DB, *CFG), 2,
                                                     "printable ASCII",
                                                     _config('[crawl]\nuser_agent = "a\\rb"\n')),
    "forget of a bad url": Case(("forget", "ftp://example.com/x", "--yes", *DB), 2,
                                "not an http(s) URL", _archive),
    "forget without --yes off a terminal": Case(("forget", URL, *DB), 2, "add --yes",
                                                _archive),
    "extract --url that is not a url": Case(("extract", "page.html", "--url", "not-a-url"), 2,
                                            "not an http(s) URL",
                                            _files(page__html="<p>Hello</p>")),
    "only bad urls on stdin": Case(("archive", "-", *DB), 2,
                                   "no URLs given; stdin line 1: not an http(s) URL: 'www.example.com/2' (and 1 more",
                                   stdin="www.example.com/2\n  # a comment\nftp://x/\n"),
    # unknown site names
    "crawl of an unknown site": Case(("crawl", "nosuchsite", *DB), 2, "unknown site 'nosuchsite'"),
    "reextract of an unknown site": Case(("reextract", "nosuchsite", *DB), 2,
                                         "unknown site 'nosuchsite'", _archive),
    "discover of an unknown site": Case(("discover", "nosuchsite", *DB), 2,
                                        "unknown site 'nosuchsite'"),
    "archive --site unknown": Case(("archive", URL, "--site", "nosuch", *DB), 2,
                                   "unknown site 'nosuch'"),
    "config override of an unknown site": Case(("crawl", *CFG, *DB), 2, "scraper.toml [sites.bbcc]: unknown site 'bbcc'",
                                               _config("[sites.bbcc]\ndelay = 2\n")),
    # missing or unreadable files
    "extract of a missing file": Case(("extract", "missing.html"), 2, "No such file"),
    "extract of a directory": Case(("extract", "."), 2, "is a directory", real=True),
    "extract of a path under a file": Case(("extract", "page.html/inner.html"), 2,
                                           "Not a directory", _files(page__html="<p>x</p>")),
    "extract of an unreadable file": Case(
        ("extract", "page.html"), 2, "Permission denied", _unreadable,
        marks=(pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file"),)),
    "extract of a broken gzip file": Case(("extract", "page.html.gz"), 2, "not a readable gzip",
                                          _files(page__html__gz=b"\x1f\x8b\x08\x00broken")),
    "missing config file": Case(("crawl", "--config", "nope.toml", *DB), 2,
                                "cannot read config nope.toml"),
    # configuration
    "malformed toml": Case(("crawl", *CFG, *DB), 2, "not valid TOML",
                           _config("[crawl\ndelay = 1\n"), real=True),
    "config not utf-8": Case(("crawl", *CFG, *DB), 2, "not valid TOML",
                             _files(scraper__toml=b"[crawl]\nuser_agent = \"\xff\xfe\"\n")),
    "unknown config key": Case(("crawl", *CFG, *DB), 2, "unknown key 'speed'",
                               _config("[crawl]\nspeed = 10\n")),
    "unknown config table": Case(("crawl", *CFG, *DB), 2, "unknown key 'crawler'",
                                 _config("[crawler]\ndelay = 1\n")),
    "negative delay": Case(("crawl", *CFG, *DB), 2, "delay = -1 is out of range",
                           _config("[crawl]\ndelay = -1\n")),
    "absurd concurrency": Case(("crawl", *CFG, *DB), 2, "concurrency = 100000 is out of range",
                               _config("[crawl]\nconcurrency = 100000\n")),
    "nan delay": Case(("crawl", *CFG, *DB), 2, "delay = nan is out of range",
                      _config("[crawl]\ndelay = nan\n")),
    "absurd max_age": Case(("crawl", *CFG, *DB), 2, "duration is out of range",
                           _config('[crawl]\nmax_age = "99999999999999d"\n')),
    "malformed schedule": Case(("crawl", *CFG, *DB), 2, "list of [age, interval] pairs",
                               _config('[crawl]\nschedule = [["1h"]]\n')),
    "sites not a list": Case(("crawl", *CFG, *DB), 2, "sites must be a list",
                             _config('[crawl]\nsites = "bbc"\n')),
    # negative or absurd numbers on the command line
    "negative --max-time": Case(("crawl", "--max-time", "-5", *DB), 2, "--max-time", real=True),
    "absurd --max-time": Case(("crawl", "--max-time", "1e12", *DB), 2, "--max-time"),
    "nan --max-time": Case(("crawl", "--max-time", "nan", *DB), 2, "nan is not a number"),
    "--version 0": Case(("show", URL, "--version", "0", *DB), 2, "--version"),
    "absurd --version": Case(("show", URL, "--version", "1" + "0" * 30, *DB), 2, "--version",
                             _archive),
    "--from -1": Case(("diff", URL, "--from", "-1", *DB), 2, "--from"),
    "--to not a number": Case(("diff", URL, "--to", "two", *DB), 2, "--to"),
    "--port out of range": Case(("serve", "--port", "70000", *DB), 2, "--port"),
    "unknown command": Case(("archiv", URL), 2, "No such command 'archiv'"),
    "unknown option": Case(("archive", URL, "--forcee", *DB), 2, "No such option '--forcee'"),
    # --db that cannot be an archive
    "--db in a missing directory (archive)": Case(("archive", URL, "--db", "no/such/a.db"), 1,
                                                  "no directory no/such"),
    "--db in a missing directory (crawl)": Case(("crawl", "--db", "no/such/a.db"), 1,
                                                "no directory no/such", real=True),
    "--db in a missing directory (history)": Case(("history", URL, "--db", "no/such/a.db"), 1,
                                                  "no archive at no/such/a.db"),
    "--db is a directory": Case(("archive", URL, *DB), 2, "is a directory", _db_directory),
    "archive --db of another program's database": Case(("archive", URL, *DB), 1,
                                                       "not a scraper archive", _foreign),
    "crawl --db of another program's database": Case(("crawl", *DB), 1,
                                                     "not a scraper archive", _foreign),
    "history of an archive with damaged pages": Case(("history", URL, *DB), 1, "is damaged",
                                                     _damaged, real=True),
    "history of an empty file": Case(("history", URL, *DB), 1, "not an archive at schema",
                                     _files(archive__db="")),
    "history of a truncated archive": Case(("history", URL, *DB), 1, "is damaged", _truncated),
    # lookups that find nothing
    "show of a version that does not exist": Case(("show", URL, "--version", "5", *DB), 1,
                                                  "version 5 of", _archive),
    "diff to a version that does not exist": Case(("diff", URL, "--from", "1", "--to", "7", *DB),
                                                  1, "version 7 of", _archive, real=True),
    "history of an url never archived": Case(("history", "https://example.com/x", *DB), 1,
                                             "no archived article", _archive),
}
# A corrupt file and a newer schema, for every command that opens the archive.
for command, args in {"history": (URL,), "show": (URL,), "diff": (URL,), "archive": (URL,),
                      "crawl": (), "serve": (), "stats": (), "forget": (URL, "--yes"),
                      "reextract": (),
                      "discover": ("themoscowtimes",)}.items():
    CASES[f"{command} of a corrupt database"] = Case(
        (command, *args, *DB), 1, "is not a SQLite database", _corrupt,
        real=command in ("history", "crawl"))
    if command != "discover":  # discover reads only, through the same check as history
        CASES[f"{command} of a newer schema"] = Case(
            (command, *args, *DB), 1, "schema version 99", _newer, real=command == "archive")


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime, but SQLite's reader housekeeping: the -shm index and
    an empty -wal, which a read-only connection to a WAL archive creates and leaves."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith("-shm")
            and not (p.name.endswith("-wal") and p.stat().st_size == 0)}


def run(case: Case, cwd: Path) -> tuple[int, str, str]:
    if case.real:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPER_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        proc = subprocess.run([sys.executable, "-m", "scraper", *case.args], cwd=cwd, env=env,
                              input=case.stdin or "", capture_output=True, text=True,
                              timeout=60)
        return proc.returncode, proc.stdout, proc.stderr
    result = CliRunner().invoke(cli, list(case.args), input=case.stdin or "",
                                env={"SCRAPER_DB": None, "SCRAPER_CONFIG": None})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", [pytest.param(name, marks=case.marks, id=name)
                                  for name, case in CASES.items()])
def test_bad_input_gives_one_line_a_nonzero_exit_and_writes_nothing(
        name: str, archive_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = CASES[name]
    monkeypatch.chdir(tmp_path)
    if case.setup:
        case.setup(tmp_path, archive_file)
    before = snapshot(tmp_path)
    code, out, err = run(case, tmp_path)
    assert (code, out) == (case.code, ""), err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("scraper: error: "), err
    assert case.says in lines[0]
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before, "bad input changed the files"
