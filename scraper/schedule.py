"""When to check an article again: pure functions over times.

The interval grows with the time since the article last really changed (after NewsDiffs):
a story edited an hour ago is checked every 15 minutes, a month-old one every few days,
a year-old one never. A change resets the clock.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

# (age below which ..., ... check this often); older than the last age: never again
DEFAULT_SCHEDULE: tuple[tuple[timedelta, timedelta], ...] = (
    (timedelta(hours=3), timedelta(minutes=15)),
    (timedelta(days=1), timedelta(hours=1)),
    (timedelta(days=7), timedelta(hours=3)),
    (timedelta(days=30), timedelta(days=3)),
    (timedelta(days=365), timedelta(days=30)),
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """``"15m"``, ``"3h"``, ``"7d"``, ``"2w"`` or ``"30s"`` as a timedelta; ValueError otherwise."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 3h, 7d, 2w)")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def next_check(last_changed: datetime, checked: datetime,
               schedule: tuple[tuple[timedelta, timedelta], ...] = DEFAULT_SCHEDULE
               ) -> datetime | None:
    """The next time to check an article last changed at ``last_changed``; None means never.

    Ages are compared as whole timedeltas (total seconds): ``timedelta.seconds`` alone wraps
    every day and would make a week-old article look minutes old.
    """
    age = checked - last_changed
    for limit, interval in schedule:
        if age < limit:
            return checked + interval
    return None


def check_schedule(schedule: tuple[tuple[timedelta, timedelta], ...]) -> None:
    """Raise ValueError unless ages increase and every interval is positive."""
    if not schedule:
        raise ValueError("the re-check schedule is empty")
    previous = timedelta(0)
    for limit, interval in schedule:
        if limit <= previous:
            raise ValueError("re-check schedule ages must increase")
        if interval <= timedelta(0):
            raise ValueError("re-check intervals must be positive")
        previous = limit
