"""Usage a provider bills that stackwatch cannot price: kept apart from cost, never $0.

A provider reports, for each day it re-read, the unpriced usage it saw: an item
(`gpt-sim-experimental`, `mode:legacy_premium`, `event:pages_verified`), a
quantity in the provider's unit (tokens, pages, credits) and, when the
provider's own data gives one, an amount in USD (e.g. credits × the published
rate per credit for an event type whose billing stackwatch does not know).
Re-reading a day replaces what was held for it, so figures never double.

From this come two gauges (catalogued with the cost metrics):
`stackwatch.cost.unpriced.month_to_date_usd` {provider, item} for the amounts
known, and `stackwatch.cost.unpriced.usage` {provider, item, unit}, this month's
quantity for every unpriced item; the `stackwatch.cost.unpriced_items` counter
counts the polls that saw each item. Together they say how much of the invoice
the cost figures leave out.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from .metrics import MetricStore


@dataclass(frozen=True, slots=True)
class UnpricedUsage:
    day: date
    item: str
    unit: str
    quantity: float
    usd: float | None = None  # None: the provider's data gives no amount


class UnpricedBook:
    """The unpriced usage of every provider, per day (thread-safe)."""

    def __init__(self) -> None:
        self._days: dict[tuple[str, date], list[UnpricedUsage]] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            for key in [k for k in self._days if k[0] == provider and first <= k[1] <= last]:
                del self._days[key]
            for day, entries in fresh.items():
                self._days[(provider, day)] = list(entries.values())

    def month_to_date(self, today: date) -> dict[tuple[str, str, str], tuple[float, float | None]]:
        """(provider, item, unit) → (quantity, usd or None) over the calendar month of `today`."""
        month_start = today.replace(day=1)
        totals: dict[tuple[str, str, str], tuple[float, float | None]] = {}
        with self._lock:
            entries = [(p, u) for (p, day), us in self._days.items() if month_start <= day <= today for u in us]
        for provider, u in entries:
            key = (provider, u.item, u.unit)
            quantity, usd = totals.get(key, (0.0, None))
            if u.usd is not None:
                usd = (usd or 0.0) + u.usd
            totals[key] = (quantity + u.quantity, usd)
        return totals


def register_unpriced_gauges(store: MetricStore, book: UnpricedBook, now: Callable[[], datetime]) -> None:
    def amounts() -> Iterable[tuple[Mapping[str, str], float]]:
        by_item: dict[tuple[str, str], float] = defaultdict(float)
        for (provider, item, _unit), (_quantity, usd) in book.month_to_date(now().date()).items():
            if usd is not None:
                by_item[(provider, item)] += usd
        return [({"provider": p, "item": i}, usd) for (p, i), usd in by_item.items()]

    def quantities() -> Iterable[tuple[Mapping[str, str], float]]:
        return [({"provider": p, "item": i, "unit": unit}, quantity)
                for (p, i, unit), (quantity, _usd) in book.month_to_date(now().date()).items()]

    store.add_gauge_source("stackwatch.cost.unpriced.month_to_date_usd", amounts)
    store.add_gauge_source("stackwatch.cost.unpriced.usage", quantities)
