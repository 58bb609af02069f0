"""The drain sender: what Vercel would POST to a log drain, a Speed Insights drain and a trace drain.

In detail: exporters/simulator/README.md, "Vercel (`/vercel`)".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from exporters.simulator.vercel.sim import SimProject, project_list
from exporters.simulator.world import World

LOG_PATH = "/drains/vercel/logs"
SPEED_INSIGHTS_PATH = "/drains/vercel/speed-insights"
TRACES_PATH = "/drains/vercel/traces"
# Function routes (a project's first few) and their median execution time in steady state (ms).
_FUNCTION_ROUTES = (("/api/cart", 120.0), ("/api/checkout", 450.0), ("/products/[id]", 200.0),
                    ("/api/search", 300.0))
TRACE_PROJECT_SHARE = 0.25  # the share of projects that run functions (the others are static sites)

_SOURCES = (("lambda", 35), ("edge", 25), ("static", 25), ("build", 5), ("external", 5),
            ("firewall", 3), ("redirect", 2))
_PATHS = (("/", "/"), ("/blog/how-we-ship", "/blog/[slug]"), ("/products/42", "/products/[id]"),
          ("/checkout", "/checkout"), ("/api/cart", "/api/cart"), ("/docs/getting-started", "/docs/[...slug]"))
# Median (ms; CLS unitless) of each Web Vital in steady state.
_VITAL_MEDIANS = {"LCP": 1800.0, "FCP": 1000.0, "TTFB": 300.0, "INP": 150.0, "FID": 20.0, "CLS": 0.05}
LATENCY_SPIKE_FACTOR = 2.5


@dataclass
class DrainTruth:
    """What the receiver accepted, in the receiver's own terms."""

    requests: Counter = field(default_factory=Counter)  # (project, source, status_class, cache) -> requests
    crashes: Counter = field(default_factory=Counter)  # project -> crashes
    vitals: Counter = field(default_factory=Counter)  # metricType -> events
    vitals_by_route: Counter = field(default_factory=Counter)  # (project, metricType, route) -> events
    # (project id, route) -> [execution seconds], of the server spans sent
    functions: dict = field(default_factory=dict)
    events: Counter = field(default_factory=Counter)  # drain ("log", "speed_insights", "trace") -> events
    statuses: Counter = field(default_factory=Counter)  # HTTP status -> deliveries

    def merge(self, other: "DrainTruth") -> None:
        for name in ("requests", "crashes", "vitals", "vitals_by_route", "events", "statuses"):
            getattr(self, name).update(getattr(other, name))
        for key, seconds in other.functions.items():
            self.functions.setdefault(key, []).extend(seconds)


def sign(sent: bytes, secret: str) -> str:
    """`x-vercel-signature` of a delivery: over the bytes put on the wire, nothing decoded or re-encoded."""
    return hmac.new(secret.encode(), sent, hashlib.sha1).hexdigest()


def encode_batch(events: list[dict], ndjson: bool) -> bytes:
    if ndjson:
        return "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
    return json.dumps(events, separators=(",", ":")).encode()


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _status(rng: random.Random, source: str, error_burst: bool) -> tuple[int, bool]:
    """(status code the proxy answered, whether the function crashed)."""
    # Steady is a healthy site: 0.2 % 5xx (under the 1 % error-rate threshold); error-burst 30 %.
    crash_rate, error_rate = (0.08, 0.30) if error_burst else (0.01, 0.002)
    if source == "lambda" and rng.random() < crash_rate:
        return 500, True
    roll = rng.random()
    if roll < error_rate:
        return rng.choice((500, 502, 504)), False
    if source == "redirect":
        return rng.choice((301, 308)), False
    if source == "firewall":
        return rng.choice((200, 403, 429)), False
    return (404 if roll < error_rate + 0.05 else 304 if roll < error_rate + 0.10 else 200), False


def _cache(rng: random.Random, source: str) -> str | None:
    if source in ("static", "edge"):
        return rng.choices(("HIT", "MISS", "STALE", "REVALIDATED"), weights=(70, 20, 6, 4))[0]
    if source == "lambda":
        return rng.choice(("MISS", None))
    return None


