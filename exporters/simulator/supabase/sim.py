"""Supabase, simulated: the Management API (per supabase.openapi.json) and each
project's Prometheus metrics endpoint.

In detail: exporters/simulator/README.md, "Supabase (`/supabase`)".
"""

from __future__ import annotations

import base64
import calendar
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from exporters.costs.billing import cycle_of
from exporters.simulator import price_fixtures
from exporters.simulator.invoice import InvoiceLine, ground_truth
from exporters.simulator.params import array_param, parse_int
from exporters.simulator.world import SUPABASE_SERVICE_ROLE_SECRET, World, stable_seed

PREFIX = "/supabase"
METRICS_PREFIX = "/supabase-metrics"
ORG_SLUG = "sim-org"
NAMES = ("production", "staging", "analytics", "marketing", "internal", "mobile", "reports", "search")
COMPUTE = ("ci_small", "ci_micro", "ci_medium", "ci_micro", "ci_large")
# The API quotes these add-ons' prices itself; the others from the simulator's price_fixtures.py.
QUOTED_PRICE = {"ci_medium", "ci_large"}
HEALTH_TIMEOUT_MAX_MS = 10_000  # the document's maximum for `timeout_ms`
SERVICES = ("auth", "db", "db_postgres_user", "pooler", "realtime", "rest", "storage", "pg_bouncer")
UNHEALTHY_INDEX = 1  # ACTIVE_UNHEALTHY, database down, under the `supabase-down` incident
UNHEALTHY_SERVICES = ("db", "db_postgres_user", "pooler", "pg_bouncer", "rest", "storage")
# Under the `backup-missing` incident (scenario or standing, world.CONDITIONS) this project's
# backups of the last four days failed; it has no PITR (only every third project has), so its
# latest completed backup is days old. In the steady world every daily backup completes.
STALE_BACKUP_INDEX = 1
# Under `saturation` (scenario or standing, world.CONDITIONS) this project's database host runs hot:
# 95 % CPU, 8 % of its memory available, its disk 97 % full, and its read replica 900 s behind.
# In the steady world: 30 % CPU, 45 % of memory available, no lag, and the disk far from full.
HOT_PROJECT_INDEX = 0
READ_ONLY_AT = 0.95  # Supabase's read-only mode: from 95 % of the disk (so on under saturation)
HOT_IDLE_SHARE, HOT_MEMORY_AVAILABLE, HOT_DISK_FULL, HOT_LAG_S = 0.05, 0.08, 0.97, 900.0
CALM_IDLE_SHARE, CALM_MEMORY_AVAILABLE = 0.7, 0.45
STALE_BACKUP_DAYS = 4
# The auth log (GoTrue's request log) as the simulator writes it: per project and minute, requests to
# POST /token (password or refresh_token grant) and POST /signup, a small share of them failing.
# Shares of the project's auth request rate, and the failure share, per kind.
AUTH_TRAFFIC = {"sign_in": (0.30, 0.04), "token_refresh": (0.60, 0.01), "sign_up": (0.05, 0.02)}
AUTH_REQUEST = {"sign_in": ("/token", "password"), "token_refresh": ("/token", "refresh_token"),
                "sign_up": ("/signup", None)}
# Under the `auth-attack` scenario the project at this index (`production`) also gets failed password
# sign-ins (credential stuffing) in every minute from the scenario's start: twice its other attempts
# that minute, and at least this many.
AUTH_ATTACK_INDEX = 0
AUTH_ATTACK_FAILED_SIGN_INS_PER_MIN = 60
LOG_SOURCES = ("edge_logs", "postgres_logs", "auth_logs", "function_edge_logs", "function_logs",
               "storage_logs", "realtime_logs", "postgrest_logs", "supavisor_logs")
