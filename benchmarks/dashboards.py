"""Dashboard query latency on 30 days of large-scale history in the native Prometheus.

    python benchmarks/dashboards.py [--days 30] [--repeat 10] [--scale large|small]

1. Starts the pinned Prometheus (tools/install_tools.py) on a fresh data directory with the
   repository's OTLP settings (prometheus/prometheus.yml `otlp:`) and an out-of-order
   window covering the history, so old samples can be written.
2. Writes `--days` of history shaped like what stackwatch exports at the simulator's large
   scale (Scale.large: 200 Vercel projects, 100 Render services, 20 Supabase projects,
   30 OpenAI models × 10 projects, 10 LlamaCloud projects) over OTLP/HTTP — counters,
   gauges and exponential histograms (stored as native histograms, as the collector's are)
   under the catalogue's OTel names — plus the scraped sources the boards read (blackbox
   probe_*, the Supabase endpoint, otelcol_*, prometheus_*). Resolution: 30 s for the last
   6 hours (the Overview's range: two samples in its 60 s $__rate_interval), 60 s to 24 hours,
   30 minutes before that (the 30-day boards' 1-hour step and 3,615 s rate window).
3. Backfills the recording rules the boards read (prometheus/rules/dashboards.rules.yaml,
   generated from grafana/dashboards/recordings.py) over the whole history with
   `promtool tsdb create-blocks-from rules`: a live Prometheus records only from the moment it
   loads the rules, one that has run them for 30 days holds 30 days of recorded series. The
   blocks go into the data directory, Prometheus' block reload picks them up (no restart) and
   compaction settles again.
4. Runs every query of every board, and every annotation (deploy markers), as Grafana would
   (grafana/queries.py: its step, variables at All, range aligned to the step) over the panel's
   range (the board's default, or the panel's own relative time) ending at the newest
   sample, `--repeat` times, and prints p50/p95/max per query, the five slowest panels, the
   series and samples each board touches, and any query that returned no data. A query's time is
   its round trip: from sending the request until the whole response is read (Prometheus parses,
   evaluates and encodes the JSON). The client's JSON decoding is printed beside it ("decode ms",
   p50) and not counted: Python's json.loads here, Grafana's Go decoder in production; for the
   panels drawing tens of thousands of points it was half of the time measured before.

Targets (issue #7): p95 ≤ 100 ms per query, none over 1 s.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import math
import os
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from exporters.providers.registry import metric_by_name as by_name  # noqa: E402

# The boards (grafana/) are imported only when the queries run, after the load: a large-scale
# load takes a quarter of an hour, and the queries measured are those of the working tree then.

ENVIRONMENT = "production"
POINTS_PER_REQUEST = 40_000
# Bump when the generated history changes in a way the series set does not show (timestamps,
# value shapes, encoding): the cache key hashes the series set, the days and this.
DATA_VERSION = 1
CACHE = Path(os.environ.get("STACKWATCH_BENCH_CACHE", Path.home() / ".cache" / "stackwatch" / "bench"))
RAW = "raw"
META = "bench.json"
TARGET_P95_MS = 100.0
TARGET_MAX_MS = 1000.0


def load_install_tools():
    spec = importlib.util.spec_from_file_location("install_tools", REPO / "tools" / "install_tools.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["install_tools"] = module
    spec.loader.exec_module(module)
    return module


# --- the shape of the data ---

@dataclass(frozen=True)
class Series:
    """One series: OTel metric name and unit, kind, attributes, resource service.name, value shape."""

    name: str
    unit: str
    kind: str  # counter, gauge, histogram
    attributes: tuple[tuple[str, str], ...]
    job: str
    level: float  # gauge level, or counter increase per second, or histogram observations per second
    typical: float = 1.0  # histogram observation size
    # A counter of discrete events (deploys): whole numbers, rising one event at a time.
    events: bool = False


def timestamps(end: float, days: int) -> list[float]:
    """30-minute points up to a day ago, 60 s to 6 h ago, then 30 s (sorted, unique)."""
    points = set()
    t = end - days * 86400
    while t < end - 86400:
        points.add(t)
        t += 1800
    t = end - 86400
    while t < end - 6 * 3600:
        points.add(t)
        t += 60
    t = end - 6 * 3600
    while t <= end:
        points.add(t)
        t += 30
    return sorted(points)


def catalogued(name: str, attributes: dict[str, str]) -> tuple[str, str, str]:
    """The metric's OTel name, unit and kind; fails when the attributes drift from the catalogue."""
    spec = by_name()[name]
    unknown = set(attributes) - set(spec.attributes) - set(spec.optional_attributes)
    if unknown:
        raise ValueError(f"{name}: attributes {sorted(unknown)} are not in the catalogue (update the benchmark)")
    return spec.name, spec.unit, spec.kind.value


