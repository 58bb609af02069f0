"""A cost record: one charge of one provider on one day, shaped after FOCUS 1.3, and the day arithmetic around it.

Every cost, billed or estimated, is one `CostRecord` covering at most one UTC day (or one
provider billing day). Amounts are checked here once for every provider: a NaN, an infinity
or an absurd figure never reaches the ledger.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo

CostSource = Literal["billed", "estimated"]
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
