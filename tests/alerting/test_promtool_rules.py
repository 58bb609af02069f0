"""The Prometheus twin under promtool: `check rules`, and `test rules` with, for every alert, a case
that fires above its threshold (exact labels and annotations, runbook link included) and one
that stays quiet below it.

The rules are the shipped alerting/twin/prometheus-rules.yaml (production windows and `for`).
Expected values are worked out here from the input series (comments show the arithmetic), and
printed with this file's own versions of Prometheus' humanize functions.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import TWIN

from alerting.model import duration_seconds
from alerting.rules import ALERTS

RULES = TWIN / "prometheus-rules.yaml"
GRAFANA = "http://localhost:3000"

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


def steady(value: str, n: int = 120) -> str:
    return f"{value}x{n}"


def both(labels: dict[str, str], value: str) -> list[Fires]:
    return [Fires("warning", labels, value), Fires("critical", labels, value)]


FRONTEND = {"job": "blackbox", "tier": "frontend", "instance": "https://shop.example/"}
CASES: list[Case] = [
    # 3.5 s average > 3 s: warning after 5 min, critical after 15 min.
    Case("FrontendResponseTimeHigh", "fires warning then critical",
         [('probe_duration_seconds{job="blackbox", tier="frontend", instance="https://shop.example/"}', steady("3.5"))],
         "20m", both({"instance": FRONTEND["instance"]}, humanize_duration(3.5))),
    Case("FrontendResponseTimeHigh", "is only a warning after 10 minutes",
         [('probe_duration_seconds{job="blackbox", tier="frontend", instance="https://shop.example/"}', steady("3.5"))],
         "10m", [Fires("warning", {"instance": FRONTEND["instance"]}, humanize_duration(3.5))]),
    Case("FrontendResponseTimeHigh", "stays quiet at 2.9 s",
         [('probe_duration_seconds{job="blackbox", tier="frontend", instance="https://shop.example/"}', steady("2.9"))],
         "20m"),
    Case("BackendResponseTimeHigh", "fires on a p95 of 2.5 s",
         [('render_service_http_latency_seconds{service="api", quantile="0.95"}', steady("2.5")),
          ('render_service_http_latency_seconds{service="api", quantile="0.99"}', steady("4"))],
         "20m", both({"service": "api"}, humanize_duration(2.5))),
    Case("BackendResponseTimeHigh", "ignores a slow p99 when p95 is 1.5 s",
         [('render_service_http_latency_seconds{service="api", quantile="0.95"}', steady("1.5")),
          ('render_service_http_latency_seconds{service="api", quantile="0.99"}', steady("4"))],
         "20m"),
    # 360 s of statement time per 600 queries each minute: 0.6 s per query.
    Case("DatabaseResponseTimeHigh", "fires at 600 ms per query",
         [('pg_stat_statements_total_time_seconds{project="production"}', "0+360x60"),
          ('pg_stat_statements_total_queries{project="production"}', "0+600x60")],
         "30m", both({"project": "production"}, humanize_duration(360 / 600))),
    Case("DatabaseResponseTimeHigh", "stays quiet at 400 ms",
         [('pg_stat_statements_total_time_seconds{project="production"}', "0+240x60"),
          ('pg_stat_statements_total_queries{project="production"}', "0+600x60")],
         "30m"),
    # 3 of every 100 requests are 5xx.
    Case("ErrorRateHigh", "fires for a Vercel project at 3 %",
         [('vercel_requests_total{project="shop", source="lambda", status_class="5xx", cache="none"}', "0+3x60"),
          ('vercel_requests_total{project="shop", source="lambda", status_class="2xx", cache="none"}', "0+97x60")],
         "30m", both({"project": "shop", "provider": "vercel", "tier": "frontend"}, humanize_percentage(3 / 100))),
    Case("ErrorRateHigh", "fires for a Render service at 8 %",
         [('render_service_http_requests_total{service="api", status_class="5xx"}', "0+8x60"),
          ('render_service_http_requests_total{service="api", status_class="2xx"}', "0+92x60")],
         "30m", both({"service": "api", "provider": "render", "tier": "backend"}, humanize_percentage(8 / 100))),
    Case("ErrorRateHigh", "stays quiet at 0.5 %",
         [('vercel_requests_total{project="shop", source="lambda", status_class="5xx", cache="none"}', "0+1x60"),
          ('vercel_requests_total{project="shop", source="lambda", status_class="2xx", cache="none"}', "0+199x60")],
         "30m"),
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
    Case("CpuUtilizationHigh", "fires at 90 %",
         [('render_service_cpu_utilization_ratio{service="api"}', steady("0.9"))],
         "20m", both({"service": "api"}, humanize_percentage(0.9))),
    Case("CpuUtilizationHigh", "stays quiet at 70 %", [('render_service_cpu_utilization_ratio{service="api"}', steady("0.7"))], "20m"),
    Case("MemoryUtilizationHigh", "fires at 90 %",
         [('render_service_memory_utilization_ratio{service="api"}', steady("0.9"))],
         "20m", both({"service": "api"}, humanize_percentage(0.9))),
    Case("MemoryUtilizationHigh", "stays quiet at 80 %", [('render_service_memory_utilization_ratio{service="api"}', steady("0.8"))], "20m"),
    # 54 of 60 connections.
    Case("DatabaseConnectionsHigh", "fires at 90 % of max_connections",
         [('pg_stat_database_num_backends{project="production", datname="postgres"}', steady("54")),
          ('max_connections_connection_count{project="production"}', steady("60"))],
         "20m", [Fires("warning", {"project": "production"}, humanize_percentage(54 / 60))]),
    Case("DatabaseConnectionsHigh", "stays quiet at 50 %",
         [('pg_stat_database_num_backends{project="production", datname="postgres"}', steady("30")),
          ('max_connections_connection_count{project="production"}', steady("60"))],
         "20m"),
    # Probes succeed for 40 min, then fail. At 60 m the 1 h window (0,60m] holds 60 samples,
    # 21 of them failed (t=40..60): 35 % > 14.4 x 1 %; the 5 m window is all failures.
    Case("AvailabilityBudgetBurnFast", "pages when both windows burn 14.4x",
         [('probe_success{job="blackbox", tier="backend", instance="https://api.example/healthz"}', "1x39 0x29")],
         "60m", [Fires("critical", {"tier": "backend"}, humanize_percentage(21 / 60))]),
    # Three failed probes in an hour: the 5 m window burns, the 1 h window (5 %) does not.
    Case("AvailabilityBudgetBurnFast", "stays quiet for a 3-minute blip",
         [('probe_success{job="blackbox", tier="backend", instance="https://api.example/healthz"}', "1x56 0x2 1x10")],
         "60m"),
    # Failures from t=320m. At 365m the 6 h window (5m,365m] holds 360 samples, 46 failed.
    Case("AvailabilityBudgetBurnMedium", "pages when 6 h and 30 m burn 6x",
         [('probe_success{job="blackbox", tier="backend", instance="https://api.example/healthz"}', "1x319 0x100")],
         "365m", [Fires("critical", {"tier": "backend"}, humanize_percentage(46 / 360))]),
    Case("AvailabilityBudgetBurnMedium", "stays quiet when every probe succeeds",
         [('probe_success{job="blackbox", tier="backend", instance="https://api.example/healthz"}', "1x400")],
         "365m"),
    # Failures from t=4010m. At 4500m the 3 d window (180m,4500m] holds 4320 samples, 491 of
    # them failed (t=4010..4500); the 6 h window is all failures.
    Case("AvailabilityBudgetBurnSlow", "opens a ticket when 3 d and 6 h burn 1x",
         [('probe_success{job="blackbox", tier="frontend", instance="https://shop.example/"}', "1x4009 0x500")],
         "4500m", [Fires("warning", {"tier": "frontend"}, humanize_percentage(491 / 4320))], rule_interval="5m"),
    Case("AvailabilityBudgetBurnSlow", "stays quiet for two failed probes in three days",
         [('probe_success{job="blackbox", tier="frontend", instance="https://shop.example/"}', "1x4300 0x1 1x300")],
         "4500m", rule_interval="5m"),
    # One failed deploy at t=20m; the 15 m window at 30m holds samples 16..30. The first is 0,
    # so increase() extrapolates nothing before it (a counter never goes below 0): exactly 1.
    Case("DeployFailed", "fires for a failed Vercel deployment",
         [('vercel_deployments_total{project="shop", target="production", state="ERROR"}', "0x19 1x20")],
         "30m", [Fires("warning", {"project": "shop", "provider": "vercel"}, humanize(1))]),
    Case("DeployFailed", "fires for a failed Render build",
         [('render_deploys_total{service="api", status="build_failed"}', "0x19 1x20")],
         "30m", [Fires("warning", {"service": "api", "provider": "render"}, humanize(1))]),
    Case("DeployFailed", "stays quiet for successful deploys",
         [('vercel_deployments_total{project="shop", target="production", state="READY"}', "0x19 1x20"),
          ('render_deploys_total{service="api", status="live"}', "0x19 1x20")],
         "30m"),
    # 100000 s = 1 d 3 h 46 m 40 s > 26 h, PITR off.
    Case("SupabaseBackupMissing", "fires for a 27.8-hour-old backup without PITR",
         [('supabase_backup_age_seconds{project="production"}', steady("100000")),
          ('supabase_backup_pitr_enabled{project="production"}', steady("0"))],
         "20m", [Fires("critical", {"project": "production"}, humanize_duration(100000))]),
    Case("SupabaseBackupMissing", "stays quiet with PITR on",
         [('supabase_backup_age_seconds{project="production"}', steady("100000")),
          ('supabase_backup_pitr_enabled{project="production"}', steady("1"))],
         "20m"),
    Case("SupabaseBackupMissing", "stays quiet for a 25-hour-old backup",
         [('supabase_backup_age_seconds{project="production"}', steady("90000")),
          ('supabase_backup_pitr_enabled{project="production"}', steady("0"))],
         "20m"),
    # Expiry at 1200 s + 10 d; at eval 20 m (time() = 1200) 10 days are left.
    Case("TlsCertificateExpiring", "fires 10 days before expiry",
         [('probe_ssl_earliest_cert_expiry{job="blackbox", instance="https://shop.example/"}', steady(str(1200 + 10 * 86400)))],
         "20m", [Fires("warning", {"instance": "https://shop.example/"}, humanize_duration(10 * 86400))]),
    Case("TlsCertificateExpiring", "stays quiet 20 days before expiry",
         [('probe_ssl_earliest_cert_expiry{job="blackbox", instance="https://shop.example/"}', steady(str(1200 + 20 * 86400)))],
         "20m"),
    # Month to date 120 of 200 USD (vercel); the total 120 of 1500 is below 50 %.
    Case("MonthlyBudgetHalfSpent", "tells at 60 % of the Vercel budget",
         [('stackwatch_cost_month_to_date_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("120"))],
         "20m", [Fires("info", {"provider": "vercel"}, humanize_percentage(120 / 200))]),
    Case("MonthlyBudgetHalfSpent", "stays quiet at 40 %",
         [('stackwatch_cost_month_to_date_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("80"))],
         "20m"),
    Case("MonthlyBudgetMostlySpent", "warns at 85 %",
         [('stackwatch_cost_month_to_date_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("170"))],
         "20m", [Fires("warning", {"provider": "vercel"}, humanize_percentage(170 / 200))]),
    Case("MonthlyBudgetMostlySpent", "leaves 60 % to the info alert",
         [('stackwatch_cost_month_to_date_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("120"))],
         "20m"),
    # Vercel 210 of 200; the total (210 + 1400 OpenAI, which has no budget of its own) 1610 of 1500.
    Case("MonthlyBudgetExceeded", "pages per provider and for the total",
         [('stackwatch_cost_month_to_date_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("210")),
          ('stackwatch_cost_month_to_date_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}', steady("1400"))],
         "20m", [Fires("critical", {"provider": "vercel"}, humanize_percentage(210 / 200)),
                 Fires("critical", {"provider": "all"}, humanize_percentage(1610 / 1500))]),
    Case("MonthlyBudgetExceeded", "stays quiet at 95 %",
         [('stackwatch_cost_month_to_date_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("190"))],
         "20m"),
    Case("MonthEndForecastOverBudget", "warns when the forecast is 125 % of the budget",
         [('stackwatch_cost_forecast_month_end_usd{provider="vercel"}', steady("250"))],
         "70m", [Fires("warning", {"provider": "vercel"}, humanize_percentage(250 / 200))]),
    Case("MonthEndForecastOverBudget", "stays quiet at 95 %",
         [('stackwatch_cost_forecast_month_end_usd{provider="vercel"}', steady("190"))], "70m"),
    # Only a total daily budget (60): 45 + 20 = 65 USD today.
    Case("DailySpendOverBudget", "warns when today's total passes the daily budget",
         [('stackwatch_cost_today_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}', steady("45")),
          ('stackwatch_cost_today_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("20"))],
         "20m", [Fires("warning", {"provider": "all"}, "%.2f USD" % 65)]),
    Case("DailySpendOverBudget", "stays quiet at 50 of 60",
         [('stackwatch_cost_today_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}', steady("30")),
          ('stackwatch_cost_today_usd{provider="vercel", service="functions", project="shop", cost_source="billed"}', steady("20"))],
         "20m"),
    # 3-minute samples (480 a day). 14 days each climbing to 1.916 USD (0.004 x 479); today
    # climbs 0.1 per sample to 20 USD at 10:00: 20 > 3 x median(1.916) and > the 5 USD floor.
    Case("DailySpendAnomaly", "warns when today is far above the 14-day median",
         [('stackwatch_cost_today_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}',
           " ".join(["0+0.004x479"] * 14 + ["0+0.1x200"]))],
         "14d10h", [Fires("warning", {"provider": "openai"}, "%.2f USD" % 20)], interval="3m", rule_interval="15m"),
    # Cents: 2 USD today is 10x a 0.19 USD median, but under the floor.
    Case("DailySpendAnomaly", "stays quiet under the absolute floor",
         [('stackwatch_cost_today_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}',
           " ".join(["0+0.0004x479"] * 14 + ["0+0.01x200"]))],
         "14d10h", interval="3m", rule_interval="15m"),
    # 20 USD against a usual 19.16 USD day.
    Case("DailySpendAnomaly", "stays quiet for a usual expensive day",
         [('stackwatch_cost_today_usd{provider="openai", service="api", project="shop", cost_source="billed", model="gpt-4o"}',
           " ".join(["0+0.04x479"] * 14 + ["0+0.1x200"]))],
         "14d10h", interval="3m", rule_interval="15m"),
    # Two unpriced items at t=5m; the 1 h window starts before the series, whose first value is
    # 0, so increase() does not extrapolate backwards: exactly 2.
    Case("UnpricedUsageSeen", "warns on usage without a price",
         [('stackwatch_cost_unpriced_items_total{provider="openai", item="gpt-9-preview"}', "0x4 2x10")],
         "10m", [Fires("warning", {"provider": "openai", "item": "gpt-9-preview"}, humanize(2))]),
    Case("UnpricedUsageSeen", "stays quiet when every item is priced",
         [('stackwatch_cost_unpriced_items_total{provider="openai", item="gpt-9-preview"}', "0x14")], "10m"),
    Case("ProviderApiDown", "warns when a provider's polls fail for 5 minutes",
         [('stackwatch_provider_up{job="stackwatch", provider="render"}', steady("0"))],
         "10m", [Fires("warning", {"provider": "render"}, humanize(0))]),
    Case("ProviderApiDown", "stays quiet while polls succeed",
         [('stackwatch_provider_up{job="stackwatch", provider="render"}', steady("1"))], "10m"),
    # Last success at t=0; at 30 m the data is 1800 s old (> 900 s since 15 m).
    Case("ProviderDataStale", "warns when the last success is 30 minutes old",
         [('stackwatch_provider_last_success_timestamp_seconds{provider="render"}', steady("0"))],
         "30m", [Fires("warning", {"provider": "render"}, humanize_duration(1800))]),
    Case("ProviderDataStale", "stays quiet while polls keep succeeding",
         [('stackwatch_provider_last_success_timestamp_seconds{provider="render"}', "0+60x60")], "30m"),
    Case("RateLimitHeadroomLow", "warns at 5 % headroom",
         [('stackwatch_provider_ratelimit_remaining_ratio{provider="openai"}', steady("0.05"))],
         "20m", [Fires("warning", {"provider": "openai"}, humanize_percentage(0.05))]),
    # Exhausted at every other sample, fresh in between (a poll's 429 then its retry): still low.
    Case("RateLimitHeadroomLow", "warns when headroom keeps dipping to 5 % between fresh windows",
         [('stackwatch_provider_ratelimit_remaining_ratio{provider="openai"}', " ".join(["0.05", "0.9"] * 60))],
         "20m", [Fires("warning", {"provider": "openai"}, humanize_percentage(0.05))]),
    Case("RateLimitHeadroomLow", "stays quiet at 50 %",
         [('stackwatch_provider_ratelimit_remaining_ratio{provider="openai"}', steady("0.5"))], "20m"),
    # 60 failed points a minute: 1 point/s.
    Case("CollectorExportFailing", "pages when an exporter keeps failing",
         [('otelcol_exporter_send_failed_metric_points{exporter="otlp_http/prometheus"}', "0+60x60")],
         "20m", [Fires("critical", {"exporter": "otlp_http/prometheus"}, humanize(1))]),
    Case("CollectorExportFailing", "stays quiet without failures",
         [('otelcol_exporter_send_failed_metric_points{exporter="otlp_http/prometheus"}', steady("0"))], "20m"),
    # 3 rejections a minute; the 10 m window holds 10 samples 9 min apart: 27 x 10/9 = 30.
    Case("DrainRejectionsSpiking", "warns on 30 rejected deliveries in 10 minutes",
         [('stackwatch_drain_rejected_total{drain="log", reason="bad_signature"}', "0+3x60")],
         "20m", [Fires("warning", {"drain": "log", "reason": "bad_signature"}, humanize(27 * 10 / 9))]),
    Case("DrainRejectionsSpiking", "stays quiet for a few rejections",
         [('stackwatch_drain_rejected_total{drain="log", reason="bad_signature"}', "0+0.5x60")], "20m"),
    Case("StackwatchAbsent", "pages when the self-scrape is down",
         [('up{job="stackwatch", instance="stackwatch:9464"}', steady("0"))],
         "20m", [Fires("critical", {"job": "stackwatch", "instance": "stackwatch:9464"}, humanize(0))]),
    Case("StackwatchAbsent", "pages when stackwatch's metrics stop arriving",
         [('up{job="stackwatch", instance="stackwatch:9464"}', "1x5")],
         "30m", [Fires("critical", {}, humanize(1))], stackwatch_reports=False),
    Case("StackwatchAbsent", "stays quiet while stackwatch reports",
         [('up{job="stackwatch", instance="stackwatch:9464"}', steady("1"))], "20m"),
]


def definition(name: str, severity: str):
    return next(a for a in ALERTS if a.name == name and a.severity.value == severity)


def expected_text(text: str, labels: dict[str, str], value: str) -> str:
    """The annotation as Prometheus renders it: `$labels` are the series' labels only."""
    out = text.replace("{value}", value)
    for key in ("instance", "service", "project", "provider", "tier", "item", "drain", "reason", "exporter"):
        out = out.replace(f"{{label:{key}}}", labels.get(key, ""))
    return out