def series_set(large: bool) -> list[Series]:
    n_vercel, n_render, n_supabase, n_models, n_openai_projects, n_llama = (
        (200, 100, 20, 30, 10, 10) if large else (6, 5, 3, 4, 3, 2))
    out: list[Series] = []

    def add(name: str, attributes: dict[str, str], level: float, typical: float = 1.0, job: str = "stackwatch",
            events: bool = False):
        otel, unit, kind = catalogued(name, attributes)
        out.append(Series(otel, unit, kind, tuple(sorted(attributes.items())), job, level, typical, events))

    def scraped(name: str, kind: str, attributes: dict[str, str], level: float, job: str):
        out.append(Series(name, "", kind, tuple(sorted(attributes.items())), job, level))

    providers = ("vercel", "render", "supabase", "openai", "llamacloud")
    for p in providers:
        add("stackwatch.provider.up", {"provider": p}, 1)
        add("stackwatch.provider.last_success_timestamp", {"provider": p}, -1)  # -1: the timestamp itself
        add("stackwatch.provider.ratelimit.remaining", {"provider": p}, 0.8)
        add("stackwatch.provider.invalid_items", {"provider": p, "stream": "usage"}, 0.0001)
        add("stackwatch.cost.forecast.month_end_usd", {"provider": p}, 900)
        add("stackwatch.budget.monthly_usd", {"provider": p}, 1000)
        add("stackwatch.budget.daily_usd", {"provider": p}, 40)
        add("stackwatch.cost.unpriced_items", {"provider": p, "item": "unknown"}, 0.0001)
        for stream in ("projects", "usage", "costs", "deployments"):
            add("stackwatch.provider.poll.duration", {"provider": p, "stream": stream, "outcome": "success"},
                1 / 60, 0.4)
            add("stackwatch.provider.poll.errors", {"provider": p, "stream": stream, "reason": "timeout"}, 0.0005)
            for status in ("200", "429", "500"):
                add("stackwatch.provider.api.requests", {"provider": p, "operation": stream, "status_code": status},
                    0.05 if status == "200" else 0.001)
            add("stackwatch.provider.api.request.duration", {"provider": p, "operation": stream}, 0.05, 0.3)
    for b in ("monthly_usd", "daily_usd"):
        add(f"stackwatch.budget.{b}", {"provider": "all"}, 5000 if b == "monthly_usd" else 200)
    for t, value in (("availability", 0.99), ("error_rate", 0.01), ("cpu_utilization", 0.8),
                     ("memory_utilization", 0.85), ("connections_utilization", 0.8), ("data_staleness", 900),
                     ("backup_age", 93600), ("ratelimit_headroom", 0.1), ("tls_expiry", 1209600)):
        add(f"stackwatch.threshold.{t}", {}, value)
    add("stackwatch.threshold.spend_anomaly_factor", {}, 3)
    add("stackwatch.threshold.spend_anomaly_floor_usd", {}, 5)
    # `stackwatch report --push` on a schedule: the top ten recommendations (docs/operations.md).
    for k, (provider, kind) in enumerate([("render", "rightsize"), ("openai", "batch_api"),
                                          ("openai", "prompt_cache"), ("llamacloud", "parse_mode"),
                                          ("vercel", "cache_hit_ratio")] * 2):
        add("stackwatch.recommendation.savings_monthly_usd", {"provider": provider, "kind": kind,
                                                               "resource": f"resource-{k:02d}"}, 40 - 3 * k)
    for tier, value in (("frontend", 3), ("backend", 2), ("database", 0.5)):
        add("stackwatch.threshold.response_time", {"tier": tier}, value)
    for drain in ("log", "speed_insights", "trace"):
        add("stackwatch.drain.events", {"drain": drain}, 50)
        add("stackwatch.drain.rejected", {"drain": drain, "reason": "bad_signature"}, 0.001)

    def cost(provider: str, service: str, project: str, model: str | None, daily: float, source: str = "billed"):
        attrs = {"provider": provider, "service": service, "project": project, "cost_source": source}
        if model:
            attrs["model"] = model
        add("stackwatch.cost.today_usd", attrs, daily)
        add("stackwatch.cost.month_to_date_usd", attrs, daily)

    add("vercel.projects", {}, n_vercel)
    for i in range(n_vercel):
        project = f"web-{i:03d}"
        for service in ("functions", "bandwidth", "builds"):
            cost("vercel", service, project, None, 0.5, "estimated" if service == "builds" else "billed")
        for status in ("2xx", "3xx", "4xx", "5xx"):
            add("vercel.requests", {"project": project, "status_class": status},
                {"2xx": 10, "3xx": 1, "4xx": 0.6, "5xx": 0.04}[status])
        for cache in ("HIT", "MISS", "STALE", "none"):
            add("vercel.cache.requests", {"project": project, "cache": cache},
                {"HIT": 6, "MISS": 3, "STALE": 0.5, "none": 2}[cache])
        add("vercel.function.crashes", {"project": project}, 0.001)
        add("vercel.deployments.in_progress", {"project": project, "target": "production", "state": "BUILDING"}, 0)
        # Deploys a day per project: production 1, preview 2 ready; a few failed or cancelled (whole events).
        for target in ("production", "preview"):
            for state, per_day in (("READY", 1 if target == "production" else 2), ("ERROR", 0.1), ("CANCELED", 0.05)):
                add("vercel.deployments", {"project": project, "target": target, "state": state}, per_day / 86400,
                    events=True)
        add("vercel.deployment.build.duration", {"project": project, "state": "READY"}, 0.0004, 90)
        add("vercel.deployment.queue.duration", {"project": project}, 0.0004, 5)
        for metric in ("LCP", "FCP", "TTFB", "INP", "FID"):
            add("vercel.web_vital.duration", {"project": project, "metric": metric}, 0.5, 1.5)
        add("vercel.web_vital.cls", {"project": project}, 0.5, 0.05)
        if i % 4 == 0:  # a quarter of the projects run functions (as the simulator's trace drains)
            for route in ("/api/cart", "/api/checkout", "/products/[id]", "/api/search"):
                add("vercel.function.duration", {"project": project, "route": route}, 0.5, 0.2)
    for i in range(n_render):
        service = f"api-{i:03d}"
        s = {"service": service}
        cost("render", "compute", service, None, 0.8)
        add("render.service.info", {**s, "type": "web_service", "plan": "standard", "region": "oregon"}, 1)
        add("render.service.suspended", s, 0)
        for name, level in (("cpu.utilization", 0.4), ("memory.utilization", 0.5), ("memory.usage", 4e8),
                            ("instances", 2)):
            add(f"render.service.{name}", s, level)
        add("render.service.autoscaling.max_instances", s, 4)
        add("render.service.autoscaling.min_instances", s, 1)
        add("render.service.bandwidth", s, 2e4)
        for q, v in (("0.5", 0.08), ("0.95", 0.3), ("0.99", 0.6)):
            add("render.service.http.latency", {**s, "quantile": q}, v)
        for status in ("2xx", "3xx", "4xx", "5xx"):
            add("render.service.http.requests", {**s, "status_class": status},
                {"2xx": 3, "3xx": 0.2, "4xx": 0.2, "5xx": 0.01}[status])
        for status, per_day in (("live", 1), ("build_failed", 0.05), ("canceled", 0.05)):
            add("render.deploys", {**s, "status": status}, per_day / 86400, events=True)
        add("render.deploy.duration", {**s, "status": "live"}, 0.0001, 120)
    for i in range(max(1, n_render // 5)):
        add("render.datastore.connections", {"datastore": f"db-{i:02d}", "type": "postgres"}, 20)
    for i in range(n_supabase):
        project = f"sb-{i:02d}"
        p = {"project": project}
        cost("supabase", "compute", project, None, 1.2)
        add("supabase.project.up", {**p, "status": "ACTIVE_HEALTHY"}, 1)
        for service in ("auth", "db", "pooler", "realtime", "rest", "storage"):
            # One unhealthy service, as in the simulator (project 1's storage).
            add("supabase.service.healthy", {**p, "service": service}, 0 if (i, service) == (1, "storage") else 1)
        for service in ("rest", "auth", "storage", "realtime"):
            add("supabase.api.requests", {**p, "service": service}, 2)
        for kind, rate in (("sign_in", 0.5), ("sign_up", 0.05), ("token_refresh", 1.0)):
            add("supabase.auth.events", {**p, "kind": kind, "outcome": "success"}, rate)
            add("supabase.auth.events", {**p, "kind": kind, "outcome": "failure"}, rate * 0.03)
        add("supabase.backup.age", p, 40000)
        add("supabase.backup.pitr_enabled", p, 1)
        add("supabase.disk.usage", p, 2e9)
        add("supabase.disk.utilization", p, 0.3)
        add("supabase.compute.info", {**p, "compute": "ci_small"}, 1)
        ep = {**p, "supabase_project_ref": f"ref{i:02d}", "service_type": "db"}
        for name, kind, level in (("pg_up", "gauge", 1), ("max_connections_connection_count", "gauge", 60),
                                  ("supavisor_connections_active", "gauge", 20),
                                  ("pg_database_size_bytes", "gauge", 2e9),
                                  ("node_memory_MemAvailable_bytes", "gauge", 2e9),
                                  ("node_memory_MemTotal_bytes", "gauge", 4e9),
                                  ("physical_replication_lag_physical_replication_lag_seconds", "gauge", 0),
                                  ("pg_stat_statements_total_queries", "counter", 40),
                                  ("pg_stat_statements_total_time_seconds", "counter", 0.08)):
            scraped(name, kind, ep, level, "supabase")
        scraped("pg_stat_database_num_backends", "gauge", {**ep, "datname": "postgres"}, 10, "supabase")
        for mode, level in (("idle", 0.7), ("user", 0.2), ("system", 0.1)):
            scraped("node_cpu_seconds_total", "counter", {**ep, "cpu": "0", "mode": mode}, level, "supabase")
        for name in ("node_filesystem_avail_bytes", "node_filesystem_size_bytes"):
            scraped(name, "gauge", {**ep, "mountpoint": "/data"}, 8e9 if "size" in name else 6e9, "supabase")
        pg = {**ep, "server": "localhost:5432"}
        scraped("pg_settings_default_transaction_read_only", "gauge", pg, 0, "supabase")
        scraped("replication_slots_max_lag_bytes", "gauge", pg, 1e6, "supabase")
        scraped("node_vmstat_oom_kill", "gauge", ep, 0, "supabase")  # untyped: a cumulative count, 0 here
        for device, (read, written, busy) in (("nvme0n1", (2e4, 5e4, 0.01)), ("nvme1n1", (1.5e6, 8e5, 0.15))):
            disk = {**ep, "device": device}
            scraped("node_disk_read_bytes_total", "counter", disk, read, "supabase")
            scraped("node_disk_written_bytes_total", "counter", disk, written, "supabase")
            scraped("node_disk_io_time_seconds_total", "counter", disk, busy, "supabase")
        scraped("up", "gauge", p, 1, "supabase")  # the scrape of the project's endpoint
    for m in range(n_models):
        model = f"gpt-sim-{m:02d}"
        for j in range(n_openai_projects):
            project = f"proj-{j:02d}"
            cost("openai", "api", project, model, 0.3)
            common = {"model": model, "project": project}
            add("openai.usage.requests", {**common, "operation": "chat", "batch": "false"}, 0.2)
            add("openai.usage.cached_input_tokens", common, 50)
            for token_type in ("input", "output"):
                add("gen_ai.client.token.usage", {"gen_ai.provider.name": "openai", "gen_ai.operation.name": "chat",
                                                  "gen_ai.token.type": token_type, "gen_ai.request.model": model,
                                                  "project": project}, 0.2, 800 if token_type == "input" else 200)
    for j in range(n_llama):
        project = f"docs-{j:02d}"
        cost("llamacloud", "parse", project, None, 0.4)
        for mode in ("fast", "balanced", "premium"):
            add("llamacloud.pages", {"project": project, "mode": mode}, 0.05)
            add("llamacloud.credits", {"project": project, "mode": mode}, 0.15)
    for k in range(5 if large else 1):
        for tier in ("frontend", "backend"):
            probe = {"instance": f"https://{tier}-{k}.example.com/", "tier": tier,
                     "module": f"http_{tier}"}
            scraped("probe_success", "gauge", probe, 1, "blackbox")
            scraped("up", "gauge", probe, 1, "blackbox")  # the probe's scrape
            scraped("probe_duration_seconds", "gauge", probe, 0.3, "blackbox")
            scraped("probe_http_status_code", "gauge", probe, 200, "blackbox")
            scraped("probe_ssl_earliest_cert_expiry", "gauge", probe, -2, "blackbox")  # -2: 60 days ahead
            for phase in ("resolve", "connect", "tls", "processing", "transfer"):
                scraped("probe_http_duration_seconds", "gauge", {**probe, "phase": phase}, 0.05, "blackbox")
    # Alerts Prometheus would evaluate as firing (its ALERTS series), for the Overview's alert panels.
    for k, (alertname, severity) in enumerate((("BackendResponseTimeHigh", "warning"), ("ErrorRateHigh", "critical"),
                                               ("MonthlyBudgetHalfSpent", "info"), ("DeployFailed", "warning"),
                                               ("CpuUtilizationHigh", "warning"), ("ProviderApiDown", "critical"))):
        scraped("ALERTS", "gauge", {"alertname": alertname, "alertstate": "firing", "severity": severity,
                                    "provider": providers[k % len(providers)]}, 1, "prometheus")
    for name, kind, level in (("otelcol_receiver_accepted_metric_points", "counter", 500),
                              ("otelcol_receiver_refused_metric_points", "counter", 0.0),
                              ("otelcol_exporter_sent_metric_points", "counter", 500),
                              ("otelcol_exporter_send_failed_metric_points", "counter", 0.0),
                              ("otelcol_exporter_queue_size", "gauge", 0),
                              ("otelcol_exporter_queue_capacity", "gauge", 1000)):
        scraped(name, kind, {}, level, "otel-collector")
    for name, kind, level, attrs in (
            ("prometheus_tsdb_head_samples_appended_total", "counter", 2000, {}),
            ("prometheus_tsdb_head_series", "gauge", 20000, {}),
            ("prometheus_http_requests_total", "counter", 0.5, {"handler": "/api/v1/otlp/v1/metrics", "code": "204"})):
        scraped(name, kind, attrs, level, "prometheus")
    return out


# --- OTLP encoding ---
# Data points are encoded by hand (protobuf wire format): tens of millions of points through
# the protobuf classes would take the better part of an hour in Python; the envelope
# (resource, scope, metric name and unit) still comes from the generated classes' field numbers.

def kv(key: str, value: str) -> KeyValue:
    out = KeyValue(key=key)
    out.value.string_value = value
    return out


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_bytes(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint((number << 3) | 2) + varint(len(payload)) + payload


def zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


_FIXED = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")


def value_at(series: Series, t: float, rng: random.Random) -> float:
    if series.level == -1:
        return t - 30
    if series.level == -2:
        return t + 60 * 86400
    if series.name == "stackwatch.cost.today_usd":
        return series.level * ((t % 86400) / 86400) * (1 + 0.1 * rng.random())
    if series.name == "stackwatch.cost.month_to_date_usd":
        day = time.gmtime(t).tm_mday - 1
        return series.level * (day + (t % 86400) / 86400)
    return series.level * (1 + 0.2 * math.sin(t / 3600) + 0.05 * rng.random())


@dataclass
class SeriesState:
    """What a series carries from one time slice to the next (cumulative values, its random stream)."""

    rng: random.Random
    previous: float
    total: float = 0.0
    total_sum: float = 0.0


def metric_bytes(series: Series, times: list[float], start: float, state: SeriesState) -> bytes:
    """One Metric message with the series' points at `times` (a slice; `state` carries on)."""
    rng = state.rng
    start_ns = _FIXED.pack(int(start * 1e9))
    header = pb.Metric(name=series.name, unit=series.unit).SerializeToString()
    attr = b"".join(field_bytes(1 if series.kind == "histogram" else 7, kv(k, v).SerializeToString())
                    for k, v in series.attributes)
    points = []
    if series.kind == "gauge":
        for t in times:
            body = attr + b"\x19" + _FIXED.pack(int(t * 1e9)) + b"\x21" + _DOUBLE.pack(value_at(series, t, rng))
            points.append(b"\x0a" + varint(len(body)) + body)
        return header + field_bytes(5, b"".join(points))
    if series.kind == "counter":
        # A scraped counter named without _total (pg_stat_statements_total_time_seconds) is sent
        # as a gauge of its cumulative value: as a Sum, the OTLP translator would append _total.
        as_gauge = series.job != "stackwatch" and not series.name.endswith("_total")
        for t in times:
            state.total += series.level * (t - state.previous) * (0.9 + 0.2 * rng.random())
            state.previous = t
            value = math.floor(state.total) if series.events else state.total
            body = (attr + b"\x11" + start_ns + b"\x19" + _FIXED.pack(int(t * 1e9)) + b"\x21"
                    + _DOUBLE.pack(value))
            points.append(b"\x0a" + varint(len(body)) + body)
        if as_gauge:
            return header + field_bytes(5, b"".join(points))
        # aggregation_temporality = CUMULATIVE (2), is_monotonic = true
        return header + field_bytes(7, b"".join(points) + b"\x10\x02\x18\x01")
    scale = 3
    # Eight populated buckets around the typical value (2^(1/8) apart): enough for quantiles.
    offset = math.floor(math.log2(series.typical) * 2 ** scale) - 4
    weights = [math.exp(-((i - 4) ** 2) / 6) for i in range(8)]
    share = [w / sum(weights) for w in weights]
    offset_bytes = b"\x08" + varint(zigzag(offset))
    for t in times:
        new = series.level * (t - state.previous) * (0.8 + 0.4 * rng.random())
        state.previous = t
        state.total += new
        state.total_sum += new * series.typical
        counts = [int(state.total * s) for s in share]
        packed = b"".join(varint(c) for c in counts)
        positive = offset_bytes + field_bytes(2, packed)
        body = (attr + b"\x11" + start_ns + b"\x19" + _FIXED.pack(int(t * 1e9)) + b"\x21"
                + _FIXED.pack(sum(counts)) + b"\x29" + _DOUBLE.pack(state.total_sum) + b"\x30"
                + varint(zigzag(scale)) + b"\x39" + _FIXED.pack(0) + field_bytes(8, positive))
        points.append(b"\x0a" + varint(len(body)) + body)
    return header + field_bytes(10, b"".join(points) + b"\x10\x02")


def requests(all_series: list[Series], times: list[float], start: float) -> Iterator[tuple[bytes, int]]:
    """OTLP export requests of about POINTS_PER_REQUEST points, in one-hour time slices.

    Slices keep ingestion in order: Prometheus' head takes a sample in order only when it is
    at most an hour older than the newest one; older ones go to the slower out-of-order head.
    """
    # Prometheus' `instance` label comes from the resource's service.instance.id, so a series with
    # its own instance (a probed URL) gets a resource of its own, as a scrape target would.
    by_target: dict[tuple[str, str], list[Series]] = defaultdict(list)
    for s in all_series:
        attrs = dict(s.attributes)
        instance = attrs.pop("instance", f"{s.job}-0")
        by_target[(s.job, instance)].append(Series(s.name, s.unit, s.kind, tuple(sorted(attrs.items())), s.job,
                                                   s.level, s.typical, s.events))
    states = {(key, i): SeriesState(random.Random(f"{key}{i}"), start)
              for key, members in by_target.items() for i in range(len(members))}
    resources = {}
    for job, instance in by_target:
        resource = pb.ResourceMetrics()
        resource.resource.attributes.extend([kv("service.name", job), kv("service.instance.id", instance),
                                             kv("deployment.environment", ENVIRONMENT)])
        resources[(job, instance)] = field_bytes(1, resource.resource.SerializeToString())
    slice_start = times[0]
    index = 0
    while index < len(times):
        window = []
        while index < len(times) and times[index] < slice_start + 3600:
            window.append(times[index])
            index += 1
        slice_start += 3600
        if not window:
            continue
        per_request = max(1, POINTS_PER_REQUEST // len(window))
        for key, members in sorted(by_target.items()):
            for i in range(0, len(members), per_request):
                batch = range(i, min(i + per_request, len(members)))
                scope = b"".join(field_bytes(2, metric_bytes(members[j], window, start, states[(key, j)]))
                                 for j in batch)
                yield field_bytes(1, resources[key] + field_bytes(2, scope)), len(batch) * len(window)


# --- Prometheus ---

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 120) -> bytes:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.read()


def start_prometheus(binary: Path, workdir: Path, days: int) -> tuple[subprocess.Popen, str]:
    repo_config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    config = {"global": {"scrape_interval": "15s"}, "otlp": repo_config["otlp"],
              "storage": {"tsdb": {"out_of_order_time_window": f"{days + 1}d"}}}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen([str(binary), f"--config.file={workdir / 'prometheus.yml'}",
                                f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                "--web.enable-otlp-receiver", f"--storage.tsdb.retention.time={days + 5}d",
                                "--web.enable-admin-api",  # the TSDB snapshot the cache keeps
                                "--query.max-samples=200000000"],
                               stdout=(workdir / "prometheus.log").open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if b"Ready" in http(f"{base}/-/ready", timeout=2):
                return process, base
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"Prometheus did not become ready; see {workdir / 'prometheus.log'}")


def load(base: str, all_series: list[Series], times: list[float]) -> tuple[int, float]:
    started, written = time.monotonic(), 0
    for body, points in requests(all_series, times, times[0] - 60):
        try:
            http(f"{base}/api/v1/otlp/v1/metrics", body, {"Content-Type": "application/x-protobuf"})
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"OTLP write rejected ({error.code}): {error.read()[:500]!r}") from None
        written += points
    return written, time.monotonic() - started


def block_count(data_dir: Path) -> int:
    return sum(1 for p in data_dir.iterdir() if p.is_dir() and (p / "meta.json").exists())


def settle(data_dir: Path, *, quiet_s: float = 90.0, limit_s: float = 1200.0) -> tuple[int, float]:
    """Wait until background compaction stops changing the blocks (bounded by `limit_s`).

    Freshly loaded history sits in hundreds of 2-hour blocks; a Prometheus that collected it
    over 30 days would have compacted them into a few large ones, and a 30-day query opens
    every block it spans, so measuring before compaction measures the wrong thing.
    """
    started = time.monotonic()
    last, last_change = block_count(data_dir), time.monotonic()
    while time.monotonic() - last_change < quiet_s and time.monotonic() - started < limit_s:
        time.sleep(5)
        now = block_count(data_dir)
        if now != last:
            last, last_change = now, time.monotonic()
    return last, time.monotonic() - started


def missing_rules(base: str, rules: Path, end: float) -> list[dict]:
    """The rules of `rules` whose recorded series the data directory does not hold yet."""
    missing = []
    for group in yaml.safe_load(rules.read_text())["groups"]:
        for rule in group["rules"]:
            params = urllib.parse.urlencode({"match[]": rule["record"], "start": end - 3600, "end": end})
            if not json.loads(http(f"{base}/api/v1/series?{params}"))["data"]:
                missing.append({"name": group["name"], "interval": group.get("interval", "1m"), "rule": rule})
    return missing


def backfill_rules(promtool: Path, base: str, workdir: Path, start: float, end: float) -> tuple[int, float]:
    """Write the recorded series of the boards' rules missing from the data over [start, end] as blocks
    into the data directory."""
    from grafana.generate import RULES

    started = time.monotonic()
    missing = missing_rules(base, RULES, end)
    if not missing:
        return 0, 0.0
    rules = workdir / "backfill.rules.yaml"
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for item in missing:
        groups[(item["name"], item["interval"])].append(item["rule"])
    rules.write_text(yaml.safe_dump({"groups": [{"name": name, "interval": interval, "rules": members}
                                                for (name, interval), members in groups.items()]}))
    out = workdir / f"rule-blocks-{int(time.time())}"
    out.mkdir()
    result = subprocess.run([str(promtool), "tsdb", "create-blocks-from", "rules", "--quiet",
                             f"--start={int(start)}", f"--end={int(end)}", f"--url={base}",
                             f"--output-dir={out}", str(rules)], capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"promtool rules backfill failed: {(result.stdout + result.stderr)[-2000:]}")
    blocks = [p for p in out.iterdir() if (p / "meta.json").exists()]
    for block in blocks:
        shutil.move(str(block), str(workdir / "data" / block.name))
    return len(blocks), time.monotonic() - started


def wait_for_rule_blocks(base: str, start: float, end: float, limit_s: float = 300.0) -> float:
    """Wait (bounded) until Prometheus serves every recorded series from the moved blocks (its
    block reload runs every minute). The 5-minute rates have samples only in the last day (the
    history is 30-minute points before that), so the check spans the whole history."""
    from grafana.generate import RULES

    started = time.monotonic()
    records = [r["record"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    while time.monotonic() - started < limit_s:
        params = [urllib.parse.urlencode({"match[]": r, "start": start, "end": end}) for r in records]
        if all(json.loads(http(f"{base}/api/v1/series?{q}"))["data"] for q in params):
            return time.monotonic() - started
        time.sleep(5)
    raise RuntimeError(f"the backfilled rule blocks were not loaded within {limit_s:.0f} s")


def head_span(base: str) -> str:
    """The head block's time span and series (what lives only in memory and the WAL)."""
    head = json.loads(http(f"{base}/api/v1/status/tsdb"))["data"]["headStats"]
    fmt = lambda ms: time.strftime("%H:%M:%S", time.gmtime(ms / 1000))  # noqa: E731
    return f"{fmt(head['minTime'])}–{fmt(head['maxTime'])} UTC, {head['numSeries']:,} series"


# --- the cache of loaded history (outside the repository) ---
# A large-scale load takes ten minutes and the rule backfill as long again; both are pure functions
# of the series set, the days and the rules. The cache keeps TSDB snapshots (blocks, head included):
# `raw` after the load, `rules-<hash>` after the rules were backfilled over it. A run restores the
# snapshot whose recorded series are a subset of the current rules (same expressions) and backfills
# only the rules it lacks; the history ends where the cached load ended, and the queries end there.

def data_key(all_series: list[Series], days: int, large: bool) -> str:
    digest = hashlib.sha256(repr((DATA_VERSION, days, all_series)).encode()).hexdigest()[:12]
    return f"dashboards-{'large' if large else 'small'}-{days}d-v{DATA_VERSION}-{digest}"


def current_rules() -> tuple[str, dict[str, str]]:
    """(hash of the rule file, {record: expr}) of the boards' generated rules."""
    from grafana.generate import RULES

    text = RULES.read_text()
    parsed = yaml.safe_load(text)["groups"]
    rules = {r["record"]: f"{g.get('interval', '1m')} {r['expr']}" for g in parsed for r in g["rules"]}
    return hashlib.sha256(text.encode()).hexdigest()[:12], rules


def best_snapshot(key_dir: Path, rules: dict[str, str]) -> Path | None:
    """The cached snapshot holding the most of `rules` and no recorded series that differs from them."""
    best, held = None, -1
    for candidate in sorted(key_dir.glob("*")):
        meta_file = candidate / META
        if not candidate.is_dir() or not meta_file.exists():
            continue
        recorded = json.loads(meta_file.read_text()).get("rules", {})
        if all(rules.get(name) == expr for name, expr in recorded.items()) and len(recorded) > held:
            best, held = candidate, len(recorded)
    return best


def snapshot(base: str, data_dir: Path, into: Path, meta: dict) -> float:
    """Snapshot the TSDB (head included) and keep it as `into`; returns seconds taken, or -1 when it failed
    (a failed cache write costs the next run its time, never this run its figures)."""
    started = time.monotonic()
    try:
        _snapshot(base, data_dir, into, meta)
    except (OSError, urllib.error.URLError, KeyError, ValueError) as error:
        print(f"warning: could not cache the snapshot in {into}: {error}", file=sys.stderr)
        return -1.0
    return time.monotonic() - started


def _snapshot(base: str, data_dir: Path, into: Path, meta: dict) -> None:
    name = json.loads(http(f"{base}/api/v1/admin/tsdb/snapshot", b"", timeout=1800))["data"]["name"]
    source = data_dir / "snapshots" / name
    partial = into.with_name(into.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, partial)
    shutil.rmtree(source, ignore_errors=True)
    (partial / META).write_text(json.dumps(meta, indent=2, sort_keys=True))
    shutil.rmtree(into, ignore_errors=True)
    partial.rename(into)


def restore(cached: Path, data_dir: Path) -> dict:
    """Hard-link (copy across file systems) the cached blocks into an empty data directory.
    Prometheus never rewrites a block's files in place (compaction writes new blocks), so links are safe."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(cached, data_dir, copy_function=link, ignore=shutil.ignore_patterns(META))
    return json.loads((cached / META).read_text())


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def timed_query(base: str, path: str, params: dict[str, str]) -> tuple[float, float, dict]:
    """(round trip ms: request sent to response fully read, the client's JSON decoding ms, body)."""
    url = f"{base}{path}?{urllib.parse.urlencode({**params, 'stats': 'all'})}"
    started = time.perf_counter()
    raw = http(url, timeout=60)
    read = time.perf_counter()
    body = json.loads(raw)
    return (read - started) * 1000, (time.perf_counter() - read) * 1000, body


def series_touched(base: str, board, end: float) -> int:
    from grafana.queries import parse_duration, selectors, substitute

    range_s = parse_duration(board.time_from)
    variables = {v.name: ".*" for v in board.variables}
    matchers = set()
    for _, query in board.queries():
        expr = substitute(query.expr, range_s=range_s, interval=60, variables=variables)
        matchers |= {f"{name}{m}" for name, m in selectors(expr)}
    found = set()
    for matcher in sorted(matchers):
        params = urllib.parse.urlencode({"match[]": matcher, "start": end - range_s, "end": end})
        for labels in json.loads(http(f"{base}/api/v1/series?{params}"))["data"]:
            found.add(tuple(sorted(labels.items())))
    return len(found)


def run(days: int, repeat: int, large: bool, keep: bool, use_cache: bool, emit: Callable[[str], None]) -> int:
    tools = load_install_tools().tool_paths()
    if {"prometheus", "promtool"} & set(tools.missing()):
        emit("prometheus/promtool missing: run `make tools`")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="stackwatch-dashboards-bench-"))
    all_series = series_set(large)
    key_dir = CACHE / data_key(all_series, days, large)
    rules_hash, rules = current_rules()
    cached = best_snapshot(key_dir, rules) if use_cache else None
    if cached is not None:
        meta = restore(cached, workdir / "data")
        end = meta["end"]
        emit(f"restored {cached} (history ending {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(end))} UTC; "
             f"originally {meta['samples']:,} samples loaded in {meta['load_s']:.0f} s; "
             f"{len(meta.get('rules', {}))} of {len(rules)} recorded series held)")
    else:
        end = math.floor(time.time() / 15) * 15
    times = timestamps(end, days)
    process, base = start_prometheus(tools.prometheus, workdir, days)
    try:
        if cached is None:
            emit(f"loading {len(all_series):,} series × {len(times):,} points ({days} d) into {base} …")
            written, seconds = load(base, all_series, times)
            emit(f"loaded {written:,} samples in {seconds:.0f} s ({written / seconds:,.0f}/s)")
            blocks, waited = settle(workdir / "data")
            emit(f"compaction settled after {waited:.0f} s: {blocks} blocks")
            meta = {"end": end, "samples": written, "load_s": seconds, "series": len(all_series), "rules": {}}
            if use_cache:
                taken = snapshot(base, workdir / "data", key_dir / RAW, meta)
                emit(f"cached the loaded history in {key_dir / RAW} ({taken:.0f} s)")
        else:
            blocks, waited = settle(workdir / "data", quiet_s=30)
            emit(f"restored blocks settled after {waited:.0f} s: {blocks} blocks")
        rule_blocks, seconds = backfill_rules(tools.promtool, base, workdir, times[0], end)
        emit(f"backfilled the recording rules missing from the data in {seconds:.0f} s: {rule_blocks} blocks")
        if rule_blocks:
            # No restart: Prometheus picks up new blocks in its data directory every minute. A restart
            # would start the head at the newest block's end (the recorded series' end, i.e. the
            # history's end) and drop the raw samples that lived only in the head and the WAL (the
            # last hours), which left 60 s rates at the range's end empty after an earlier restart.
            emit(f"head (raw samples only in memory and WAL): {head_span(base)}")
            waited = wait_for_rule_blocks(base, times[0], end)
            blocks, settled = settle(workdir / "data")
            emit(f"rule blocks loaded after {waited:.0f} s; compaction settled after {settled:.0f} s: "
                 f"{blocks} blocks; head now {head_span(base)}")
            if use_cache:
                rules_hash, rules = current_rules()  # what backfill_rules read (the file may change during a load)
                into = key_dir / f"rules-{rules_hash}"
                taken = snapshot(base, workdir / "data", into, {**meta, "rules": rules})
                emit(f"cached the history with the recorded series in {into} ({taken:.0f} s)")
        emit(f"load average: {Path('/proc/loadavg').read_text().strip()}")
        from grafana.dashboards import boards
        from grafana.queries import annotation_request, request

        results: list[tuple[str, str, float, float, float, int, float]] = []
        empty: list[str] = []
        samples_by_board: dict[str, int] = defaultdict(int)
        panel_p95: dict[tuple[str, str], float] = defaultdict(float)
        for board in boards():
            targets = [(panel.title, query.expr, request(board, panel, query, now=end))
                       for panel, query in board.queries()]
            targets += [(f"annotation: {a.name}", a.expr, annotation_request(board, a, now=end))
                        for a in board.annotations]
            for title, expr, req in targets:
                timings, decoding = [], []
                body: dict = {}
                for _ in range(repeat):
                    ms, decode_ms, body = timed_query(base, req.path, req.params())
                    timings.append(ms)
                    decoding.append(decode_ms)
                if not body["data"]["result"]:
                    empty.append(f"{board.uid} / {title}: {expr}")
                samples = body["data"].get("stats", {}).get("samples", {}).get("totalQueryableSamples", 0)
                samples_by_board[board.uid] += samples
                # Inclusive: interpolated between the runs, never above the slowest (the default,
                # exclusive method extrapolates past the maximum from a handful of runs).
                p95 = statistics.quantiles(timings, n=20, method="inclusive")[18] if len(timings) > 1 else timings[0]
                results.append((board.uid, title, statistics.median(timings), p95, max(timings), samples,
                                statistics.median(decoding)))
                panel_p95[(board.uid, title)] += p95
        emit("")
        emit(f"{'board':<22} {'panel':<42} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'samples':>12} "
             f"{'decode ms':>10}")
        for uid, title, p50, p95, worst, samples, decode in results:
            emit(f"{uid:<22} {title[:42]:<42} {p50:8.1f} {p95:8.1f} {worst:8.1f} {samples:12,} {decode:10.1f}")
        emit("")
        emit("slowest five panels (sum of their queries' p95):")
        for (uid, title), ms in sorted(panel_p95.items(), key=lambda kv: -kv[1])[:5]:
            emit(f"  {ms:8.1f} ms  {uid} / {title}")
        emit("")
        emit("series and samples each board touches (default range, variables at All):")
        for board in boards():
            emit(f"  {board.uid:<22} {board.time_from:>8}  {series_touched(base, board, end):8,} series  "
                 f"{samples_by_board[board.uid]:14,} samples")
        p95s = [r[3] for r in results]
        worst = max(r[4] for r in results)
        over = [r for r in results if r[3] > TARGET_P95_MS]
        emit("")
        emit(f"queries: {len(results)}; p95 of p95s {statistics.quantiles(p95s, n=20, method='inclusive')[18]:.1f} ms; "
             f"worst single run {worst:.1f} ms; over the p95 target ({TARGET_P95_MS:.0f} ms): {len(over)}; "
             f"runs over {TARGET_MAX_MS:.0f} ms: {sum(1 for r in results if r[4] > TARGET_MAX_MS)}")
        for uid, title, _, p95, _, _, _ in over:
            emit(f"  over target: {uid} / {title}: p95 {p95:.1f} ms")
        emit(f"queries returning no data: {len(empty)}")
        for line in empty:
            emit(f"  {line}")
        emit(f"load average at the end: {Path('/proc/loadavg').read_text().strip()}")
        return 0
    finally:
        stop(process)
        if keep:
            emit(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description="Dashboard query latency on 30 days of large-scale history.")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--scale", choices=("large", "small"), default="large")
    parser.add_argument("--keep", action="store_true", help="keep the Prometheus data directory")
    parser.add_argument("--no-cache", action="store_true",
                        help=f"load and backfill from scratch and cache nothing (cache: {CACHE}, "
                             "or $STACKWATCH_BENCH_CACHE)")
    args = parser.parse_args()
    return run(args.days, args.repeat, args.scale == "large", args.keep, not args.no_cache, print)


if __name__ == "__main__":
    sys.exit(main())
