"""`scraper export` as WARC 1.1 and WACZ: warcio reads every record back, every digest
verifies, each page record holds the archived bytes, and the WACZ validates and its CDXJ
index finds every capture."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from export_archive import archived_versions, build, cli_run
from server import TestServer
from wacz.main import main as wacz_main
from warcio.archiveiterator import ArchiveIterator
from warcio.checker import Checker

from scraper.export.records import surt

# the politeness delay and retry waits are not what these tests are about
pytestmark = pytest.mark.usefixtures("no_waits")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The test archive, its versions, and its WARC and WACZ exports."""
    folder = tmp_path_factory.mktemp("export-warc")
    db = folder / "archive.db"
    with TestServer() as server:
        build(server, db)
    for fmt in ("warc", "wacz"):
        code, _, err = cli_run("export", "--db", str(db), "--format", fmt,
                                 "-o", str(folder / f"archive.{fmt}"))
        assert (code, err) == (0, ""), err
    yield {"db": db, "versions": archived_versions(db), "warc": folder / "archive.warc",
           "wacz": folder / "archive.wacz"}


def records(stream: Any) -> list[dict[str, Any]]:
    """Every record of a WARC: type, WARC headers, HTTP head and payload, digests checked."""
    found = []
    for record in ArchiveIterator(stream, check_digests=True):
        payload = record.content_stream().read()
        found.append({"type": record.rec_type, "headers": dict(record.rec_headers.headers),
                      "http": record.http_headers, "payload": payload,
                      "digest_ok": record.digest_checker.passed,
                      "problems": list(record.digest_checker.problems)})
    return found


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def by_type(warc: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in warc if r["type"] == kind]


def test_warcio_check_passes_and_every_digest_verifies(exported: dict[str, Any]) -> None:
    checker = Checker(SimpleNamespace(inputs=[str(exported["warc"])], verbose=False))
    assert checker.process_all() == 0
    with open(exported["warc"], "rb") as f:
        warc = records(f)
    assert all(r["digest_ok"] is True and not r["problems"] for r in warc), \
        [(r["type"], r["problems"]) for r in warc if r["digest_ok"] is not True]
    for r in warc:
        if r["type"] != "warcinfo":  # computed here too, not only by warcio
            assert r["headers"]["WARC-Payload-Digest"] == sha1_b32(r["payload"])


def test_warc_holds_each_version_as_response_request_and_metadata(
        exported: dict[str, Any]) -> None:
    with open(exported["warc"], "rb") as f:
        warc = records(f)
    raw = exported["warc"].read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw.count(b"\x1f\x8b\x08") >= len(warc)  # per record
    info = warc[0]
    assert info["type"] == "warcinfo" and b"software: news-scraper" in info["payload"]
    assert all(r["headers"]["WARC-Type"] == r["type"] for r in warc)
    versions = exported["versions"]
    pages = [r for r in warc if r["type"] in ("response", "resource")]
    assert len(pages) == len(versions) == 4
    assert len(by_type(warc, "request")) == 3  # the old row's request is not known
    assert len(by_type(warc, "metadata")) == 4
    ids = {r["headers"]["WARC-Record-ID"]: r for r in warc}
    for version in versions:
        uri = version["final_url"]
        date = version["fetched_at"].replace("+00:00", "Z")
        mine = [r for r in pages if r["headers"]["WARC-Target-URI"] == uri
                and r["headers"]["WARC-Date"] == date
                and r["payload"] == version["body"]]  # the archived bytes, exactly
        assert len(mine) == 1, (version["article_id"], version["version"])
        page = mine[0]
        page_id = page["headers"]["WARC-Record-ID"]
        meta = [r for r in by_type(warc, "metadata")
                if r["headers"].get("WARC-Concurrent-To") == page_id]
        assert len(meta) == 1
        assert meta[0]["headers"]["Content-Type"] == "application/json"
        article = json.loads(meta[0]["payload"])
        assert (article["article_id"], article["version"], article["title"], article["text"]) \
            == (version["article_id"], version["version"], version["title"], version["text"])
        requests = [r for r in by_type(warc, "request")
                    if r["headers"].get("WARC-Concurrent-To") == page_id]
        if version["exchange"] is None:  # stored before schema 7: a resource, no request
            assert page["type"] == "resource" and not requests
            assert page["headers"]["Content-Type"] == "text/html; charset=utf-8"
            continue
        assert page["type"] == "response" and len(requests) == 1
        http = page["http"]
        sent = version["exchange"]["response"]
        assert http.protocol == sent["http_version"]
        assert http.get_statuscode() == str(sent["status"])
        assert http.get_header("Content-Length") == str(len(version["body"]))
        assert http.get_header("Content-Type") == "text/html; charset=utf-8"
        request = requests[0]
        assert request["http"].protocol == "GET"
        assert request["payload"] == b""
        sent_request = version["exchange"]["request"]
        assert request["headers"]["WARC-Target-URI"] == sent_request["url"]
        assert request["http"].get_header("Host") == {
            k.lower(): v for k, v in sent_request["headers"]}["host"]
    assert len(ids) == len(warc)  # record ids are unique


