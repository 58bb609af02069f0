"""Billing cycles: each provider's month runs from an anchor day, not always the 1st.

A cycle with anchor day A starts on day A of a month (or that month's last day
when it is shorter, e.g. A = 31 in February) and ends where the next one starts.
Anchor 1 is the calendar month. Month-to-date, allowances and credits all follow
the cycle.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timezone


@dataclass(frozen=True)
class Cycle:
    start: date  # first day, inclusive
    end: date  # first day of the next cycle, exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=timezone.utc)

    @property
    def end_at(self) -> datetime:
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=timezone.utc)

    @property
    def seconds(self) -> float:
        return self.days * 86400.0


def anchor_in(year: int, month: int, anchor: int) -> date:
    """Day `anchor` of the month, or its last day when the month is shorter."""
    return date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def _shift(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def cycle_of(day: date, anchor: int = 1) -> Cycle:
    """The billing cycle containing `day`."""
    if not 1 <= anchor <= 31:
        raise ValueError(f"billing anchor day must be 1..31, got {anchor}")
    this = anchor_in(day.year, day.month, anchor)
    if day >= this:
        start = this
    else:
        start = anchor_in(*_shift(day.year, day.month, -1), anchor)
    end = anchor_in(*_shift(start.year, start.month, 1), anchor)
    return Cycle(start, end)
