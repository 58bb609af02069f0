"""What an observed Render state costs, per UTC day (services, disks, Postgres, Key Value, seats).

The rules (plan × instances prorated per second, what is unpriced and why) and the prices'
sources: docs/providers/render.md, "How the cost is estimated", and docs/costs.md, "Render".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from exporters.core.timeutil import utc_moment
from exporters.costs.records import CostRecord, day_start, month_seconds, utc_day
from exporters.costs.state.history import Interval, clipped

SERVICE_DISPLAY = {"web_service": "Web Service", "private_service": "Private Service",
                   "background_worker": "Background Worker", "cron_job": "Cron Job",
                   "static_site": "Static Site"}
WORKSPACE = "workspace"


@dataclass(frozen=True)
class Piece:
    """A priced part of one resource's state within one UTC day."""

    resource: str
    name: str
    service_name: str
    category: str
    sku: str
    start: datetime
    end: datetime
    usd: float
    quantity: float
    unit: str
    region: str | None = None
    charge_category: str = "Usage"


def _ts(moment: datetime) -> float:
    return moment.timestamp()


class RenderPricer:
    """Prices observed states with one day's price table; collects what it cannot price."""

    def __init__(self, table: dict[str, Any], workspace_plan: str, workspace_seats: int):
        self.table = table
        self.workspace_plan = workspace_plan
        self.workspace_seats = workspace_seats
        self.unpriced: set[str] = set()

    def pieces(self, resource: str, interval: Interval) -> Iterator[Piece]:
        state = interval.values
        start, end = utc_moment(interval.start), utc_moment(interval.end)
        seconds = interval.end - interval.start
        month_s = month_seconds(start)
        if state.get("kind") == "postgres":
            yield from self._postgres(resource, state, start, end, seconds, month_s)
            return
        if state.get("kind") == "key_value":
            monthly = self.table.get("key_value_usd_per_month", {}).get(state.get("plan"))
            if monthly is None:
                self.unpriced.add(f"key_value:{state.get('plan')}")
            else:
                yield Piece(resource, state["name"], "Key Value", "Databases", f"key_value_{state['plan']}",
                            start, end, float(monthly) * seconds / month_s, seconds / 3600, "Hours")
            return
        kind = state.get("type", "")
        service_name = SERVICE_DISPLAY.get(kind, kind)
        region = state.get("region")
        if kind == "cron_job":
            self.unpriced.add("cron_job:run_duration")
        elif not state.get("suspended"):
            monthly = self.table["usd_per_month"].get(state.get("plan"))
            instances = state.get("instances")
            if monthly is None:
                self.unpriced.add(f"plan:{state.get('plan')}")
            elif instances is None:
                self.unpriced.add("instances:unknown")
            else:
                yield Piece(resource, state["name"], service_name, "Compute", state["plan"], start, end,
                            float(monthly) * instances * seconds / month_s, instances * seconds / 3600,
                            "Hours", region)
        disk_gb = state.get("disk_gb")
        if disk_gb:
            price = float(self.table["disk_usd_per_gb_month"])
            yield Piece(resource, state["name"], service_name, "Storage", "disk", start, end,
                        price * disk_gb * seconds / month_s, disk_gb * seconds / 3600, "GB-Hours", region)

    def _postgres(self, resource: str, state: dict[str, Any], start: datetime, end: datetime, seconds: float,
                  month_s: float) -> Iterator[Piece]:
        if not state.get("suspended"):
            monthly = self.table["postgres_usd_per_month"].get(state.get("plan"))
            if monthly is None:
                self.unpriced.add(f"postgres:{state.get('plan')}")
            else:
                yield Piece(resource, state["name"], "Postgres", "Databases", state["plan"], start, end,
                            float(monthly) * seconds / month_s, seconds / 3600, "Hours")
        disk_gb = state.get("disk_gb")
        if disk_gb:
            price = float(self.table["postgres_storage_usd_per_gb_month"])
            yield Piece(resource, state["name"], "Postgres", "Storage", "storage", start, end,
                        price * disk_gb * seconds / month_s, disk_gb * seconds / 3600, "GB-Hours")

    def workspace(self, start: datetime, end: datetime) -> Piece | None:
        if not self.workspace_seats:
            return None
        seat = self.table["workspace_usd_per_seat_month"].get(self.workspace_plan)
        if seat is None:
            self.unpriced.add(f"workspace:{self.workspace_plan}")
            return None
        seconds = (end - start).total_seconds()
        return Piece(WORKSPACE, WORKSPACE, "Workspace", "Other", f"workspace_{self.workspace_plan}", start, end,
                     float(seat) * self.workspace_seats * seconds / month_seconds(start),
                     self.workspace_seats * seconds / 3600, "Seat-Hours", charge_category="Purchase")

    def rate_now(self, resource: str, interval: Interval, now: float) -> float:
        """USD per second of the state observed last (for the forecast)."""
        probe = Interval(now - 1.0, now, interval.state)
        return sum(p.usd for p in self.pieces(resource, probe))


def day_pieces(pricer: RenderPricer, intervals: dict[str, list[Interval]], day: date, now: datetime) -> list[Piece]:
    start, end = day_start(day), min(day_start(day + timedelta(days=1)), now)
    if end <= start:
        return []
    out: list[Piece] = []
    for resource, items in intervals.items():
        for part in clipped(items, _ts(start), _ts(end)):
            out.extend(pricer.pieces(resource, part))
    fee = pricer.workspace(start, end)
    if fee is not None:
        out.append(fee)
    return out


def records_of(pieces: list[Piece]) -> list[CostRecord]:
    """One record per resource, SKU and day (pieces of the same SKU on one day are summed)."""
    merged: dict[tuple[str, str, str], list[Piece]] = {}
    for p in pieces:
        merged.setdefault((p.resource, p.sku, p.charge_category), []).append(p)
    records = []
    for (resource, sku, charge), group in merged.items():
        first = group[0]
        records.append(CostRecord(
            provider="render", service_name=first.service_name, service_category=first.category,
            resource_id=resource, resource_name=group[-1].name, period_start=min(p.start for p in group),
            period_end=max(p.end for p in group), billed_cost=sum(p.usd for p in group), source="estimated",
            consumed_quantity=sum(p.quantity for p in group), consumed_unit=first.unit, charge_category=charge,
            sku=sku, region=first.region))
    return records


__all__ = ["RenderPricer", "day_pieces", "records_of", "utc_day"]