def test_wire_encoding_headers_are_kept_renamed(exported: dict[str, Any]) -> None:
    """The gzip, chunked response: its body is stored decoded, so the record says so."""
    with open(exported["warc"], "rb") as f:
        warc = records(f)
    gz = next(v for v in exported["versions"] if v["final_url"].endswith("/gzip/story-2"))
    record = next(r for r in by_type(warc, "response")
                  if r["headers"]["WARC-Target-URI"] == gz["final_url"])
    http = record["http"]
    assert http.get_header("Content-Encoding") is None
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert http.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert http.get_header("Content-Length") == str(len(gz["body"]))
    assert record["payload"] == gz["body"] and record["payload"].startswith(b"<!DOCTYPE html>")


def test_wacz_validates_with_the_wacz_package(exported: dict[str, Any]) -> None:
    assert wacz_main(["validate", "-f", str(exported["wacz"])]) == 0


def test_wacz_index_finds_every_capture(exported: dict[str, Any]) -> None:
    with zipfile.ZipFile(exported["wacz"]) as zf:
        assert zf.getinfo("archive/data.warc.gz").compress_type == zipfile.ZIP_STORED
        warc = zf.read("archive/data.warc.gz")
        lines = zf.read("indexes/index.cdx").decode("utf-8").splitlines()
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()]
        package = json.loads(zf.read("datapackage.json"))
    assert lines == sorted(lines)  # CDXJ is sorted (pywb looks lines up by bisection)
    index: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for line in lines:
        key, stamp, fields = line.split(" ", 2)
        index.setdefault((key, stamp), []).append(json.loads(fields))
    assert sum(map(len, index.values())) == len(exported["versions"])
    for version in exported["versions"]:
        stamp = version["fetched_at"][:19].replace("-", "").replace(":", "").replace("T", "")
        found = index[(surt(version["final_url"]), stamp)]
        bodies = []
        for entry in found:  # two versions fetched within one second share a key
            start, length = int(entry["offset"]), int(entry["length"])
            record = records(io.BytesIO(warc[start:start + length]))
            assert len(record) == 1 and record[0]["type"] in ("response", "resource")
            assert record[0]["headers"]["WARC-Target-URI"] == entry["url"]
            assert entry["digest"] == record[0]["headers"]["WARC-Payload-Digest"]
            bodies.append(record[0]["payload"])
        assert version["body"] in bodies
    assert pages[0]["format"] == "json-pages-1.0"
    latest = {v["article_id"]: v for v in exported["versions"]}  # ordered: the last wins
    assert [(p["url"], p["title"]) for p in pages[1:]] == [
        (v["final_url"], v["title"]) for v in latest.values()]
    assert {r["path"] for r in package["resources"]} == {
        "archive/data.warc.gz", "indexes/index.cdx", "pages/pages.jsonl"}
    assert package["software"].startswith("news-scraper")


def test_surt_matches_replaywebpage_keys() -> None:
    """The keys wabac.js (ReplayWeb.page) computes for a lookup: hand-checked cases."""
    assert surt("https://www.Example.com/News/A?b=2&a=1#x") == "com,example)/news/a?a=1&b=2"
    assert surt("http://www2.example.co.uk:8080/") == "uk,co,example:8080)/"
    assert surt("https://example.com:443") == "com,example)/"
    assert surt("http://127.0.0.1:5000/a") == "1,0,0,127:5000)/a"
