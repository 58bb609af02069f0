"""Overview: the home dashboard. Is everything up, fast, within budget — and where to look next."""

from __future__ import annotations

from .common import (
    AI,
    ALL_BOARDS,
    COSTS,
    ENV,
    ENVIRONMENT,
    OVERVIEW,
    PROVIDER,
    PROVIDER_VAR,
    RENDER,
    SCRAPED_MIN_INTERVAL,
    SELF,
    SLO,
    SUPABASE,
    VERCEL,
    Board,
    Panel,
    Query,
    Row,
    error_ratio,
)

UP_MAPPINGS = ({"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                             "1": {"text": "UP", "color": "green", "index": 1}}},)
RATE = "$__rate_interval"


def threshold(name: str, legend: str, selector: str = "") -> Query:
    inner = ", ".join(filter(None, [ENV, selector]))
    return Query(f"max({name}{{{inner}}})", legend, threshold=True)


def board() -> Board:
    links_md = "\n".join(f"- [{b.title}](/d/{b.uid}?${{__url_time_range}}&${{__all_variables}})"
                         for b in ALL_BOARDS if b != OVERVIEW)
    status = Row("Status", [
        Panel("stat", "Provider status", "Latest poll of every stream of each provider: UP when all succeeded. "
              "DOWN: open 'stackwatch itself' for the failing stream and reason (auth, rate_limited, timeout…), "
              "then the provider's status page.",
              (Query(f"max by (provider) (stackwatch_provider_up{{{ENV}, {PROVIDER}}})", "{{provider}}",
                     scenario="outage"),),
              unit="none", width=8, height=5, mappings=UP_MAPPINGS,
              steps=(("red", None), ("green", 1)), links=(SELF,)),
        Panel("stat", "Data age", "Seconds since each provider's last fully successful poll. Above a few poll "
              "intervals the figures on every board are stale: check 'stackwatch itself' for poll errors.",
              (Query(f"time() - max by (provider) (stackwatch_provider_last_success_timestamp_seconds{{{ENV}, "
                     f"{PROVIDER}}})", "{{provider}}"),),
              unit="s", width=8, height=5, steps=(("green", None), ("orange", 300), ("red", 900)), links=(SELF,)),
        Panel("alertlist", "Firing alerts", "Grafana-managed alerts firing or pending (rules in alerting/). "
              "Follow each rule's runbook link; silence only with a reason.", width=8, height=5),
    ])
    slo = Row("Availability and response time", [
        Panel("stat", "Availability over the range", "Share of successful blackbox probes over the dashboard "
              "range, per tier, against the availability objective (exported from config). Below the objective: "
              "open 'Probes & SLOs' for the failing phase.",
              (Query("avg by (tier) (avg_over_time(probe_success{job=\"blackbox\"}[$__range]))", "{{tier}}"),
               threshold("stackwatch_threshold_availability_ratio", "objective")),
              unit="percentunit", decimals=2, width=6, height=5, steps=(("red", None),), links=(SLO,)),
        Panel("stat", "Error budget left", "Share of the error budget (1 - objective) not yet spent over the "
              "range: 1 - (1 - availability) / (1 - objective). Below 0 the objective is missed; freeze risky "
              "deploys and find the cause on 'Probes & SLOs'.",
              (Query("1 - (1 - avg by (tier) (avg_over_time(probe_success{job=\"blackbox\"}[$__range]))) / "
                     f"(1 - scalar(max(stackwatch_threshold_availability_ratio{{{ENV}}})))", "{{tier}}"),),
              unit="percentunit", decimals=1, width=6, height=5,
              steps=(("red", None), ("orange", 0), ("green", 0.25)), links=(SLO,)),
        Panel("stat", "Frontend response time", "Blackbox probe duration of the frontend against the frontend "
              "response-time threshold. Above it: check Vercel's web vitals and recent deployments.",
              (Query("max(probe_duration_seconds{job=\"blackbox\", tier=\"frontend\"})", "frontend"),
               threshold("stackwatch_threshold_response_time_seconds", "threshold", 'tier="frontend"')),
              unit="s", width=4, height=5, links=(VERCEL,)),
        Panel("stat", "Backend response time", "Slowest Render service p95 HTTP latency against the backend "
              "threshold. Above it: open Render for the slow service, its CPU and instance count.",
              (Query(f"max(render_service_http_latency_seconds{{{ENV}, quantile=\"0.95\"}})", "backend p95"),
               threshold("stackwatch_threshold_response_time_seconds", "threshold", 'tier="backend"')),
              unit="s", width=4, height=5, links=(RENDER,)),
        Panel("stat", "Database response time", "Mean statement time of the slowest Supabase project "
              "(pg_stat_statements) against the database threshold. Above it: open Supabase for CPU, "
              "connections and replication lag.",
              (Query(f"max(rate(pg_stat_statements_total_time_seconds[{RATE}]) / "
                     f"rate(pg_stat_statements_total_queries[{RATE}]))", "database"),
               threshold("stackwatch_threshold_response_time_seconds", "threshold", 'tier="database"')),
              unit="s", width=4, height=5, interval=SCRAPED_MIN_INTERVAL, links=(SUPABASE,)),
    ])
    load = Row("Errors and saturation", [
        Panel("stat", "Error rate", "Share of 5xx responses (Vercel drains, Render) against the error-rate "
              "threshold. Above it: open the provider's board for the failing project or service.",
              (Query(error_ratio("vercel_requests_total", ENV), "vercel"),
               Query(error_ratio("render_service_http_requests_total", ENV), "render"),
               threshold("stackwatch_threshold_error_rate_ratio", "threshold")),
              unit="percentunit", decimals=2, width=6, height=5, links=(VERCEL, RENDER)),
        Panel("stat", "CPU (busiest)", "Highest CPU utilisation of any Render service or Supabase database, "
              "against the CPU threshold. Above it: scale the service or its compute add-on.",
              (Query(f"max(render_service_cpu_utilization_ratio{{{ENV}}})", "render"),
               Query(f"max(1 - avg by (project) (rate(node_cpu_seconds_total{{mode=\"idle\"}}[{RATE}])))",
                     "supabase"),
               threshold("stackwatch_threshold_cpu_utilization_ratio", "threshold")),
              unit="percentunit", decimals=1, width=6, height=5, interval=SCRAPED_MIN_INTERVAL,
              links=(RENDER, SUPABASE)),
        Panel("stat", "Memory (busiest)", "Highest memory utilisation of any Render service or Supabase "
              "database, against the memory threshold. Above it: look for leaks, then scale.",
              (Query(f"max(render_service_memory_utilization_ratio{{{ENV}}})", "render"),
               Query("max(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)", "supabase"),
               threshold("stackwatch_threshold_memory_utilization_ratio", "threshold")),
              unit="percentunit", decimals=1, width=6, height=5, links=(RENDER, SUPABASE)),
        Panel("stat", "Database connections", "Busiest Supabase project's Postgres connections as a share of "
              "its max_connections (both scraped from the project). Near 100 %: new connections fail; use the "
              "pooler (Supavisor) or raise the compute size.",
              (Query("max(sum by (project) (pg_stat_database_num_backends) / "
                     "max by (project) (max_connections_connection_count))", "connections / max"),),
              unit="percentunit", decimals=1, width=6, height=5, max=1,
              steps=(("green", None), ("orange", 0.8), ("red", 0.95)), links=(SUPABASE,)),
    ])
    spend = Row("Spend", [
        Panel("stat", "Spend today", "Cost of the current UTC day so far (billed where billed, else "
              "estimated), against the daily budget. Above it: open Costs & usage for the driver.",
              (Query(f"sum(stackwatch_cost_today_usd{{{ENV}, {PROVIDER}}})", "today"),
               threshold("stackwatch_budget_daily_usd", "budget", 'provider="all"')),
              unit="currencyUSD", decimals=2, width=8, height=5, links=(COSTS, AI)),
        Panel("stat", "Month to date", "Cost of the current UTC month so far, against the monthly budget.",
              (Query(f"sum(stackwatch_cost_month_to_date_usd{{{ENV}, {PROVIDER}}})", "month to date"),
               threshold("stackwatch_budget_monthly_usd", "budget", 'provider="all"')),
              unit="currencyUSD", decimals=2, width=8, height=5, links=(COSTS,)),
        Panel("stat", "Forecast month end", "Forecast cost of the whole month (docs/monitoring-guide.md, "
              "Forecast), against the monthly budget. Above it: act now, the month is not over.",
              (Query(f"sum(stackwatch_cost_forecast_month_end_usd{{{ENV}, {PROVIDER}}})", "forecast"),
               threshold("stackwatch_budget_monthly_usd", "budget", 'provider="all"')),
              unit="currencyUSD", decimals=2, width=8, height=5, links=(COSTS,)),
    ])
    boards = Row("Boards", [
        Panel("text", "Every board", "Links to every stackwatch board; they keep the time range and variables.",
              content=links_md, width=24, height=5, links=(COSTS, VERCEL, RENDER, SUPABASE, AI, SLO, SELF)),
    ])
    return Board(OVERVIEW.uid, "stackwatch · Overview",
                 "Every provider's status, availability, response time, errors, saturation and spend at a glance.",
                 "now-6h", [status, slo, load, spend, boards], (ENVIRONMENT, PROVIDER_VAR), refresh="1m")
