"""The cost model: FOCUS-shaped records, the ledger, and what is derived from it.

Every cost, billed or estimated, is one `CostRecord` covering at most one UTC
day. The ledger keeps the latest version of each record (re-fetching a day
replaces it) and, for each provider and day, lets billed records supersede
estimated ones. From it come cost today, month-to-date and the month-end
forecast, by provider, service, project and model.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

from exporters.costs.billing import cycle_of

CostSource = Literal["billed", "estimated"]

FORECAST_LOOKBACK_DAYS = 7


# A single provider line above this (USD, either sign) is a provider bug or a unit mix-up,
# not a charge: it is rejected like a NaN, never stored.
ABSURD_AMOUNT_USD = 1_000_000.0


class InvalidAmount(ValueError):
    """A provider amount that is not a finite, plausible number of USD."""


def check_amount(value: object, what: str = "amount") -> float:
    """`value` (a JSON number or a decimal string) as float USD, or InvalidAmount.

    Shared by every provider parser and by CostRecord itself, so a NaN, an
    infinity or an absurd figure is rejected (and counted by the caller) before
    it can reach the ledger.
    """
    if isinstance(value, bool):
        raise InvalidAmount(f"{what} is a boolean, not a number")
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise InvalidAmount(f"{what} is not a decimal number: {value[:40]!r}") from None
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        raise InvalidAmount(f"{what} is a {type(value).__name__}, not a number")
    if not math.isfinite(number):
        raise InvalidAmount(f"{what} is not finite: {value!r}"[:120])
    if abs(number) > ABSURD_AMOUNT_USD:
        raise InvalidAmount(f"{what} {number:.6g} USD is beyond the plausible ±{ABSURD_AMOUNT_USD:.0f} for one line")
    return number


def utc_day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def local_day(now: datetime, zone: ZoneInfo | None) -> date:
    """The billing day at `now` of a provider billing in `zone` (None: UTC days)."""
    return now.astimezone(zone).date() if zone is not None else utc_day(now)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class CostRecord:
    """One charge, shaped after FOCUS 1.3 (see `FOCUS_COLUMNS`)."""

    provider: str  # stackwatch provider id (the registry's name; its display name is FOCUS ServiceProviderName)
    service_name: str  # ServiceName
    service_category: str  # ServiceCategory (FOCUS's fixed list)
    resource_id: str  # ResourceId: project / service / organisation id
    resource_name: str  # ResourceName: what dashboards label `project`
    period_start: datetime  # ChargePeriodStart, inclusive, UTC
    period_end: datetime  # ChargePeriodEnd, exclusive, within the same UTC day
    billed_cost: float  # BilledCost, USD
    source: CostSource  # x_CostSource
    consumed_quantity: float | None = None  # ConsumedQuantity
    consumed_unit: str | None = None  # ConsumedUnit
    charge_category: str = "Usage"  # ChargeCategory: Usage, Purchase, Credit, …
    model: str | None = None  # x_Model (AI services)
    sku: str = ""  # x_Sku: tells records with the same service/resource/day apart
    region: str | None = None  # RegionId
    effective_cost: float | None = None  # EffectiveCost, when the provider reports it (else = BilledCost)
    list_cost: float | None = None  # ListCost, when the provider reports it (else = BilledCost)
    # The provider's own billing day when it is not the UTC day of the period (Vercel: the Pacific
    # date); the record then counts on that day, and its period may be the charge's own (e.g. a month).
    billing_day: date | None = None
    day: date = field(init=False, compare=False)  # the billing day (UTC day of the period unless billing_day)

    def __post_init__(self) -> None:
        if self.period_start.tzinfo is None or self.period_end.tzinfo is None:
            raise ValueError("charge periods must be timezone-aware (UTC)")
        check_amount(self.billed_cost, "billed_cost")  # the last guard: nothing non-finite or absurd is stored
        for other, what in ((self.effective_cost, "effective_cost"), (self.list_cost, "list_cost")):
            if other is not None:
                check_amount(other, what)
        if not self.period_start < self.period_end:
            raise ValueError(f"empty charge period {self.period_start} .. {self.period_end}")
        if self.billing_day is not None:
            object.__setattr__(self, "day", self.billing_day)
            return
        day = utc_day(self.period_start)
        if day != utc_day(self.period_end - timedelta(microseconds=1)):
            raise ValueError("a cost record covers at most one UTC day; split longer periods")
        object.__setattr__(self, "day", day)  # computed once: summaries read it for every record

    @property
    def key(self) -> tuple:
        return (self.service_name, self.resource_id, self.model or "", self.sku, self.charge_category)


FOCUS_COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "BillingCurrency", "ChargeCategory", "ChargePeriodStart",
    "ChargePeriodEnd", "ServiceProviderName", "ServiceName", "ServiceCategory", "ResourceId",
    "ResourceName", "RegionId", "ConsumedQuantity", "ConsumedUnit", "x_CostSource", "x_Model", "x_Sku",
    "BillingPeriodStart", "BillingPeriodEnd", "PricingQuantity", "PricingUnit",
)


def focus_row(record: CostRecord, anchor: int = 1, provider_name: str | None = None) -> dict[str, object]:
    """One FOCUS row. The billing period is the provider's cycle (anchor day) containing the record's
    billing day, so rows sum to an invoice; pricing quantity and unit are what the price applies to.
    `provider_name`: ServiceProviderName (the provider's display name; its id when not given)."""
    iso = "%Y-%m-%dT%H:%M:%SZ"
    period = cycle_of(record.day, anchor)
    return {
        "BilledCost": round(record.billed_cost, 10),
        "EffectiveCost": round(record.billed_cost if record.effective_cost is None else record.effective_cost, 10),
        "ListCost": round(record.billed_cost if record.list_cost is None else record.list_cost, 10),
        "BillingCurrency": "USD",
        "ChargeCategory": record.charge_category,
        "ChargePeriodStart": record.period_start.astimezone(timezone.utc).strftime(iso),
        "ChargePeriodEnd": record.period_end.astimezone(timezone.utc).strftime(iso),
        "ServiceProviderName": provider_name or record.provider,
        "ServiceName": record.service_name,
        "ServiceCategory": record.service_category,
        "ResourceId": record.resource_id,
        "ResourceName": record.resource_name,
        "RegionId": record.region,
        "ConsumedQuantity": record.consumed_quantity,
        "ConsumedUnit": record.consumed_unit,
        "x_CostSource": record.source,
        "x_Model": record.model,
        "x_Sku": record.sku or None,
        "BillingPeriodStart": period.start_at.strftime(iso),
        "BillingPeriodEnd": period.end_at.strftime(iso),
        "PricingQuantity": record.consumed_quantity,
        "PricingUnit": record.consumed_unit,
    }


def write_rows(rows: Iterable[dict[str, object]], columns: tuple[str, ...], fmt: Literal["csv", "jsonl"],
               out: io.TextIOBase) -> int:
    """Rows as CSV (header first; None is empty) or JSON Lines (None is null), in `columns` order."""
    count = 0
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
    for row in rows:
        if writer is None:
            out.write(json.dumps({c: row.get(c) for c in columns}, separators=(",", ":")) + "\n")
        else:
            writer.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in columns})
        count += 1
    return count


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


def split_by_day(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut at UTC midnights, for estimates that accrue over time."""
    cursor = start
    while cursor < end:
        next_midnight = day_start(utc_day(cursor) + timedelta(days=1))
        piece_end = min(end, next_midnight)
        yield cursor, piece_end
        cursor = piece_end


def month_seconds(moment: datetime) -> float:
    days = calendar.monthrange(moment.year, moment.month)[1]
    return days * 86400.0
