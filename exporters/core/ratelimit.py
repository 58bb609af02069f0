"""Rate-limit header parsing, shared by every provider client.

Providers disagree on the headers: `Retry-After` (seconds or an HTTP date),
`X-RateLimit-Reset` (Vercel, Supabase: UTC epoch seconds) and Render's
`Ratelimit-Reset`, documented as epoch seconds while its example looks like
seconds remaining. A value too small to be a plausible epoch is read as
seconds remaining; anything else as an epoch.

Every reset is clamped to at most `max_wait_s` (default 15 minutes) from now:
a reset in the year 5138, or epoch milliseconds read as seconds, would
otherwise lock a provider out until restart. After the clamped wait the
client probes again, and the provider's next headers say what holds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Mapping

# Any epoch before 2001-09-09 (1e9) cannot be a reset time; smaller values are a delay.
_EPOCH_FLOOR = 1_000_000_000
# The longest a provider's headers may make us wait before probing again.
DEFAULT_MAX_WAIT_S = 900.0


@dataclass(frozen=True)
class RateLimit:
    limit: float | None
    remaining: float | None
    reset_at: float | None  # Unix time when the window resets

    @property
    def headroom(self) -> float | None:
        if self.limit is None or self.remaining is None or self.limit <= 0:
            return None
        return max(0.0, min(1.0, self.remaining / self.limit))

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def clamp_reset(reset_at: float | None, now: float, max_wait_s: float = DEFAULT_MAX_WAIT_S) -> float | None:
    """A reset time no further than `max_wait_s` from now."""
    return None if reset_at is None else min(reset_at, now + max_wait_s)


def parse_reset(value: str | None, now: float, max_wait_s: float = DEFAULT_MAX_WAIT_S) -> float | None:
    """A reset header value as a Unix time: epoch seconds, or seconds remaining (clamped)."""
    number = _number(value)
    if number is None or number < 0:
        return None
    return clamp_reset(number if number >= _EPOCH_FLOOR else now + number, now, max_wait_s)


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$")


def parse_duration(value: str | None) -> float | None:
    """A Go-style duration ("1s", "6m0s", "1h2m", "20ms") in seconds."""
    if not value or not value.strip():
        return None
    match = _DURATION.match(value.strip())
    if match is None or not any(match.groups()):
        return None
    hours, minutes, seconds, millis = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def parse_retry_after(value: str | None, now: float, max_wait_s: float = DEFAULT_MAX_WAIT_S) -> float | None:
    """`Retry-After` as a Unix time: delta seconds or an HTTP date (RFC 9110), clamped."""
    if value is None:
        return None
    number = _number(value)
    if number is not None:
        return clamp_reset(now + max(0.0, number), now, max_wait_s)
    try:
        return clamp_reset(parsedate_to_datetime(value).timestamp(), now, max_wait_s)
    except (TypeError, ValueError, OverflowError):
        return None


def parse_rate_limit(headers: Mapping[str, str], now: float,
                     max_wait_s: float = DEFAULT_MAX_WAIT_S) -> RateLimit | None:
    limit = _number(_header(headers, "X-RateLimit-Limit", "Ratelimit-Limit", "x-ratelimit-limit-requests"))
    remaining = _number(_header(headers, "X-RateLimit-Remaining", "Ratelimit-Remaining",
                                "x-ratelimit-remaining-requests"))
    reset = parse_reset(_header(headers, "X-RateLimit-Reset", "Ratelimit-Reset"), now, max_wait_s)
    if reset is None:
        delay = parse_duration(_header(headers, "x-ratelimit-reset-requests"))
        reset = None if delay is None else clamp_reset(now + delay, now, max_wait_s)
    if limit is None and remaining is None and reset is None:
        return None
    return RateLimit(limit=limit, remaining=remaining, reset_at=reset)


def retry_at(headers: Mapping[str, str], now: float, max_wait_s: float = DEFAULT_MAX_WAIT_S) -> float | None:
    """When a 429 may be retried: Retry-After first, then the rate-limit reset (both clamped)."""
    after = parse_retry_after(_header(headers, "Retry-After"), now, max_wait_s)
    if after is not None:
        return after
    rate = parse_rate_limit(headers, now, max_wait_s)
    return rate.reset_at if rate else None
