"""What an observed Supabase state costs, per UTC day: compute per started hour, add-ons, disk
beyond the included size, the plan fee and the compute credit.

The rules and the prices' sources: docs/providers/supabase.md, "How the cost is estimated", and
docs/costs.md, "Supabase".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from exporters.core.timeutil import utc_moment
from exporters.costs.records import CostRecord, day_start, month_seconds
from exporters.costs.state.history import Interval, clipped

HOUR = 3600.0
ORG = "organization"
GB = 1e9


@dataclass
class DayCost:
    """One day's priced pieces, merged per (resource, sku, category)."""

    records: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    compute_usd: float = 0.0

    def add(self, resource: str, name: str, service: str, sku: str, usd: float, quantity: float, unit: str,
            start: datetime, end: datetime, category: str = "Usage") -> None:
        key = (resource, sku, category)
        entry = self.records.setdefault(key, {"name": name, "service": service, "usd": 0.0, "quantity": 0.0,
                                              "unit": unit, "start": start, "end": end})
        entry["usd"] += usd
        entry["quantity"] += quantity
        entry["start"], entry["end"] = min(entry["start"], start), max(entry["end"], end)
        entry["name"] = name

    def to_records(self) -> list[CostRecord]:
        out = []
        for (resource, sku, category), e in self.records.items():
            if e["end"] <= e["start"]:
                continue
            out.append(CostRecord(
                provider="supabase", service_name=e["service"], service_category="Databases", resource_id=resource,
                resource_name=e["name"], period_start=e["start"], period_end=e["end"], billed_cost=e["usd"],
                source="estimated", consumed_quantity=e["quantity"], consumed_unit=e["unit"],
                charge_category=category, sku=sku))
        return out


class SupabasePricer:
    def __init__(self, table: dict[str, Any]):
        self.table = table
        self.unpriced: set[str] = set()

    def hourly(self, state: dict[str, Any]) -> float | None:
        if state.get("compute_usd_per_hour"):
            return float(state["compute_usd_per_hour"])
        if state.get("compute_usd_per_month"):
            return None  # handled per second
        price = self.table["compute_usd_per_hour"].get(state.get("compute"))
        if price is None:
            self.unpriced.add(f"compute:{state.get('compute')}")
        return None if price is None else float(price)

    def addon_monthly(self, variant: str, quoted: float | None) -> float | None:
        if quoted:
            return quoted
        price = self.table.get("addon_usd_per_month", {}).get(variant)
        if price is None:
            self.unpriced.add(f"addon:{variant}")
        return None if price is None else float(price)


def compute_hours(intervals: Iterable[Interval], start: float, end: float) -> dict[tuple[float, str], float | None]:
    """UTC clock hours starting in [start, end) in which a compute size ran (not paused), with its
    quoted hourly price when the API gave one: {(hour start, variant): quoted or None}."""
    hours: dict[tuple[float, str], float | None] = {}
    for i in intervals:
        state = i.values
        if state.get("kind") != "project" or state.get("paused") or not state.get("compute"):
            continue
        if i.end <= i.start:
            continue
        h = math.floor(i.start / HOUR) * HOUR
        while h < i.end:
            if start <= h < end:
                hours[(h, state["compute"])] = state.get("compute_usd_per_hour")
            h += HOUR
    return hours


def day_cost(pricer: SupabasePricer, intervals: dict[str, list[Interval]], day: date, now: datetime) -> DayCost:
    """Compute, add-ons and disk of one UTC day (without the plan fee and the credit)."""
    cost = DayCost()
    a, b = day_start(day), min(day_start(day + timedelta(days=1)), now)
    if b <= a:
        return cost
    month_s = month_seconds(a)
    for resource, items in intervals.items():
        name = items[-1].values.get("name", resource) if items else resource
        # Compute: whole started hours that begin on this day (an hour belongs to the day it starts).
        for (hour, variant), quoted in compute_hours(items, a.timestamp(), b.timestamp()).items():
            state = {"compute": variant, "compute_usd_per_hour": quoted}
            price = pricer.hourly(state)
            if price is not None:
                cost.compute_usd += price
                cost.add(resource, name, "Compute", variant, price, 1.0, "Hours", utc_moment(hour),
                         min(utc_moment(hour + HOUR), day_start(day + timedelta(days=1))))
        for part in clipped(items, a.timestamp(), b.timestamp()):
            state = part.values
            if state.get("paused"):
                continue
            seconds = part.end - part.start
            if state.get("compute_usd_per_month") and not state.get("compute_usd_per_hour"):
                usd = float(state["compute_usd_per_month"]) * seconds / month_s
                cost.compute_usd += usd
                cost.add(resource, name, "Compute", state["compute"], usd, seconds / 3600, "Hours",
                         utc_moment(part.start), utc_moment(part.end))
            extra_gb = max(0.0, (state.get("disk_gb") or 0.0) - float(pricer.table["disk_included_gb"]))
            if extra_gb > 0:
                cost.add(resource, name, "Disk", "disk_extra_gb",
                         extra_gb * float(pricer.table["disk_usd_per_gb_month"]) * seconds / month_s,
                         extra_gb * seconds / 3600, "GB-Hours", utc_moment(part.start), utc_moment(part.end))
            for variant, quoted in state.get("addons", []):
                monthly = pricer.addon_monthly(variant, quoted)
                if monthly is not None:
                    cost.add(resource, name, "Add-ons", variant, monthly * seconds / month_s, seconds / 3600,
                             "Hours", utc_moment(part.start), utc_moment(part.end))
    return cost


def plan_record(plan: str, monthly: float, start: datetime, end: datetime) -> CostRecord:
    return CostRecord(provider="supabase", service_name="Plan", service_category="Databases", resource_id=ORG,
                      resource_name=ORG, period_start=start, period_end=end,
                      billed_cost=monthly * (end - start).total_seconds() / month_seconds(start), source="estimated",
                      charge_category="Purchase", sku=f"plan_{plan}")


def credit_record(plan: str, usd: float, start: datetime, end: datetime) -> CostRecord:
    return CostRecord(provider="supabase", service_name="Compute", service_category="Databases", resource_id=ORG,
                      resource_name=ORG, period_start=start, period_end=end, billed_cost=-usd, source="estimated",
                      charge_category="Credit", sku=f"compute_credit_{plan}")
