from datetime import datetime, timedelta, timezone

import pytest

from scraper.schedule import DEFAULT_SCHEDULE, check_schedule, next_check, parse_duration

T0 = datetime(2024, 10, 10, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("age, interval", [
    (timedelta(minutes=5), timedelta(minutes=15)),
    (timedelta(hours=2, minutes=59), timedelta(minutes=15)),
    (timedelta(hours=3), timedelta(hours=1)),
    (timedelta(hours=23), timedelta(hours=1)),
    (timedelta(days=2), timedelta(hours=3)),
    (timedelta(days=10), timedelta(days=3)),
    (timedelta(days=100), timedelta(days=30)),
])
def test_interval_grows_with_time_since_last_change(age, interval):
    assert next_check(T0 - age, T0) == T0 + interval


def test_article_unchanged_for_a_year_is_never_checked_again():
    assert next_check(T0 - timedelta(days=366), T0) is None


def test_ages_over_a_day_are_not_wrapped_to_seconds_of_the_day():
    # timedelta(days=8, minutes=5).seconds == 300: a peer's bug checked such articles
    # every 15 minutes. A week-old article is checked every 3 days.
    assert next_check(T0 - timedelta(days=8, minutes=5), T0) == T0 + timedelta(days=3)


@pytest.mark.parametrize("text, expected", [
    ("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)), ("3h", timedelta(hours=3)),
    ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2)), ("1.5h", timedelta(minutes=90)),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "-3h", "3 hours", "h"])
def test_parse_duration_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_schedule_checks():
    check_schedule(DEFAULT_SCHEDULE)
    with pytest.raises(ValueError):
        check_schedule(((timedelta(days=1), timedelta(hours=1)),
                        (timedelta(hours=1), timedelta(minutes=5))))
    with pytest.raises(ValueError):
        check_schedule(())
