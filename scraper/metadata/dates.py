"""Dates: the page's publication and modification times, as ISO 8601 as the page states them."""

from __future__ import annotations

import re
from datetime import datetime


def normalize_date(value: str | None) -> str | None:
    """ISO 8601 with time and offset when the value has them; a bare date stays a date.

    A time without an offset is kept as wall-clock time (never guessed into UTC).
    """
    if not isinstance(value, str) or not value.strip():
        return None  # JSON-LD can hold a list, an object or a number here
    value = value.strip()
    candidate = value.replace("Z", "+00:00") if value.endswith("Z") else value
    # "2024-04-30 16:38:37 +0200", "2024-04-30T16:38:37.000+0200"
    candidate = re.sub(r"^(\d{4}-\d\d-\d\d) (\d)", r"\1T\2", candidate)
    candidate = re.sub(r"\s*([+-]\d\d):?(\d\d)$", r"\1:\2", candidate)
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return _parse_loose_date(value)
    if len(candidate) <= 10:  # a date with no time part
        return parsed.date().isoformat()
    return parsed.isoformat()


def _parse_loose_date(value: str) -> str | None:
    """RFC 822 dates and other common shapes; None when it is not a date at all."""
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.isoformat()
