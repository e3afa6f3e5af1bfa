"""Tags: keyword strings split at commas, wire-service codes and machine tags refused."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any


def _keywords(value: Any) -> list[str]:
    """Keywords from a JSON-LD or meta value: a string ("a, b, c"), or a list of them."""
    if isinstance(value, list):
        return [k for item in value for k in _keywords(item)]
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    return []


# A wire-service subject code: capitals, digits and ":_./-", no space ("AER", "AIRS08",
# "RSBI:HUMAN-RIGHTS", "PACKAGE:WORLD-NEWS"). Alone, "USA" or "GDP" looks the same, so
# only a list made mostly of them is refused (Reuters' keywords hold 23 and 55 codes).
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9:_./-]*$")
_MIN_CODE_LIST = 6
# a namespaced machine tag, "source:tagname:CNBC US Source"
_MACHINE_TAG = re.compile(r"^\w+:\S")


def tag_list(value: Any) -> list[str]:
    """Tags from one source: comma-separated strings split; [] when the source is codes."""
    tags = [t for t in _keywords(value) if len(t) > 1 and not _MACHINE_TAG.match(t)]
    codes = sum(1 for t in tags if _CODE.match(t))
    if len(tags) >= _MIN_CODE_LIST and codes >= 0.8 * len(tags):
        return []
    return tags


def clean_tags(values: Iterable[str]) -> tuple[str, ...]:
    """Tags split at commas, without codes, empties or duplicates (ignoring case), in order."""
    out: dict[str, str] = {}
    for tag in tag_list([unicodedata.normalize("NFC", " ".join(str(v).split())) for v in values]):
        out.setdefault(tag.casefold(), tag)
    return tuple(out.values())
