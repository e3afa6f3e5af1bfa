"""How stored pages are compressed: zstd for new rows, zlib for rows stored before schema 7.

A version's ``html_codec`` names the codec of its ``html_raw`` and ``http_exchange`` blobs;
``html_zlib`` (the decoded page as UTF-8, zlib) is only read, never written, since schema 7.
zstd level 1 costs about 1 ms a news page against zlib level 1's 1.5 ms, and packs smaller.
"""

from __future__ import annotations

import json
import threading
import zlib
from typing import Any

import zstandard

ZSTD = "zstd"
ZSTD_LEVEL = 1
_local = threading.local()  # zstandard's (de)compressor objects are not thread-safe


def compress(data: bytes) -> bytes:
    """``data`` as a zstd frame (with its size in the header)."""
    if not hasattr(_local, "compressor"):
        _local.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    frame = _local.compressor.compress(data)
    # zstandard keeps the whole worst-case buffer (about len(data)) behind the frame, a
    # sixth of it: a copy of the exact size lets it go while the blob waits in a write batch
    return bytes(memoryview(frame)) if len(frame) < len(data) // 2 else frame


def decompress(blob: bytes, codec: str | None) -> bytes:
    """The bytes of a blob stored with ``codec`` (None: zlib, the codec before schema 7).

    Raises ValueError for a damaged blob or an unknown codec.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise ValueError(f"not a blob but {type(blob).__name__}")
    if codec in (None, "zlib"):
        try:
            return zlib.decompress(blob)
        except zlib.error as err:
            raise ValueError(str(err)) from None
    if codec == ZSTD:
        if not hasattr(_local, "decompressor"):
            _local.decompressor = zstandard.ZstdDecompressor()
        reader = _local.decompressor.decompressobj()
        try:
            # a frame without its content size in the header (not ours) still reads
            data = reader.decompress(bytes(blob))
        except zstandard.ZstdError as err:
            raise ValueError(str(err)) from None
        if not reader.eof:
            raise ValueError("truncated zstd frame")
        return data
    raise ValueError(f"unknown codec {codec!r}")


def pack_json(value: Any) -> bytes:
    """A JSON value, compressed: the HTTP exchange of a version."""
    return compress(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def unpack_json(blob: bytes | None, codec: str | None) -> Any:
    """The JSON value of ``pack_json``; None for no blob."""
    if blob is None:
        return None
    return json.loads(decompress(blob, codec))
