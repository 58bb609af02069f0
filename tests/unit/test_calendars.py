"""The frozen clocks of tests/calendars.py say what the calendar says (standard library and the
IANA time zone database): the cost tests' independent figures rest on them."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from calendars import MOMENTS, MONTHS, CalendarMonth, Moment

PACIFIC = ZoneInfo("America/Los_Angeles")


def test_every_month_length_and_a_leap_february_are_covered() -> None:
    assert sorted(m.days for m in MONTHS) == [28, 29, 30, 31]
    assert any(m.first.month == 2 and m.days == 29 for m in MONTHS)


def test_month_lengths_are_the_calendars(calendar_month: CalendarMonth) -> None:
    first = calendar_month.first
    assert first.day == 1
    assert calendar_month.days == calendar.monthrange(first.year, first.month)[1]
    following = calendar_month.next_first
    assert following.day == 1 and calendar_month.next_days == calendar.monthrange(following.year, following.month)[1]
    assert calendar_month.end == datetime(following.year, following.month, 1, tzinfo=timezone.utc)


def test_each_moment_is_what_its_name_says(moment: Moment) -> None:
    now = moment.now
    assert now.tzinfo is timezone.utc
    assert moment.month_days == calendar.monthrange(now.year, now.month)[1]
    local = now.astimezone(PACIFIC)
    assert moment.pacific_day == local.date()
    start = datetime.combine(moment.pacific_day, datetime.min.time(), PACIFIC)
    next_start = datetime.combine(moment.pacific_day + timedelta(days=1), datetime.min.time(), PACIFIC)
    assert moment.pacific_day_start == start.astimezone(timezone.utc)
    assert moment.pacific_day_start.hour in (7, 8)  # PDT, PST
    # (in UTC: Python subtracts two times of one zone by their wall clocks)
    assert (next_start.astimezone(timezone.utc) - start.astimezone(timezone.utc)).total_seconds() \
        == moment.pacific_day_hours * 3600


def test_the_moments_cover_what_users_live() -> None:
    by_id = {m.id: m for m in MOMENTS}
    assert {m.month_days for m in MOMENTS} >= {28, 29, 30, 31}
    assert by_id["leap-day"].today.month == 2 and by_id["leap-day"].today.day == 29
    assert by_id["the-1st"].today.day == 1
    boundary = by_id["utc-1st-pacific-31st"]
    assert boundary.today.day == 1 and boundary.pacific_day.month != boundary.today.month
    assert {by_id["dst-starts"].pacific_day_hours, by_id["dst-ends"].pacific_day_hours} == {23, 25}