LOGS_MAX_RANGE_S = 86400  # the document: at most 24 hours
LOGS_DEFAULT_RANGE_S = 60  # neither timestamp: the last minute
LOGS_ROW_LIMIT = 100  # raw rows answered at most (the simulator's cap)
API_BUCKETS_S = {"15min": (900, 60), "30min": (1800, 60), "1hr": (3600, 60), "3hr": (10800, 600),
                 "1day": (86400, 3600), "3day": (259200, 3600), "7day": (604800, 86400)}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# The metrics endpoint's Postgres exporter series carry the server they read (supabase/supabase-grafana
# docs/metrics.md); node_exporter's disk series one per device: root (nvme0n1) and data (nvme1n1).
PG_SERVER = {"server": "localhost:5432"}
DISKS = {"nvme0n1": (2e4, 5e4, 0.01), "nvme1n1": (1.5e6, 8e5, 0.15)}  # read B/s, written B/s, busy share


def _noise(*parts: object) -> float:
    return (stable_seed(*parts) % 1_000_000) / 1_000_000


@dataclass
class SimProject:
    index: int
    ref: str
    name: str
    created: float
    status: str
    compute: str
    pitr: bool
    disk_size: float
    api_rate_per_min: dict[str, float]
    # Changes of compute size / PITR / pause at given times (scenarios), oldest first.
    changes: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def state_at(self, t: float) -> dict[str, Any]:
        state: dict[str, Any] = {"compute": self.compute, "pitr": self.pitr, "paused": self.status == "INACTIVE"}
        for at, change in self.changes:
            if at > t:
                break
            state.update(change)
        return state

    def change_times(self) -> list[float]:
        return [at for at, _ in self.changes]


