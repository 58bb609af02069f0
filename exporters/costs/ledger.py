"""The cost ledger: the latest version of every record, and what is derived from it.

The ledger keeps the latest version of each record (re-fetching a day replaces it) and, for
each provider and day, lets billed records supersede estimated ones. From it come cost today,
month-to-date and the month-end forecast, by provider, service, project and model.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from exporters.costs.billing import cycle_of
from exporters.costs.records import CostRecord, CostSource, local_day, utc_day

FORECAST_LOOKBACK_DAYS = 7

@dataclass(frozen=True)
class CostSummary:
    """What the ledger says at one moment. Keys of the breakdowns: (provider, service, project, model, source)."""

    today: dict[tuple[str, str, str, str, str], float]
    month_to_date: dict[tuple[str, str, str, str, str], float]
    forecast_by_provider: dict[str, float]
    today_by_provider: dict[str, float] = field(default_factory=dict)
    month_to_date_by_provider: dict[str, float] = field(default_factory=dict)


def month_end_forecast(daily_costs: dict[date, float], today: date, first_day: date | None,
                       anchor: int = 1) -> float:
    """Forecast of the whole billing cycle's cost containing `today` (calendar month when anchor is 1).

    forecast = cost of the month's complete days
             + max(today so far, daily rate)          (today is not over yet)
             + daily rate × days left after today,
    daily rate = mean cost of the last 7 complete days (fewer when history is
    shorter; the days before `first_day` are unknown, not free). With no
    complete day yet, today's cost so far stands for the rate.
    """
    cycle = cycle_of(today, anchor)
    complete = sum(v for d, v in daily_costs.items() if cycle.start <= d < today)
    today_cost = daily_costs.get(today, 0.0)
    lookback = [today - timedelta(days=i) for i in range(1, FORECAST_LOOKBACK_DAYS + 1)]
    if first_day is not None:
        lookback = [d for d in lookback if d >= first_day]
    rate = sum(daily_costs.get(d, 0.0) for d in lookback) / len(lookback) if lookback else today_cost
    days_after_today = (cycle.end - today).days - 1
    return complete + max(today_cost, rate) + rate * days_after_today


class CostLedger:
    """All cost records, latest version of each, thread-safe.

    Records are held per (provider, source, day), so replacing a re-fetched day
    and finding the billed days cost no scan of the whole history.
    """

    def __init__(self, anchors: dict[str, int] | None = None, zones: dict[str, ZoneInfo] | None = None) -> None:
        self._days: dict[tuple[str, str, date], dict[tuple, CostRecord]] = {}
        self._first_day: dict[str, date] = {}  # first day each provider's history covers
        # Billing-cycle anchor day per provider (absent: calendar month): month-to-date follows it.
        self.anchors: dict[str, int] = dict(anchors or {})
        # Providers whose billing days are not UTC days (the registry's billing_zone): their records
        # carry `billing_day`, and their "today" and month follow that zone.
        self.zones: dict[str, ZoneInfo] = dict(zones or {})
        # Forecasts a provider computed from its own usage and plan rules, per cycle start.
        self._forecasts: dict[str, tuple[date, float]] = {}
        # The latest day a successful poll replaced with no records, per (provider, source): a day
        # known to have cost nothing so far (Vercel's billing day in its first hours), not unknown.
        self._empty_day: dict[tuple[str, str], date] = {}
        self._lock = threading.Lock()
        self._version = 0
        self._cache: tuple[tuple[int, date], CostSummary] | None = None

    def set_forecast(self, provider: str, cycle_start: date, usd: float) -> None:
        """A provider's own cycle-end forecast (usage and plan rules); used while that cycle lasts."""
        with self._lock:
            self._forecasts[provider] = (cycle_start, usd)
            self._version += 1

    def upsert(self, records: Iterable[CostRecord]) -> None:
        with self._lock:
            for record in records:
                self._days.setdefault((record.provider, record.source, record.day), {})[record.key] = record
            self._version += 1

    def replace_day(self, provider: str, source: CostSource, day: date, records: Iterable[CostRecord]) -> None:
        """Replace everything one provider reported from one source for one day (a re-fetched day)."""
        fresh: dict[tuple, CostRecord] = {}
        for record in records:
            if (record.provider, record.source, record.day) != (provider, source, day):
                raise ValueError(f"record for {record.provider}/{record.source}/{record.day} "
                                 f"in a replacement of {provider}/{source}/{day}")
            fresh[record.key] = record
        with self._lock:
            if fresh:
                self._days[(provider, source, day)] = fresh
                if self._empty_day.get((provider, source)) == day:
                    del self._empty_day[(provider, source)]
            else:
                self._days.pop((provider, source, day), None)
                self._empty_day[(provider, source)] = day
            self._version += 1

    def covers_from(self, provider: str, day: date) -> None:
        """Declare that `provider`'s history is complete from `day` on (for the forecast's rate)."""
        with self._lock:
            current = self._first_day.get(provider)
            self._first_day[provider] = day if current is None else min(current, day)
            self._version += 1

    def billing_today(self, provider: str, now: datetime) -> date:
        """The provider's current billing day: the date in its billing zone (UTC unless in `zones`)."""
        return local_day(now, self.zones.get(provider))

    def first_day(self, provider: str) -> date | None:
        """The first day `provider`'s history covers (None: none read yet)."""
        with self._lock:
            return self._first_day.get(provider)

    def effective(self) -> Iterator[CostRecord]:
        """Records that count: for each provider and day, billed ones supersede estimated ones."""
        with self._lock:
            days = {k: list(v.values()) for k, v in self._days.items()}
        for (provider, source, day), records in days.items():
            if source == "estimated" and (provider, "billed", day) in days:
                continue
            yield from records

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._days.values())

    def summary(self, now: datetime) -> CostSummary:
        today = utc_day(now)
        # Each provider's own current billing day (UTC unless `zones` says otherwise).
        todays = {p: local_day(now, zone) for p, zone in self.zones.items()}
        with self._lock:
            cache_key = (self._version, today, tuple(todays.values()))
            if self._cache and self._cache[0] == cache_key:
                return self._cache[1]
            first_days = dict(self._first_day)
            published = dict(self._forecasts)
            empty_days = dict(self._empty_day)
        cycles = {}
        today_costs: dict[tuple, float] = defaultdict(float)
        mtd: dict[tuple, float] = defaultdict(float)
        daily: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
        # Billed one-off lines (Vercel's seat purchase and usage credit) count once in the forecast,
        # never in its daily rate: a $60 purchase on the 1st is not $60 a day.
        one_off: dict[str, float] = defaultdict(float)
        for r in self.effective():
            key = (r.provider, r.service_name, r.resource_name, r.model or "", r.source)
            day = todays.get(r.provider, today)
            cycle = cycles.get(r.provider) or cycles.setdefault(r.provider, cycle_of(day, self.anchors.get(r.provider, 1)))
            if r.source == "billed" and r.charge_category not in ("Usage", "Tax"):
                daily[r.provider].setdefault(r.day, 0.0)
                if cycle.start <= r.day <= day:
                    one_off[r.provider] += r.billed_cost
            else:
                daily[r.provider][r.day] += r.billed_cost
            if r.day == day:
                today_costs[key] += r.billed_cost
            if cycle.start <= r.day <= day:
                mtd[key] += r.billed_cost
        # Today fetched and empty (a new billing day before its first charge line): each of the
        # provider's cost series of the day before reads 0 today instead of vanishing, since the
        # day's cost so far is known. Never after a failed poll: only a successful one replaces a day.
        for (provider, source), empty in empty_days.items():
            day = todays.get(provider, today)
            if empty != day:
                continue
            for r in self._records_of(provider, source, day - timedelta(days=1)):
                today_costs.setdefault((r.provider, r.service_name, r.resource_name, r.model or "", r.source), 0.0)
        forecast = {p: month_end_forecast(days, todays.get(p, today), first_days.get(p), self.anchors.get(p, 1))
                    + one_off.get(p, 0.0) for p, days in daily.items()}
        for provider, (cycle_start, usd) in published.items():
            if cycle_of(todays.get(provider, today), self.anchors.get(provider, 1)).start == cycle_start:
                forecast[provider] = usd
        for provider in first_days:
            forecast.setdefault(provider, 0.0)

        def by_provider(breakdown: dict[tuple, float]) -> dict[str, float]:
            totals: dict[str, float] = defaultdict(float)
            for key, value in breakdown.items():
                totals[key[0]] += value
            return dict(totals)

        summary = CostSummary(dict(today_costs), dict(mtd), forecast, by_provider(today_costs), by_provider(mtd))
        with self._lock:
            self._cache = (cache_key, summary)
        return summary

    def _records_of(self, provider: str, source: str, day: date) -> list[CostRecord]:
        with self._lock:
            return list(self._days.get((provider, source, day), {}).values())

    def stored(self) -> list[CostRecord]:
        """Every stored record, estimates that billed records supersede included."""
        with self._lock:
            return [r for records in self._days.values() for r in records.values()]

    def records(self) -> list[CostRecord]:
        return sorted(self.effective(), key=lambda r: (r.provider, r.period_start, r.service_name,
                                                       r.resource_id, r.model or "", r.sku))