def _status_class(code: int) -> str:
    return f"{code // 100}xx"


def log_event(rng: random.Random, project: SimProject, now_ms: int, number: int, error_burst: bool,
              truth: DrainTruth) -> dict:
    """One log-drain event; what it counts for is added to `truth` (the caller discards it if rejected)."""
    source = _weighted(rng, _SOURCES)
    path, _route = rng.choice(_PATHS)
    event: dict = {
        "id": f"evt_{number:08d}{rng.getrandbits(32):08x}", "deploymentId": f"dpl_sim{project.index:05d}",
        "projectId": project.id, "projectName": project.name, "source": source,
        "host": f"{project.name}.vercel.app", "timestamp": now_ms - rng.randint(0, 59_000),
        "environment": "production", "executionRegion": "iad1", "requestId": f"req_{rng.getrandbits(48):012x}",
    }
    if source == "build":  # a build log line: no request, no status code
        event.update(level="info", message=rng.choice(("Running build", "Compiled successfully",
                                                       "Collecting page data", "Build completed")))
        return event
    code, crashed = _status(rng, source, error_burst)
    cache = _cache(rng, source)
    event.update(level="error" if code >= 500 else "info", message=f"GET {path} {code}",
                 path=path, statusCode=-1 if crashed else code)
    proxy: dict = {"timestamp": event["timestamp"], "method": "GET", "host": event["host"], "path": path,
                   "statusCode": code, "userAgent": ["Mozilla/5.0 (simulated)"], "region": "iad1"}
    if cache is not None:
        proxy["vercelCache"] = cache
    event["proxy"] = proxy
    truth.requests[(project.name, source, _status_class(code), cache or "none")] += 1
    if crashed:
        truth.crashes[project.name] += 1
    return event


def vital_event(rng: random.Random, project: SimProject, now: datetime, latency_spike: bool,
                truth: DrainTruth) -> dict:
    metric = rng.choice(tuple(_VITAL_MEDIANS))
    factor = LATENCY_SPIKE_FACTOR if latency_spike and metric != "CLS" else 1.0
    value = _VITAL_MEDIANS[metric] * factor * rng.lognormvariate(0.0, 0.4)
    path, route = rng.choice(_PATHS)
    event: dict = {
        "schema": "vercel.speed_insights.v1", "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "projectId": project.id, "ownerId": "team_sim0000000000000000", "deviceId": rng.getrandbits(31),
        "metricType": metric, "value": round(value, 4 if metric == "CLS" else 1),
        "origin": f"https://{project.name}.vercel.app", "path": path, "country": rng.choice(("US", "DE", "BR", "JP")),
        "vercelEnvironment": "production",
    }
    if rng.random() < 0.9:  # some events arrive without a route (e.g. not a framework route)
        event["route"] = route
    truth.vitals[metric] += 1
    truth.vitals_by_route[(project.id, metric, event.get("route", "unknown"))] += 1
    return event


