"""Supabase (Management API): projects, service health, backups, add-ons as estimated
cost, API request counts and disk utilisation. The per-project Prometheus endpoint
is scraped by Prometheus itself, not re-exported here.

Streams (stages in order):

1. `projects` (fast): GET /v1/projects → supabase.project.up; keeps refs, names,
   statuses and created_at (filtered by config.project_refs).
2. `health` (fast): GET /v1/projects/{ref}/health?services=… (repeated). To keep a
   steady cycle cheap, a poll checks only the projects that need it: those not
   ACTIVE_HEALTHY, those with an unhealthy service at their last check, and any
   not checked for a slow interval (so every project is swept at least that
   often, and all on the first poll). INACTIVE (paused) projects are not checked.
   `backups` (slow): latest COMPLETED backup → supabase.backup.age (absent when
   there is none: `walg_enabled` alone proves nothing) and pitr_enabled.
   `addons` (slow): the compute add-on of each project → supabase.compute.info.
   `api_counts` (slow): usage.api-counts with interval=1hr (minute buckets) →
   supabase.api.requests, adding only buckets newer than the watermark; the
   newest bucket may still be filling, so it waits for the next poll.
   `disk` (slow): config/disk/util → supabase.disk.utilization / usage.
   The cost estimate below needs no request of its own: `addons` computes it when
   the add-ons change, and `projects` refreshes it every fast cycle (riding on a
   poll that reaches Supabase, so a failed cycle changes no cost).

Estimated cost (no usage-cost API), daily records per UTC day from the history
start (or the project's created_at) to now:
- Compute: the add-on's hourly price × running hours per project. The price comes
  from the API response when it quotes an hourly price > 0 (a monthly quote is
  prorated per second), else from price_tables/supabase.yaml by variant id; an unknown
  variant is counted with `ctx.unpriced`, never $0. INACTIVE (paused) projects
  accrue no compute; the pause time is not in the API, so a project paused during
  the window is estimated at $0 for the whole window (an under-estimate).
- Plan: the organisation plan fee (config.plan) prorated per second, resource
  "organization" (enterprise has no list price: unpriced).
- Credit: the plan's monthly compute credit, applied in time order: for each
  calendar month, day by day, credit_d = min(compute_d of all projects, credit
  left in the month), as a record with ChargeCategory "Credit" and a negative cost
  on resource "organization". For a month that began before the history window,
  the whole credit is applied from the window's start (compute before it is
  unknown), which can over-state that month's credit; month-to-date is exact when
  history_days >= 31.
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .catalogue import Kind, MetricSpec, Series
from .collector import PollContext, Stream
from .config import SupabaseConfig
from .cost import CostRecord, day_start, month_seconds, split_by_day, utc_day
from .http import ProviderError, ProviderHTTP
from .timeutil import parse_time

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("supabase.project.up", Kind.GAUGE, "{status}",
               "1 when the project's status is ACTIVE_HEALTHY, else 0 (status in the label).",
               ("project", "status"), series=Series("Supabase project", 1, "its current status")),
    MetricSpec("supabase.service.healthy", Kind.GAUGE, "{status}",
               "1 when the project's service (auth, db, pooler, realtime, rest, storage) reports healthy.",
               ("project", "service"),
               series=Series("Supabase project", 6, "auth, db, pooler, realtime, rest, storage")),
    MetricSpec("supabase.backup.age", Kind.GAUGE, "s",
               "Seconds since the latest COMPLETED backup; absent when there is none.", ("project",),
               series=Series("Supabase project", 1)),
    MetricSpec("supabase.backup.pitr_enabled", Kind.GAUGE, "{status}",
               "1 when point-in-time recovery is on.", ("project",), series=Series("Supabase project", 1)),
    MetricSpec("supabase.api.requests", Kind.COUNTER, "{request}",
               "API requests by service (rest, auth, storage, realtime), from usage.api-counts.",
               ("project", "service"), series=Series("Supabase project", 4, "rest, auth, storage, realtime")),
    MetricSpec("supabase.disk.utilization", Kind.GAUGE, "1", "Database disk used / disk size.", ("project",),
               series=Series("Supabase project", 1)),
    MetricSpec("supabase.disk.usage", Kind.GAUGE, "By", "Database disk used.", ("project",),
               series=Series("Supabase project", 1)),
    MetricSpec("supabase.compute.info", Kind.GAUGE, "{project}",
               "1 per project, with its compute add-on size.", ("project", "compute"),
               series=Series("Supabase project", 1, "its current compute size")),
)

API_COUNTS_INTERVAL = "1hr"
API_SERVICES = ("rest", "auth", "storage", "realtime")
INACTIVE = "INACTIVE"


@dataclass(frozen=True)
class Project:
    ref: str
    name: str
    status: str
    created: datetime

    @property
    def paused(self) -> bool:
        return self.status == INACTIVE


@dataclass(frozen=True)
class Compute:
    """A project's compute add-on: variant id and price (None when unknown)."""

    variant: str
    usd_per_hour: float | None = None
    usd_per_month: float | None = None


