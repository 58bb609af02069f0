"""Render's public API, simulated: services, deploys, Postgres, Key Value and the metrics API.

Shapes follow render.openapi.json: lists are `[{cursor, service|deploy|postgres}]`
(`/key-value`, absent from that document, follows Render's API reference: render/key_value.py)
paged by `cursor` (the last item's) and `limit` (max 100); metrics are
`[{labels:[{field, value}], unit, values:[{timestamp, value, unit}]}]`.

The world (services, plans, deploy schedules) is built once per World and cached;
every value served is a pure function of (seed, scale, time, scenario), so a
later poll sees only what is new. Cost ground truth is plan price × instances ×
running seconds / seconds in the month, computed here independently of
exporters/providers/render/exporter.py, from the simulator's own price_fixtures.py (never price_tables/).
"""

from __future__ import annotations

import bisect
import calendar
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from exporters.simulator import price_fixtures
from exporters.simulator.invoice import InvoiceLine, ground_truth
from exporters.simulator.params import array_param
from exporters.simulator.render import api as render_api
from exporters.simulator.render import key_value as render_key_value
from exporters.simulator.world import World, stable_seed

PREFIX = "/render/v1"
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
OWNER_ID = "tea-sim000000000000000000"
BASE_NAMES = ("api", "web", "worker", "search", "billing", "auth", "jobs", "ingest", "admin", "mailer")
# (plan, service type, instances, autoscaling) by position; index 1 is the suspended one.
LAYOUT = (
    ("standard", "web_service", 2, False),
    ("starter", "web_service", 1, False),
    ("pro", "web_service", 2, True),
    ("standard", "background_worker", 1, False),
    ("free", "web_service", 1, False),
    ("starter", "private_service", 1, False),
    ("standard", "web_service", 3, False),
)
SUSPENDED_INDEX = 1
CPU_LIMIT = {"free": 0.1, "starter": 0.5, "standard": 1.0, "pro": 2.0}
MEMORY_LIMIT_BYTES = {"free": 512e6, "starter": 512e6, "standard": 2e9, "pro": 4e9}
# Under the `saturation` incident (scenario or standing, world.CONDITIONS) these run hot;
# in the steady world every service runs at 35 % CPU and 50 % memory.
HOT_CPU_INDEX = 2  # runs above 90 % CPU
HOT_MEMORY_INDEX = 3  # runs above 90 % memory
HOT_CPU_LEVEL, HOT_MEMORY_LEVEL = 0.93, 0.92
# An autoscaled service may run up to this many instances above its minimum (details.autoscaling.max).
# The hot-CPU service is autoscaled: under `saturation` it runs at that maximum (an instance-count
# change, then held at max), and at its minimum again when the scenario ends.
AUTOSCALING_HEADROOM = 3
# ...because its traffic surges: under `saturation` it serves this many times its usual requests
# (TrafficSpike against the same time a day before).
TRAFFIC_SURGE = 5
CALM_CPU_LEVEL, CALM_MEMORY_LEVEL = 0.35, 0.5
# The `deploy-failure` incident: as a standing condition, 15 % of the history's deploys fail
# (build or update); as a scenario, a deploy of the first service fails when it starts and a
# fixing deploy goes live when it ends. The steady world's deploys never fail.
INCIDENT_SERVICE_INDEX = 0
INCIDENT_BUILD_S = (2.0, 6.0)  # queued, then finished: seconds after the incident's edge
FAILED_STATUSES = ("build_failed", "update_failed")
FINAL_STATUSES = ("live", "build_failed", "update_failed", "canceled")
DISPLAY_TYPE = {"web_service": "Web Service", "private_service": "Private Service",
                "background_worker": "Background Worker"}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> float | None:
    """Render documents epoch seconds; its generated clients send RFC 3339: accept both."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _id(world: World, prefix: str, *parts: object) -> str:
    rng = world.rng("render-id", prefix, *parts)
    return prefix + "-" + "".join(rng.choice("0123456789abcdefghijklmnopqrstuv") for _ in range(20))


@dataclass
class SimDeploy:
    id: str
    created: float
    started: float
    finished: float
    outcome: str  # final status once finished
    trigger: str

    def status_at(self, now: float) -> str:
        if now < self.started:
            return "queued"
        if now < self.started + (self.finished - self.started) * 0.7:
            return "build_in_progress"
        if now < self.finished:
            return "update_in_progress"
        return self.outcome

    def body(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status_at(now), "trigger": self.trigger,
                               "createdAt": iso(self.created), "updatedAt": iso(min(now, self.finished)),
                               "commit": {"id": self.id[4:], "message": "change", "createdAt": iso(self.created)}}
        if now >= self.started:
            out["startedAt"] = iso(self.started)
        if now >= self.finished:
            out["finishedAt"] = iso(self.finished)
        return out


@dataclass
class SimService:
    index: int
    id: str
    name: str
    type: str
    plan: str
    instances: int
    autoscaling: bool
    created: float
    suspended_at: float | None
    region: str
    deploys: list[SimDeploy] = field(default_factory=list)  # oldest first
    deploy_created: list[float] = field(default_factory=list)
    deploy_index: dict[str, int] = field(default_factory=dict)  # cursor (deploy id) -> position
    http_rate_per_min: float = 0.0
    disk_gb: int | None = None  # an attached persistent disk
    # Changes of plan / instances / suspension at given times (scenarios), oldest first.
    changes: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def state_at(self, t: float) -> dict[str, Any]:
        """plan, instances (running) and suspended at time t."""
        state: dict[str, Any] = {"plan": self.plan, "instances": self.instances,
                                 "suspended": self.suspended_at is not None and t >= self.suspended_at}
        for at, change in self.changes:
            if at > t:
                break
            state.update(change)
        return state

    def change_times(self) -> list[float]:
        times = [at for at, _ in self.changes]
        return sorted(times + ([self.suspended_at] if self.suspended_at is not None else []))

    def settings_updated(self, now: float) -> float:
        """updatedAt: the last settings change (plan, suspension, a manual instance count) by now.
        An autoscaler's instance count is not a settings change."""
        times = [self.created] + ([self.suspended_at] if self.suspended_at is not None and
                                  self.suspended_at <= now else [])
        times += [at for at, change in self.changes if at <= now and
                  (set(change) - ({"instances"} if self.autoscaling else set()))]
        return max(times)

    def running_until(self, now: float) -> float:
        return min(now, self.suspended_at) if self.suspended_at is not None else now

    def is_suspended(self, now: float) -> bool:
        return bool(self.state_at(now)["suspended"])

    def body(self, now: float) -> dict[str, Any]:
        state = self.state_at(now)
        details: dict[str, Any] = {
            "env": "python", "runtime": "python", "plan": state["plan"], "region": self.region,
            # Autoscaled: numInstances is the configured (minimum) count, not what runs.
            "numInstances": self.instances if self.autoscaling else state["instances"], "buildPlan": "starter",
            "envSpecificDetails": {"buildCommand": "pip install -r requirements.txt",
                                   "startCommand": "python -m app"},
        }
        if self.autoscaling:
            details["autoscaling"] = {"enabled": True, "min": self.instances, "max": self.instances + AUTOSCALING_HEADROOM,
                                      "criteria": {"cpu": {"enabled": True, "percentage": 70},
                                                   "memory": {"enabled": False, "percentage": 80}}}
        if self.type in ("web_service", "private_service"):
            details["openPorts"] = [{"port": 10000, "protocol": "TCP"}]
            details["url"] = f"https://{self.name}.onrender.com"
        if self.type == "web_service":
            details["healthCheckPath"] = "/healthz"
        if self.disk_gb:
            details["disk"] = {"id": "dsk-" + self.id[4:24], "name": f"{self.name}-data", "sizeGB": self.disk_gb,
                               "mountPath": "/var/data"}
        suspended = bool(state["suspended"])
        updated = self.settings_updated(now)
        return {
            "id": self.id, "name": self.name, "ownerId": OWNER_ID, "type": self.type,
            "createdAt": iso(self.created), "updatedAt": iso(updated),
            "dashboardUrl": f"https://dashboard.render.com/web/{self.id}",
            "suspended": "suspended" if suspended else "not_suspended",
            "suspenders": ["user"] if suspended else [], "autoDeploy": "yes", "notifyOnFail": "default",
            "slug": self.name, "rootDir": "", "branch": "main", "repo": f"https://github.com/example/{self.name}",
            "serviceDetails": details,
        }


