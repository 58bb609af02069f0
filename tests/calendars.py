"""Frozen clocks as users live them, for the cost and ledger tests.

Two parameter sets, offered as fixtures by tests/conftest.py:

- `calendar_month`: whole months of 28, 29 (a leap February), 30 and 31 days, for tests that
  run a month from its 1st (and across its end into the next);
- `moment`: single instants: mid-month in months of each length, on the 1st, on a leap day,
  just past a month's end in UTC while Vercel's Pacific billing day is still the old month's
  last, and on the two days a year Pacific time changes (Vercel's billing day is 23 or 25 h
  long, starting at 08:00Z in PST and 07:00Z in PDT).

Every figure here is written down by hand from the calendar (and checked against the standard
library once, in tests/unit/test_calendars.py), never computed by the code under test.
Import from here (as from simhelpers), never from conftest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

UTC = timezone.utc


@dataclass(frozen=True)
class CalendarMonth:
    id: str
    first: date  # the month's 1st
    days: int  # its length
    next_days: int  # the length of the month after it

    @property
    def start(self) -> datetime:
        return datetime(self.first.year, self.first.month, 1, tzinfo=UTC)

    @property
    def next_first(self) -> date:
        return self.first + timedelta(days=self.days)

    @property
    def end(self) -> datetime:
        """The next month's 1st, 00:00 UTC."""
        return self.start + timedelta(days=self.days)

    def at(self, day: int, hour: int = 0, minute: int = 0) -> datetime:
        """Day `day` of the month (past its end: into the next month), hour:minute UTC."""
        return self.start + timedelta(days=day - 1, hours=hour, minutes=minute)


MONTHS = (
    CalendarMonth("feb-2027-28d", date(2027, 2, 1), 28, 31),
    CalendarMonth("feb-2028-29d-leap", date(2028, 2, 1), 29, 31),
    CalendarMonth("nov-2026-30d", date(2026, 11, 1), 30, 31),
    CalendarMonth("dec-2026-31d", date(2026, 12, 1), 31, 31),
)


@dataclass(frozen=True)
class Moment:
    id: str
    now: datetime  # the frozen clock, UTC
    month_days: int  # days in now's UTC month
    pacific_day: date  # Vercel's billing day at `now` (the date in America/Los_Angeles)
    pacific_day_start: datetime  # when that billing day began, UTC
    pacific_day_hours: int  # its length: 24, or 23 / 25 when the clocks change that day

    @property
    def today(self) -> date:
        """The UTC day."""
        return self.now.date()


MOMENTS = (
    Moment("28d-month", datetime(2027, 2, 18, 13, 30, tzinfo=UTC), 28,
           date(2027, 2, 18), datetime(2027, 2, 18, 8, tzinfo=UTC), 24),
    Moment("leap-day", datetime(2028, 2, 29, 13, 30, tzinfo=UTC), 29,
           date(2028, 2, 29), datetime(2028, 2, 29, 8, tzinfo=UTC), 24),
    Moment("30d-month", datetime(2026, 11, 18, 13, 30, tzinfo=UTC), 30,
           date(2026, 11, 18), datetime(2026, 11, 18, 8, tzinfo=UTC), 24),
    Moment("31d-month", datetime(2026, 12, 18, 13, 30, tzinfo=UTC), 31,
           date(2026, 12, 18), datetime(2026, 12, 18, 8, tzinfo=UTC), 24),
    Moment("the-1st", datetime(2027, 3, 1, 13, 30, tzinfo=UTC), 31,
           date(2027, 3, 1), datetime(2027, 3, 1, 8, tzinfo=UTC), 24),
    # 03:00Z on 1 January is 19:00 PST on 31 December: a new UTC month (and year), the old Pacific one.
    Moment("utc-1st-pacific-31st", datetime(2027, 1, 1, 3, 0, tzinfo=UTC), 31,
           date(2026, 12, 31), datetime(2026, 12, 31, 8, tzinfo=UTC), 24),
    # Sunday 14 March 2027: 02:00 PST becomes 03:00 PDT; the day runs 08:00Z to 07:00Z (23 h).
    Moment("dst-starts", datetime(2027, 3, 14, 20, 0, tzinfo=UTC), 31,
           date(2027, 3, 14), datetime(2027, 3, 14, 8, tzinfo=UTC), 23),
    # Sunday 1 November 2026: 02:00 PDT becomes 01:00 PST; the day runs 07:00Z to 08:00Z (25 h).
    Moment("dst-ends", datetime(2026, 11, 1, 20, 0, tzinfo=UTC), 30,
           date(2026, 11, 1), datetime(2026, 11, 1, 7, tzinfo=UTC), 25),
)
