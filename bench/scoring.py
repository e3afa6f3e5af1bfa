"""Scoring rules of ../shared/corpus/README.md ("How to score"), shared by the benchmarks and tests.

Body text: 4-gram shingles of ``\\w+`` tokens, multiset precision/recall per page, averaged
over pages (the Article Extraction Benchmark's method). Metadata: exact title after
whitespace normalisation, author sets case-insensitive, publication time to the minute in UTC
(where the gold has a time), and the looser day check (same calendar day in local time or in UTC).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from datetime import date, datetime, timezone
from typing import Iterable

_TOKEN = re.compile(r"\w+")
_BY = re.compile(r"^\s*by\s+", re.I)


def shingles(text: str | None) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < 4:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3))


def page_counts(gold: str, predicted: str | None) -> tuple[int, int, int]:
    """(TP, FP, FN) over 4-gram shingles of one page."""
    g, p = shingles(gold), shingles(predicted)
    tp = sum((g & p).values())
    fp = sum((p - g).values())
    fn = sum((g - p).values())
    return tp, fp, fn


def body_prf(pages: Iterable[tuple[int, int, int]]) -> tuple[float, float, float]:
    """Mean page precision, mean page recall and their F1, every page weighing the same."""
    precisions, recalls = [], []
    for tp, fp, fn in pages:
        if tp + fp > 0:
            precisions.append(tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(tp / (tp + fn))
        elif fp == 0:
            recalls.append(1.0)
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def norm_ws(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def title_ok(gold: str | None, predicted: str | None) -> bool:
    return norm_ws(gold) == norm_ws(predicted)


def split_byline(byline: str) -> list[str]:
    byline = _BY.sub("", byline)
    return [p for p in re.split(r"\s*(?:,|;|&|\||\band\b)\s*", byline) if p.strip()]


def authors_ok(gold: list[str], predicted: Iterable[str]) -> bool:
    key = lambda names: {norm_ws(n).casefold() for n in names}  # noqa: E731
    return key(gold) == key(predicted)


def _parse(value: str | None) -> datetime | None:
    if not value or "T" not in value and " " not in value.strip():
        return None  # no time part: never matches at minute level
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def published_ok(gold: str | None, predicted: str | None) -> bool:
    """Equal to the minute in UTC (wall-clock when an offset is missing)."""
    g, p = _parse(gold), _parse(predicted)
    if g is None or p is None:
        return False
    if g.tzinfo and p.tzinfo:
        g, p = g.astimezone(timezone.utc), p.astimezone(timezone.utc)
    else:
        g, p = g.replace(tzinfo=None), p.replace(tzinfo=None)
    return g.replace(second=0, microsecond=0) == p.replace(second=0, microsecond=0)


def has_time(value: str | None) -> bool:
    """Whether ``value`` states a time, so that it can count at minute level."""
    return _parse(value) is not None


def _days(value: str | None) -> tuple[date | None, date | None]:
    """(the day as written, the day in UTC or None when the value has no time and offset)."""
    text = (value or "").strip()
    if not text:
        return None, None
    moment = _parse(text)
    if moment is None:
        try:  # a bare day, or a day followed by something fromisoformat refuses
            return date.fromisoformat(text[:10]), None
        except ValueError:
            return None, None
    utc = moment.astimezone(timezone.utc).date() if moment.tzinfo else None
    return moment.date(), utc


def published_day_ok(gold: str | None, predicted: str | None) -> bool:
    """Same calendar day in local time (as written) or in UTC.

    A bare day (or a time without offset) has no UTC day: it is compared with the other
    value's local day and, when that one has an offset, with its UTC day too.
    """
    g_local, g_utc = _days(gold)
    p_local, p_utc = _days(predicted)
    if g_local is None or p_local is None:
        return False
    if g_local == p_local:
        return True
    if g_utc and p_utc:
        return g_utc == p_utc
    # one side has no UTC day: its day may be either day of the other side
    return (g_utc is None and g_local == p_utc) or (p_utc is None and p_local == g_utc)