def build_log_batch(world: World, batch: int, size: int) -> tuple[list[dict], DrainTruth]:
    projects = project_list(world)
    now_ms = int(world.now_ts() * 1000)
    rng = world.rng("drains", "logs", now_ms // 1000, batch)
    truth = DrainTruth()
    burst = world.scenario_applies("error-burst", "vercel")
    events = [log_event(rng, rng.choice(projects), now_ms, batch * size + i, burst, truth) for i in range(size)]
    truth.events["log"] += len(events)
    return events, truth


def build_vitals_batch(world: World, batch: int, size: int) -> tuple[list[dict], DrainTruth]:
    projects = project_list(world)
    now = world.now()
    rng = world.rng("drains", "speed-insights", int(now.timestamp()), batch)
    truth = DrainTruth()
    spike = world.scenario_applies("latency-spike", "vercel")
    events = [vital_event(rng, rng.choice(projects), now, spike, truth) for _ in range(size)]
    truth.events["speed_insights"] += len(events)
    return events, truth


def build_trace_export(world: World, batch: int, size: int) -> tuple[dict, DrainTruth]:
    """An OTLP JSON trace export as Vercel's trace drain sends it: per project a resource with
    `vercel.projectId`, its function's server spans (named "METHOD route", with `http.route`) and a
    client span under each (a fetch the function made: not an invocation)."""
    projects = [p for p in project_list(world) if stable_share(p.id) < TRACE_PROJECT_SHARE] or project_list(world)[:1]
    now_ns = int(world.now_ts() * 1e9)
    rng = world.rng("drains", "traces", now_ns // 10**9, batch)
    truth = DrainTruth()
    factor = LATENCY_SPIKE_FACTOR if world.scenario_applies("latency-spike", "vercel") else 1.0
    by_project: dict[str, list[dict]] = {}
    for _ in range(size // 2):
        project = rng.choice(projects)
        route, median_ms = rng.choice(_FUNCTION_ROUTES)
        ns = int(median_ms * factor * rng.lognormvariate(0.0, 0.5) * 1e6)
        start = now_ns - ns - rng.randrange(10**9)
        trace_id = f"{rng.getrandbits(128):032x}"
        server = {"traceId": trace_id, "spanId": f"{rng.getrandbits(64):016x}", "name": f"GET {route}",
                  "kind": rng.choice(("SPAN_KIND_SERVER", 2, "server")),
                  "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + ns),
                  "attributes": [{"key": "http.route", "value": {"stringValue": route}},
                                 {"key": "http.request.method", "value": {"stringValue": "GET"}}]}
        client = {"traceId": trace_id, "spanId": f"{rng.getrandbits(64):016x}", "parentSpanId": server["spanId"],
                  "name": "fetch GET https://api.example.com/", "kind": 3,
                  "startTimeUnixNano": str(start + ns // 4), "endTimeUnixNano": str(start + ns // 2)}
        by_project.setdefault(project.id, []).extend((server, client))
        truth.functions.setdefault((project.id, route), []).append(ns / 1e9)
    export = {"resourceSpans": [
        {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "vercel-function"}},
                                     {"key": "vercel.projectId", "value": {"stringValue": project_id}},
                                     {"key": "vercel.deploymentId", "value": {"stringValue": "dpl_sim"}}]},
         "scopeSpans": [{"scope": {"name": "vercel"}, "spans": spans}]}
        for project_id, spans in by_project.items()]}
    truth.events["trace"] += sum(len(spans) for spans in by_project.values())
    return export, truth


def stable_share(key: str) -> float:
    """A project's fixed place in [0, 1) (which projects run functions does not change per batch)."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 2**32


async def send_drains(receiver_base_url: str, secret: str, world: World, *, batches: int,
                      events_per_batch: int) -> DrainTruth:
    """POST `batches` log batches, `batches` Speed Insights batches and `batches` trace exports;
    return what was accepted."""
    if not project_list(world):
        raise ValueError("the world has no Vercel projects to send drain events for")
    sent = DrainTruth()
    base = receiver_base_url.rstrip("/")
    async with httpx.AsyncClient(timeout=30.0) as client:
        for batch in range(batches):
            for path, build in ((LOG_PATH, build_log_batch), (SPEED_INSIGHTS_PATH, build_vitals_batch)):
                events, truth = build(world, batch, events_per_batch)
                wire = encode_batch(events, ndjson=batch % 2 == 1)  # the bytes sent, as signed
                response = await client.post(base + path, content=wire, headers={
                    "content-type": "application/x-ndjson" if batch % 2 else "application/json",
                    "x-vercel-signature": sign(wire, secret)})
                sent.statuses[response.status_code] += 1
                if response.is_success:
                    sent.merge(truth)
            export, truth = build_trace_export(world, batch, events_per_batch)
            wire = json.dumps(export, separators=(",", ":")).encode()
            response = await client.post(base + TRACES_PATH, content=wire, headers={
                "content-type": "application/json", "x-vercel-signature": sign(wire, secret)})
            sent.statuses[response.status_code] += 1
            if response.is_success:
                sent.merge(truth)
    return sent
