"""A small archive for the export tests, built through the real pipeline (`scraper archive`
against a local TestServer), with every kind of version an export meets.

- article 1 (themoscowtimes): three versions (an edit, then a third that is folded, so no
  version); served plainly.
- article 2 (generic): one version served gzip-encoded and chunked (no Content-Length), so
  the stored headers describe the wire and the stored bytes are the decoded body.
- article 3 (generic): one version turned into a row stored before schema 7: the
  decoded page in html_zlib, no raw bytes, no HTTP heads.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import zlib
from contextlib import closing
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from server import Response, TestServer

from scraper.cli import cli
from scraper.store import codec

FIXTURES = Path(__file__).parent / "fixtures" / "themoscowtimes"
PAGE = "seed-two-authors-updated.html"
EDITED = "He later added that Russia-China ties have"
PATHS = {1: "/2023/04/17/china-minister-a80850", 2: "/gzip/story-2", 3: "/2023/old/story-3"}


def page(name: str = PAGE) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def cli_run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _chunked_gzip(body: bytes) -> Any:
    """A handler that sends ``body`` gzip-encoded in chunks, with no Content-Length."""
    packed = gzip.compress(body)

    def write(req: Any) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "text/html; charset=utf-8")
        req.send_header("Content-Encoding", "gzip")
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        for start in range(0, len(packed), 700):
            chunk = packed[start:start + 700]
            req.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        req.wfile.write(b"0\r\n\r\n")

    return write


def build(server: TestServer, db: Path) -> None:
    """Archive the three articles (five version rows, one folded) into ``db``."""
    original = page()
    edited = original.replace("He added that Russia-China ties have", EDITED)
    third = edited.replace("in the Kremlin", "in the Kremlin on Sunday")
    server.route(PATHS[1], Response.html(original), Response.html(edited), Response.html(third))
    gz = page("seed-edited-headline.html").encode("utf-8")
    server.route(PATHS[2], Response(handler=_chunked_gzip(gz)))
    server.route(PATHS[3], Response.html(page("seed-ad-free-notice.html")))
    for _ in range(3):
        _archive(server.url(PATHS[1]), db, "themoscowtimes")
    _archive(server.url(PATHS[2]), db, "generic")
    _archive(server.url(PATHS[3]), db, "generic")
    with closing(sqlite3.connect(db)) as conn, conn:
        ids = dict(conn.execute("SELECT url, id FROM articles"))
        # a false edit reextract found: kept, but no longer a version
        conn.execute("UPDATE versions SET folded = 1 WHERE article_id = ? AND version = 3",
                     [ids[server.url(PATHS[1])]])
        old = conn.execute("SELECT id, html_raw, html_codec FROM versions WHERE article_id = ?",
                           [ids[server.url(PATHS[3])]]).fetchone()
        html = codec.decompress(old[1], old[2]).decode("utf-8")
        conn.execute("UPDATE versions SET html_zlib = ?, html_raw = NULL, html_codec = NULL,"
                     " http_exchange = NULL WHERE id = ?",
                     [zlib.compress(html.encode("utf-8")), old[0]])


def _archive(url: str, db: Path, site: str) -> None:
    # --delay 0: the wait after robots.txt is not what the exports are about
    code, out, err = cli_run("archive", url, "--db", str(db), "--site", site, "--delay", "0")
    assert code == 0, out + err


def archived_versions(db: Path) -> list[dict[str, Any]]:
    """Every version (not folded) as the archive holds it, with its raw page bytes."""
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute(
            "SELECT a.url AS article_url, a.canonical_url, a.site, v.* FROM versions v"
            " JOIN articles a ON a.id = v.article_id WHERE NOT v.folded"
            " ORDER BY v.article_id, v.version")]
    for row in rows:
        row["authors"], row["tags"] = json.loads(row["authors"]), json.loads(row["tags"])
        if row["html_raw"] is not None:
            row["body"] = codec.decompress(row["html_raw"], row["html_codec"])
            row["exchange"] = codec.unpack_json(row["http_exchange"], row["html_codec"])
        else:
            row["body"] = zlib.decompress(row["html_zlib"])
            row["exchange"] = None
    return rows
