"""WARC 1.1 written with warcio: for each version its page (a ``response`` record with the
original status line and headers, or a ``resource`` record for versions stored before the
heads were kept), the ``request`` when known, and a ``metadata`` record with the extracted
article; a ``warcinfo`` record first. Each record is its own gzip member, as tools expect.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from io import BytesIO
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ..store.archive import StoredPage, read_page
from .records import target_uri, version_record, warc_date

# Headers that describe the bytes on the wire, not the decoded body the archive keeps:
# kept under this prefix (as pywb and warcprox do) so the record stays consistent.
ORIG_PREFIX = "X-Archive-Orig-"
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding"})


@dataclass(frozen=True)
class Capture:
    """Where a page record landed in the WARC, for the CDXJ index of a WACZ."""

    url: str
    fetched_at: str
    mime: str
    status: int
    digest: str
    offset: int
    length: int


def response_head(response: dict[str, Any], body_length: int) -> StatusAndHeaders:
    """The response's status line and headers, made true of the decoded body: encoding
    headers renamed X-Archive-Orig-*, Content-Length the body's (the original kept)."""
    headers: list[tuple[str, str]] = []
    for name, value in response["headers"]:
        lower = name.lower()
        if lower in _WIRE_HEADERS or (lower == "content-length" and value != str(body_length)):
            headers.append((ORIG_PREFIX + name, value))
        elif lower != "content-length":
            headers.append((name, value))
    headers.append(("Content-Length", str(body_length)))
    status = int(response["status"])
    reason = response.get("reason") or _phrase(status)
    return StatusAndHeaders(f"{status} {reason}", headers,
                            protocol=response.get("http_version") or "HTTP/1.1")


def request_head(request: dict[str, Any], protocol: str) -> StatusAndHeaders:
    """The request line and headers as sent."""
    parts = urlsplit(request["url"])
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [(str(n), str(v)) for n, v in request["headers"]]
    return StatusAndHeaders(f"{request['method']} {target}", headers, protocol=protocol,
                            is_http_request=True)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _Counting:
    """A write-only stream that knows its position: stdout cannot tell() one."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._position = 0

    def write(self, data: bytes) -> int:
        self._position += len(data)
        self._out.write(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        self._out.flush()


class ArchiveWARC:
    """A WARC being written to ``out``: ``add`` writes one version's records."""

    def __init__(self, out: BinaryIO, software: str) -> None:
        self.out = _Counting(out)
        self.writer = WARCWriter(self.out, gzip=True, warc_version="1.1")
        info = self.writer.create_warcinfo_record("data.warc.gz", {
            "software": software, "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                          "warc-format/warc-1.1/",
            "description": "News articles and every edit to them, exported from the archive",
        })
        self.warcinfo_id = info.rec_headers.get_header("WARC-Record-ID")
        self.writer.write_record(info)

    def _headers(self, row: dict[str, Any], **extra: str) -> dict[str, str]:
        return {"WARC-Date": warc_date(row["fetched_at"]),
                "WARC-Warcinfo-ID": self.warcinfo_id, **extra}

    def add(self, row: dict[str, Any]) -> Capture | None:
        """Write a version's records; returns where its page record is (None: no page)."""
        uri = target_uri(row)
        page = read_page(row, f"version {row['version']} of {row['url']}")
        capture = None
        page_id = None
        if page is not None:
            record, status, mime = self._page_record(uri, row, page)
            offset = self.out.tell()
            self.writer.write_record(record)
            page_id = record.rec_headers.get_header("WARC-Record-ID")
            capture = Capture(uri, row["fetched_at"], mime, status,
                              record.rec_headers.get_header("WARC-Payload-Digest"),
                              offset, self.out.tell() - offset)
            if page.exchange is not None:
                protocol = page.exchange["response"].get("http_version") or "HTTP/1.1"
                request = page.exchange["request"]
                self.writer.write_record(self.writer.create_warc_record(
                    request["url"], "request",
                    http_headers=request_head(request, protocol),
                    warc_headers_dict=self._headers(row, **{"WARC-Concurrent-To": page_id})))
        article = json.dumps(version_record(row), ensure_ascii=False).encode("utf-8")
        linked = {"WARC-Concurrent-To": page_id} if page_id else {}
        self.writer.write_record(self.writer.create_warc_record(
            uri, "metadata", payload=BytesIO(article), length=len(article),
            warc_content_type="application/json", warc_headers_dict=self._headers(row, **linked)))
        return capture

    def _page_record(self, uri: str, row: dict[str, Any],
                     page: StoredPage) -> tuple[ArcWarcRecord, int, str]:
        if page.exchange is not None:
            response = page.exchange["response"]
            head = response_head(response, len(page.body))
            record = self.writer.create_warc_record(
                uri, "response", payload=BytesIO(page.body), length=len(page.body),
                http_headers=head, warc_headers_dict=self._headers(row))
            return record, int(response["status"]), _mime(page)
        record = self.writer.create_warc_record(
            uri, "resource", payload=BytesIO(page.body), length=len(page.body),
            warc_content_type=page.content_type, warc_headers_dict=self._headers(row))
        return record, 200, _mime(page)


def _mime(page: StoredPage) -> str:
    return page.content_type.split(";")[0].strip().lower()


def write_warc(out: BinaryIO, rows: Iterable[dict[str, Any]], software: str,
               progress: Callable[[int], None],
               on_capture: Callable[[Capture], None] = lambda c: None) -> int:
    """A WARC of the versions in ``rows`` (with their pages); returns how many versions."""
    warc = ArchiveWARC(out, software)
    n = 0
    for row in rows:
        capture = warc.add(row)
        if capture is not None:
            on_capture(capture)
        n += 1
        progress(1)
    return n