@dataclass
class SimPostgres:
    id: str
    name: str
    plan: str
    created: float
    disk_gb: int = 10

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id, "ipAllowList": [], "createdAt": iso(self.created), "updatedAt": iso(self.created),
            "databaseName": self.name.replace("-", "_"), "databaseUser": "app", "highAvailabilityEnabled": False,
            "name": self.name, "owner": {"id": OWNER_ID, "name": "Example", "email": "ops@example.com",
                                         "type": "team"},
            "plan": self.plan, "region": "oregon", "readReplicas": [], "role": "primary", "status": "available",
            "version": "16", "suspended": "not_suspended", "suspenders": [], "diskSizeGB": self.disk_gb,
            "dashboardUrl": f"https://dashboard.render.com/d/{self.id}", "diskAutoscalingEnabled": False,
        }


def _noise(*parts: object) -> float:
    """Deterministic value in [0, 1) from parts (cheap: one blake2b)."""
    return (stable_seed(*parts) % 1_000_000) / 1_000_000


class RenderSim:
    name = "render"
    prefix = PREFIX
    # What the demo config (simulator_config) sets for it: its ids and its monthly budget.
    demo_settings: dict[str, str] = {}
    demo_budget_usd = 300

    def __init__(self, world: World):
        self.world = world
        self._services: list[SimService] | None = None
        self._postgres: list[SimPostgres] | None = None
        self._key_values: list[render_key_value.SimKeyValue] | None = None
        self._prices: dict[str, float] | None = None
        self._by_id: dict[str, SimService] | None = None
        # The workspace's plan and paid seats (billed per seat-month); tests set them with the config.
        self.workspace_plan = "hobby"
        self.workspace_seats = 0

    # --- the world, built once ---

    def services(self) -> list[SimService]:
        if self._services is None:
            self._services = [self._make_service(i) for i in range(self.world.scale.render_services)]
        return self._services

    def postgres(self) -> list[SimPostgres]:
        if self._postgres is None:
            count = max(1, math.ceil(self.world.scale.render_services / 10))
            start = self.world.epoch().timestamp()
            plans = ("basic_1gb", "pro_4gb", "basic_256mb")
            self._postgres = [SimPostgres(_id(self.world, "dpg", i), f"db-{i}", plans[i % len(plans)],
                                          start - 86400 * 30, (10, 50, 15)[i % 3]) for i in range(count)]
        return self._postgres

    def key_values(self) -> list[render_key_value.SimKeyValue]:
        if self._key_values is None:
            count = render_key_value.key_value_count(self.world.scale.render_services)
            self._key_values = render_key_value.make_key_values(
                count, [_id(self.world, "red", i) for i in range(count)], self.world.epoch().timestamp() - 86400 * 30,
                {"id": OWNER_ID, "name": "Example", "email": "ops@example.com", "type": "team"})
        return self._key_values

    def _make_service(self, i: int) -> SimService:
        world = self.world
        plan, kind, instances, autoscaling = LAYOUT[i % len(LAYOUT)]
        rng = world.rng("render-service", i)
        epoch = world.epoch().timestamp()
        history_s = world.scale.history_days * 86400
        # Every fourth service was created during the history window, the rest before it.
        created = epoch + rng.uniform(0.2, 0.7) * history_s if i % 4 == 3 else epoch - 86400 * rng.randint(5, 400)
        created = float(int(created))
        # A wall-clock world counts from midnight UTC of the day it was built (not from its "now"), so
        # two simulators built the same day see the same suspension (the native stack's, and the one
        # that replays the month before it: tests/stack/cycle_history.py).
        start_ts = (world.start or world.epoch() + timedelta(days=world.scale.history_days)).timestamp()
        suspended_at = float(int(start_ts - 86400 * 9.5)) if i == SUSPENDED_INDEX else None
        base = BASE_NAMES[i % len(BASE_NAMES)]
        name = base if i < len(BASE_NAMES) else f"{base}-{i}"
        service = SimService(i, _id(world, "srv", i), name, kind, plan, instances, autoscaling, created,
                             suspended_at, ("oregon", "frankfurt", "ohio")[i % 3])
        service.http_rate_per_min = rng.uniform(40, 900) if kind == "web_service" else 0.0
        service.disk_gb = 10 if i % len(LAYOUT) == 0 else None  # the first service keeps data on a disk
        # Service 0 deploys often (over 100 deploys in a 40-day history: two cursor pages).
        self._make_deploys(service, 4.0 if i == 0 else rng.uniform(0.5, 3.0))
        return service

    def _make_deploys(self, service: SimService, per_day: float) -> None:
        rng = self.world.rng("render-deploys", service.index)
        t = max(service.created, self.world.epoch().timestamp()) + rng.uniform(0, 86400 / per_day)
        horizon = self.world.epoch().timestamp() + (self.world.scale.history_days + 60) * 86400
        n = 0
        while t < horizon:
            if service.suspended_at is not None and t >= service.suspended_at:
                break
            started = t + rng.uniform(3, 60)
            finished = started + rng.uniform(45, 900)
            roll = rng.random()
            outcome = "live" if roll < 0.85 else "build_failed" if roll < 0.93 else \
                "update_failed" if roll < 0.97 else "canceled"
            if outcome in FAILED_STATUSES and "deploy-failure" not in self.world.incidents:
                outcome = "live"  # the same schedule, healthy
            trigger = "new_commit" if rng.random() < 0.8 else "manual"
            deploy_id = "dep-" + format(rng.getrandbits(100), "025x")[:20]  # from the service's stream: cheap
            service.deploys.append(SimDeploy(deploy_id, t, started, finished, outcome, trigger))
            service.deploy_created.append(t)
            service.deploy_index[service.deploys[-1].id] = n
            n += 1
            t += rng.expovariate(per_day / 86400) + 1.0

    def _price_table(self) -> dict[str, float]:
        if self._prices is None:  # the simulator's own fixtures, never price_tables/
            self._prices = {k: v.usd for k, v in price_fixtures.RENDER_PLANS.items()}
        return self._prices

    # --- HTTP ---

    def routes(self) -> list[web.RouteDef]:
        p = self.prefix
        routes = [
            web.get(f"{p}/services", self._list_services),
            web.get(f"{p}/services/{{serviceId}}", self._get_service),
            web.get(f"{p}/services/{{serviceId}}/deploys", self._list_deploys),
            web.get(f"{p}/postgres", self._list_postgres),
            web.get(f"{p}/key-value", self._list_key_values),
        ]
        for metric in ("cpu", "cpu-limit", "memory", "memory-limit", "http-requests", "http-latency",
                       "instance-count", "active-connections", "bandwidth"):
            routes.append(web.get(f"{p}/metrics/{metric}", self._metric_handler(metric)))
        return routes

    def _now(self) -> float:
        return self.world.now_ts()

    @staticmethod
    def _limit(request: web.Request) -> int | web.Response:
        raw = request.query.get("limit", str(DEFAULT_LIMIT))
        try:
            limit = int(raw)
        except ValueError:
            return _bad_request("limit must be an integer")
        if not 1 <= limit <= MAX_LIMIT:
            return _bad_request(f"limit must be between 1 and {MAX_LIMIT}")
        return limit

    def _visible_services(self, request: web.Request) -> list[SimService]:
        now = self._now()
        owners = ",".join(request.query.getall("ownerId", [])).split(",")
        owners = [o for o in owners if o]
        if owners and OWNER_ID not in owners:
            return []
        return [s for s in self.services() if s.created <= now]

    async def _list_services(self, request: web.Request) -> web.Response:
        limit = self._limit(request)
        if isinstance(limit, web.Response):
            return limit
        now = self._now()
        try:  # the documented filters (render/api.py), applied to the bodies Render would list
            rows = render_api.filter_items(request.query, [(s.id, s.body(now)) for s in self._visible_services(request)],
                                           render_api.SERVICE_FIELDS)
        except render_api.BadFilter as exc:
            return _bad_request(str(exc))
        start = _after_cursor([c for c, _ in rows], request.query.get("cursor"))
        return web.json_response([{"cursor": c, "service": b} for c, b in rows[start:start + limit]])

    async def _get_service(self, request: web.Request) -> web.Response:
        service = self._service(request.match_info["serviceId"])
        if service is None or service.created > self._now():
            return _not_found()
        return web.json_response(service.body(self._now()))

    async def _list_postgres(self, request: web.Request) -> web.Response:
        limit = self._limit(request)
        if isinstance(limit, web.Response):
            return limit
        try:
            rows = render_api.filter_items(request.query, [(d.id, d.body()) for d in self.postgres()],
                                           render_api.POSTGRES_FIELDS)
        except render_api.BadFilter as exc:
            return _bad_request(str(exc))
        start = _after_cursor([c for c, _ in rows], request.query.get("cursor"))
        return web.json_response([{"cursor": c, "postgres": b} for c, b in rows[start:start + limit]])

    async def _list_key_values(self, request: web.Request) -> web.Response:
        limit = self._limit(request)
        if isinstance(limit, web.Response):
            return limit
        try:
            rows = render_api.filter_items(request.query, [(kv.id, kv.body()) for kv in self.key_values()],
                                           render_key_value.FIELDS)
        except render_api.BadFilter as exc:
            return _bad_request(str(exc))
        start = _after_cursor([c for c, _ in rows], request.query.get("cursor"))
        return web.json_response([{"cursor": c, "keyValue": b} for c, b in rows[start:start + limit]])

    def _service(self, service_id: str) -> SimService | None:
        if self._by_id is None:
            self._by_id = {s.id: s for s in self.services()}
        return self._by_id.get(service_id)

    async def _list_deploys(self, request: web.Request) -> web.Response:
        limit = self._limit(request)
        if isinstance(limit, web.Response):
            return limit
        service = self._service(request.match_info["serviceId"])
        now = self._now()
        if service is None or service.created > now:
            return _not_found()
        self._sync_incident_deploys()
        try:
            after = parse_time(request.query.get("createdAfter"))
        except ValueError:
            return _bad_request("createdAfter must be a timestamp")
        cursor = request.query.get("cursor")
        # Newest first: visible deploys are [lo, hi) of the oldest-first list, served backwards.
        hi = bisect.bisect_right(service.deploy_created, now)
        if cursor:
            hi = min(hi, service.deploy_index.get(cursor, 0))
        lo = bisect.bisect_right(service.deploy_created, after) if after is not None else 0
        if render_api.deploy_filters_present(request.query):  # status / time filters: filter, then page
            try:
                rows = render_api.filter_deploys(request.query, [(d.id, d.body(now)) for d in service.deploys[lo:hi][::-1]])
            except render_api.BadFilter as exc:
                return _bad_request(str(exc))
            return web.json_response([{"cursor": c, "deploy": b} for c, b in rows[:limit]])
        chosen = service.deploys[max(lo, hi - limit):hi][::-1]
        return web.json_response([{"cursor": d.id, "deploy": d.body(now)} for d in chosen])

    # --- metrics ---

    def _metric_handler(self, metric: str):  # type: ignore[no-untyped-def]
        async def handle(request: web.Request) -> web.Response:
            try:
                window = self._window(request)
                render_api.check_metric_params(request.query, metric)
            except ValueError as exc:  # render_api.BadFilter included
                return _bad_request(str(exc))
            resources_ = render_api.metric_resources(request.query)
            series: list[dict[str, Any]] = []
            if metric == "active-connections":
                wanted = set(resources_)
                for db in self.postgres():
                    if db.id in wanted:
                        series.append(self._series(db.id, "connections", window,
                                                   lambda t, db=db: 5 + int(40 * _noise(self.world.seed, db.id, t))))
                return web.json_response(series)
            self._sync_autoscaling()
            by_id = {s.id: s for s in self.services()}
            now = self._now()
            for resource_id in resources_:
                service = by_id.get(resource_id)
                if service is None or service.created > now or service.is_suspended(now):
                    continue
                if not render_api.serves_host(request.query, f"{service.name}.onrender.com"):
                    continue
                series.extend(self._service_series(metric, service, window, request))
            return web.json_response(render_api.only_instance(request.query, series))
        return handle

    def _window(self, request: web.Request) -> tuple[list[float], float, float]:
        """Bucket start times in [startTime, endTime], at resolutionSeconds, and the current time."""
        now = self._now()
        end = parse_time(request.query.get("endTime"))
        start = parse_time(request.query.get("startTime"))
        end = now if end is None else min(end, now)
        start = end - 3600 if start is None else start
        resolution = float(request.query.get("resolutionSeconds", "60"))
        if resolution < 30:
            raise ValueError("resolutionSeconds must be at least 30")
        first = math.ceil(start / resolution) * resolution
        count = max(0, min(1440, int((end - first) // resolution) + 1))
        return [first + k * resolution for k in range(count)], resolution, now

    @staticmethod
    def _series(resource_id: str, unit: str, window: tuple[list[float], float, float], value, extra=()):  # type: ignore[no-untyped-def]
        buckets = window[0]
        return {"labels": [{"field": "resource", "value": resource_id}, *extra], "unit": unit,
                "values": [{"timestamp": iso(t), "value": value(t), "unit": unit} for t in buckets]}

    def _scenario(self, name: str, t: float) -> bool:
        return self.world.scenario_applies(name, "render") and t >= self.world.since(name) - 120

    def _saturated(self, t: float) -> bool:
        return "saturation" in self.world.incidents or self._scenario("saturation", t)

    def _sync_incident_deploys(self) -> None:
        """Add the deploys of every `deploy-failure` run so far to the first service: failed
        attempts while it runs, a deploy that fixes it (live) when it ends (World.incident_deploys)."""
        services = self.services()
        if not services:
            return
        service = services[INCIDENT_SERVICE_INDEX]
        for at, failed in self.world.incident_deploys("render"):
            outcome = "build_failed" if failed else "live"
            deploy_id = "dep-" + format(stable_seed(self.world.seed, "incident-deploy", at, outcome), "020x")[:20]
            if deploy_id in service.deploy_index:
                continue
            queued, build = INCIDENT_BUILD_S
            position = bisect.bisect_right(service.deploy_created, at)
            service.deploys.insert(position, SimDeploy(deploy_id, at, at + queued, at + build, outcome, "manual"))
            service.deploy_created.insert(position, at)
            service.deploy_index.clear()
            service.deploy_index.update({d.id: n for n, d in enumerate(service.deploys)})

    def _sync_autoscaling(self) -> None:
        """Scale the hot autoscaled service to its maximum for every `saturation` run so far (for
        the whole history when it is a standing condition), back to its minimum when a run ends:
        recorded as state changes, so the invoice bills the instances that ran."""
        services = self.services()
        if len(services) <= HOT_CPU_INDEX or not services[HOT_CPU_INDEX].autoscaling:
            return
        s = services[HOT_CPU_INDEX]
        high, now = s.instances + AUTOSCALING_HEADROOM, self._now()
        wanted = [(s.created, {"instances": high})] if "saturation" in self.world.incidents else []
        for episode in self.world.episodes_of("saturation", "render"):
            if episode.since <= now:
                wanted.append((episode.since, {"instances": high}))
            if episode.until is not None and episode.until <= now:
                wanted.append((episode.until, {"instances": s.instances}))
        added = [change for change in wanted if change not in s.changes]
        if added:
            s.changes.extend(added)
            s.changes.sort(key=lambda c: c[0])

    def _service_series(self, metric: str, s: SimService, window: tuple[list[float], float, float],
                        request: web.Request) -> list[dict[str, Any]]:
        seed = self.world.seed
        _, resolution, now = window
        running = s.state_at(now)
        instances = [f"{s.id}-{k}" for k in range(running["instances"])]
        plan = running["plan"]

        def label(field_: str, value: str) -> list[dict[str, str]]:
            return [{"field": field_, "value": value}]

        if metric == "cpu":
            def cpu_level(t: float) -> float:
                return HOT_CPU_LEVEL if s.index == HOT_CPU_INDEX and self._saturated(t) else CALM_CPU_LEVEL
            return [self._series(s.id, "cpu", window, lambda t, i=i: round(
                CPU_LIMIT.get(plan, 1.0) * (cpu_level(t) + 0.05 * _noise(seed, i, "cpu", t)), 4), label("instance", i))
                for i in instances]
        if metric == "memory":
            def memory_level(t: float) -> float:
                return HOT_MEMORY_LEVEL if s.index == HOT_MEMORY_INDEX and self._saturated(t) else CALM_MEMORY_LEVEL
            return [self._series(s.id, "bytes", window, lambda t, i=i: int(
                MEMORY_LIMIT_BYTES.get(plan, 2e9) * (memory_level(t) + 0.04 * _noise(seed, i, "mem", t))),
                label("instance", i)) for i in instances]
        if metric == "cpu-limit":
            return [self._series(s.id, "cpu", window, lambda t: CPU_LIMIT.get(s.state_at(t)["plan"], 1.0))]
        if metric == "memory-limit":
            return [self._series(s.id, "bytes", window, lambda t: MEMORY_LIMIT_BYTES.get(s.state_at(t)["plan"], 2e9))]
        if metric == "instance-count":
            return [self._series(s.id, "instances", window, lambda t: s.state_at(t)["instances"])]
        if s.type != "web_service":
            return []
        if metric == "http-latency":
            quantiles = array_param(request.query, "quantile") or ["0.95"]
            base = {0.5: 45.0, 0.95: 180.0, 0.99: 420.0}
            spike = {0.5: 400.0, 0.95: 2600.0, 0.99: 3900.0}
            out = []
            for q in quantiles:
                qf = float(q)
                out.append(self._series(s.id, "ms", window, lambda t, qf=qf: round(
                    (spike if self._scenario("latency-spike", t) else base).get(qf, 200.0)
                    * (1 + 0.1 * _noise(seed, s.id, "lat", qf, t)), 2), label("quantile", q)))
            return out
        if metric == "http-requests":
            codes = ("200", "301", "404", "500")
            if request.query.get("aggregateBy") == "host":  # one series per host instead of per status code
                return [self._series(s.id, "requests", window, lambda t: sum(
                    self._requests(s, t, resolution, now, code) for code in codes), label("host", f"{s.name}.onrender.com"))]
            return [self._series(s.id, "requests", window,
                                 lambda t, code=code: self._requests(s, t, resolution, now, code),
                                 label("statusCode", code))
                    for code in codes]
        if metric == "bandwidth":
            return [self._series(s.id, "MB", window, lambda t: round(
                self._bucket_total(s, t, resolution, now) * 0.025, 6))]
        return []

    def _bucket_total(self, s: SimService, t: float, resolution: float, now: float) -> int:
        """Requests in [t, t + resolution); the current bucket holds what has arrived so far."""
        surge = TRAFFIC_SURGE if s.index == HOT_CPU_INDEX and self._saturated(t) else 1
        full = int(surge * s.http_rate_per_min * resolution / 60 * (0.8 + 0.4 * _noise(self.world.seed, s.id, "rq", int(t))))
        elapsed = min(resolution, max(0.0, now - t))
        return int(full * elapsed / resolution)

    def _requests(self, s: SimService, t: float, resolution: float, now: float, code: str) -> int:
        total = self._bucket_total(s, t, resolution, now)
        share_5xx = 0.08 if self._scenario("error-burst", t) else 0.003
        n500 = int(total * share_5xx)
        n404 = int(total * 0.03)
        n301 = int(total * 0.02)
        return {"500": n500, "404": n404, "301": n301, "200": total - n500 - n404 - n301}[code]

    # --- ground truth, request minimum, rate-limit headers ---

    def schedule(self, name: str, at: float, **change: Any) -> None:
        """From `at` on, the service runs with `change` (plan=…, instances=…, suspended=…)."""
        service = next(s for s in self.services() if s.name == name)
        service.changes.append((at, dict(change)))
        service.changes.sort(key=lambda c: c[0])

    def invoice_lines(self, first_day: date, now: float) -> list[InvoiceLine]:
        """What Render would invoice from `first_day` to now: every service, disk, Postgres and seat,
        priced from the simulator's own fixtures, split per UTC day."""
        self._sync_autoscaling()
        lines: list[InvoiceLine] = []
        day = first_day
        while (day0 := _day_ts(day)) < now:
            day1 = min(_day_ts(day + timedelta(days=1)), now)
            month_s = calendar.monthrange(day.year, day.month)[1] * 86400.0
            for s in self.services():
                lines += self._service_lines(s, day, day0, day1, month_s)
            for db in self.postgres():
                seconds = max(0.0, day1 - max(day0, db.created))
                if seconds > 0:
                    lines.append(InvoiceLine(day, db.name, db.plan,
                                             price_fixtures.RENDER_POSTGRES_PLANS[db.plan].usd * seconds / month_s))
                    lines.append(InvoiceLine(day, db.name, "storage", price_fixtures.RENDER_POSTGRES_STORAGE.usd
                                             * db.disk_gb * seconds / month_s))
            lines += render_key_value.invoice_lines(self.key_values(), day, day0, day1, month_s)
            if self.workspace_seats:
                seat = price_fixtures.RENDER_WORKSPACE_SEAT[self.workspace_plan].usd
                lines.append(InvoiceLine(day, "workspace", "seats", seat * self.workspace_seats
                                         * (day1 - day0) / month_s, category="Purchase"))
            day += timedelta(days=1)
        return lines

    def _service_lines(self, s: SimService, day: date, day0: float, day1: float,
                       month_s: float) -> list[InvoiceLine]:
        start = max(day0, s.created)
        if start >= day1:
            return []
        cuts = [start, *(t for t in s.change_times() if start < t < day1), day1]
        compute: dict[str, float] = {}
        for a, b in zip(cuts, cuts[1:], strict=False):
            state = s.state_at(a)
            if not state["suspended"]:
                usd = price_fixtures.RENDER_PLANS[state["plan"]].usd * state["instances"] * (b - a) / month_s
                compute[state["plan"]] = compute.get(state["plan"], 0.0) + usd
        lines = [InvoiceLine(day, s.name, plan, usd) for plan, usd in compute.items()]
        if s.disk_gb:
            lines.append(InvoiceLine(day, s.name, "disk", price_fixtures.RENDER_DISK.usd * s.disk_gb
                                     * (day1 - start) / month_s))
        return lines

    def ground_truth(self) -> dict:
        now_dt = self.world.now()
        first = now_dt.date().replace(day=1)
        names = [s.name for s in self.services() if s.created <= now_dt.timestamp()]
        names += [db.name for db in self.postgres()] + [kv.name for kv in self.key_values()]
        names += ["workspace"] if self.workspace_seats else []
        return ground_truth(self.invoice_lines(first, now_dt.timestamp()), now_dt.date(), projects=names)

    def minimum_requests(self, page_sizes: dict[str, int] | None = None) -> dict[str, int]:
        sizes = {"services": MAX_LIMIT, "postgres": MAX_LIMIT, "key-value": MAX_LIMIT, "deploys": MAX_LIMIT,
                 **(page_sizes or {})}
        now = self._now()
        self._sync_incident_deploys()
        services = [s for s in self.services() if s.created <= now]
        history_start = self.world.history_start().timestamp()
        deploys = 0
        for s in services:
            visible = bisect.bisect_right(s.deploy_created, now) - bisect.bisect_right(s.deploy_created, history_start)
            deploys += cursor_pages(visible, sizes["deploys"])
        # cpu, cpu-limit, memory, memory-limit, http-requests, http-latency, instance-count,
        # bandwidth for services; active-connections only when there is a datastore.
        metrics = 8 + (1 if self.postgres() else 0)
        return {"services": cursor_pages(len(services), sizes["services"]),
                "postgres": cursor_pages(len(self.postgres()), sizes["postgres"]),
                "key-value": cursor_pages(len(self.key_values()), sizes["key-value"]),
                "deploys": deploys, "metrics": metrics}

    def rate_limit_headers(self, limit: int, remaining: int, reset_in_s: float) -> dict[str, str]:
        # Render's documented example: Reset as seconds remaining in the window.
        return {"Ratelimit-Limit": str(limit), "Ratelimit-Remaining": str(remaining),
                "Ratelimit-Reset": str(max(1, math.ceil(reset_in_s)))}

    # --- helpers for tests ---

    def display_type(self, service_type: str) -> str:
        return DISPLAY_TYPE.get(service_type, service_type)


def cursor_pages(items: int, page_size: int) -> int:
    """Requests to read a cursor-paged list: Render says nothing about "more", so only a
    short page ends the list, and a full last page costs one more (empty) request."""
    return items // page_size + 1


def _after_cursor(ids: list[str], cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return ids.index(cursor) + 1
    except ValueError:
        return len(ids)


def _bad_request(message: str) -> web.Response:
    return web.json_response({"id": "bad_request", "message": message}, status=400)


def _not_found() -> web.Response:
    return web.json_response({"id": "not_found", "message": "not found"}, status=404)


__all__ = ["RenderSim", "parse_time", "iso"]


def _day_ts(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
