"""End to end through the command line, against pages served from 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from server import Response, TestServer

from scraper.cli import cli

# the politeness delay and retry waits are not what these tests are about (the test of the
# waits records them itself)
pytestmark = pytest.mark.usefixtures("no_waits")

FIXTURES = Path(__file__).parent / "fixtures" / "themoscowtimes"
ARTICLE = "/2023/04/17/china-minister-hails-strong-russia-ties-in-putin-meeting-a80850"
OLD_SENTENCE = "He added that Russia-China ties have"
NEW_SENTENCE = "He later added that Russia-China ties have"


def page(name: str = "seed-two-authors-updated.html") -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    if args[0] == "archive":  # pages served from 127.0.0.1 are read as The Moscow Times'
        args = (*args, "--site", "themoscowtimes")
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


def test_archive_then_unchanged_then_edit_then_diff(server: TestServer, db: Path) -> None:
    url = server.url(ARTICLE)
    server.route(ARTICLE, Response.html(page()))
    code, out, _ = run("archive", url, "--db", str(db))
    assert code == 0 and out.strip().endswith("new version 1")

    code, out, _ = run("archive", url, "--db", str(db))
    assert code == 0 and out.strip().endswith("unchanged")
    assert count(db, "versions") == 1

    assert OLD_SENTENCE in page()
    server.route(ARTICLE, Response.html(page().replace(OLD_SENTENCE, NEW_SENTENCE)))
    code, out, _ = run("archive", url, "--db", str(db))
    assert code == 0 and out.strip().endswith("new version 2")
    assert count(db, "versions") == 2
    assert count(db, "fetches") == 3

    code, out, _ = run("diff", url, "--db", str(db), "--no-color")
    assert code == 0
    body = out.split("\n", 1)[1].strip()  # after the header line
    assert body == "He {+later+} added that Russia-China ties have \"already entered a new era.\""
    assert "+1 −0 words" in out.splitlines()[0]

    code, out, _ = run("diff", url, "--db", str(db), "--json")
    data = json.loads(out)
    assert data["changed"] == ["text"] and (data["from"], data["to"]) == (1, 2)
    assert [c["text"] for c in data["chunks"] if c["op"] != "equal"] == [" later"]


def test_boilerplate_change_keeps_one_version(server: TestServer, db: Path) -> None:
    url = server.url(ARTICLE)
    server.route(ARTICLE, Response.html(page("seed-two-authors-updated.html")),
                 Response.html(page("seed-ad-free-notice.html")))
    assert run("archive", url, "--db", str(db))[1].strip().endswith("new version 1")
    assert run("archive", url, "--db", str(db))[1].strip().endswith("unchanged")
    assert count(db, "versions") == 1


def test_etag_revalidation_prints_not_modified(server: TestServer, db: Path) -> None:
    url = server.url(ARTICLE)
    server.route(ARTICLE, Response.html(page(), headers={"ETag": '"v1"'}),
                 Response(304, headers={"ETag": '"v1"'}))
    run("archive", url, "--db", str(db))
    code, out, _ = run("archive", url, "--db", str(db))
    assert code == 0 and out.strip().endswith("not modified")
    assert server.requests[-1].headers.get("if-none-match") == '"v1"'
    with sqlite3.connect(db) as conn:
        outcomes = [r[0] for r in conn.execute("select outcome from fetches order by id")]
    assert outcomes == ["new_version", "not_modified"]


def test_an_archived_article_that_answers_404_is_gone(server: TestServer, db: Path) -> None:
    server.route("/a", Response.html(page()), Response(404, b"nope", {"Content-Type": "text/html"}))
    assert run("archive", server.url("/a"), "--db", str(db))[0] == 0
    code, _, err = run("archive", server.url("/a"), "--db", str(db))
    assert code == 1 and "gone: HTTP 404" in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("select state from articles").fetchone()[0] == "gone"


def test_history_and_show(server: TestServer, db: Path) -> None:
    url = server.url(ARTICLE)
    server.route(ARTICLE, Response.html(page()))
    run("archive", url, "--db", str(db))
    code, out, _ = run("history", url, "--db", str(db))
    assert code == 0 and "v1" in out and "China Minister Hails" in out
    code, out, _ = run("show", url, "--db", str(db), "--json")
    shown = json.loads(out)
    assert shown["version"] == 1 and "Li Shangfu" in shown["text"]
    assert len(shown["authors"]) == 2


def test_archive_lines_carry_their_time_in_cron_output(server: TestServer, db: Path) -> None:
    from datetime import datetime

    server.route("/a", Response.html(page()))
    code, out, _ = run("archive", server.url("/a"), "--db", str(db))  # CliRunner: no terminal
    when, _, rest = out.strip().partition(" ")
    assert datetime.fromisoformat(when).tzinfo and rest.endswith("new version 1")


def test_archive_reads_urls_from_stdin(server: TestServer, db: Path) -> None:
    server.route("/a", Response.html(page()))
    server.route("/b", Response.html(page("seed-edited-headline.html")))
    code, out, _ = run("archive", "-", "--db", str(db), "--json",
                       input=f"{server.url('/a')}\n\n{server.url('/b')}\n")
    assert code == 0
    assert [r["outcome"] for r in json.loads(out)] == ["new_version", "new_version"]


def test_failed_url_exits_1_with_one_line_and_no_version(server: TestServer, db: Path) -> None:
    server.route("/gone", Response(404, b"nope", {"Content-Type": "text/html"}))
    code, out, err = run("archive", server.url("/gone"), "--db", str(db))
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "404" in err
    assert "not found: HTTP 404" in err  # never archived: "gone" would say it once existed
    assert count(db, "versions") == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("select outcome from fetches").fetchone()[0] == "gone"


def test_invalid_url_is_a_usage_error_and_writes_nothing(db: Path) -> None:
    code, _, err = run("archive", "ftp://example.com/x", "--db", str(db))
    assert code == 2 and "not an http(s) URL" in err
    assert not db.exists()


def test_history_of_unknown_url_fails_cleanly(db: Path, server: TestServer) -> None:
    server.route("/a", Response.html(page()))
    run("archive", server.url("/a"), "--db", str(db))
    code, _, err = run("history", "https://example.com/never", "--db", str(db))
    assert code == 1 and err.startswith("scraper: error: no archived article")


def test_history_without_archive_does_not_create_one(db: Path) -> None:
    code, _, err = run("history", "https://example.com/x", "--db", str(db))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert not db.exists()


def test_extract_saved_page_to_json(tmp_path: Path) -> None:
    code, out, _ = run("extract", str(FIXTURES / "seed-two-authors-updated.html"),
                       "--url", "https://www.themoscowtimes.com" + ARTICLE)
    data = json.loads(out)
    assert code == 0 and data["site"] == "themoscowtimes" and len(data["authors"]) == 2


def test_extract_gzipped_page_from_stdin() -> None:
    import gzip

    raw = gzip.compress(page().encode())
    result = CliRunner().invoke(cli, ["extract", "-", "--url", "https://example.com/a"],
                                input=raw)
    assert result.exit_code == 0 and "Li Shangfu" in json.loads(result.stdout)["text"]


def test_extract_of_a_page_with_no_known_url_says_null() -> None:
    # a saved page that names no URL of its own (canonical link, og:url, JSON-LD), no --url
    html = page().replace("https://www.themoscowtimes.com" + ARTICLE, "")
    result = CliRunner().invoke(cli, ["extract", "-"], input=html)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["url"] is None and data["canonical_url"] is None and "Li Shangfu" in data["text"]


def test_extract_missing_file_is_one_line_exit_2(tmp_path: Path) -> None:
    code, _, err = run("extract", str(tmp_path / "nope.html"))
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_unknown_site_is_a_usage_error(db: Path) -> None:
    result = CliRunner().invoke(cli, ["archive", "https://example.com/", "--site", "nope",
                                      "--db", str(db)])
    assert result.exit_code == 2 and "unknown site 'nope'" in result.stderr
    assert not db.exists()


def test_sites_lists_every_adapter() -> None:
    code, out, _ = run("sites", "--json")
    names = {s["name"] for s in json.loads(out)}
    assert {"themoscowtimes", "generic"} <= names


def test_python_m_scraper_runs_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "scraper", "show", "https://example.com/x",
                           "--db", str(tmp_path / "none.db")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_every_command_has_help() -> None:
    assert {"archive", "history", "show", "diff", "extract", "sites", "crawl", "discover",
            "serve"} <= set(cli.commands)
    for command in cli.commands:
        result = CliRunner().invoke(cli, [command, "-h"])
        assert result.exit_code == 0 and "Usage:" in result.stdout, command


def test_every_command_is_in_the_readme() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for command in cli.commands:
        assert f"scraper {command}" in readme, f"README.md does not document `scraper {command}`"


def test_a_list_on_stdin_skips_bad_lines_by_number_and_archives_the_rest(
        server: TestServer, db: Path) -> None:
    server.route("/a", Response.html(page()))
    server.route("/b", Response.html(page("seed-edited-headline.html")))
    listing = (f"# my list\n{server.url('/a')}\nwww.example.com/no-scheme\n\n"
               f"   # an indented comment\n{server.url('/b')}\n")
    code, out, err = run("archive", "-", "--db", str(db), input=listing)
    assert code == 1  # something was wrong with the list
    assert err.strip().partition(" ")[2] == ("scraper: stdin line 3: not an http(s) URL: "
                                            "'www.example.com/no-scheme': skipped")
    assert [line.split()[-1] for line in out.splitlines()] == ["1", "2"]  # new version 1, 2


def test_a_list_over_many_hosts_keeps_each_hosts_delay_and_runs_the_hosts_at_once(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scraper import fetch

    waits: list[float] = []

    async def record(seconds: float) -> None:  # the waits a polite run asks for, not waited
        waits.append(seconds)

    monkeypatch.setattr(fetch, "pause", record)
    hosts = [TestServer(f"127.0.0.{n}").start() for n in (1, 2, 3)]
    try:
        urls = []
        for server in hosts:
            for n in (1, 2, 3):
                server.route(f"/story/{n}", Response.html(page().replace(
                    "Li Shangfu", f"Li Shangfu {server.host} {n}")))
                urls.append(server.url(f"/story/{n}"))
        result = CliRunner().invoke(cli, ["archive", "-", "--db", str(db), "--delay", "5"],
                                    input="\n".join(urls))
    finally:
        for server in hosts:
            server.stop()
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 9
    # per host, a wait of about the delay before each request but its first (robots.txt):
    # 3 × 3 hosts (one queue for all hosts would ask for 11)
    assert len(waits) == 9 and all(4.0 < w <= 5.0 for w in waits), waits
    assert all(server.hits(f"/story/{n}") == 1 for server in hosts for n in (1, 2, 3))
