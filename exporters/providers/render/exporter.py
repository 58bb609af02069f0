"""Render's exporter: services, datastores, deploys, the metrics API, and cost from observed state.

Streams `services` → (`metric_limits`, `deploys`) → `metrics` (which also refreshes the cost
estimate from the states it observes); how each reads, how `updatedAt` dates a change, and
every fact relied on with its source: docs/providers/render.md. Pricing is cost.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from exporters.core.catalogue import Kind, MetricSpec, Series
from exporters.core.http import ProviderError, ProviderHTTP, all_or_none
from exporters.core.timeutil import days, parse_time, utc_moment
from exporters.costs.coverage import Gap
from exporters.costs.forecast import forecast_from_rate
from exporters.costs.observed import ObservedCost
from exporters.costs.prices import PriceBook
from exporters.costs.records import day_start, utc_day
from exporters.costs.state.history import Interval, Observation, canonical, clipped
from exporters.costs.state.store import StateStore
from exporters.poll.access import Access, count_of, read
from exporters.poll.collector import PollContext, Stream
from exporters.providers.render.config import RenderConfig
from exporters.providers.render.cost import RenderPricer, day_pieces, records_of

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("render.service.info", Kind.GAUGE, "{service}",
               "1 per service, with its type, plan and region (join on `service`).",
               ("service", "type", "plan", "region"),
               series=Series("Render service", 1, "type, plan and region are the service's own")),
    MetricSpec("render.service.suspended", Kind.GAUGE, "{status}", "1 when the service is suspended.", ("service",),
               series=Series("Render service", 1)),
    MetricSpec("render.service.instances", Kind.GAUGE, "{instance}",
               "Running instances (metrics API instance-count; the configured numInstances when absent).",
               ("service",), series=Series("Render service", 1)),
    MetricSpec("render.service.autoscaling.min_instances", Kind.GAUGE, "{instance}",
               "Autoscaling lower bound (services with autoscaling only).", ("service",),
               series=Series("Render service", 1, "autoscaled services only")),
    MetricSpec("render.service.autoscaling.max_instances", Kind.GAUGE, "{instance}",
               "Autoscaling upper bound (services with autoscaling only).", ("service",),
               series=Series("Render service", 1, "autoscaled services only")),
    MetricSpec("render.deploys", Kind.COUNTER, "{deploy}",
               "Deploys that reached a final status, counted once each.", ("service", "status"),
               series=Series("Render service", 6, "final statuses")),
    MetricSpec("render.deploy.duration", Kind.HISTOGRAM, "s",
               "Deploy duration of final deploys: finishedAt - startedAt (createdAt when not started).",
               ("service", "status"), series=Series("Render service", 6, "final statuses")),
    MetricSpec("render.service.cpu.utilization", Kind.GAUGE, "1",
               "CPU used / CPU limit, latest sample, mean over instances.", ("service",),
               series=Series("Render service", 1)),
    MetricSpec("render.service.memory.utilization", Kind.GAUGE, "1",
               "Memory used / memory limit, latest sample, mean over instances.", ("service",),
               series=Series("Render service", 1)),
    MetricSpec("render.service.memory.usage", Kind.GAUGE, "By", "Memory used, latest sample.", ("service",),
               series=Series("Render service", 1)),
    MetricSpec("render.service.http.requests", Kind.COUNTER, "{request}",
               "HTTP requests served, by status class (2xx … 5xx).", ("service", "status_class"),
               series=Series("Render service", 5, "status classes")),
    MetricSpec("render.service.http.latency", Kind.GAUGE, "s",
               "HTTP response time at a quantile (0.5, 0.95, 0.99), latest sample.", ("service", "quantile"),
               series=Series("Render service", 3, "quantiles 0.5, 0.95, 0.99")),
    MetricSpec("render.service.bandwidth", Kind.COUNTER, "By", "Outbound bandwidth.", ("service",),
               series=Series("Render service", 1)),
    MetricSpec("render.datastore.connections", Kind.GAUGE, "{connection}",
               "Active connections of a Render Postgres or Key Value instance.", ("datastore", "type"),
               series=Series("Render datastore", 1)),
    MetricSpec("render.cost.unobserved", Kind.GAUGE, "s",
               "Seconds of the current billing cycle in which a resource existed but no poll observed its "
               "state: a gap, not priced (its cost is missing from the estimate).", ("resource",),
               series=Series("Render service or datastore", 1, "priced ones: services with a plan, Postgres, Key Value")),
)

PAGE_SIZE = 100  # Render's maximum `limit`
FORECAST_RATE_WINDOW_S = 7 * 86400.0  # an autoscaled service is projected at its mean rate over this
GAUGE_WINDOW = timedelta(minutes=5)  # gauges read the latest sample of this window
COUNTER_FIRST_WINDOW = timedelta(minutes=5)  # counters start here on the first poll
COUNTER_MAX_WINDOW = timedelta(hours=1)  # after an outage, catch up at most this far
LATENCY_QUANTILES = ("0.5", "0.95", "0.99")
BOUNDARY = timedelta(seconds=1)
DEFAULT_RESOLUTION_S = 60  # Render's default resolutionSeconds
# What a 401 or 403 means for a Render API key (docs/getting-started.md, Render).
TOKEN_HINTS = {
    401: "the API key is invalid or revoked: create one under Account Settings, API Keys "
         "(dashboard.render.com/u/settings)",
    403: "the key lacks a permission or the workspace: a workspace-scoped key needs Read on services, "
         "datastores and metrics (\"Enable read-only\" grants them all) in the workspace of providers.render.owner_id",
}
FAILED_DEPLOY_STATUSES = ("build_failed", "update_failed", "pre_deploy_failed")
FINAL_DEPLOY_STATUSES = frozenset({"live", "deactivated", "build_failed", "update_failed",
                                   "pre_deploy_failed", "canceled"})
SERVICE_DISPLAY = {"web_service": "Web Service", "private_service": "Private Service",
                   "background_worker": "Background Worker", "cron_job": "Cron Job",
                   "static_site": "Static Site"}
# Unit of a metric series -> factor to the exported unit (bytes, seconds, cores).
BYTE_UNITS = {"bytes": 1.0, "byte": 1.0, "b": 1.0, "kb": 1e3, "mb": 1e6, "gb": 1e9,
              "kib": 1024.0, "mib": 1024.0 ** 2, "gib": 1024.0 ** 3}
SECOND_UNITS = {"s": 1.0, "seconds": 1.0, "second": 1.0, "ms": 1e-3, "milliseconds": 1e-3,
                "us": 1e-6, "microseconds": 1e-6}
CPU_UNITS = {"cpu": 1.0, "cpus": 1.0, "cores": 1.0, "core": 1.0, "": 1.0, "millicores": 1e-3,
             "millicpu": 1e-3, "mcpu": 1e-3}


@dataclass(frozen=True)
class RenderService:
    id: str
    name: str
    type: str
    plan: str | None  # static sites have none
    region: str
    instances: int
    autoscaling: tuple[int, int] | None  # (min, max) when enabled
    suspended: bool
    created: datetime
    updated: datetime
    disk_gb: int | None = None  # an attached persistent disk


@dataclass(frozen=True)
class RenderDatastore:
    id: str
    name: str
    plan: str
    created: datetime
    updated: datetime | None = None
    disk_gb: int | None = None
    suspended: bool = False
    kind: str = "postgres"  # "postgres" | "key_value"


@dataclass(frozen=True)
class DeployWatermark:
    since: datetime  # sent as createdAfter
    counted: frozenset[str]  # final deploys at or after `since`, already counted


@dataclass
class Sample:
    """One metric series: the resource it describes, its labels, and its points in base units."""

    resource: str
    labels: dict[str, str]
    points: list[tuple[datetime, float]] = field(default_factory=list)


class RenderProvider:
    name = "render"

    def __init__(self, config: RenderConfig, http: ProviderHTTP):
        self.config = config
        self.http = http
        self._services: list[RenderService] = []
        self._datastores: list[RenderDatastore] = []  # Postgres (their connections are polled)
        self._key_values: list[RenderDatastore] = []  # Key Value instances (priced by plan)
        self._services_version = 0
        self._deploys: dict[str, DeployWatermark] = {}
        self._limits: dict[str, tuple[float | None, float | None]] = {}  # id -> (cpu cores, memory bytes)
        self._counter_marks: dict[str, datetime] = {}  # metric -> start of the newest counted bucket
        self._cost = ObservedCost("render")  # observed states, priced per day
        self._day_totals: dict[date, float] = {}  # estimated USD per day, for the cycle's forecast

    def attach_state(self, store: StateStore | None, max_gap_s: float, now: float) -> None:
        """Keep observed states in `store` (None: memory) and resume what it holds."""
        self._cost.attach(store, max_gap_s, now)

    def stages(self) -> Sequence[Sequence[Stream]]:
        return (
            (Stream("services", self._poll_services, slow=True),),
            (Stream("metric_limits", self._poll_limits, slow=True),
             Stream("deploys", self._poll_deploys, slow=True)),
            (Stream("metrics", self._poll_metrics),),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def probe(self, now: datetime) -> list[Access]:
        """`check-config --probe`: one small read per kind of data the streams poll."""
        def first_page(path: str, operation: str):  # type: ignore[no-untyped-def]
            return self.http.get_json(path, [*self._owner_params(), ("limit", 1)], operation=operation)

        services, page = await read("render", "services", first_page("/services", "list-services"),
                                    lambda body: count_of(body, "services"), TOKEN_HINTS)
        accesses = [services]
        for what, path, operation in (("Postgres databases", "/postgres", "list-postgres"),
                                      ("Key Value instances", "/key-value", "list-key-value")):
            accesses.append((await read("render", what, first_page(path, operation),
                                        lambda body, what=what: count_of(body, what), TOKEN_HINTS))[0])
        service = parse_service(page[0]) if page else None
        if service is not None:
            params = self._metric_params([service.id], now - timedelta(minutes=10), now)
            accesses.append((await read("render", "metrics", self.http.get_json(
                "/metrics/cpu", params, operation="metrics-cpu"),
                lambda body: count_of(body, f"CPU series of {service.name}"), TOKEN_HINTS))[0])
        else:
            accesses.append(Access("render", "metrics", services.ok,
                                   "not tried: no service to ask for" if services.ok else "not tried"))
        return accesses

    # --- listing ---

    async def _pages(self, path: str, params: list[tuple[str, Any]], operation: str) -> AsyncIterator[Any]:
        """Items of a cursor-paged list, page by page (pages are not kept)."""
        cursor: str | None = None
        pages = self.http.pages(operation)
        while True:
            query = [*params, ("limit", PAGE_SIZE)] + ([("cursor", cursor)] if cursor else [])
            page = await self.http.get_json(path, query, operation=operation)
            if not isinstance(page, list):
                raise ProviderError("malformed", f"render {operation}: expected a list")
            for item in page:
                yield item
            cursor = page[-1].get("cursor") if page and isinstance(page[-1], dict) else None
            short = len(page) < PAGE_SIZE
            del page  # not held while the next page is fetched
            if short or not isinstance(cursor, str) or not cursor:
                return
            pages.follow(cursor)

    def _owner_params(self) -> list[tuple[str, Any]]:
        return [("ownerId", self.config.owner_id)] if self.config.owner_id else []

    async def _poll_services(self, ctx: PollContext) -> None:
        # By id: a listing that sends an item twice (a provider paging in circles) counts it
        # once and holds it once, however many pages it sends.
        by_id: dict[str, RenderService] = {}
        async for item in self._pages("/services", self._owner_params(), "list-services"):
            service = parse_service(item)
            if service is None:
                ctx.invalid_item(f"service: {str(item)[:200]}")
            elif not self.config.service_ids or service.id in self.config.service_ids:
                by_id[service.id] = service
        services = list(by_id.values())
        datastores_by_id: dict[str, RenderDatastore] = {}
        async for item in self._pages("/postgres", self._owner_params(), "list-postgres"):
            datastore = parse_postgres(item)
            if datastore is None:
                ctx.invalid_item(f"postgres: {str(item)[:200]}")
            else:
                datastores_by_id[datastore.id] = datastore
        datastores = list(datastores_by_id.values())
        key_values: list[RenderDatastore] = []
        async for item in self._pages("/key-value", self._owner_params(), "list-key-value"):
            key_value = parse_key_value(item)
            if key_value is None:
                ctx.invalid_item(f"key-value: {str(item)[:200]}")
            else:
                key_values.append(key_value)
        for metric in ("render.service.info", "render.service.suspended",
                       "render.service.autoscaling.min_instances", "render.service.autoscaling.max_instances"):
            ctx.clear_gauge(metric)
        for s in services:
            ctx.gauge("render.service.info", 1, service=s.name, type=s.type, plan=s.plan or "none", region=s.region)
            ctx.gauge("render.service.suspended", 1 if s.suspended else 0, service=s.name)
            if s.autoscaling is not None:
                ctx.gauge("render.service.autoscaling.min_instances", s.autoscaling[0], service=s.name)
                ctx.gauge("render.service.autoscaling.max_instances", s.autoscaling[1], service=s.name)

        def keep() -> None:
            self._services, self._datastores, self._key_values = services, datastores, key_values
            self._services_version += 1
        ctx.on_commit(keep)

    # --- deploys ---

    def _history_start(self, ctx: PollContext) -> datetime:
        return day_start(utc_day(ctx.now()) - timedelta(days=self.config.history_days))

    async def _poll_deploys(self, ctx: PollContext) -> None:
        history_start = self._history_start(ctx)
        results = await all_or_none(*(self._service_deploys(ctx, s, history_start) for s in self._services))
        marks = dict(zip((s.id for s in self._services), results, strict=True))
        ctx.on_commit(lambda: self._deploys.update(marks))

    async def _service_deploys(self, ctx: PollContext, service: RenderService,
                               history_start: datetime) -> DeployWatermark:
        mark = self._deploys.get(service.id) or DeployWatermark(history_start, frozenset())
        newest: datetime | None = None
        oldest_open: datetime | None = None
        finals: dict[str, datetime] = {}  # by id: a deploy listed twice in one poll counts (and is held) once
        new_by_status: dict[str, int] = {}
        # One second early: createdAfter may be exclusive and timestamps are cut to seconds;
        # the ids counted at the boundary keep the overlap from being counted twice.
        params = [("createdAfter", rfc3339(mark.since - BOUNDARY))]
        async for item in self._pages(f"/services/{service.id}/deploys", params, "list-deploys"):
            deploy = item.get("deploy") if isinstance(item, dict) else None
            parsed = parse_deploy(deploy)
            if parsed is None:
                ctx.invalid_item(f"deploy of {service.id}: {str(item)[:200]}")
                continue
            deploy_id, status, created, duration = parsed
            newest = created if newest is None or created > newest else newest
            if status not in FINAL_DEPLOY_STATUSES:
                oldest_open = created if oldest_open is None or created < oldest_open else oldest_open
                continue
            if deploy_id in finals:
                continue
            finals[deploy_id] = created
            if deploy_id in mark.counted:
                continue
            label = "live" if status == "deactivated" else status  # deactivated = a former live deploy
            new_by_status[label] = new_by_status.get(label, 0) + 1
            if duration is not None:
                ctx.record("render.deploy.duration", duration, service=service.name, status=label)
        # The failure series exist at 0 before a service's first failure (DeployFailed reads
        # increase(); a series born at 1 would hide it); failures in this poll are their birth value.
        for label in FAILED_DEPLOY_STATUSES:
            ctx.start_counter("render.deploys", service=service.name, status=label)
        for label, count in new_by_status.items():
            ctx.add("render.deploys", count, service=service.name, status=label)
        since = oldest_open or newest or mark.since
        counted = frozenset(i for i, created in finals.items() if created >= since - BOUNDARY)
        if since == mark.since:
            counted |= mark.counted
        return DeployWatermark(since, counted)

    # --- metrics ---

    def _active_services(self) -> list[RenderService]:
        return [s for s in self._services if not s.suspended]

    def _metric_params(self, resources: Sequence[str], start: datetime, end: datetime, *,
                       resolution: bool = True) -> list[tuple[str, Any]]:
        # /metrics/bandwidth declares no resolutionSeconds: it gets Render's default (60 s).
        return [("startTime", rfc3339(start)), ("endTime", rfc3339(end)),
                *([("resolutionSeconds", self.config.metrics_resolution_seconds)] if resolution else []),
                *(("resource", r) for r in resources)]

    def _resolution(self, metric: str) -> int:
        return DEFAULT_RESOLUTION_S if metric == "bandwidth" else self.config.metrics_resolution_seconds

    async def _series(self, ctx: PollContext, metric: str, params: list[tuple[str, Any]],
                      units: dict[str, float]) -> list[Sample]:
        body = await self.http.get_json(f"/metrics/{metric}", params, operation=f"metrics-{metric}")
        if not isinstance(body, list):
            raise ProviderError("malformed", f"render metrics-{metric}: expected a list of series")
        samples = []
        for raw in body:
            sample = parse_series(raw, units)
            if sample is None:
                ctx.invalid_item(f"{metric} series: {str(raw)[:200]}")
            else:
                samples.append(sample)
        return samples

    async def _poll_limits(self, ctx: PollContext) -> None:
        ids = [s.id for s in self._active_services()]
        if not ids:
            return
        now = ctx.now()
        params = self._metric_params(ids, now - GAUGE_WINDOW, now)
        cpu, memory = await all_or_none(self._series(ctx, "cpu-limit", params, CPU_UNITS),
                                        self._series(ctx, "memory-limit", params, BYTE_UNITS))
        cpu_by, mem_by = latest_mean(cpu), latest_mean(memory)
        limits = {i: (cpu_by.get(i), mem_by.get(i)) for i in ids}
        ctx.on_commit(lambda: self._limits.update(limits))

    async def _poll_metrics(self, ctx: PollContext) -> None:
        services = self._active_services()
        now = ctx.now()
        names = {s.id: s.name for s in self._services}
        tasks = []
        if services:
            ids = [s.id for s in services]
            gauge_params = self._metric_params(ids, now - GAUGE_WINDOW, now)
            tasks = [
                self._series(ctx, "cpu", gauge_params, CPU_UNITS),
                self._series(ctx, "memory", gauge_params, BYTE_UNITS),
                self._series(ctx, "instance-count", gauge_params, {}),
                self._series(ctx, "http-latency", [*gauge_params, *(("quantile", q) for q in LATENCY_QUANTILES)],
                             SECOND_UNITS),
                self._series(ctx, "http-requests", [*self._metric_params(ids, self._counter_start("http-requests", now),
                                                                         now), ("aggregateBy", "statusCode")], {}),
                self._series(ctx, "bandwidth", self._metric_params(ids, self._counter_start("bandwidth", now), now,
                                                                 resolution=False), BYTE_UNITS),
            ]
        if self._datastores:
            tasks.append(self._series(ctx, "active-connections",
                                      self._metric_params([d.id for d in self._datastores], now - GAUGE_WINDOW, now),
                                      {}))
        results = await all_or_none(*tasks)
        self._estimate_cost(ctx, latest_mean(results[2]) if services else {})
        if services:
            cpu, memory, instances, latency, requests, bandwidth = results[:6]
            self._utilisation(ctx, names, cpu, memory)
            self._instances(ctx, services, instances)
            ctx.clear_gauge("render.service.http.latency")
            for sample in latency:
                if sample.points and "quantile" in sample.labels and sample.resource in names:
                    ctx.gauge("render.service.http.latency", sample.points[-1][1], service=names[sample.resource],
                              quantile=normalise_quantile(sample.labels["quantile"]))
            self._count_buckets(ctx, "http-requests", requests, now, lambda s, v: ctx.add(
                "render.service.http.requests", v, service=names[s.resource],
                status_class=status_class(s.labels.get("statusCode", ""))), names)
            self._count_buckets(ctx, "bandwidth", bandwidth, now, lambda s, v: ctx.add(
                "render.service.bandwidth", v, service=names[s.resource]), names)
        if self._datastores:
            datastore_names = {d.id: d.name for d in self._datastores}
            ctx.clear_gauge("render.datastore.connections")
            for resource, value in latest_mean(results[-1]).items():
                if resource in datastore_names:
                    ctx.gauge("render.datastore.connections", value, datastore=datastore_names[resource],
                              type="postgres")

    def _utilisation(self, ctx: PollContext, names: dict[str, str], cpu: list[Sample], memory: list[Sample]) -> None:
        for metric in ("render.service.cpu.utilization", "render.service.memory.utilization",
                       "render.service.memory.usage"):
            ctx.clear_gauge(metric)
        for resource, used in latest_mean(cpu).items():
            limit = self._limits.get(resource, (None, None))[0]
            if resource in names and limit:
                ctx.gauge("render.service.cpu.utilization", used / limit, service=names[resource])
        for resource, used in latest_mean(memory).items():
            if resource not in names:
                continue
            ctx.gauge("render.service.memory.usage", used, service=names[resource])
            limit = self._limits.get(resource, (None, None))[1]
            if limit:
                ctx.gauge("render.service.memory.utilization", used / limit, service=names[resource])

    def _instances(self, ctx: PollContext, services: list[RenderService], samples: list[Sample]) -> None:
        running = latest_mean(samples)
        ctx.clear_gauge("render.service.instances")
        for s in services:
            ctx.gauge("render.service.instances", running.get(s.id, float(s.instances)), service=s.name)

    def _counter_start(self, metric: str, now: datetime) -> datetime:
        mark = self._counter_marks.get(metric)
        if mark is None:
            return now - COUNTER_FIRST_WINDOW
        return max(mark + timedelta(seconds=self._resolution(metric)), now - COUNTER_MAX_WINDOW)

    def _count_buckets(self, ctx: PollContext, metric: str, samples: list[Sample], now: datetime,
                       add, names: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
        """Add complete buckets newer than the watermark; the bucket in progress waits for the next poll."""
        resolution = timedelta(seconds=self._resolution(metric))
        mark = self._counter_marks.get(metric)
        newest = mark
        for sample in samples:
            if sample.resource not in names:
                continue
            for stamp, value in sample.points:
                if (mark is not None and stamp <= mark) or stamp + resolution > now or value < 0:
                    continue
                add(sample, value)
                newest = stamp if newest is None or stamp > newest else newest
        if newest is not None and newest != mark:
            ctx.on_commit(lambda: self._counter_marks.__setitem__(metric, newest))

    # --- cost ---

    def _observations(self, running: dict[str, float]) -> list[Observation]:
        observations = []
        for s in self._services:
            if s.plan is None:
                continue  # static sites: no instance plan
            if s.suspended:
                instances: int | None = 0
            elif s.autoscaling is not None:  # the count running now, from the metrics API
                count = running.get(s.id)
                instances = None if count is None else round(count)
            else:
                instances = s.instances
            state = {"kind": "service", "type": s.type, "name": s.name, "region": s.region, "plan": s.plan,
                     "instances": instances, "suspended": s.suspended, "disk_gb": s.disk_gb}
            # updatedAt dates a settings change; it says nothing of an autoscaled instance count.
            known = s.updated.timestamp() if s.autoscaling is None else None
            observations.append(Observation(s.id, state, known))
        for d in self._datastores:
            state = {"kind": "postgres", "name": d.name, "plan": d.plan, "disk_gb": d.disk_gb,
                     "suspended": d.suspended}
            observations.append(Observation(d.id, state, d.updated.timestamp() if d.updated else None))
        for kv in self._key_values:
            observations.append(Observation(kv.id, {"kind": "key_value", "name": kv.name, "plan": kv.plan},
                                            kv.updated.timestamp() if kv.updated else None))
        return observations

    def _estimate_cost(self, ctx: PollContext, running: dict[str, float]) -> None:
        if not self._services_version:
            return  # no service list yet (the services poll failed): estimate nothing rather than $0
        now = ctx.now()
        est = self._cost.begin(self._observations(running), now, anchor_day=self.config.billing_anchor_day,
                               history_days=self.config.history_days)
        totals = dict(self._day_totals) if self._cost.resumed else {}
        for day in est.days:
            pricer = self._pricer(ctx, day)
            pieces = day_pieces(pricer, est.intervals, day, now)
            ctx.replace_cost_day("estimated", day, records_of(pieces))
            totals[day] = sum(p.usd for p in pieces)
            est.unpriced |= pricer.unpriced
        cycle_cost = sum(v for d, v in totals.items() if est.cycle.start <= d <= est.today)
        pricer = self._pricer(ctx, est.today)
        autoscaled = {s.id for s in self._services if s.autoscaling is not None}
        rate = 0.0
        for resource, items in est.observed_now().items():
            if resource in autoscaled:  # its count swings through the day: the last week's mean rate
                rate += mean_rate(pricer, resource, items, est.at - FORECAST_RATE_WINDOW_S, est.at)
            else:
                rate += pricer.rate_now(resource, items[-1], est.at)
        workspace = pricer.workspace(now - timedelta(seconds=1), now)
        rate += workspace.usd if workspace else 0.0
        ctx.forecast(est.cycle.start, forecast_from_rate(cycle_cost, rate, (est.cycle.end_at - now).total_seconds()))
        resources = {s.id: (s.name, s.created) for s in self._services if s.plan is not None}
        resources.update({d.id: (d.name, d.created) for d in self._datastores + self._key_values})
        self._cost.unobserved_gauge(ctx, "render.cost.unobserved", "resource", est,
                                    [(r, name, created) for r, (name, created) in resources.items()])
        keep = {d: v for d, v in totals.items() if d >= est.window_start}
        self._cost.finish(ctx, est, lambda: setattr(self, "_day_totals", keep))

    def _pricer(self, ctx: PollContext, day: date) -> RenderPricer:
        return RenderPricer(ctx.prices.table("render", day), self.config.workspace_plan, self.config.workspace_seats)

    def unobserved(self, since: datetime, now: datetime, prices: PriceBook) -> list[Gap]:
        """Every resource's unobserved parts of [since, now), each with an estimate at the state observed
        nearest it (lower confidence) where that state has a price (exporters/costs/coverage.py)."""
        resources = {s.id: (s.name, SERVICE_DISPLAY.get(s.type, s.type), "Compute", s.created)
                     for s in self._services if s.plan is not None}
        resources.update({d.id: (d.name, "Postgres", "Databases", d.created) for d in self._datastores})
        resources.update({k.id: (k.name, "Key Value", "Databases", k.created) for k in self._key_values})
        gaps = []
        for resource, a, b, near in self._cost.gaps([(r, v[3]) for r, v in resources.items()], since, now):
            name, service, category, _created = resources[resource]
            estimate, basis = self._gap_estimate(resource, near, a, b, prices)
            gaps.append(Gap("render", resource, name, service, category, utc_moment(a), utc_moment(b),
                            estimate, basis))
        return gaps

    def _gap_estimate(self, resource: str, near: Interval | None, start: float, end: float,
                      prices: PriceBook) -> tuple[float | None, str]:
        if near is None:
            return None, "no estimate: never observed"
        state = near.values
        seen = f"observed {utc_moment(near.start):%Y-%m-%d %H:%M}Z"
        if state.get("kind") == "service" and state.get("suspended") and near.start == end:
            # Render dates the suspension (updatedAt, where the gap ends): before it the service ran.
            service = next((s for s in self._services if s.id == resource), None)
            state = {**state, "suspended": False, "instances": service.instances if service else 1}
            seen = f"running until its suspension at {utc_moment(end):%Y-%m-%d %H:%M}Z (updatedAt)"
            near = Interval(near.start, near.end, canonical(state))
        usd, unpriced = 0.0, set()
        for day in days(utc_day(utc_moment(start)), utc_day(utc_moment(end - 1e-6))):
            pricer = RenderPricer(prices.table("render", day), self.config.workspace_plan, self.config.workspace_seats)
            a, b = max(start, day_start(day).timestamp()), min(end, day_start(day + timedelta(days=1)).timestamp())
            usd += sum(p.usd for p in pricer.pieces(resource, Interval(a, b, near.state)))
            unpriced |= pricer.unpriced
        if unpriced:
            return None, f"no estimate: the state {seen} has no price ({', '.join(sorted(unpriced))})"
        what = ("suspended" if state.get("suspended") else
                f"plan {state.get('plan')}" + (f" x {state['instances']} instance(s)" if "instances" in state else ""))
        if state.get("disk_gb"):
            what += f", {state['disk_gb']} GB disk"
        return usd, f"estimate: {what}, as {seen}, assumed for this period (it may have differed)"



def mean_rate(pricer: RenderPricer, resource: str, items: list, start: float, end: float) -> float:
    """USD per observed second of a resource over [start, end)."""
    parts = list(clipped(items, start, end))
    seconds = sum(p.end - p.start for p in parts)
    usd = sum(piece.usd for part in parts for piece in pricer.pieces(resource, part))
    return usd / seconds if seconds > 0 else 0.0


# --- parsing (None = invalid item) ---

def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_service(item: object) -> RenderService | None:
    service = item.get("service") if isinstance(item, dict) else None
    if not isinstance(service, dict):
        return None
    details = service.get("serviceDetails")
    created, updated = parse_time(service.get("createdAt")), parse_time(service.get("updatedAt"))
    sid, name, kind = service.get("id"), service.get("name"), service.get("type")
    if not (isinstance(sid, str) and isinstance(name, str) and isinstance(kind, str)
            and isinstance(details, dict) and created is not None):
        return None
    plan = details.get("plan")
    instances = details.get("numInstances", 1)
    if (plan is not None and not isinstance(plan, str)) or not isinstance(instances, int) or instances < 0:
        return None
    scaling = details.get("autoscaling")
    bounds = None
    if isinstance(scaling, dict) and scaling.get("enabled"):
        low, high = scaling.get("min"), scaling.get("max")
        if isinstance(low, int) and isinstance(high, int):
            bounds = (low, high)
    disk = details.get("disk")
    disk_gb = disk.get("sizeGB") if isinstance(disk, dict) else None
    return RenderService(sid, name, kind, plan, str(details.get("region", "unknown")), instances, bounds,
                         service.get("suspended") == "suspended", created, updated or created,
                         disk_gb if isinstance(disk_gb, int) and not isinstance(disk_gb, bool) else None)


def parse_postgres(item: object) -> RenderDatastore | None:
    db = item.get("postgres") if isinstance(item, dict) else None
    if not isinstance(db, dict):
        return None
    created = parse_time(db.get("createdAt"))
    if not (isinstance(db.get("id"), str) and isinstance(db.get("name"), str)
            and isinstance(db.get("plan"), str) and created is not None):
        return None
    disk_gb = db.get("diskSizeGB")
    return RenderDatastore(db["id"], db["name"], db["plan"], created, parse_time(db.get("updatedAt")),
                           disk_gb if isinstance(disk_gb, int) and not isinstance(disk_gb, bool) else None,
                           db.get("suspended") == "suspended")


def parse_key_value(item: object) -> RenderDatastore | None:
    """One `[{cursor, keyValue: {…}}]` item of GET /key-value (Render's API reference)."""
    kv = item.get("keyValue") if isinstance(item, dict) else None
    if not isinstance(kv, dict):
        return None
    created = parse_time(kv.get("createdAt"))
    if not (isinstance(kv.get("id"), str) and isinstance(kv.get("name"), str)
            and isinstance(kv.get("plan"), str) and created is not None):
        return None
    return RenderDatastore(kv["id"], kv["name"], kv["plan"], created, parse_time(kv.get("updatedAt")),
                           kind="key_value")


def parse_deploy(deploy: object) -> tuple[str, str, datetime, float | None] | None:
    """(id, status, createdAt, duration seconds when final) or None."""
    if not isinstance(deploy, dict):
        return None
    created = parse_time(deploy.get("createdAt"))
    if not isinstance(deploy.get("id"), str) or not isinstance(deploy.get("status"), str) or created is None:
        return None
    started = parse_time(deploy.get("startedAt")) or created
    finished = parse_time(deploy.get("finishedAt"))
    duration = (finished - started).total_seconds() if finished is not None else None
    return deploy["id"], deploy["status"], created, duration


def parse_series(raw: object, units: dict[str, float]) -> Sample | None:
    """A series in base units; `units` empty means the value is a plain count."""
    if not isinstance(raw, dict) or not isinstance(raw.get("labels"), list) or not isinstance(raw.get("values"), list):
        return None
    labels = {lab.get("field"): lab.get("value") for lab in raw["labels"]
              if isinstance(lab, dict) and isinstance(lab.get("field"), str) and isinstance(lab.get("value"), str)}
    resource = labels.get("resource") or labels.get("service")
    unit = raw.get("unit", "")
    factor = units.get(unit.lower(), None) if (units and isinstance(unit, str)) else 1.0
    if not resource or factor is None:
        return None
    sample = Sample(resource, labels)
    for point in raw["values"]:
        stamp = parse_time(point.get("timestamp")) if isinstance(point, dict) else None
        value = point.get("value") if isinstance(point, dict) else None
        if stamp is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        sample.points.append((stamp, float(value) * factor))
    sample.points.sort(key=lambda p: p[0])
    return sample


# --- small pure helpers ---

def latest_mean(samples: list[Sample]) -> dict[str, float]:
    """Per resource: the mean over its series (instances) of each series' latest value."""
    values: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        if sample.points:
            values[sample.resource].append(sample.points[-1][1])
    return {resource: sum(v) / len(v) for resource, v in values.items()}


def status_class(code: str) -> str:
    return f"{code[0]}xx" if code[:1] in "12345" and code[:1] else "unknown"


def normalise_quantile(value: str) -> str:
    try:
        return format(float(value), "g")
    except ValueError:
        return value
