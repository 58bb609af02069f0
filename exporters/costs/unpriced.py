"""Usage a provider bills that stackwatch cannot price: kept apart from cost, never $0.

Per provider, day and item: a quantity in the provider's unit and, when its data gives one, an
amount; re-reading a day replaces what was held for it. It follows each provider's billing cycle
and is written through to the state file. What it feeds (the `stackwatch.cost.unpriced.*`
gauges) and why: docs/costs.md.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from exporters.costs.billing import cycle_of
from exporters.costs.state.store import StateStore

KEEP_DAYS = 70  # stored days kept before a replacement's first day: two cycles and a margin


@dataclass(frozen=True, slots=True)
class UnpricedUsage:
    day: date
    item: str
    unit: str
    quantity: float
    usd: float | None = None  # None: the provider's data gives no amount


class UnpricedBook:
    """The unpriced usage of every provider, per day (thread-safe), optionally written through to
    the state file. `anchors`: each provider's billing-cycle anchor day (absent: the calendar month)."""

    def __init__(self, store: StateStore | None = None, anchors: Mapping[str, int] | None = None) -> None:
        self._days: dict[tuple[str, date], list[UnpricedUsage]] = {}
        self._lock = threading.Lock()
        self._store = store
        self.anchors = dict(anchors or {})
        if store is not None:
            for provider, day, item, unit, quantity, usd in store.unpriced():
                parsed = date.fromisoformat(day)
                self._days.setdefault((provider, parsed), []).append(UnpricedUsage(parsed, item, unit, quantity, usd))

    def replace(self, provider: str, first: date, last: date, usage: Iterable[UnpricedUsage]) -> None:
        """Replace `provider`'s unpriced usage of the days first..last (a re-read) with `usage`."""
        fresh: dict[date, dict[tuple[str, str], UnpricedUsage]] = defaultdict(dict)
        for u in usage:
            if not first <= u.day <= last:
                raise ValueError(f"unpriced usage of {u.day} in a replacement of {first}..{last}")
            earlier = fresh[u.day].get((u.item, u.unit))
            if earlier is not None:  # the same item twice in a day (several projects): one sum
                usd = None if earlier.usd is None and u.usd is None else (earlier.usd or 0.0) + (u.usd or 0.0)
                u = UnpricedUsage(u.day, u.item, u.unit, earlier.quantity + u.quantity, usd)
            fresh[u.day][(u.item, u.unit)] = u
        keep_from = first - timedelta(days=KEEP_DAYS)
        with self._lock:
            if self._store is not None:  # the file first: a failed write leaves memory as it was
                self._store.replace_unpriced(
                    provider, first.isoformat(), last.isoformat(),
                    [(u.day.isoformat(), u.item, u.unit, u.quantity, u.usd)
                     for entries in fresh.values() for u in entries.values()], keep_from.isoformat())
            for key in [k for k in self._days if (k[0] == provider and first <= k[1] <= last) or k[1] < keep_from]:
                del self._days[key]
            for day, entries in fresh.items():
                self._days[(provider, day)] = list(entries.values())

    def month_to_date(self, today: date) -> dict[tuple[str, str, str], tuple[float, float | None]]:
        """(provider, item, unit) → (quantity, usd or None) over each provider's billing cycle containing
        `today` (its anchor day; the calendar month by default)."""
        totals: dict[tuple[str, str, str], tuple[float, float | None]] = {}
        starts: dict[str, date] = {}
        with self._lock:
            entries = []
            for (p, day), us in self._days.items():
                start = starts.get(p) or starts.setdefault(p, cycle_of(today, self.anchors.get(p, 1)).start)
                if start <= day <= today:
                    entries += [(p, u) for u in us]
        for provider, u in entries:
            key = (provider, u.item, u.unit)
            quantity, usd = totals.get(key, (0.0, None))
            if u.usd is not None:
                usd = (usd or 0.0) + u.usd
            totals[key] = (quantity + u.quantity, usd)
        return totals