def expected_alert(name: str, fires: Fires) -> dict:
    alert = definition(name, fires.severity)
    return {
        "exp_labels": {**fires.labels, **alert.static_labels()},
        "exp_annotations": {
            "summary": expected_text(alert.summary, fires.labels, fires.value),
            "description": expected_text(alert.description, fires.labels, fires.value),
            "value": fires.value,
            "runbook_url": f"docs/runbooks/{name}.md",
            "dashboard_url": f"{GRAFANA}/d/{alert.dashboard}",
        },
    }


def samples(case: Case) -> int:
    """Enough samples of the constant series to cover the case (input interval under the 5 m lookback)."""
    return duration_seconds(case.eval_time) // duration_seconds(case.interval) + 10


def promtool_test(case: Case) -> dict:
    return {
        "name": f"{case.alert} {case.title}",
        "interval": case.interval,
        "input_series": [{"series": s, "values": v} for s, v in case.series]
        + [{"series": s, "values": f"{v}x{samples(case)}"}
           for s, v in THRESHOLDS + ([REPORTING] if case.stackwatch_reports else [])],
        "alert_rule_test": [{"eval_time": case.eval_time, "alertname": case.alert,
                             "exp_alerts": [expected_alert(case.alert, f) for f in case.fires]}],
    }


def test_promtool_accepts_the_rule_file(promtool):
    done = subprocess.run([str(promtool), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(ALERTS)} rules found" in done.stdout


def test_every_alert_has_a_firing_case_and_a_quiet_case():
    for name in {a.name for a in ALERTS}:
        cases = [c for c in CASES if c.alert == name]
        assert any(c.fires for c in cases), f"{name}: no case where it fires"
        assert any(not c.fires for c in cases), f"{name}: no case where it stays quiet"
    for alert in ALERTS:
        assert any(c.alert == alert.name and any(f.severity == alert.severity.value for f in c.fires)
                   for c in CASES), f"{alert.key}: its severity never fires in a case"


def rule_file(case: Case, directory: Path) -> Path:
    if case.rule_interval is None:
        return RULES
    group = definition(case.alert, (case.fires[0].severity if case.fires else
                                    next(a.severity.value for a in ALERTS if a.name == case.alert))).group
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
    return subprocess.run([str(promtool), "test", "rules", str(path)], capture_output=True, text=True, timeout=600)


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