class SupabaseSim:
    name = "supabase"
    prefix = PREFIX
    # What the demo config (simulator_config) sets for it: its ids and its monthly budget.
    demo_settings: dict[str, str] = {}
    demo_budget_usd = 150

    def __init__(self, world: World):
        self.world = world
        self._projects: list[SimProject] | None = None
        self._by_ref: dict[str, SimProject] = {}
        self._table: dict[str, Any] | None = None
        self.billing_anchor_day = 1  # tests set it with the exporter's config

    # --- the world, built once ---

    def projects(self) -> list[SimProject]:
        if self._projects is None:
            count = self.world.scale.supabase_projects
            self._projects = [self._make(i, count) for i in range(count)]
            self._by_ref = {p.ref: p for p in self._projects}
        return self._projects

    def _make(self, i: int, count: int) -> SimProject:
        rng = self.world.rng("supabase-project", i)
        ref = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(20))
        epoch = self.world.epoch().timestamp()
        history_s = self.world.scale.history_days * 86400
        created = epoch + rng.uniform(0.3, 0.6) * history_s if i % 5 == 4 else epoch - 86400 * rng.randint(20, 300)
        inactive = count >= 3 and i == count - 1
        status = "INACTIVE" if inactive else "ACTIVE_HEALTHY"
        if inactive:
            created = epoch - 86400 * 200
        name = NAMES[i % len(NAMES)] if i < len(NAMES) else f"{NAMES[i % len(NAMES)]}-{i}"
        rates = {k: rng.uniform(5, 300) for k in ("rest", "auth", "storage", "realtime")}
        return SimProject(i, ref, name, float(int(created)), status, COMPUTE[i % len(COMPUTE)], i % 3 == 0,
                          8e9 * (1 + i % 4), rates)

    def project(self, ref: str) -> SimProject | None:
        self.projects()
        return self._by_ref.get(ref)

    def price_table(self) -> dict[str, Any]:
        if self._table is None:  # the simulator's own fixtures, never price_tables/
            self._table = {
                "plan_usd_per_month": {k: v.usd for k, v in price_fixtures.SUPABASE_PLANS.items()},
                "compute_credit_usd_per_month": {k: v.usd for k, v in price_fixtures.SUPABASE_COMPUTE_CREDIT.items()},
                "compute_usd_per_hour": {k: v.usd for k, v in price_fixtures.SUPABASE_COMPUTE_PER_HOUR.items()}}
        return self._table

    def _now(self) -> float:
        return self.world.now_ts()

    def _active(self, p: SimProject) -> bool:
        return not p.state_at(self._now())["paused"] and p.created <= self._now()

    def _status(self, p: SimProject) -> str:
        if p.state_at(self._now())["paused"]:
            return "INACTIVE"
        return "ACTIVE_UNHEALTHY" if self._down(p) else p.status

    def _hot(self, p: SimProject) -> bool:
        """The `saturation` condition on this project (HOT_PROJECT_INDEX)."""
        return p.index == HOT_PROJECT_INDEX and self.world.condition("saturation", self.name)

    def _hot_seconds(self, p: SimProject, now: float) -> float:
        """Seconds of the project's life so far spent saturated (its CPU counters run slower then)."""
        if p.index != HOT_PROJECT_INDEX:
            return 0.0
        if "saturation" in self.world.incidents:
            return max(0.0, now - p.created)
        return sum(max(0.0, min(now, e.until if e.until is not None else now) - max(e.since, p.created))
                   for e in self.world.episodes_of("saturation", self.name))

    def _down(self, p: SimProject) -> bool:
        """The `supabase-down` incident: this project's database is down."""
        return p.index == UNHEALTHY_INDEX and self.world.condition("supabase-down", self.name)

    def schedule(self, name: str, at: float, **change: Any) -> None:
        """From `at` on, the project runs with `change` (compute=…, pitr=…, paused=…)."""
        project = next(p for p in self.projects() if p.name == name)
        project.changes.append((at, dict(change)))
        project.changes.sort(key=lambda c: c[0])

    # --- HTTP ---

    def routes(self) -> list[web.RouteDef]:
        p = f"{self.prefix}/v1/projects"
        return [
            web.get(p, self._list_projects),
            web.get(f"{p}/{{ref}}", self._get_project),
            web.get(f"{p}/{{ref}}/health", self._health),
            web.get(f"{p}/{{ref}}/database/backups", self._backups),
            web.get(f"{p}/{{ref}}/billing/addons", self._addons),
            web.get(f"{p}/{{ref}}/analytics/endpoints/usage.api-counts", self._api_counts),
            web.get(f"{p}/{{ref}}/analytics/endpoints/logs.all", self._logs),
            web.get(f"{p}/{{ref}}/config/disk/util", self._disk),
            web.get(f"{p}/{{ref}}/readonly", self._readonly),
            web.get(f"{METRICS_PREFIX}/{{ref}}/customer/v1/privileged/metrics", self._prometheus),
        ]

    def _project_body(self, p: SimProject) -> dict[str, Any]:
        return {"id": p.ref, "ref": p.ref, "organization_id": ORG_SLUG, "organization_slug": ORG_SLUG,
                "name": p.name, "region": "eu-central-1", "created_at": iso(p.created), "status": self._status(p),
                "database": {"host": f"db.{p.ref}.supabase.co", "version": "17.4.1.054",
                             "postgres_engine": "17", "release_channel": "ga"}}

    def _found(self, request: web.Request) -> SimProject | None:
        p = self.project(request.match_info["ref"])
        return p if p is not None and p.created <= self._now() else None

    async def _list_projects(self, _request: web.Request) -> web.Response:
        now = self._now()
        return web.json_response([self._project_body(p) for p in self.projects() if p.created <= now])

    async def _get_project(self, request: web.Request) -> web.Response:
        p = self._found(request)
        return _not_found() if p is None else web.json_response(self._project_body(p))

    async def _health(self, request: web.Request) -> web.Response:
        p = self._found(request)
        if p is None:
            return _not_found()
        # `services` is required: repeated (the document's form), bracketed or comma-joined (params.py).
        wanted = array_param(request.query, "services")
        if not wanted or any(s not in SERVICES for s in wanted):
            return web.json_response({"message": "services must be one or more of " + ", ".join(SERVICES)},
                                     status=400)
        timeout_ms = parse_int(request.query["timeout_ms"]) if "timeout_ms" in request.query else 0
        if timeout_ms is None or not 0 <= timeout_ms <= HEALTH_TIMEOUT_MAX_MS:
            return web.json_response({"message": f"timeout_ms must be an integer from 0 to {HEALTH_TIMEOUT_MAX_MS}"},
                                     status=400)
        out = []
        for service in wanted:
            healthy = not (self._down(p) and service in UNHEALTHY_SERVICES)
            item: dict[str, Any] = {"name": service, "healthy": healthy,
                                    "status": "ACTIVE_HEALTHY" if healthy else "UNHEALTHY"}
            if not healthy:
                item["error"] = "service unreachable"
            out.append(item)
        return web.json_response(out)

    def backup_times(self, p: SimProject) -> list[tuple[float, str]]:
        """Daily backups at 03:00 UTC since the later of creation and history start, newest last."""
        if p.status == "INACTIVE":
            return []
        now = self._now()
        first = max(p.created, self.world.history_start().timestamp())
        day = math.floor(first / 86400) * 86400 + 3 * 3600
        if day < first:
            day += 86400
        out = []
        missing = p.index == STALE_BACKUP_INDEX and self.world.condition("backup-missing", self.name)
        while day <= now:
            failed = missing and now - day < STALE_BACKUP_DAYS * 86400 + 3600
            out.append((day, "FAILED" if failed else "COMPLETED"))
            day += 86400
        return out

    async def _backups(self, request: web.Request) -> web.Response:
        p = self._found(request)
        if p is None:
            return _not_found()
        backups = self.backup_times(p)[-30:]
        body: dict[str, Any] = {
            "region": "eu-central-1", "walg_enabled": True, "pitr_enabled": p.pitr,
            "backups": [{"id": int(ts), "is_physical_backup": p.pitr, "status": status, "inserted_at": iso(ts)}
                        for ts, status in reversed(backups)],
            "physical_backup_data": {},
        }
        if p.pitr and backups:
            body["physical_backup_data"] = {"earliest_physical_backup_date_unix": int(backups[0][0]),
                                            "latest_physical_backup_date_unix": int(backups[-1][0])}
        return web.json_response(body)

    async def _addons(self, request: web.Request) -> web.Response:
        p = self._found(request)
        if p is None:
            return _not_found()
        hourly = self.price_table()["compute_usd_per_hour"]
        state = p.state_at(self._now())
        compute = state["compute"]
        price: dict[str, Any] = {"description": f"${hourly[compute]}/hour", "type": "usage",
                                 "interval": "hourly", "amount": hourly[compute]}
        variant: dict[str, Any] = {"id": compute, "name": compute.removeprefix("ci_").title(), "price": price}
        if compute not in QUOTED_PRICE:
            price["amount"] = 0  # quoted as 0 here: the exporter must fall back to its price table
            price["type"] = "fixed"
            price["interval"] = "monthly"
            price["description"] = "included"
        selected = [{"type": "compute_instance", "variant": variant}]
        if state["pitr"]:
            selected.append({"type": "pitr", "variant": {"id": "pitr_7", "name": "7 days", "price": {
                "description": "$100/month", "type": "fixed", "interval": "monthly", "amount": 100}}})
        return web.json_response({"selected_addons": selected, "available_addons": []})

    def api_count(self, p: SimProject, service: str, bucket_start: float, bucket_s: float) -> int:
        """Requests in [bucket_start, bucket_start + bucket_s) that have arrived by now."""
        now = self._now()
        elapsed = min(bucket_s, max(0.0, now - bucket_start))
        per_minute = p.api_rate_per_min[service] * (0.8 + 0.4 * _noise(self.world.seed, p.ref, service, int(bucket_start)))
        return int(per_minute * elapsed / 60)

    async def _api_counts(self, request: web.Request) -> web.Response:
        p = self._found(request)
        if p is None:
            return _not_found()
        interval = request.query.get("interval", "1day")
        if interval not in API_BUCKETS_S:
            return web.json_response({"message": "invalid interval"}, status=400)
        span, bucket = API_BUCKETS_S[interval]
        now = self._now()
        first = math.floor((now - span) / bucket) * bucket + bucket
        result = []
        t = first
        while t <= now:
            row: dict[str, Any] = {"timestamp": iso(t)}
            for service in ("auth", "realtime", "rest", "storage"):
                row[f"total_{service}_requests"] = self.api_count(p, service, t, bucket)
            result.append(row)
            t += bucket
        return web.json_response({"result": result})

    def auth_events(self, p: SimProject, minute: float) -> dict[tuple[str, str], int]:
        """{(kind, outcome): count} of the auth requests in the minute starting at `minute`."""
        out: dict[tuple[str, str], int] = {}
        if minute + 60 > self._now() or not self._active(p):
            return out
        for kind, (share, failing) in AUTH_TRAFFIC.items():
            total = int(p.api_rate_per_min["auth"] * share
                        * (0.8 + 0.4 * _noise(self.world.seed, p.ref, "auth", kind, int(minute))))
            failed = int(round(total * failing))
            out[(kind, "success")] = total - failed
            out[(kind, "failure")] = failed
        if p.index == AUTH_ATTACK_INDEX and self.world.scenario_applies("auth-attack", self.name) \
                and minute >= self.world.since("auth-attack") // 60 * 60:
            out[("sign_in", "failure")] += max(AUTH_ATTACK_FAILED_SIGN_INS_PER_MIN, 2 * sum(out.values()))
        return out

    def _logs_range(self, query: Any) -> tuple[float, float] | str:
        """The queried [start, end), rounded to the minute, or what is wrong with it."""
        def parse(name: str) -> float | None | str:
            raw = query.get(name)
            if raw is None:
                return None
            try:
                moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                return f"{name} is not an ISO 8601 date-time"
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return round(moment.timestamp() / 60) * 60.0
        start, end = parse("iso_timestamp_start"), parse("iso_timestamp_end")
        for value in (start, end):
            if isinstance(value, str):
                return value
        now_minute = round(self._now() / 60) * 60.0
        if end is None:
            end = now_minute
        if start is None:
            start = end - LOGS_DEFAULT_RANGE_S
        assert isinstance(start, float) and isinstance(end, float)
        if end < start:
            return "iso_timestamp_end is before iso_timestamp_start"
        if end - start > LOGS_MAX_RANGE_S:
            return "the timestamp range must be no more than 24 hours"
        return start, end

    async def _logs(self, request: web.Request) -> web.Response:
        p = self._found(request)
        if p is None:
            return _not_found()
        span = self._logs_range(request.query)
        if isinstance(span, str):
            return _logs_error(span)
        start, end = span
        sql = request.query.get("sql")
        source = "edge_logs"  # no sql: only edge_logs are queried (the document)
        if sql is not None:
            found = re.search(r"\bfrom\s+([a-z_]+)", sql, re.IGNORECASE)
            if found is None or found.group(1).lower() not in LOG_SOURCES:
                return _logs_error("the query must select from one log source: " + ", ".join(LOG_SOURCES))
            source = found.group(1).lower()
        if source != "auth_logs":
            return web.json_response({"result": []})  # nothing else is simulated: no events
        minutes = [start + 60 * i for i in range(int((end - start) // 60))]
        if sql is not None and re.search(r"\bgroup\s+by\b", sql, re.IGNORECASE):
            totals: dict[tuple[str, str], int] = {}
            for minute in minutes:
                for key, count in self.auth_events(p, minute).items():
                    totals[key] = totals.get(key, 0) + count
            return web.json_response({"result": [{"kind": k, "outcome": o, "count": c}
                                                 for (k, o), c in sorted(totals.items()) if c]})
        rows: list[dict[str, Any]] = []
        for minute in reversed(minutes):  # newest first, as the logs explorer lists them
            for (kind, outcome), count in sorted(self.auth_events(p, minute).items()):
                path, grant = AUTH_REQUEST[kind]
                for i in range(min(count, LOGS_ROW_LIMIT - len(rows))):
                    metadata = {"path": path, "method": "POST", "status": 400 if outcome == "failure" else 200}
                    if grant:
                        metadata["grant_type"] = grant
                    rows.append({"id": f"{p.ref}-{int(minute)}-{kind}-{outcome}-{i}",
                                 "timestamp": int((minute + 30) * 1_000_000),
                                 "event_message": "request completed", "metadata": [metadata]})
        return web.json_response({"result": rows[:LOGS_ROW_LIMIT]})

    def disk_used(self, p: SimProject) -> float:
        if self._hot(p):
            return p.disk_size * HOT_DISK_FULL
        grow = (self._now() - p.created) / 86400 * 2e7
        return min(p.disk_size * 0.5, 1.2e9 + grow)

    async def _disk(self, request: web.Request) -> web.Response:
        p = self._found(request)
        if p is None:
            return _not_found()
        used = self.disk_used(p)
        return web.json_response({"timestamp": iso(self._now()), "metrics": {
            "fs_size_bytes": p.disk_size, "fs_avail_bytes": p.disk_size - used, "fs_used_bytes": used}})

    async def _readonly(self, request: web.Request) -> web.Response:
        """Read-only mode: on at 95 % of the disk and above (docs/providers/supabase.md); no override."""
        p = self._found(request)
        if p is None:
            return _not_found()
        return web.json_response({"enabled": self.disk_used(p) >= READ_ONLY_AT * p.disk_size,
                                  "override_enabled": False, "override_active_until": ""})

    # --- Prometheus endpoint ---

    def _authorised(self, request: web.Request) -> bool:
        expected = "Basic " + base64.b64encode(f"service_role:{SUPABASE_SERVICE_ROLE_SECRET}".encode()).decode()
        return request.headers.get("Authorization") == expected

    async def _prometheus(self, request: web.Request) -> web.Response:
        if self.world.scenario_applies("metrics-endpoint-down", self.name):
            return web.Response(status=503, text="metrics endpoint unavailable")
        if not self._authorised(request):
            return web.Response(status=401, text="unauthorized",
                                headers={"WWW-Authenticate": 'Basic realm="supabase"'})
        p = self._found(request)
        if p is None:
            return web.Response(status=404, text="project not found")
        return web.Response(text=self.prometheus_text(p), content_type="text/plain",
                            charset="utf-8", headers={"X-Content-Type": "version=0.0.4"})

    def prometheus_text(self, p: SimProject) -> str:
        now = self._now()
        up = 0 if self.world.scenario_applies("outage", "supabase") or p.status == "INACTIVE" or self._down(p) else 1
        uptime = max(0.0, now - p.created)
        spike = self.world.scenario_applies("latency-spike", "supabase")
        spike_s = max(0.0, now - self.world.since("latency-spike")) if spike else 0.0
        queries = uptime * 40.0
        query_time = queries * 0.002 + spike_s * 40.0 * 1.5  # 2 ms per query; 1.5 s during a spike
        mem_total = 4e9
        hot = self._hot(p)
        # Idle CPU seconds: the calm share of the whole life, less what the saturated time did not idle.
        idle = uptime * CALM_IDLE_SHARE - self._hot_seconds(p, now) * (CALM_IDLE_SHARE - HOT_IDLE_SHARE)
        base = {"supabase_project_ref": p.ref, "service_type": "db"}
        series: list[tuple[str, str, str, list[tuple[dict[str, str], float]]]] = [
            ("pg_up", "gauge", "Whether the last scrape of Postgres was able to connect.", [({}, up)]),
            ("pg_stat_database_num_backends", "gauge", "Number of backends connected to this database.",
             [({"datname": "postgres"}, 8 + int(10 * _noise(p.ref, "backends", int(now // 60))))]),
            ("max_connections_connection_count", "gauge", "Configured max_connections.", [({}, 60)]),
            ("supavisor_connections_active", "gauge", "Active client connections in Supavisor.",
             [({}, 12 + int(20 * _noise(p.ref, "pool", int(now // 60))))]),
            ("pg_database_size_bytes", "gauge", "Disk space used by the database.",
             [({"datname": "postgres"}, self.disk_used(p))]),
            ("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.",
             [({"cpu": "0", "mode": "idle"}, idle), ({"cpu": "0", "mode": "user"}, (uptime - idle) * 2 / 3),
              ({"cpu": "0", "mode": "system"}, (uptime - idle) / 3)]),
            ("node_memory_MemAvailable_bytes", "gauge", "Memory information field MemAvailable_bytes.",
             [({}, mem_total * (HOT_MEMORY_AVAILABLE if hot else CALM_MEMORY_AVAILABLE))]),
            ("node_memory_MemTotal_bytes", "gauge", "Memory information field MemTotal_bytes.", [({}, mem_total)]),
            ("node_filesystem_avail_bytes", "gauge", "Filesystem space available to non-root users in bytes.",
             [({"mountpoint": "/data"}, p.disk_size - self.disk_used(p))]),
            ("node_filesystem_size_bytes", "gauge", "Filesystem size in bytes.",
             [({"mountpoint": "/data"}, p.disk_size)]),
            ("physical_replication_lag_physical_replication_lag_seconds", "gauge", "Replication lag in seconds.",
             [({}, HOT_LAG_S if hot else 0)]),
            ("pg_stat_statements_total_queries", "counter", "Queries executed (pg_stat_statements).",
             [({}, queries)]),
            ("pg_stat_statements_total_time_seconds", "counter", "Total time spent in statements, in seconds.",
             [({}, query_time)]),
            ("auth_users_user_count", "gauge", "Number of users in the project's auth schema.",
             [({}, 1000 + int(uptime / 3600))]),
            # Supabase switches a project whose disk is 95 % full to read-only mode.
            ("pg_settings_default_transaction_read_only", "gauge", "Default transaction mode set to read only",
             [(PG_SERVER, 1 if self.disk_used(p) >= READ_ONLY_AT * p.disk_size else 0)]),
            # Realtime holds a logical replication slot; a paused project has none (the exporter's NaN).
            ("replication_slots_max_lag_bytes", "gauge", "Max Replication Lag",
             [(PG_SERVER, math.nan if p.status == "INACTIVE"
               else 65536 + int(2e6 * _noise(p.ref, "slot", int(now // 60))))]),
            ("node_disk_read_bytes_total", "counter", "The total number of bytes read successfully.",
             [({"device": d}, uptime * rate) for d, (rate, _, _) in DISKS.items()]),
            ("node_disk_written_bytes_total", "counter", "The total number of bytes written successfully.",
             [({"device": d}, uptime * rate) for d, (_, rate, _) in DISKS.items()]),
            ("node_disk_io_time_seconds_total", "counter", "Total seconds spent doing I/Os.",
             [({"device": d}, uptime * busy) for d, (_, _, busy) in DISKS.items()]),
            ("node_vmstat_oom_kill", "untyped", "/proc/vmstat information field oom_kill.", [({}, 0)]),
        ]
        lines: list[str] = []
        for name, kind, help_text, points in series:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in points:
                merged = {**base, **labels}
                rendered = ",".join(f'{k}="{v}"' for k, v in merged.items())
                lines.append(f"{name}{{{rendered}}} {format_value(value)}")
        return "\n".join(lines) + "\n"

    # --- ground truth, minimum, headers ---

    def invoice_lines(self, first_day: date, now: float) -> list[InvoiceLine]:
        """What Supabase would invoice from `first_day` to now, from the simulator's own fixtures:
        the plan fee per second, compute per started clock hour, PITR and disk beyond the included
        size per second while active, and the compute credit once per billing cycle, in time order."""
        plan = "pro"  # the plan simulator_config leaves in force (SupabaseConfig's default)
        fee = price_fixtures.SUPABASE_PLANS[plan].usd
        credit = price_fixtures.SUPABASE_COMPUTE_CREDIT[plan].usd
        lines: list[InvoiceLine] = []
        compute_in_cycle = 0.0
        cycle_start = None
        day = first_day
        while (day0 := _day_ts(day)) < now:
            day1 = min(_day_ts(day + timedelta(days=1)), now)
            month_s = calendar.monthrange(day.year, day.month)[1] * 86400.0
            cycle = cycle_of(day, self.billing_anchor_day).start
            if cycle != cycle_start:
                cycle_start, compute_in_cycle = cycle, 0.0
            lines.append(InvoiceLine(day, "organization", f"plan_{plan}", fee * (day1 - day0) / month_s,
                                     category="Purchase"))
            compute_today = 0.0
            for p in self.projects():
                lines_p, compute_p = self._project_lines(p, day, day0, day1, month_s)
                lines += lines_p
                compute_today += compute_p
            used = min(credit, compute_in_cycle + compute_today) - min(credit, compute_in_cycle)
            compute_in_cycle += compute_today
            if used > 0:
                lines.append(InvoiceLine(day, "organization", "compute_credit", -used, category="Credit"))
            day += timedelta(days=1)
        return lines

    def _project_lines(self, p: SimProject, day: date, day0: float, day1: float,
                       month_s: float) -> tuple[list[InvoiceLine], float]:
        start = max(day0, p.created)
        if start >= day1:
            return [], 0.0
        cuts = [start, *(t for t in p.change_times() if start < t < day1), day1]
        running = [(a, b, p.state_at(a)) for a, b in zip(cuts, cuts[1:], strict=False)]
        running = [(a, b, st) for a, b, st in running if not st["paused"] and b > a]
        hourly = price_fixtures.SUPABASE_COMPUTE_PER_HOUR
        hours: set[tuple[float, str]] = set()
        lines: list[InvoiceLine] = []
        for a, b, st in running:
            h = math.floor(a / 3600) * 3600
            while h < b:
                if day0 <= h < day1:
                    hours.add((h, st["compute"]))
                h += 3600
            if st["pitr"]:
                lines.append(InvoiceLine(day, p.name, "pitr_7", price_fixtures.SUPABASE_ADDONS["pitr_7"].usd
                                         * (b - a) / month_s))
            extra_gb = max(0.0, p.disk_size / 1e9 - price_fixtures.SUPABASE_DISK_INCLUDED_GB.usd)
            if extra_gb:
                lines.append(InvoiceLine(day, p.name, "disk", extra_gb * price_fixtures.SUPABASE_DISK.usd
                                         * (b - a) / month_s))
        compute = sum(hourly[variant].usd for _, variant in hours)
        if compute:
            lines.append(InvoiceLine(day, p.name, "compute", compute))
        return lines, compute

    def ground_truth(self) -> dict:
        now_dt = self.world.now()
        first = cycle_of(now_dt.date(), self.billing_anchor_day).start
        names = [p.name for p in self.projects() if p.created <= now_dt.timestamp()] + ["organization"]
        return ground_truth(self.invoice_lines(first, now_dt.timestamp()), now_dt.date(), month_start=first,
                            projects=names)

    def minimum_requests(self, page_sizes: dict[str, int] | None = None) -> dict[str, int]:
        now = self._now()
        visible = [p for p in self.projects() if p.created <= now]
        active = [p for p in visible if self._active(p)]
        return {"projects": 1, "health": len(active), "backups": len(visible), "addons": len(visible),
                "api_counts": len(active), "auth_logs": len(active), "disk": len(active), "readonly": len(active)}

    def rate_limit_headers(self, limit: int, remaining: int, reset_in_s: float) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(int(math.ceil(self._now() + reset_in_s)))}


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _logs_error(message: str) -> web.Response:
    """A rejected logs query: 400 with the document's error shape (AnalyticsResponse.error)."""
    return web.json_response({"error": {"code": 400, "errors": [{"domain": "global", "location": "sql",
                                                                  "locationType": "parameter", "message": message,
                                                                  "reason": "invalidQuery"}],
                                        "message": message, "status": "INVALID_ARGUMENT"}}, status=400)


def _not_found() -> web.Response:
    return web.json_response({"message": "project not found"}, status=404)


def _day_ts(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
