"""Timestamps as providers send them, and the day ranges the cost code walks."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 / ISO-8601 timestamp as an aware UTC datetime; None when it is not one.
    A timestamp without an offset is read as UTC (what the providers mean)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def utc_moment(ts: float) -> datetime:
    """Epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def days(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included (none when `last` is before `first`)."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
