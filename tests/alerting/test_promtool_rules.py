"""The Prometheus rules under promtool: `check rules`, and `test rules` with, for every alert, a case
that fires (exact labels and annotations, runbook and dashboard links included) and one that stays
quiet; for every threshold, a case exactly at it and one step either side (a `>` turned into `>=`
fails one of them); inputs shaped as production shapes them (a counter series born at its first
value, a scrape that vanishes).

The rules are the reference rendering alerting/prometheus/stackwatch.rules.yaml (production windows
and `for`; the links of alerting/example.env). Expected values are worked out here from the input
series (comments show the arithmetic), and printed with this file's own versions of Prometheus'
humanize functions.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

import pytest
import yaml
from conftest import ALERTING, RULES

from alerting.envfile import read_env_file
from alerting.model import duration_seconds
from alerting.rules import ALERTS, SUPABASE_SCRAPED, THRESHOLDS_READ

EXAMPLE = read_env_file(ALERTING / "example.env")
GRAFANA = EXAMPLE["GF_SERVER_ROOT_URL"].rstrip("/")
RUNBOOKS = EXAMPLE["RUNBOOK_BASE_URL"]

# The config defaults (exporters/service/config.py), as stackwatch exports them.
THRESHOLDS = [
    ('stackwatch_threshold_response_time_seconds{job="stackwatch", tier="frontend"}', "3"),
    ('stackwatch_threshold_response_time_seconds{job="stackwatch", tier="backend"}', "2"),
    ('stackwatch_threshold_response_time_seconds{job="stackwatch", tier="database"}', "0.5"),
    ('stackwatch_threshold_error_rate_ratio{job="stackwatch"}', "0.01"),
    ('stackwatch_threshold_cpu_utilization_ratio{job="stackwatch"}', "0.8"),
    ('stackwatch_threshold_memory_utilization_ratio{job="stackwatch"}', "0.85"),
    ('stackwatch_threshold_availability_ratio{job="stackwatch"}', "0.99"),
    ('stackwatch_threshold_connections_utilization_ratio{job="stackwatch"}', "0.8"),
    ('stackwatch_threshold_backup_age_seconds{job="stackwatch"}', "93600"),  # 26 h
    ('stackwatch_threshold_tls_expiry_seconds{job="stackwatch"}', "1209600"),  # 14 d
    ('stackwatch_threshold_data_staleness_seconds{job="stackwatch"}', "900"),
    ('stackwatch_threshold_ratelimit_headroom_ratio{job="stackwatch"}', "0.1"),
    ('stackwatch_threshold_spend_anomaly_factor{job="stackwatch"}', "3"),
    ('stackwatch_threshold_spend_anomaly_floor_usd{job="stackwatch"}', "5"),
    ('stackwatch_threshold_runaway_spend_floor_hourly_usd{job="stackwatch"}', "5"),
    ('stackwatch_threshold_disk_utilization_ratio{job="stackwatch"}', "0.8"),
    ('stackwatch_threshold_replication_lag_seconds{job="stackwatch"}', "600"),
    ('stackwatch_threshold_traffic_spike_factor{job="stackwatch"}', "3"),
    ('stackwatch_threshold_traffic_spike_floor_per_second{job="stackwatch"}', "1"),
    ('stackwatch_budget_monthly_usd{job="stackwatch", provider="vercel"}', "200"),
    ('stackwatch_budget_monthly_usd{job="stackwatch", provider="all"}', "1500"),
    ('stackwatch_budget_daily_usd{job="stackwatch", provider="all"}', "60"),
]
# stackwatch's own OTLP metrics arriving (StackwatchAbsent stays quiet); left out where a case says so.
REPORTING = ('stackwatch_provider_up{job="stackwatch", provider="vercel"}', "1")


# --- Prometheus' template functions, re-implemented from their documented behaviour ---

def humanize(v: float) -> str:
    return "%.4g" % v  # small values: no SI prefix in these cases


def humanize_percentage(v: float) -> str:
    return humanize(v * 100) + "%"


def humanize_duration(seconds: float) -> str:
    if seconds >= 60:
        s = int(seconds)
        d, h, m, sec = s // 86400, s // 3600 % 24, s // 60 % 60, s % 60
        if d:
            return f"{d}d {h}h {m}m {sec}s"
        if h:
            return f"{h}h {m}m {sec}s"
        return f"{m}m {sec}s"
    if seconds >= 1:
        return "%.4gs" % seconds
    return "%.4gms" % (seconds * 1000)


@dataclass
class Fires:
    severity: str
    labels: dict[str, str]  # labels of the series (plus the alert's static ones, added below)
    value: str  # the value as the annotation prints it
    variant: str = ""  # which rule of a multi-rule alert (AlertInputAbsent: its input)
    figures: dict[str, str] = field(default_factory=dict)  # a figure's name -> as the message prints it


@dataclass
class Case:
    alert: str
    title: str
    series: list[tuple[str, str]]
    eval_time: str
    fires: list[Fires] = field(default_factory=list)
    interval: str = "1m"
    stackwatch_reports: bool = True
    # Evaluate only this alert's rule group, every `rule_interval` (the shipped 1 m would make
    # promtool evaluate every rule thousands of times over days of history): same expressions.
    rule_interval: str | None = None
    thresholds: dict[str, str] = field(default_factory=dict)  # overrides of THRESHOLDS' values, by name
    without: tuple[str, ...] = ()  # THRESHOLDS series left out (their names)


def steady(value: str, n: int = 120) -> str:
    return f"{value}x{n}"


def both(labels: dict[str, str], value: str) -> list[Fires]:
    return [Fires("warning", labels, value), Fires("critical", labels, value)]


EDGES: dict[str, int] = {}  # alert -> threshold cases (at, one step above, one step below)


def edges(cases: list[Case]) -> list[Case]:
    """Cases exactly at a threshold and one step either side (counted for the test below)."""
    assert len(cases) == 3
    EDGES[cases[0].alert] = EDGES.get(cases[0].alert, 0) + 3
    return cases


def boundary(alert: str, series: str, at: float, step: float, *, fires_above: bool, labels: dict[str, str],
             value, eval_time: str = "20m", extra: tuple[tuple[str, str], ...] = (), severities=("warning", "critical"),
             thresholds: dict[str, str] | None = None, inclusive: bool = False) -> list[Case]:
    """Three cases of a constant input: exactly at the threshold, one step above, one step below.
    `fires_above`: the alert fires above (else below); `inclusive`: it also fires at the threshold
    (a `>=` comparison). `value(v)` is how the annotation prints v."""
    cases = []
    for x, name in ((at, "exactly at"), (at + step, "one step above"), (at - step, "one step below")):
        fires = (x > at if fires_above else x < at) or (inclusive and x == at)
        cases.append(Case(alert, f"{'fires' if fires else 'stays quiet'} {name} the threshold ({x:g})",
                          [(series, steady(f"{x:g}")), *extra], eval_time,
                          [Fires(sev, labels, value(x)) for sev in severities] if fires else [],
                          thresholds=thresholds or {}))
    return edges(cases)


FRONTEND = {"job": "blackbox", "tier": "frontend", "instance": "https://shop.example/"}
PROBE = 'probe_success{job="blackbox", tier="%s", instance="%s", module="http_%s"}'
PROBE_FRONTEND = PROBE % ("frontend", "https://shop.example/", "frontend")
PROBE_BACKEND = PROBE % ("backend", "https://api.example/healthz", "backend")
# Every input the dead-source alerts watch, present and healthy: the AlertInputAbsent cases take one away.
HEALTHY_INPUTS = [
    ('up{job="blackbox", instance="https://shop.example/", tier="frontend", module="http_frontend"}', "1"),
    ('up{job="blackbox", instance="https://api.example/healthz", tier="backend", module="http_backend"}', "1"),
    (PROBE_FRONTEND, "1"), (PROBE_BACKEND, "1"),
    ('probe_duration_seconds{job="blackbox", tier="frontend", instance="https://shop.example/", module="http_frontend"}', "0.4"),
    ('up{job="supabase", instance="db.example:443", project="production"}', "1"),
    ('supabase_project_up{job="stackwatch", project="production", status="ACTIVE_HEALTHY"}', "1"),
    *[(f'{m}{{job="supabase", instance="db.example:443", project="production"}}', "1") for m in SUPABASE_SCRAPED],
]


AUTH_SERIES = 'supabase_auth_events_total{job="stackwatch", project="production", kind="%s", outcome="%s"}'


def inputs_without(name: str) -> list[tuple[str, str]]:
    return [(s, steady(v, 40)) for s, v in HEALTHY_INPUTS if not s.startswith(name + "{")]


SUPABASE_TARGET = {"job": "supabase", "instance": "db.example:443", "project": "production"}


def input_absent_cases() -> list[Case]:
    """One firing case per input (the others present: exactly that variant fires), one quiet case."""
    cases = [Case("AlertInputAbsent", "stays quiet while every input arrives",
                  [(s, steady(v, 40)) for s, v in HEALTHY_INPUTS], "30m")]
    up_blackbox = [(s, steady(v, 40)) for s, v in HEALTHY_INPUTS if not s.startswith('up{job="blackbox"')]
    cases.append(Case("AlertInputAbsent", "fires when Prometheus scrapes no probe target", up_blackbox, "30m",
                      [Fires("warning", {"job": "blackbox"}, humanize(1), "up")]))
    for metric, tier in (("probe_success", "frontend"), ("probe_success", "backend"), ("probe_duration_seconds", "frontend")):
        series = [(s, steady(v, 40)) for s, v in HEALTHY_INPUTS if not (s.startswith(metric + "{") and f'tier="{tier}"' in s)]
        cases.append(Case("AlertInputAbsent", f"fires when no {tier} {metric} arrives", series, "30m",
                          [Fires("warning", {"job": "blackbox", "tier": tier}, humanize(1), f"{metric}/{tier}")]))
    cases.append(Case("AlertInputAbsent", "fires when active Supabase projects are not scraped",
                      [(s, steady(v, 40)) for s, v in HEALTHY_INPUTS if 'job="supabase"' not in s], "30m",
                      [Fires("warning", {"job": "supabase"}, humanize(1), "up/supabase")]))
    for metric in SUPABASE_SCRAPED:
        cases.append(Case("AlertInputAbsent", f"fires when the scrape works but carries no {metric}",
                          inputs_without(metric), "30m", [Fires("warning", SUPABASE_TARGET, humanize(1), metric)]))
    for name, _v in THRESHOLDS:
        metric = name.split("{")[0]
        if metric.removeprefix("stackwatch_threshold_") not in THRESHOLDS_READ \
                or metric in {c.without[0] for c in cases if c.without}:
            continue
        cases.append(Case("AlertInputAbsent", f"fires when stackwatch reports without {metric}",
                          [(s, steady(v, 40)) for s, v in HEALTHY_INPUTS], "30m",
                          [Fires("warning", {}, humanize(1), metric)], without=(metric,)))
    return cases


SUPABASE_DB = 'job="supabase", instance="db.example:443", project="production"'
# Supabase's database host: the idle CPU counter is born at its first value (1000 s), as a scrape
# of a running host shapes it. 15 idle seconds a minute on one CPU is 25 % idle, 75 % busy, exactly
# at a 0.75 threshold (exact in binary); 14.4 and 15.6 either side.
SUPABASE_CPU_CASES = [Case(
    "CpuUtilizationHigh", f"{'fires' if idle < 15 else 'stays quiet'} for a Supabase database at {idle}/60 s idle",
    [(f'node_cpu_seconds_total{{{SUPABASE_DB}, cpu="0", mode="idle"}}', f"1000+{idle}x60"),
     (f'node_cpu_seconds_total{{{SUPABASE_DB}, cpu="0", mode="user"}}', f"400+{60 - idle}x60")],
    "30m", [Fires(sev, {"project": "production"}, humanize_percentage(1 - idle / 60), "supabase")
            for sev in ("warning", "critical")] if idle < 15 else [],
    thresholds={"stackwatch_threshold_cpu_utilization_ratio": "0.75"}) for idle in (14.4, 15, 15.6)]
# 16 of 64 bytes available is 75 % used, exactly at a 0.75 threshold; 15 and 17 either side.
SUPABASE_MEMORY_CASES = [Case(
    "MemoryUtilizationHigh", f"{'fires' if free < 16 else 'stays quiet'} for a Supabase database with {free} of 64 available",
    [(f"node_memory_MemAvailable_bytes{{{SUPABASE_DB}}}", steady(str(free))),
     (f"node_memory_MemTotal_bytes{{{SUPABASE_DB}}}", steady("64"))],
    "20m", [Fires(sev, {"project": "production"}, humanize_percentage(1 - free / 64), "supabase")
            for sev in ("warning", "critical")] if free < 16 else [],
    thresholds={"stackwatch_threshold_memory_utilization_ratio": "0.75"}) for free in (15, 16, 17)]


def hourly_counter(start: float, rates: list[float]) -> str:
    """A counter sampled every 5 min, born at `start`, running at rates[h] requests/s in hour h."""
    parts, value = [], start
    for rate in rates:
        step = rate * 300
        parts.append(f"{value!r}+{step!r}x11")
        value += 12 * step
    return " ".join(parts)


# A daily cycle from 10 to 30 requests/s (trough at 04:00, peak at 16:00): 3x from trough to peak,
# which a fixed threshold on the rate itself could not tell from a spike.
DAY = [10 + 20 * (1 - min(abs(h - 16), 24 - abs(h - 16)) / 12) for h in range(24)]
SPIKE_DAYS, SPIKE_HOUR = 8, 10
SPIKE_EVAL = f"{SPIKE_DAYS * 24 + SPIKE_HOUR}h50m"  # in the spike's hour; the window (10:35, 10:50] within it


def cycle(days: int, last: int, spike: float = 1.0) -> list[float]:
    """`days` whole days of DAY, then `last` + 2 hours of the next, hour `last` times `spike`."""
    return [r for _ in range(days) for r in DAY] + DAY[:last] + [DAY[last] * spike, DAY[last + 1]]


VERCEL_SHOP = 'vercel_requests_total{project="shop", source="lambda", status_class="2xx", cache="none"}'
RENDER_API = 'render_service_http_requests_total{service="api", status_class="2xx"}'
TRAFFIC_CASES = [
    Case("TrafficSpike", "stays quiet on a normal daily cycle (3x from trough to peak)",
         [(VERCEL_SHOP, hourly_counter(52_000, cycle(SPIKE_DAYS, SPIKE_HOUR + 6)))],
         f"{SPIKE_DAYS * 24 + SPIKE_HOUR + 6}h50m", interval="5m", rule_interval="5m"),
    Case("TrafficSpike", "warns with the factor when a project gets 5x its usual rate for the hour",
         [(VERCEL_SHOP, hourly_counter(52_000, cycle(SPIKE_DAYS, SPIKE_HOUR, 5)))],
         SPIKE_EVAL, [Fires("warning", {"project": "shop", "provider": "vercel"}, "5.0x",
                            figures={"baseline": humanize(DAY[SPIKE_HOUR])})],
         interval="5m", rule_interval="5m"),
    # The message's baseline is the firing project's own, not another project's (blog: 3 requests/s).
    Case("TrafficSpike", "prints the spiking project's own baseline beside another project's",
         [(VERCEL_SHOP, hourly_counter(52_000, cycle(SPIKE_DAYS, SPIKE_HOUR, 5))),
          (VERCEL_SHOP.replace('"shop"', '"blog"'), hourly_counter(900, [3.0] * (SPIKE_DAYS * 24 + SPIKE_HOUR + 2)))],
         SPIKE_EVAL, [Fires("warning", {"project": "shop", "provider": "vercel"}, "5.0x",
                            figures={"baseline": humanize(DAY[SPIKE_HOUR])})],
         interval="5m", rule_interval="5m"),
    # A Render service at a steady 2 requests/s, then 4x: 8 requests/s.
    Case("TrafficSpike", "warns for a Render service at 4x its rate of a day and a week ago",
         [(RENDER_API, hourly_counter(7_000, [2.0] * (SPIKE_DAYS * 24 + SPIKE_HOUR) + [8.0, 2.0]))],
         SPIKE_EVAL, [Fires("warning", {"service": "api", "provider": "render"}, "4.0x", figures={"baseline": humanize(2.0)})],
         interval="5m", rule_interval="5m"),
    # 0.1 then 0.5 requests/s: 5x, but under the 1 request/s floor.
    Case("TrafficSpike", "stays quiet for a spike under the traffic floor",
         [(RENDER_API, hourly_counter(7_000, [0.1] * (SPIKE_DAYS * 24 + SPIKE_HOUR) + [0.5, 0.1]))],
         SPIKE_EVAL, interval="5m", rule_interval="5m"),
    # A project without traffic a day and a week ago has no baseline (0): busy now, but not a spike
    # of its own rate (a project new within the day has no baseline series at all: the same).
    Case("TrafficSpike", "stays quiet for a project without traffic a day and a week ago",
         [(VERCEL_SHOP, hourly_counter(3, [0.0] * (SPIKE_DAYS * 24 + SPIKE_HOUR) + [50.0, 50.0]))],
         SPIKE_EVAL, interval="5m", rule_interval="5m"),
]
AUTOSCALED_API = ('render_service_autoscaling_max_instances{job="stackwatch", service="api"}', steady("5"))
RENDER_SCALING_CASES = [
    Case("RenderInstanceCountChanged", "tells when the autoscaler adds an instance",
         [('render_service_instances{job="stackwatch", service="api"}', "2x19 3x20"), AUTOSCALED_API],
         "25m", [Fires("info", {"service": "api"}, humanize(3))]),
    Case("RenderInstanceCountChanged", "stays quiet once the count held for the window",
         [('render_service_instances{job="stackwatch", service="api"}', "2x5 3x40"), AUTOSCALED_API], "40m"),
    Case("RenderInstanceCountChanged", "stays quiet for a service without autoscaling resized by hand",
         [('render_service_instances{job="stackwatch", service="worker"}', "1x19 2x20")], "25m"),
    *boundary("RenderAutoscalingAtMax", 'render_service_instances{job="stackwatch", service="api"}', 5, 1,
              fires_above=True, inclusive=True, labels={"service": "api"}, value=humanize,
              severities=("warning",), extra=(AUTOSCALED_API,)),
]
OPENAI_MTD = 'stackwatch_cost_month_to_date_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}'
# $2 an hour for 45 h, then held at $90 through a 3-hour poll outage (provider_up 0 from 45 h to 48 h).
OUTAGE_MTD = "0+0.16666666666666666x539 90x35"
OPENAI_UP_OUTAGE = ('stackwatch_provider_up{provider="openai"}', "1x539 0x35 1x36")
# Month to date of OpenAI at $2 an hour for 48 h (5-minute samples), then at $20 an hour.
RUNAWAY = " ".join(["0+0.16666666666666666x575", "96+1.6666666666666667x60"])
CASES: list[Case] = [
    # 3.5 s average > 3 s: warning after 5 min, critical after 15 min.
    Case("FrontendResponseTimeHigh", "fires warning then critical",
         [('probe_duration_seconds{job="blackbox", tier="frontend", instance="https://shop.example/"}', steady("3.5"))],
         "20m", both({"instance": FRONTEND["instance"], "tier": "frontend"}, humanize_duration(3.5))),
    Case("FrontendResponseTimeHigh", "is only a warning after 10 minutes",
         [('probe_duration_seconds{job="blackbox", tier="frontend", instance="https://shop.example/"}', steady("3.5"))],
         "10m", [Fires("warning", {"instance": FRONTEND["instance"], "tier": "frontend"}, humanize_duration(3.5))]),
    *boundary("FrontendResponseTimeHigh", 'probe_duration_seconds{job="blackbox", tier="frontend", instance="https://shop.example/"}',
              3, 0.25, fires_above=True, labels={"instance": FRONTEND["instance"], "tier": "frontend"}, value=humanize_duration),
    Case("BackendResponseTimeHigh", "ignores a slow p99 when p95 is 1.5 s",
         [('render_service_http_latency_seconds{service="api", quantile="0.95"}', steady("1.5")),
          ('render_service_http_latency_seconds{service="api", quantile="0.99"}', steady("4"))],
         "20m"),
    *boundary("BackendResponseTimeHigh", 'render_service_http_latency_seconds{service="api", quantile="0.95"}',
              2, 0.25, fires_above=True, labels={"service": "api"}, value=humanize_duration,
              extra=(('render_service_http_latency_seconds{service="api", quantile="0.99"}', steady("4")),)),
    # Statement time per query over the window: 30 s of statement time per 60 queries each minute
    # is exactly 0.5 s; 31/60 and 29/60 either side.
    *edges([Case("DatabaseResponseTimeHigh", f"{'fires' if t > 30 else 'stays quiet'} at {t}/60 s per query",
           [('pg_stat_statements_total_time_seconds{project="production"}', f"0+{t}x60"),
            ('pg_stat_statements_total_queries{project="production"}', "0+60x60")],
           "30m", both({"project": "production"}, humanize_duration(t / 60)) if t > 30 else [])
      for t in (29, 30, 31)]),
    # 3 of every 100 requests are 5xx.
    Case("ErrorRateHigh", "fires for a Vercel project at 3 %",
         [('vercel_requests_total{project="shop", source="lambda", status_class="5xx", cache="none"}', "0+3x60"),
          ('vercel_requests_total{project="shop", source="lambda", status_class="2xx", cache="none"}', "0+97x60")],
         "30m", both({"project": "shop", "provider": "vercel", "tier": "frontend"}, humanize_percentage(3 / 100))),
    Case("ErrorRateHigh", "fires for a Render service at 8 %",
         [('render_service_http_requests_total{service="api", status_class="5xx"}', "0+8x60"),
          ('render_service_http_requests_total{service="api", status_class="2xx"}', "0+92x60")],
         "30m", both({"service": "api", "provider": "render", "tier": "backend"}, humanize_percentage(8 / 100))),
    # Exactly at the threshold: 1 of 16 requests 5xx against a 1/16 threshold (exact in binary), and either side.
    *edges([Case("ErrorRateHigh", f"{'fires' if bad > 8 else 'stays quiet'} at {bad}/128 5xx against a 1/16 threshold",
           [('render_service_http_requests_total{service="api", status_class="5xx"}', f"0+{bad}x60"),
            ('render_service_http_requests_total{service="api", status_class="2xx"}', f"0+{128 - bad}x60")],
           "30m", both({"service": "api", "provider": "render", "tier": "backend"}, humanize_percentage(bad / 128))
           if bad > 8 else [], thresholds={"stackwatch_threshold_error_rate_ratio": "0.0625"})
      for bad in (7, 8, 9)]),
    # Minimum traffic (100 requests in the 5 m window): 15 requests a minute is 75 a window.
    Case("ErrorRateHigh", "stays quiet for a Vercel project at 20 % 5xx among too few requests",
         [('vercel_requests_total{project="blog", source="lambda", status_class="5xx", cache="none"}', "0+3x60"),
          ('vercel_requests_total{project="blog", source="lambda", status_class="2xx", cache="none"}', "0+12x60")],
         "30m"),
    Case("ErrorRateHigh", "stays quiet for a Render service at 20 % 5xx among too few requests",
         [('render_service_http_requests_total{service="cron-ui", status_class="5xx"}', "0+2x60"),
          ('render_service_http_requests_total{service="cron-ui", status_class="2xx"}', "0+8x60")],
         "30m"),
    # 30 requests a minute, 150 a window: over the minimum, so 10 % fires.
    Case("ErrorRateHigh", "fires for a Vercel project just over the minimum traffic",
         [('vercel_requests_total{project="blog", source="lambda", status_class="5xx", cache="none"}', "0+3x60"),
          ('vercel_requests_total{project="blog", source="lambda", status_class="2xx", cache="none"}', "0+27x60")],
         "30m", both({"project": "blog", "provider": "vercel", "tier": "frontend"}, humanize_percentage(3 / 30))),
    *boundary("CpuUtilizationHigh", 'render_service_cpu_utilization_ratio{service="api"}', 0.8, 0.01,
              fires_above=True, labels={"service": "api"}, value=humanize_percentage),
    *boundary("MemoryUtilizationHigh", 'render_service_memory_utilization_ratio{service="api"}', 0.85, 0.01,
              fires_above=True, labels={"service": "api"}, value=humanize_percentage),
    *edges(SUPABASE_CPU_CASES),
    *edges(SUPABASE_MEMORY_CASES),
    *boundary("SupabaseDiskUtilizationHigh", 'supabase_disk_utilization_ratio{job="stackwatch", project="production"}',
              0.8, 0.01, fires_above=True, labels={"project": "production"}, value=humanize_percentage,
              severities=("warning",)),
    *boundary("SupabaseReplicationLagHigh",
              f"physical_replication_lag_physical_replica_lag_seconds{{{SUPABASE_DB}}}", 600, 1, fires_above=True,
              labels={"project": "production"}, value=humanize_duration, severities=("warning",)),
    Case("SupabaseReplicationLagHigh", "warns on the series under the name supabase-grafana's example uses",
         [(f"physical_replication_lag_physical_replication_lag_seconds{{{SUPABASE_DB}}}", steady("900"))],
         "20m", [Fires("warning", {"project": "production"}, humanize_duration(900))]),
    Case("SupabaseDatabaseReadOnly", "pages while the Management API reports read-only mode",
         [('supabase_database_readonly{job="stackwatch", project="production"}', steady("1"))],
         "10m", [Fires("critical", {"project": "production"}, humanize(1))]),
    Case("SupabaseDatabaseReadOnly", "stays quiet while writes are allowed",
         [('supabase_database_readonly{job="stackwatch", project="production"}', steady("0"))], "10m"),
    *TRAFFIC_CASES,
    *RENDER_SCALING_CASES,
    # Connected backends of 64 against a 0.75 threshold (exact): 48, 49 and 47.
    *edges([Case("DatabaseConnectionsHigh", f"{'fires' if n > 48 else 'stays quiet'} at {n} of 64 connections",
           [('pg_stat_database_num_backends{project="production", datname="postgres"}', steady(str(n))),
            ('max_connections_connection_count{project="production"}', steady("64"))],
           "20m", [Fires("warning", {"project": "production"}, humanize_percentage(n / 64))] if n > 48 else [],
           thresholds={"stackwatch_threshold_connections_utilization_ratio": "0.75"})
      for n in (47, 48, 49)]),
    # Probes succeed for 40 min, then fail. At 60 m the 1 h window (0,60m] holds 60 samples,
    # 21 of them failed (t=40..60): 35 % > 14.4 x 1 %; the 5 m window is all failures.
    Case("AvailabilityBudgetBurnFast", "pages when both windows burn 14.4x",
         [(PROBE_BACKEND, "1x39 0x29")],
         "60m", [Fires("critical", {"tier": "backend"}, humanize_percentage(21 / 60))]),
    # A full outage: every tier fails at once. One alert per tier, both paging (the rules' labels
    # no longer collide with the tier each series keeps).
    Case("AvailabilityBudgetBurnFast", "pages for every tier in a full outage",
         [(PROBE_BACKEND, "1x39 0x29"), (PROBE_FRONTEND, "1x39 0x29")],
         "60m", [Fires("critical", {"tier": "backend"}, humanize_percentage(21 / 60)),
                 Fires("critical", {"tier": "frontend"}, humanize_percentage(21 / 60))]),
    # Three failed probes in an hour: the 5 m window burns, the 1 h window (5 %) does not.
    Case("AvailabilityBudgetBurnFast", "stays quiet for a 3-minute blip",
         [(PROBE_BACKEND, "1x56 0x2 1x10")], "60m"),
    # Failures from t=320m. At 365m the 6 h window (5m,365m] holds 360 samples, 46 failed.
    Case("AvailabilityBudgetBurnMedium", "pages when 6 h and 30 m burn 6x",
         [(PROBE_BACKEND, "1x319 0x100")],
         "365m", [Fires("critical", {"tier": "backend"}, humanize_percentage(46 / 360))]),
    Case("AvailabilityBudgetBurnMedium", "stays quiet when every probe succeeds", [(PROBE_BACKEND, "1x400")], "365m"),
    # Failures from t=4010m. At 4500m the 3 d window (180m,4500m] holds 4320 samples, 491 of
    # them failed (t=4010..4500); the 6 h window is all failures.
    Case("AvailabilityBudgetBurnSlow", "opens a ticket when 3 d and 6 h burn 1x",
         [(PROBE_FRONTEND, "1x4009 0x500")],
         "4500m", [Fires("warning", {"tier": "frontend"}, humanize_percentage(491 / 4320))], rule_interval="5m"),
    Case("AvailabilityBudgetBurnSlow", "stays quiet for two failed probes in three days",
         [(PROBE_FRONTEND, "1x4300 0x1 1x300")], "4500m", rule_interval="5m"),
    # Supabase availability. Value 0 fires (Grafana's condition must fire on it too).
    Case("SupabaseProjectUnhealthy", "fires for an unhealthy project, critical after 20 minutes",
         [('supabase_project_up{job="stackwatch", project="staging", status="ACTIVE_UNHEALTHY"}', steady("0"))],
         "20m", both({"project": "staging", "status": "ACTIVE_UNHEALTHY"}, humanize(0))),
    Case("SupabaseProjectUnhealthy", "shows but never alerts on a paused project",
         [('supabase_project_up{job="stackwatch", project="analytics", status="INACTIVE"}', steady("0"))], "20m"),
    # It recovered at 20m: its ACTIVE_UNHEALTHY series stops (no staleness marker, as over OTLP) and
    # stays in the 5-minute lookback beside the new ACTIVE_HEALTHY one; at 22m only the newest counts.
    Case("SupabaseProjectUnhealthy", "resolves as soon as the project reports healthy again",
         [('supabase_project_up{job="stackwatch", project="staging", status="ACTIVE_UNHEALTHY"}', "0x20 _x10"),
          ('supabase_project_up{job="stackwatch", project="staging", status="ACTIVE_HEALTHY"}', "_x21 1x9")], "22m"),
    # ... and pages for the new status when it changes from one unhealthy status to another.
    Case("SupabaseProjectUnhealthy", "follows a change of status",
         [('supabase_project_up{job="stackwatch", project="staging", status="COMING_UP"}', "0x5 _x30"),
          ('supabase_project_up{job="stackwatch", project="staging", status="ACTIVE_UNHEALTHY"}', "_x6 0x29")], "20m",
         [Fires("warning", {"project": "staging", "status": "ACTIVE_UNHEALTHY"}, humanize(0))]),
    Case("SupabaseProjectUnhealthy", "stays quiet while the project is healthy",
         [('supabase_project_up{job="stackwatch", project="staging", status="ACTIVE_HEALTHY"}', steady("1"))], "20m"),
    Case("SupabaseDatabaseDown", "pages when Postgres is unreachable",
         [('pg_up{job="supabase", instance="db.example:443", project="staging"}', steady("0"))],
         "10m", [Fires("critical", {"project": "staging"}, humanize(0))]),
    Case("SupabaseDatabaseDown", "stays quiet for a paused project's database",
         [('pg_up{job="supabase", instance="db.example:443", project="analytics"}', steady("0")),
          ('supabase_project_up{job="stackwatch", project="analytics", status="INACTIVE"}', steady("0"))], "10m"),
    Case("SupabaseDatabaseDown", "stays quiet while Postgres answers",
         [('pg_up{job="supabase", instance="db.example:443", project="staging"}', steady("1"))], "10m"),
    # Deploys: production shapes the failure series as the exporter does, at 0 from the first poll
    # that sees the project or service (exporters/vercel.py, render.py), so the first failure is a rise.
    Case("DeployFailed", "fires for the first failed production deployment of a Vercel project",
         [('vercel_deployments_total{project="shop", target="production", state="ERROR"}', "0x19 1x20")],
         "30m", [Fires("warning", {"project": "shop", "provider": "vercel"}, humanize(1))]),
    Case("DeployFailed", "fires for the first failed Render build",
         [('render_deploys_total{service="api", status="build_failed"}', "0x19 1x20")],
         "30m", [Fires("warning", {"service": "api", "provider": "render"}, humanize(1))]),
    # Why the exporter starts those series at 0: a series born at its first value (1) shows no rise.
    Case("DeployFailed", "cannot see a failure whose series is born at its first value (hence the exporter's 0)",
         [('render_deploys_total{service="api", status="build_failed"}', "_x19 1x20")], "30m"),
    Case("DeployFailed", "stays quiet for a failed preview deployment (a developer's branch, not production)",
         [('vercel_deployments_total{project="shop", target="preview", state="ERROR"}', "0x19 1x20")], "30m"),
    Case("DeployFailed", "stays quiet for successful deploys",
         [('vercel_deployments_total{project="shop", target="production", state="READY"}', "0x19 1x20"),
          ('render_deploys_total{service="api", status="live"}', "0x19 1x20")],
         "30m"),
    # Backup age against 26 h (93600 s): exactly, one second either side; PITR off.
    *boundary("SupabaseBackupMissing", 'supabase_backup_age_seconds{project="production"}', 93600, 1,
              fires_above=True, labels={"project": "production"}, value=humanize_duration, severities=("critical",),
              extra=(('supabase_backup_pitr_enabled{project="production"}', steady("0")),)),
    Case("SupabaseBackupMissing", "stays quiet with PITR on",
         [('supabase_backup_age_seconds{project="production"}', steady("100000")),
          ('supabase_backup_pitr_enabled{project="production"}', steady("1"))],
         "20m"),
    # The time left shrinks as time passes, so the edge is where the pending period (`for: 10m`)
    # starts: at t = 10 m (time() = 600) 14 days exactly are left, or a second more or less;
    # at the evaluation (20 m) ten minutes less are left.
    *edges([Case("TlsCertificateExpiring", f"{'fires' if left < 14 * 86400 else 'stays quiet'} with {left} s left as its `for` starts",
                 [('probe_ssl_earliest_cert_expiry{job="blackbox", instance="https://shop.example/"}', steady(str(600 + left)))],
                 "20m", [Fires("warning", {"instance": "https://shop.example/"}, humanize_duration(left - 600))]
                 if left < 14 * 86400 else [])
            for left in (14 * 86400 - 1, 14 * 86400, 14 * 86400 + 1)]),
    # Month to date against the Vercel budget of 200: 50 %, 80 % and 100 % exactly (>=), a dollar either side.
    *[case for name, sev, lo, hi, edge in (("MonthlyBudgetHalfSpent", "info", 0.5, 0.8, 100),
                                           ("MonthlyBudgetMostlySpent", "warning", 0.8, 1.0, 160),
                                           ("MonthlyBudgetExceeded", "warning", 1.0, float("inf"), 200))
      for case in edges([Case(name, f"{'fires' if lo <= mtd / 200 < hi else 'stays quiet'} at {mtd} of 200 USD",
                              [('stackwatch_cost_month_to_date_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}',
                                steady(str(mtd)))],
                              "20m", [Fires(sev, {"provider": "vercel"}, humanize_percentage(mtd / 200))]
                              if lo <= mtd / 200 < hi else [])
                         for mtd in (edge - 1, edge, edge + 1)])],
    # Vercel 210 of 200; the total (210 + 1400 OpenAI, which has no budget of its own) 1610 of 1500.
    Case("MonthlyBudgetExceeded", "warns per provider and for the total (never pages: nothing to fix at 3 am)",
         [('stackwatch_cost_month_to_date_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("210")),
          ('stackwatch_cost_month_to_date_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}', steady("1400"))],
         "20m", [Fires("warning", {"provider": "vercel"}, humanize_percentage(210 / 200)),
                 Fires("warning", {"provider": "all"}, humanize_percentage(1610 / 1500))]),
    *edges([Case("MonthEndForecastOverBudget", f"{'warns' if f > 200 else 'stays quiet'} at a {f} USD forecast",
           [('stackwatch_cost_forecast_month_end_usd{provider="vercel"}', steady(str(f)))], "70m",
           [Fires("warning", {"provider": "vercel"}, humanize_percentage(f / 200))] if f > 200 else [])
      for f in (199, 200, 201)]),
    # Only a total daily budget (60): 40 + 20 = 60 USD today exactly, and a dollar either side.
    *edges([Case("DailySpendOverBudget", f"{'warns' if t > 40 else 'stays quiet'} at {t + 20} of 60 USD today",
           [('stackwatch_cost_today_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}', steady(str(t))),
            ('stackwatch_cost_today_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("20"))],
           "20m", [Fires("warning", {"provider": "all"}, "%.2f USD" % (t + 20))] if t > 40 else [])
      for t in (39, 40, 41)]),
    # Runaway: $20/h over the last 30 min at 49 h, against a month's average of ~$2.2/h (x3 = 6.6)
    # and the $5/h floor: a warning after 15 min, a page after 45 min.
    Case("RunawaySpend", "warns, then pages, when the spend rate runs far above the month's",
         [('stackwatch_cost_month_to_date_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}',
           RUNAWAY)], "49h", both({"provider": "openai"}, "%.2f USD" % 20), interval="5m", rule_interval="5m"),
    Case("RunawaySpend", "stays quiet at the month's usual rate",
         [('stackwatch_cost_month_to_date_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}',
           "0+0.16666666666666666x700")], "49h", interval="5m", rule_interval="5m"),
    # $4/h: twice the usual rate, under 3x.
    Case("RunawaySpend", "stays quiet when the rate only doubles",
         [('stackwatch_cost_month_to_date_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}',
           "0+0.16666666666666666x575 96+0.3333333333333333x60")], "49h", interval="5m", rule_interval="5m"),
    # 20x a $0.1/h month is $2/h: under the $5/h floor.
    Case("RunawaySpend", "stays quiet under the hourly floor",
         [('stackwatch_cost_month_to_date_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}',
           "0+0.008333333333333333x575 4.8+0.16666666666666666x60")], "49h", interval="5m", rule_interval="5m"),
    # A one-off lump: $8 lands at once at 48 h in a $2/h month ($16/h over the 30 min after it, above
    # 3x and the floor for 30 min), then $2/h goes on. It leaves the 10-min window after 10 min: quiet.
    Case("RunawaySpend", "stays quiet for a one-off lump of cost",
         [(OPENAI_MTD, "0+0.16666666666666666x575 104+0.16666666666666666x24")], "48h25m",
         interval="5m", rule_interval="5m"),
    # A 3-hour poll outage from 45 h: month to date holds at $90 while stackwatch_provider_up is 0, then
    # the $6 the outage held back lands in one step at 48 h ($2/h resumes). Over the 30 min to 48h20m
    # that is $13.3/h against a usual $1.9/h x 3: a backlog, not a rate, and it must stay quiet.
    Case("RunawaySpend", "stays quiet when a poll outage's held-back cost lands at once",
         [(OPENAI_MTD, OUTAGE_MTD + " 96+0.16666666666666666x24"), OPENAI_UP_OUTAGE], "48h20m",
         interval="5m", rule_interval="5m"),
    # The same outage, then a real runaway from 49 h ($20/h): the mute lasts one window, not longer.
    Case("RunawaySpend", "still warns of a runaway that starts after a poll outage",
         [(OPENAI_MTD, OUTAGE_MTD + " 96+0.16666666666666666x11 98+1.6666666666666667x24"), OPENAI_UP_OUTAGE],
         "49h35m", [Fires("warning", {"provider": "openai"}, "%.2f USD" % 20)], interval="5m", rule_interval="5m"),
    # An unpriced item is unknown until usage of it arrives: its series is born at its first value
    # (2 at t=5m, as production shapes it), and that new series is the alert.
    Case("UnpricedUsageSeen", "warns on the first usage of an unpriced item (a series born at its first value)",
         [('stackwatch_cost_unpriced_items_total{provider="openai", item="gpt-9-preview"}', "_x4 2x10")],
         "10m", [Fires("warning", {"provider": "openai", "item": "gpt-9-preview"}, humanize(2))]),
    # Usage goes on: 2 more at t=30m; the 15 m window (20m,35m] holds 2 then 4 over 14 min,
    # extrapolated to the window's 15: 2 x 15/14.
    Case("UnpricedUsageSeen", "warns while usage of it goes on",
         [('stackwatch_cost_unpriced_items_total{provider="openai", item="gpt-9-preview"}', "_x4 2x25 4x10")],
         "35m", [Fires("warning", {"provider": "openai", "item": "gpt-9-preview"}, humanize(2 * 15 / 14))]),
    Case("UnpricedUsageSeen", "stays quiet once no new usage arrives",
         [('stackwatch_cost_unpriced_items_total{provider="openai", item="gpt-9-preview"}', "_x4 2x40")], "40m"),
    Case("ProviderApiDown", "warns when a provider's polls fail for 5 minutes (its value is 0)",
         [('stackwatch_provider_up{job="stackwatch", provider="render"}', steady("0"))],
         "10m", [Fires("warning", {"provider": "render"}, humanize(0))]),
    Case("ProviderApiDown", "stays quiet while polls succeed",
         [('stackwatch_provider_up{job="stackwatch", provider="render"}', steady("1"))], "10m"),
    # The age grows as time passes, so the edge is where the pending period (`for: 5m`) starts: at
    # t = 25 m the data is 900 s old exactly, or a second more or less; at 30 m, 300 s older.
    *edges([Case("ProviderDataStale", f"{'warns' if age > 900 else 'stays quiet'} when the data is {age} s old as its `for` starts",
                 [('stackwatch_provider_last_success_timestamp_seconds{provider="render"}', steady(str(1500 - age)))],
                 "30m", [Fires("warning", {"provider": "render"}, humanize_duration(age + 300))] if age > 900 else [])
            for age in (899, 900, 901)]),
    *boundary("RateLimitHeadroomLow", 'stackwatch_provider_ratelimit_remaining_ratio{provider="openai"}', 0.1, 0.01,
              fires_above=False, labels={"provider": "openai"}, value=humanize_percentage, severities=("warning",)),
    # Exhausted at every other sample, fresh in between (a poll's 429 then its retry): still low.
    Case("RateLimitHeadroomLow", "warns when headroom keeps dipping to 5 % between fresh windows",
         [('stackwatch_provider_ratelimit_remaining_ratio{provider="openai"}', " ".join(["0.05", "0.9"] * 60))],
         "20m", [Fires("warning", {"provider": "openai"}, humanize_percentage(0.05))]),
    # 60 failed points a minute: 1 point/s.
    Case("CollectorExportFailing", "pages when an exporter keeps failing",
         [('otelcol_exporter_send_failed_metric_points{exporter="otlp_http/prometheus"}', "0+60x60")],
         "20m", [Fires("critical", {"exporter": "otlp_http/prometheus"}, humanize(1))]),
    Case("CollectorExportFailing", "stays quiet without failures",
         [('otelcol_exporter_send_failed_metric_points{exporter="otlp_http/prometheus"}', steady("0"))], "20m"),
    # 1 rejection a minute: the 10 m window holds 10 samples 9 min apart, 9 x 10/9 = 10 exactly (quiet);
    # 10 a minute and 0.9 a minute either side (x 10/9: 11.11 fires, 9 stays quiet)... at 11 rejections
    # per 9.9 minutes: exactly 10 needs a step of 10/9 per sample.
    *edges([Case("DrainRejectionsSpiking", f"{'warns' if n > 10 else 'stays quiet'} at {n} rejections in the window",
           [('stackwatch_drain_rejected_total{drain="log", reason="bad_signature"}', f"0+{n / 10}x60")],
           "20m", [Fires("warning", {"drain": "log", "reason": "bad_signature"}, humanize(n))] if n > 10 else [])
      for n in (9, 10, 11)]),
    # Supabase authentication: counters born at their first value (a series appears with the first
    # minute that had such an event), the failures later than the successes.
    Case("SupabaseAuthFailuresHigh", "warns when most sign-ins of a project fail (credential stuffing)",
         [(AUTH_SERIES % ("sign_in", "success"), "120+10x60"),
          (AUTH_SERIES % ("sign_in", "failure"), "_x5 40+30x55")],
         "40m", [Fires("warning", {"project": "production"}, humanize_percentage(30 / 40))]),
    Case("SupabaseAuthFailuresHigh", "stays quiet on a normal day (a few per cent fail)",
         [(AUTH_SERIES % ("sign_in", "success"), "300+30x60"), (AUTH_SERIES % ("token_refresh", "success"), "900+60x60"),
          (AUTH_SERIES % ("sign_in", "failure"), "_x3 2+1x57"), (AUTH_SERIES % ("sign_up", "failure"), "_x9 1+0x51")],
         "40m"),
    Case("SupabaseAuthFailuresHigh", "stays quiet when a quiet project's few attempts all fail",
         [(AUTH_SERIES % ("sign_in", "failure"), "_x5 3+1x55")], "40m"),
    *edges([Case("SupabaseAuthFailuresHigh", f"{'warns' if n > 25 else 'stays quiet'} at {n} % failing",
                 [(AUTH_SERIES % ("sign_in", "success"), f"500+{100 - n}x60"),
                  (AUTH_SERIES % ("sign_in", "failure"), f"50+{n}x60")],
                 "40m", [Fires("warning", {"project": "production"}, humanize_percentage(n / 100))] if n > 25 else [])
            for n in (24, 25, 26)]),
    Case("StackwatchAbsent", "pages when the self-scrape is down",
         [('up{job="stackwatch", instance="stackwatch:9464"}', steady("0"))],
         "20m", [Fires("critical", {"job": "stackwatch", "instance": "stackwatch:9464"}, humanize(0))]),
    Case("StackwatchAbsent", "pages when stackwatch's metrics stop arriving",
         [('up{job="stackwatch", instance="stackwatch:9464"}', "1x5")],
         "30m", [Fires("critical", {}, humanize(1))], stackwatch_reports=False),
    Case("StackwatchAbsent", "stays quiet while stackwatch reports",
         [('up{job="stackwatch", instance="stackwatch:9464"}', steady("1"))], "20m"),
    # Dead sources.
    Case("ScrapeTargetDown", "warns when the blackbox exporter cannot be scraped",
         [('up{job="blackbox", instance="https://shop.example/", tier="frontend", module="http_frontend"}', steady("0"))],
         "20m", [Fires("warning", {"job": "blackbox", "instance": "https://shop.example/", "tier": "frontend",
                                   "module": "http_frontend"}, humanize(0))]),
    Case("ScrapeTargetDown", "warns when a Supabase metrics scrape fails",
         [('up{job="supabase", instance="db.example:443", project="production"}', steady("0"))],
         "20m", [Fires("warning", {"job": "supabase", "instance": "db.example:443", "project": "production"}, humanize(0))]),
    Case("ScrapeTargetDown", "stays quiet for a paused project's endpoint",
         [('up{job="supabase", instance="db.example:443", project="analytics"}', steady("0")),
          ('supabase_project_up{job="stackwatch", project="analytics", status="INACTIVE"}', steady("0"))], "20m"),
    Case("ScrapeTargetDown", "stays quiet while targets answer",
         [('up{job="supabase", instance="db.example:443", project="production"}', steady("1"))], "20m"),
    *input_absent_cases(),
    Case("AlertDeliveryFailing", "warns when a receiver's deliveries keep failing",
         [('alertmanager_notifications_failed_total{job="alertmanager", integration="slack", receiver_name="slack", reason="clientError"}',
           "0+60x60")],
         "20m", [Fires("warning", {"integration": "slack", "receiver_name": "slack"}, humanize(1))]),
    Case("AlertDeliveryFailing", "stays quiet while deliveries succeed",
         [('alertmanager_notifications_failed_total{job="alertmanager", integration="slack", receiver_name="slack", reason="clientError"}',
           steady("0"))], "20m"),
    Case("Watchdog", "always fires", [], "5m", [Fires("none", {}, humanize(1))]),
]

THRESHOLD_NAMES = {s.split("{")[0] for s, _ in THRESHOLDS}


def definition(name: str, severity: str, variant: str = ""):
    return next(a for a in ALERTS if a.name == name and a.severity.value == severity and a.variant == variant)


def expected_text(text: str, labels: dict[str, str], value: str, figures: dict[str, str] | None = None) -> str:
    """The annotation as Prometheus renders it: `$labels` are the series' labels only."""
    out = text.replace("{value}", value)
    for name, printed in (figures or {}).items():
        out = out.replace(f"{{figure:{name}}}", printed)
    for key in ("instance", "service", "project", "provider", "tier", "item", "drain", "reason", "exporter", "status",
                "job", "integration", "receiver_name"):
        out = out.replace(f"{{label:{key}}}", labels.get(key, ""))
    return out