@dataclass(frozen=True)
class HealthCheck:
    checked_at: datetime
    healthy: dict[str, bool]


class SupabaseProvider:
    name = "supabase"

    def __init__(self, config: SupabaseConfig, http: ProviderHTTP):
        self.config = config
        self.http = http
        self._projects: list[Project] = []
        self._health: dict[str, HealthCheck] = {}
        self._compute: dict[str, Compute | None] = {}  # ref -> add-on (None: none selected)
        self._compute_version = 0
        self._api_marks: dict[str, datetime] = {}  # ref -> newest bucket counted
        self._costed: tuple[int, date] | None = None

    def stages(self) -> Sequence[Sequence[Stream]]:
        return (
            (Stream("projects", self._poll_projects),),
            (Stream("health", self._poll_health),
             Stream("backups", self._poll_backups, slow=True),
             Stream("addons", self._poll_addons, slow=True),
             Stream("api_counts", self._poll_api_counts, slow=True),
             Stream("disk", self._poll_disk, slow=True)),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    def _active(self) -> list[Project]:
        return [p for p in self._projects if not p.paused]

    # --- projects and health ---

    async def _poll_projects(self, ctx: PollContext) -> None:
        body = await self.http.get_json("/v1/projects", operation="list-projects")
        if not isinstance(body, list):
            raise ProviderError("malformed", "supabase list-projects: expected a list")
        projects = []
        for item in body:
            project = parse_project(item)
            if project is None:
                ctx.invalid_item(f"project: {str(item)[:200]}")
            elif not self.config.project_refs or project.ref in self.config.project_refs:
                projects.append(project)
        ctx.clear_gauge("supabase.project.up")
        for p in projects:
            ctx.gauge("supabase.project.up", 1 if p.status == "ACTIVE_HEALTHY" else 0, project=p.name, status=p.status)
        ctx.on_commit(lambda: setattr(self, "_projects", projects))
        self._estimate_cost(ctx, projects, self._compute, self._compute_version)

    def _needs_health_check(self, p: Project, now: datetime) -> bool:
        last = self._health.get(p.ref)
        if last is None or p.status != "ACTIVE_HEALTHY" or not all(last.healthy.values()):
            return True
        return (now - last.checked_at).total_seconds() >= self.config.slow_poll_interval_seconds

    async def _poll_health(self, ctx: PollContext) -> None:
        now = ctx.now()
        due = [p for p in self._active() if self._needs_health_check(p, now)]
        params = [("services", s) for s in self.config.health_services]
        bodies = await asyncio.gather(*(self.http.get_json(f"/v1/projects/{p.ref}/health", params,
                                                           operation="service-health") for p in due))
        checks = dict(self._health)
        for p, body in zip(due, bodies, strict=True):
            healthy = {}
            for item in body if isinstance(body, list) else []:
                if isinstance(item, dict) and isinstance(item.get("name"), str) and \
                        isinstance(item.get("status") or item.get("healthy"), (str, bool)):
                    healthy[item["name"]] = item.get("status", "ACTIVE_HEALTHY" if item.get("healthy") else
                                                     "UNHEALTHY") == "ACTIVE_HEALTHY"
                else:
                    ctx.invalid_item(f"health of {p.ref}: {str(item)[:200]}")
            checks[p.ref] = HealthCheck(now, healthy)
        active = {p.ref: p for p in self._active()}
        checks = {ref: c for ref, c in checks.items() if ref in active}
        ctx.clear_gauge("supabase.service.healthy")
        for ref, check in checks.items():
            for service, ok in check.healthy.items():
                ctx.gauge("supabase.service.healthy", 1 if ok else 0, project=active[ref].name, service=service)
        ctx.on_commit(lambda: setattr(self, "_health", checks))

    # --- backups, disk, api counts ---

    async def _per_project(self, projects: list[Project], path: str, operation: str,
                           params: list[tuple[str, Any]] | None = None) -> list[Any]:
        return await asyncio.gather(*(self.http.get_json(f"/v1/projects/{p.ref}{path}", params, operation=operation)
                                      for p in projects))

    async def _poll_backups(self, ctx: PollContext) -> None:
        now = ctx.now()
        projects = list(self._projects)
        bodies = await self._per_project(projects, "/database/backups", "list-backups")
        ctx.clear_gauge("supabase.backup.age")
        ctx.clear_gauge("supabase.backup.pitr_enabled")
        for p, body in zip(projects, bodies, strict=True):
            if not isinstance(body, dict) or not isinstance(body.get("backups"), list):
                ctx.invalid_item(f"backups of {p.ref}: {str(body)[:200]}")
                continue
            if isinstance(body.get("pitr_enabled"), bool):
                ctx.gauge("supabase.backup.pitr_enabled", 1 if body["pitr_enabled"] else 0, project=p.name)
            latest = latest_completed_backup(body["backups"])
            if latest is not None:
                ctx.gauge("supabase.backup.age", max(0.0, (now - latest).total_seconds()), project=p.name)

    async def _poll_disk(self, ctx: PollContext) -> None:
        projects = self._active()
        bodies = await self._per_project(projects, "/config/disk/util", "disk-utilization")
        ctx.clear_gauge("supabase.disk.utilization")
        ctx.clear_gauge("supabase.disk.usage")
        for p, body in zip(projects, bodies, strict=True):
            metrics = body.get("metrics") if isinstance(body, dict) else None
            size = metrics.get("fs_size_bytes") if isinstance(metrics, dict) else None
            used = metrics.get("fs_used_bytes") if isinstance(metrics, dict) else None
            if not (_number(size) and _number(used) is not None):
                ctx.invalid_item(f"disk of {p.ref}: {str(body)[:200]}")
                continue
            ctx.gauge("supabase.disk.usage", used, project=p.name)
            ctx.gauge("supabase.disk.utilization", used / size, project=p.name)

    async def _poll_api_counts(self, ctx: PollContext) -> None:
        projects = self._active()
        bodies = await self._per_project(projects, "/analytics/endpoints/usage.api-counts", "usage-api-counts",
                                         [("interval", API_COUNTS_INTERVAL)])
        marks = {}
        for p, body in zip(projects, bodies, strict=True):
            rows = body.get("result") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                ctx.invalid_item(f"api counts of {p.ref}: {str(body)[:200]}")
                continue
            newest = self._count_api_rows(ctx, p, rows)
            if newest is not None:
                marks[p.ref] = newest
        ctx.on_commit(lambda: self._api_marks.update(marks))

    def _count_api_rows(self, ctx: PollContext, p: Project, rows: list[Any]) -> datetime | None:
        """Add complete buckets newer than the watermark; the newest bucket may still be filling."""
        parsed = []
        for row in rows:
            stamp = parse_time(row.get("timestamp")) if isinstance(row, dict) else None
            counts = {s: row.get(f"total_{s}_requests") for s in API_SERVICES} if stamp else {}
            if stamp is None or any(_number(v) is None for v in counts.values()):
                ctx.invalid_item(f"api count row of {p.ref}: {str(row)[:200]}")
                continue
            parsed.append((stamp, counts))
        parsed.sort(key=lambda r: r[0])
        mark = self._api_marks.get(p.ref)
        newest = None
        for stamp, counts in parsed[:-1]:
            if mark is not None and stamp <= mark:
                continue
            for service, value in counts.items():
                if value > 0:
                    ctx.add("supabase.api.requests", value, project=p.name, service=service)
            newest = stamp
        return newest

    # --- add-ons and cost ---

    async def _poll_addons(self, ctx: PollContext) -> None:
        projects = list(self._projects)
        bodies = await self._per_project(projects, "/billing/addons", "list-addons")
        computes: dict[str, Compute | None] = {}
        ctx.clear_gauge("supabase.compute.info")
        for p, body in zip(projects, bodies, strict=True):
            addons = body.get("selected_addons") if isinstance(body, dict) else None
            if not isinstance(addons, list):
                ctx.invalid_item(f"addons of {p.ref}: {str(body)[:200]}")
                continue
            compute = parse_compute(addons)
            computes[p.ref] = compute
            ctx.gauge("supabase.compute.info", 1, project=p.name, compute=compute.variant if compute else "none")

        version = self._compute_version + 1

        def keep() -> None:
            self._compute = computes
            self._compute_version = version
        ctx.on_commit(keep)
        self._estimate_cost(ctx, projects, computes, version)

    def _estimate_cost(self, ctx: PollContext, projects: list[Project], computes: dict[str, Compute | None],
                       version: int) -> None:
        if not version:
            return  # add-ons unknown yet: estimate nothing rather than $0
        now = ctx.now()
        history_start = day_start(utc_day(now) - timedelta(days=self.config.history_days))
        full = self._costed is None or self._costed[0] != version
        # The credit depends on the whole month so far: recompute from the month's start.
        since = history_start if full else max(history_start, day_start(self._costed[1].replace(day=1)))
        compute = self._compute_records(ctx, projects, computes, since, now, report_unpriced=full)
        records = compute + self._plan_records(ctx, since, now, report_unpriced=full)
        records += credit_records(ctx, compute, self.config.plan, since)
        if full:
            ctx.cost_history_from(utc_day(history_start))
        ctx.upsert_costs(records)
        today = utc_day(now)
        ctx.on_commit(lambda: setattr(self, "_costed", (version, today)))

    def _compute_records(self, ctx: PollContext, projects: list[Project], computes: dict[str, Compute | None],
                         since: datetime, now: datetime, *, report_unpriced: bool) -> list[CostRecord]:
        records = []
        for p in projects:
            compute = computes.get(p.ref)
            if p.paused or p.ref not in computes:
                continue
            if compute is None:
                if report_unpriced:
                    ctx.unpriced("compute:none")
                continue
            for start, end in split_by_day(max(p.created, since), now):
                cost = compute_cost(ctx, compute, start, end)
                if cost is None:
                    if report_unpriced:
                        ctx.unpriced(f"compute:{compute.variant}")
                    break
                records.append(CostRecord(
                    provider="supabase", service_name="Compute", service_category="Databases",
                    resource_id=p.ref, resource_name=p.name, period_start=start, period_end=end,
                    billed_cost=cost, source="estimated", consumed_quantity=(end - start).total_seconds() / 3600,
                    consumed_unit="Hours", sku=compute.variant))
        return records

    def _plan_records(self, ctx: PollContext, since: datetime, now: datetime, *,
                      report_unpriced: bool) -> list[CostRecord]:
        records = []
        for start, end in split_by_day(since, now):
            monthly = ctx.prices.table("supabase", utc_day(start))["plan_usd_per_month"].get(self.config.plan)
            if monthly is None:
                if report_unpriced:
                    ctx.unpriced(f"plan:{self.config.plan}")
                return []
            records.append(CostRecord(
                provider="supabase", service_name="Plan", service_category="Databases",
                resource_id="organization", resource_name="organization", period_start=start, period_end=end,
                billed_cost=float(monthly) * (end - start).total_seconds() / month_seconds(start),
                source="estimated", charge_category="Purchase", sku=f"plan_{self.config.plan}"))
        return records


# --- pure helpers ---

def compute_cost(ctx: PollContext, compute: Compute, start: datetime, end: datetime) -> float | None:
    seconds = (end - start).total_seconds()
    if compute.usd_per_hour:
        return compute.usd_per_hour * seconds / 3600
    if compute.usd_per_month:
        return compute.usd_per_month * seconds / month_seconds(start)
    hourly = ctx.prices.table("supabase", utc_day(start))["compute_usd_per_hour"].get(compute.variant)
    return None if hourly is None else float(hourly) * seconds / 3600


def credit_records(ctx: PollContext, compute: list[CostRecord], plan: str, since: datetime) -> list[CostRecord]:
    """The month's compute credit, consumed day by day in time order (see the module docstring)."""
    by_day: dict[date, float] = {}
    for record in compute:
        by_day[record.day] = by_day.get(record.day, 0.0) + record.billed_cost
    records, left, month = [], 0.0, None
    for day in sorted(by_day):
        if (day.year, day.month) != month:
            month = (day.year, day.month)
            left = float(ctx.prices.table("supabase", day)["compute_credit_usd_per_month"].get(plan, 0.0))
        applied = min(by_day[day], left)
        left -= applied
        if applied > 0:
            start = max(day_start(day), since)
            end = max(r.period_end for r in compute if r.day == day)
            records.append(CostRecord(
                provider="supabase", service_name="Compute", service_category="Databases",
                resource_id="organization", resource_name="organization", period_start=start, period_end=end,
                billed_cost=-applied, source="estimated", charge_category="Credit", sku=f"compute_credit_{plan}"))
    return records


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def parse_project(item: object) -> Project | None:
    if not isinstance(item, dict):
        return None
    created = parse_time(item.get("created_at"))
    ref, name, status = item.get("ref"), item.get("name"), item.get("status")
    if not (isinstance(ref, str) and isinstance(name, str) and isinstance(status, str) and created):
        return None
    return Project(ref, name, status, created)


def parse_compute(addons: list[Any]) -> Compute | None:
    for addon in addons:
        if not isinstance(addon, dict) or addon.get("type") != "compute_instance":
            continue
        variant = addon.get("variant")
        if not isinstance(variant, dict) or not isinstance(variant.get("id"), str):
            return None
        price = variant.get("price") if isinstance(variant.get("price"), dict) else {}
        amount = _number(price.get("amount"))
        if amount and price.get("interval") == "hourly":
            return Compute(variant["id"], usd_per_hour=amount)
        if amount and price.get("interval") == "monthly":
            return Compute(variant["id"], usd_per_month=amount)
        return Compute(variant["id"])
    return None


def latest_completed_backup(backups: list[Any]) -> datetime | None:
    times = [parse_time(b.get("inserted_at")) for b in backups
             if isinstance(b, dict) and b.get("status") == "COMPLETED"]
    times = [t for t in times if t is not None]
    return max(times) if times else None


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]
