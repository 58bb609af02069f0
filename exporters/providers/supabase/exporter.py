"""Supabase's exporter (Management API): projects, health, backups, add-ons, API counts, disk,
authentication outcomes (from the auth logs), and cost from observed state. The per-project
metrics endpoint is scraped by Prometheus.

Streams `projects` → (`health`, `backups`, `addons`, `api_counts`, `disk`, `readonly`) → (`cost` (no
request), `auth_logs`); what each reads and every fact relied on with its source: docs/providers/supabase.md.
Pricing is cost.py.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from exporters.core.catalogue import Kind, MetricSpec, Series
from exporters.core.http import ProviderError, ProviderHTTP, all_or_none
from exporters.core.timeutil import days, parse_time, utc_moment
from exporters.costs.billing import cycle_of
from exporters.costs.coverage import Gap
from exporters.costs.observed import Estimate, ObservedCost
from exporters.costs.prices import PriceBook
from exporters.costs.records import CostRecord, day_start, month_seconds, utc_day
from exporters.costs.state.history import (
    Interval,
    Observation,
)
from exporters.costs.state.store import StateStore
from exporters.poll.access import Access, count_of, read
from exporters.poll.collector import PollContext, Stream
from exporters.providers.supabase.config import SupabaseConfig
from exporters.providers.supabase.cost import HOUR, SupabasePricer, credit_record, day_cost, plan_record

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
    MetricSpec("supabase.auth.events", Kind.COUNTER, "{event}",
               "Authentication outcomes by kind (sign_in, sign_up, token_refresh) and outcome (success, "
               "failure), counted from the project's auth logs (analytics logs.all) in complete minutes.",
               ("project", "kind", "outcome"),
               series=Series("Supabase project", 6, "sign_in, sign_up, token_refresh × success, failure")),
    MetricSpec("supabase.disk.utilization", Kind.GAUGE, "1", "Database disk used / disk size.", ("project",),
               series=Series("Supabase project", 1)),
    MetricSpec("supabase.disk.usage", Kind.GAUGE, "By", "Database disk used.", ("project",),
               series=Series("Supabase project", 1)),
    MetricSpec("supabase.database.readonly", Kind.GAUGE, "{state}",
               "1 while Supabase holds the project's database in read-only mode (its disk near full), else 0 "
               "(Management API readonly status).", ("project",), series=Series("Supabase project", 1)),
    MetricSpec("supabase.compute.info", Kind.GAUGE, "{project}",
               "1 per project, with its compute add-on size.", ("project", "compute"),
               series=Series("Supabase project", 1, "its current compute size")),
    MetricSpec("supabase.cost.unobserved", Kind.GAUGE, "s",
               "Seconds of the current billing cycle in which a project existed but no poll observed its "
               "state: a gap, not priced (its cost is missing from the estimate).", ("project",),
               series=Series("Supabase project", 1)),
)

API_COUNTS_INTERVAL = "1hr"
# The auth logs are read in whole minutes (the API rounds its range to the minute) and at most
# 24 hours at once (its limit); an older gap is not read back (docs/providers/supabase.md).
AUTH_LOGS_MAX_WINDOW = timedelta(hours=24)
AUTH_KINDS = ("sign_in", "sign_up", "token_refresh")
AUTH_OUTCOMES = ("success", "failure")
# BigQuery SQL over the auth log source (GoTrue's request log): POST /signup is a sign-up, POST /token a
# sign-in unless its grant type is refresh_token; a status of 400 or more is a failure. One row per
# kind × outcome seen: {"kind", "outcome", "count"}.
AUTH_OUTCOMES_SQL = (
    "select case when m.path = '/signup' then 'sign_up' "
    "when m.grant_type = 'refresh_token' then 'token_refresh' else 'sign_in' end as kind, "
    "if(m.status >= 400, 'failure', 'success') as outcome, count(*) as count "
    "from auth_logs as t cross join unnest(t.metadata) as m "
    "where m.path in ('/signup', '/token') and m.method = 'POST' "
    "group by kind, outcome")
API_SERVICES = ("rest", "auth", "storage", "realtime")
INACTIVE = "INACTIVE"
# What a 401 or 403 means for a Supabase personal access token (docs/getting-started.md, Supabase).
TOKEN_HINTS = {
    401: "the token is invalid, expired or revoked: create one at supabase.com/dashboard/account/tokens",
    403: "the token's scope or your role does not allow this read: give a scoped token read access to "
         "these projects (settings, backups, analytics usage and logs) and the organization's billing, or use a "
         "full-access token",
}


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
        self._addons: dict[str, tuple[tuple[str, float | None], ...]] = {}  # ref -> other add-ons
        self._compute_version = 0
        self._api_marks: dict[str, datetime] = {}  # ref -> newest bucket counted
        self._auth_marks: dict[str, datetime] = {}  # ref -> end of the auth logs counted (a whole minute)
        self._cost = ObservedCost("supabase")  # observed states, priced per day
        self._compute_by_day: dict[date, float] = {}  # compute USD per day: the credit's input
        self._gross_by_day: dict[date, float] = {}  # USD per day before the credit
        self._disk_gb: dict[str, float] = {}  # ref -> disk size (GB), from the disk poll
        self._observed_at: datetime | None = None  # when the project list was last read
        self._costed_at: datetime | None = None  # the observation the last estimate used

    def attach_state(self, store: StateStore | None, max_gap_s: float, now: float) -> None:
        """Keep observed states in `store` (None: memory) and resume what it holds."""
        self._cost.attach(store, max_gap_s, now)

    def stages(self) -> Sequence[Sequence[Stream]]:
        return (
            (Stream("projects", self._poll_projects),),
            (Stream("health", self._poll_health),
             Stream("backups", self._poll_backups, slow=True),
             Stream("addons", self._poll_addons, slow=True),
             Stream("api_counts", self._poll_api_counts, slow=True),
             Stream("disk", self._poll_disk, slow=True),
             Stream("readonly", self._poll_readonly, slow=True)),
            # No request: observes the states the polls above read (this cycle's project list, the
            # latest add-ons and disk sizes) and estimates the cost from them.
            (Stream("cost", self._poll_cost, ready=self._new_observation),
             # In this stage so that a failing logs endpoint never holds the cost estimate back.
             Stream("auth_logs", self._poll_auth_logs)),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def probe(self, now: datetime) -> list[Access]:
        """`check-config --probe`: the project list, then one project's add-ons, backups, health and
        auth logs (the last minute's outcomes: the read needs the analytics logs permission)."""
        listed, body = await read("supabase", "projects", self.http.get_json("/v1/projects", operation="list-projects"),
                                  lambda items: count_of(items, "projects"), TOKEN_HINTS)
        accesses = [listed]
        if body is None:
            return accesses
        visible = [p for p in (parse_project(item) for item in body) if p is not None]
        missing = sorted(set(self.config.project_refs) - {p.ref for p in visible})
        if missing:
            accesses.append(Access("supabase", "configured projects", False,
                                   f"not in the token's project list: {', '.join(missing)} (check "
                                   "providers.supabase.project_refs, and the token's organizations and projects)"))
        wanted = [p for p in visible if not self.config.project_refs or p.ref in self.config.project_refs]
        if not wanted:
            return accesses
        project = wanted[0]
        for what, path, params in (
                ("billing add-ons", "/billing/addons", None),
                ("database backups", "/database/backups", None),
                ("health", "/health", [("services", s) for s in self.config.health_services]),
                ("auth logs", "/analytics/endpoints/logs.all", [("sql", AUTH_OUTCOMES_SQL)])):
            access, _ = await read("supabase", f"{what} of {project.name}", self.http.get_json(
                f"/v1/projects/{project.ref}{path}", params, operation=what.replace(" ", "-")),
                lambda answer: "readable", TOKEN_HINTS)
            accesses.append(access)
        return accesses

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
        observed_at = ctx.now()

        def keep() -> None:
            self._projects = projects
            self._observed_at = observed_at
        ctx.on_commit(keep)

    def _needs_health_check(self, p: Project, now: datetime) -> bool:
        last = self._health.get(p.ref)
        if last is None or p.status != "ACTIVE_HEALTHY" or not all(last.healthy.values()):
            return True
        return (now - last.checked_at).total_seconds() >= self.config.slow_poll_interval_seconds

    async def _poll_health(self, ctx: PollContext) -> None:
        now = ctx.now()
        due = [p for p in self._active() if self._needs_health_check(p, now)]
        params = [("services", s) for s in self.config.health_services]
        bodies = await all_or_none(*(self.http.get_json(f"/v1/projects/{p.ref}/health", params,
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
        return await all_or_none(*(self.http.get_json(f"/v1/projects/{p.ref}{path}", params, operation=operation)
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
        sizes: dict[str, float] = {}  # GB; state: billed beyond the included size
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
            sizes[p.ref] = size / 1e9
        ctx.on_commit(lambda: self._disk_gb.update(sizes))

    async def _poll_readonly(self, ctx: PollContext) -> None:
        """Read-only mode (Supabase turns it on at 95 % of the disk), on the slow interval as the disk."""
        projects = self._active()
        bodies = await self._per_project(projects, "/readonly", "readonly-status")
        ctx.clear_gauge("supabase.database.readonly")
        for p, body in zip(projects, bodies, strict=True):
            enabled = body.get("enabled") if isinstance(body, dict) else None
            if not isinstance(enabled, bool):
                ctx.invalid_item(f"readonly status of {p.ref}: {str(body)[:200]}")
                continue
            ctx.gauge("supabase.database.readonly", 1 if enabled else 0, project=p.name)

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

    async def _poll_auth_logs(self, ctx: PollContext) -> None:
        """Count the auth outcomes of the complete minutes since the last poll (a project's first
        poll reads the last complete minute: history is not replayed into a counter). A failed or
        invalid answer counts nothing and keeps the mark, so the next poll reads those minutes again."""
        end = ctx.now().replace(second=0, microsecond=0)
        for p in self._active():  # where a project's counting starts, kept even if this poll fails
            self._auth_marks.setdefault(p.ref, end - timedelta(minutes=1))
        starts = {p.ref: max(self._auth_marks[p.ref], end - AUTH_LOGS_MAX_WINDOW) for p in self._active()}
        projects = [p for p in self._active() if starts[p.ref] < end]
        bodies = await all_or_none(*(self.http.get_json(
            f"/v1/projects/{p.ref}/analytics/endpoints/logs.all",
            [("sql", AUTH_OUTCOMES_SQL), ("iso_timestamp_start", _iso(starts[p.ref])),
             ("iso_timestamp_end", _iso(end))], operation="auth-logs") for p in projects))
        marks = {}
        for p, body in zip(projects, bodies, strict=True):
            counts = parse_auth_outcomes(body)
            if counts is None:
                ctx.invalid_item(f"auth logs of {p.ref}: {str(body)[:200]}")
                continue
            for (kind, outcome), value in counts.items():
                if value > 0:
                    ctx.add("supabase.auth.events", value, project=p.name, kind=kind, outcome=outcome)
            marks[p.ref] = end
        kept = {ref: mark for ref, mark in self._auth_marks.items() if ref in starts}  # forget gone projects

        def keep() -> None:
            self._auth_marks = {**kept, **marks}
        ctx.on_commit(keep)

    # --- add-ons and cost ---

    async def _poll_addons(self, ctx: PollContext) -> None:
        projects = list(self._projects)
        bodies = await self._per_project(projects, "/billing/addons", "list-addons")
        computes: dict[str, Compute | None] = {}
        others: dict[str, tuple[tuple[str, float | None], ...]] = {}
        ctx.clear_gauge("supabase.compute.info")
        for p, body in zip(projects, bodies, strict=True):
            addons = body.get("selected_addons") if isinstance(body, dict) else None
            if not isinstance(addons, list):
                ctx.invalid_item(f"addons of {p.ref}: {str(body)[:200]}")
                continue
            compute = parse_compute(addons)
            computes[p.ref] = compute
            others[p.ref] = parse_other_addons(addons)
            ctx.gauge("supabase.compute.info", 1, project=p.name, compute=compute.variant if compute else "none")

        version = self._compute_version + 1

        def keep() -> None:
            self._compute = computes
            self._addons = others
            self._compute_version = version
        ctx.on_commit(keep)

    def _new_observation(self) -> bool:
        """A project list was read since the last estimate (a failed projects poll reads none)."""
        return self._observed_at is not None and self._observed_at != self._costed_at

    async def _poll_cost(self, ctx: PollContext) -> None:
        observed = self._observed_at
        if observed is None:
            return
        self._estimate_cost(ctx, self._projects, self._compute, self._addons, self._compute_version, observed)
        ctx.on_commit(lambda: setattr(self, "_costed_at", observed))

    def _observations(self, projects: list[Project], computes: dict[str, Compute | None],
                      others: dict[str, tuple[tuple[str, float | None], ...]]) -> list[Observation]:
        observations = []
        for p in projects:
            if p.ref not in computes:
                continue  # add-ons not read yet: no state to record
            compute = computes[p.ref]
            state = {"kind": "project", "name": p.name, "paused": p.paused,
                     "compute": compute.variant if compute else None,
                     "compute_usd_per_hour": compute.usd_per_hour if compute else None,
                     "compute_usd_per_month": compute.usd_per_month if compute else None,
                     "addons": [list(a) for a in others.get(p.ref, ())], "disk_gb": self._disk_gb.get(p.ref)}
            observations.append(Observation(p.ref, state))
        return observations

    def _estimate_cost(self, ctx: PollContext, projects: list[Project], computes: dict[str, Compute | None],
                       others: dict[str, tuple[tuple[str, float | None], ...]], version: int,
                       now: datetime) -> None:
        """Observe the projects' states at `now` (when the project list was read) and estimate."""
        if not version:
            return  # add-ons unknown yet: estimate nothing rather than $0
        est = self._cost.begin(self._observations(projects, computes, others), now,
                               anchor_day=self.config.billing_anchor_day, history_days=self.config.history_days)
        compute_by_day = dict(self._compute_by_day) if self._cost.resumed else {}
        gross_by_day = dict(self._gross_by_day) if self._cost.resumed else {}
        by_day: dict[date, list[CostRecord]] = {}
        for day in est.days:
            table = ctx.prices.table("supabase", day)
            pricer = SupabasePricer(table)
            cost = day_cost(pricer, est.intervals, day, now)
            est.unpriced |= pricer.unpriced
            records = cost.to_records()
            fee = table["plan_usd_per_month"].get(self.config.plan)
            day_end = min(day_start(day + timedelta(days=1)), now)
            if fee is None:
                est.unpriced.add(f"plan:{self.config.plan}")
            elif day_end > day_start(day):
                records.append(plan_record(self.config.plan, float(fee), day_start(day), day_end))
            compute_by_day[day] = cost.compute_usd
            gross_by_day[day] = sum(r.billed_cost for r in records)
            by_day[day] = records
        for day in est.days:
            credit = self._credit_on(ctx, day, compute_by_day)
            if credit > 0:
                start = day_start(day)
                by_day[day].append(credit_record(self.config.plan, credit, start,
                                                 min(start + timedelta(days=1), now)))
            ctx.replace_cost_day("estimated", day, by_day[day])
        self._forecast(ctx, est, compute_by_day, gross_by_day)
        self._cost.unobserved_gauge(ctx, "supabase.cost.unobserved", "project", est,
                                    [(p.ref, p.name, p.created) for p in projects])
        keep_from = est.window_start - timedelta(days=1)

        def keep() -> None:
            self._compute_by_day = {d: v for d, v in compute_by_day.items() if d >= keep_from}
            self._gross_by_day = {d: v for d, v in gross_by_day.items() if d >= keep_from}
        self._cost.finish(ctx, est, keep)

    def _credit_allowance(self, ctx: PollContext, day: date) -> float:
        return float(ctx.prices.table("supabase", day)["compute_credit_usd_per_month"].get(self.config.plan, 0.0))

    def _credit_on(self, ctx: PollContext, day: date, compute_by_day: dict[date, float]) -> float:
        """The cycle's credit used on `day`: min(C, compute through day) − min(C, compute before day)."""
        credit = self._credit_allowance(ctx, day)
        cycle = cycle_of(day, self.config.billing_anchor_day)
        before = sum(v for d, v in compute_by_day.items() if cycle.start <= d < day)
        return min(credit, before + compute_by_day.get(day, 0.0)) - min(credit, before)

    def _forecast(self, ctx: PollContext, est: Estimate, compute_by_day: dict[date, float],
                  gross_by_day: dict[date, float]) -> None:
        """Cost so far plus the current states' rates to the cycle's end; the credit once, on the whole."""
        now, today, cycle = est.now, est.today, est.cycle
        table = ctx.prices.table("supabase", today)
        pricer = SupabasePricer(table)
        month_s = month_seconds(now)
        compute_rate = other_rate = 0.0
        for items in est.observed_now().values():
            state = items[-1].values
            if not state.get("paused"):
                extra = max(0.0, (state.get("disk_gb") or 0.0) - float(table["disk_included_gb"]))
                other_rate += extra * float(table["disk_usd_per_gb_month"]) / month_s
                if state.get("compute"):
                    hourly = pricer.hourly(state)
                    if hourly is not None:
                        compute_rate += hourly / HOUR
                    elif state.get("compute_usd_per_month"):
                        compute_rate += float(state["compute_usd_per_month"]) / month_s
                for variant, quoted in state.get("addons", []):
                    monthly = pricer.addon_monthly(variant, quoted)
                    other_rate += (monthly or 0.0) / month_s
        fee = table["plan_usd_per_month"].get(self.config.plan)
        other_rate += float(fee or 0.0) / month_s
        left = max(0.0, (cycle.end_at - now).total_seconds())
        in_cycle = [d for d in gross_by_day if cycle.start <= d <= today]
        gross = sum(gross_by_day[d] for d in in_cycle) + (compute_rate + other_rate) * left
        compute = sum(compute_by_day.get(d, 0.0) for d in in_cycle) + compute_rate * left
        ctx.forecast(cycle.start, gross - min(self._credit_allowance(ctx, today), compute))

    def unobserved(self, since: datetime, now: datetime, prices: PriceBook) -> list[Gap]:
        """Each project's unobserved parts of [since, now) (compute, add-ons, disk: the plan fee is priced from
        config throughout), each with an estimate at the state observed nearest it (exporters/costs/coverage.py)."""
        names = {p.ref: p.name for p in self._projects}
        gaps = []
        for ref, a, b, near in self._cost.gaps([(p.ref, p.created) for p in self._projects], since, now):
            estimate, basis = self._gap_estimate(ref, near, a, b, prices)
            gaps.append(Gap("supabase", ref, names[ref], "Compute", "Databases", utc_moment(a),
                            utc_moment(b), estimate, basis))
        return gaps

    def _gap_estimate(self, ref: str, near: Interval | None, start: float, end: float,
                      prices: PriceBook) -> tuple[float | None, str]:
        if near is None:
            return None, "no estimate: never observed (its add-ons were not read)"
        usd, unpriced = 0.0, set()
        end_at = utc_moment(end)
        gap = {ref: [Interval(start, end, near.state)]}
        for day in days(utc_day(utc_moment(start)), utc_day(end_at - timedelta(microseconds=1))):
            pricer = SupabasePricer(prices.table("supabase", day))
            usd += sum(r.billed_cost for r in day_cost(pricer, gap, day, end_at).to_records())
            unpriced |= pricer.unpriced
        state = near.values
        seen = f"observed {utc_moment(near.start):%Y-%m-%d %H:%M}Z"
        if unpriced:
            return None, f"no estimate: the state {seen} has no price ({', '.join(sorted(unpriced))})"
        what = "paused" if state.get("paused") else f"compute {state.get('compute') or 'none'}"
        if state.get("addons"):
            what += ", add-ons " + ", ".join(str(a[0]) for a in state["addons"])
        return usd, (f"estimate: {what}, as {seen}, assumed for this period (it may have differed); "
                     "before the plan's compute credit")


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_auth_outcomes(body: object) -> dict[tuple[str, str], float] | None:
    """{(kind, outcome): count} from a logs.all answer to AUTH_OUTCOMES_SQL; None when the answer
    carries an error or any row is not one of those (the whole answer is then skipped: a partial
    count would pass for a complete one)."""
    if not isinstance(body, dict) or body.get("error") or not isinstance(body.get("result"), list):
        return None
    counts: dict[tuple[str, str], float] = {}
    for row in body["result"]:
        if not isinstance(row, dict):
            return None
        kind, outcome, count = row.get("kind"), row.get("outcome"), _number(row.get("count"))
        if kind not in AUTH_KINDS or outcome not in AUTH_OUTCOMES or count is None or count < 0:
            return None
        counts[(kind, outcome)] = counts.get((kind, outcome), 0.0) + count
    return counts


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


def parse_other_addons(addons: list[Any]) -> tuple[tuple[str, float | None], ...]:
    """Selected add-ons other than compute: (variant id, monthly price the API quotes, else None)."""
    out = []
    for addon in addons:
        if not isinstance(addon, dict) or addon.get("type") == "compute_instance":
            continue
        variant = addon.get("variant")
        if not isinstance(variant, dict) or not isinstance(variant.get("id"), str):
            continue
        price = variant.get("price") if isinstance(variant.get("price"), dict) else {}
        amount = _number(price.get("amount"))
        monthly = amount if amount and price.get("interval") == "monthly" else None
        out.append((variant["id"], monthly))
    return tuple(sorted(out, key=lambda a: a[0]))


def latest_completed_backup(backups: list[Any]) -> datetime | None:
    times = [parse_time(b.get("inserted_at")) for b in backups
             if isinstance(b, dict) and b.get("status") == "COMPLETED"]
    times = [t for t in times if t is not None]
    return max(times) if times else None


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]