def expected_alert(name: str, fires: Fires) -> dict:
    alert = definition(name, fires.severity, fires.variant)
    query = "&".join(f"var-{var}={quote_plus(fires.labels.get(label, ''))}"
                     for var, label in sorted(alert.dashboard_vars.items()))
    return {
        "exp_labels": {**fires.labels, **alert.static_labels()},
        "exp_annotations": {
            "summary": expected_text(alert.summary, fires.labels, fires.value, fires.figures),
            "description": expected_text(alert.description, fires.labels, fires.value, fires.figures),
            "value": fires.value,
            "runbook": f"docs/runbooks/{name}.md",
            "runbook_url": f"{RUNBOOKS}/{name}.md",
            "dashboard_url": f"{GRAFANA}/d/{alert.dashboard}" + (f"?{query}" if query else ""),
        },
    }


def samples(case: Case) -> int:
    """Enough samples of the constant series to cover the case (input interval under the 5 m lookback)."""
    return duration_seconds(case.eval_time) // duration_seconds(case.interval) + 10


def input_series(case: Case) -> list[tuple[str, str]]:
    thresholds = [(s, case.thresholds.get(s.split("{")[0], v)) for s, v in THRESHOLDS
                  if s.split("{")[0] not in case.without]
    return [*case.series, *[(s, f"{v}x{samples(case)}") for s, v in thresholds + ([REPORTING] if case.stackwatch_reports else [])]]


def promtool_test(case: Case) -> dict:
    return {
        "name": f"{case.alert} {case.title}",
        "interval": case.interval,
        "input_series": [{"series": s, "values": v} for s, v in input_series(case)],
        "alert_rule_test": [{"eval_time": case.eval_time, "alertname": case.alert,
                             "exp_alerts": [expected_alert(case.alert, f) for f in case.fires]}],
    }


def test_promtool_accepts_the_rule_file(promtool):
    done = subprocess.run([str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(ALERTS)} rules found" in done.stdout


def test_every_rule_has_a_firing_case_and_every_alert_a_quiet_case():
    for name in {a.name for a in ALERTS} - {"Watchdog"}:
        cases = [c for c in CASES if c.alert == name]
        assert any(c.fires for c in cases), f"{name}: no case where it fires"
        assert any(not c.fires for c in cases), f"{name}: no case where it stays quiet"
    for alert in ALERTS:
        assert any(c.alert == alert.name and any(f.severity == alert.severity.value and f.variant == alert.variant
                                                 for f in c.fires) for c in CASES), f"{alert.key}: never fires in a case"


def test_every_threshold_is_tested_at_and_either_side_of_its_value():
    """Each compared threshold has cases exactly at its value and one step either side."""
    for name in ("FrontendResponseTimeHigh", "BackendResponseTimeHigh", "DatabaseResponseTimeHigh", "ErrorRateHigh",
                 "CpuUtilizationHigh", "MemoryUtilizationHigh", "DatabaseConnectionsHigh", "SupabaseBackupMissing",
                 "TlsCertificateExpiring", "MonthlyBudgetHalfSpent", "MonthlyBudgetMostlySpent", "MonthlyBudgetExceeded",
                 "MonthEndForecastOverBudget", "DailySpendOverBudget", "ProviderDataStale", "RateLimitHeadroomLow",
                 "DrainRejectionsSpiking", "SupabaseAuthFailuresHigh", "SupabaseDiskUtilizationHigh",
                 "SupabaseReplicationLagHigh", "RenderAutoscalingAtMax"):
        assert EDGES.get(name, 0) >= 3, name


def rule_file(case: Case, directory: Path) -> Path:
    if case.rule_interval is None:
        return RULES
    group = next(a.group for a in ALERTS if a.name == case.alert)
    groups = [g for g in yaml.safe_load(RULES.read_text())["groups"] if g["name"] == f"stackwatch-{group}"]
    assert len(groups) == 1
    groups[0]["interval"] = case.rule_interval
    path = directory / f"rules-{group}-{case.rule_interval}.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def run_promtool(promtool: Path, directory: Path, name: str, rules: Path, cases: list[Case]) -> subprocess.CompletedProcess:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m",
                                    "tests": [promtool_test(c) for c in cases]}, sort_keys=False))
    return subprocess.run([str(promtool), "test", "rules", str(path)], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def promtool_runs(promtool, tmp_path_factory) -> list[tuple[str, subprocess.CompletedProcess]]:
    directory = tmp_path_factory.mktemp("promtool")
    by_rules: dict[Path, list[Case]] = {}
    for case in CASES:
        by_rules.setdefault(rule_file(case, directory), []).append(case)
    return [(str(rules), run_promtool(promtool, directory, f"tests-{i}", rules, cases))
            for i, (rules, cases) in enumerate(by_rules.items())]


def test_promtool_unit_tests_pass_for_every_case(promtool_runs):
    assert len(promtool_runs) >= 2
    for rules, done in promtool_runs:
        assert done.returncode == 0, f"{rules}:\n{done.stdout[-6000:]}{done.stderr[-6000:]}"
        assert "SUCCESS" in done.stdout + done.stderr


def test_promtool_tests_can_fail(promtool, tmp_path):
    # The same harness with a wrong expectation must fail: the cases are not vacuous.
    case = CASES[0]
    wrong = promtool_test(case)
    wrong["alert_rule_test"][0]["exp_alerts"][0]["exp_annotations"]["runbook_url"] = "docs/runbooks/Wrong.md"
    path = tmp_path / "wrong.yaml"
    path.write_text(yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [wrong]}))
    done = subprocess.run([str(promtool), "test", "rules", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Wrong.md" in done.stdout + done.stderr


def test_a_comparison_turned_inclusive_fails_a_boundary_case(promtool, tmp_path):
    """The boundary cases have teeth: CpuUtilizationHigh's `>` turned into `>=` fires exactly at 80 %."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    for group in groups:
        for rule in group["rules"]:
            if rule["alert"] == "CpuUtilizationHigh":
                assert "\n  > on ()" in rule["expr"]
                rule["expr"] = rule["expr"].replace("\n  > on ()", "\n  >= on ()")
    mutated = tmp_path / "mutated.yaml"
    mutated.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    at = [c for c in CASES if c.alert == "CpuUtilizationHigh" and "exactly at" in c.title]
    done = run_promtool(promtool, tmp_path, "mutant", mutated, at)
    assert done.returncode != 0, done.stdout
