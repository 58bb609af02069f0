"""Overview: the home dashboard, read from the on-call seat. First whether anything is broken (each
tier up, its response time against its threshold, the 30-day error budget, the alerts firing), then
errors and saturation with the worst objects, then spend against budget, then stackwatch's own
polling — each value linking to the board of its cause with the object in the URL."""

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
    DataLink,
    Panel,
    Query,
    Row,
    Variable,
    board_link,
    field_label,
    row_field,
)
from .deploys import render_deploys, vercel_deploys
from .recordings import (
    COST_FORECAST,
    COST_MONTH_TO_DATE,
    COST_TODAY,
    PROBE_AVAILABILITY_30D,
    RENDER_REQUESTS_5XX,
    RENDER_REQUESTS_ALL,
    VERCEL_REQUESTS_5XX,
    VERCEL_REQUESTS_ALL,
)

UP = {"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                    "1": {"text": "UP", "color": "green", "index": 1}}}
RATE = "$__rate_interval"
# Watchdog-style alerts fire all the time on purpose (a dead-man's switch): not an incident.
FIRING = 'alertstate="firing", alertname!="Watchdog"'
SEVERITIES = ("critical", "warning", "info")
# A provisioned board cannot read the environment: the operator's RUNBOOK_BASE_URL (what the alert
# rules' runbook_url uses) is typed here once, or passed as ?var-runbook_base= in a bookmark.
RUNBOOK_BASE_PLACEHOLDER = "https://github.com/YOUR-ORG/YOUR-REPO/blob/main/docs/runbooks"
RUNBOOK = Variable("runbook_base", "Runbook base URL", RUNBOOK_BASE_PLACEHOLDER,
                   "Where the runbooks live (the value of RUNBOOK_BASE_URL): the firing-alerts table links each "
                   "alert to <this>/<AlertName>.md.", kind="textbox")
# Availability objective of the environment (exported from config).
# The latest within the step: panels stepping every 15 minutes read it at a last step up to 15 minutes
# ahead of now (Grafana ceils the range's end to the step), past a plain selector's 5-minute lookback.
OBJECTIVE = f"scalar(max(last_over_time(stackwatch_threshold_availability_ratio{{{ENV}}}[$__rate_interval])))"


def threshold(name: str, legend: str, selector: str = "") -> Query:
    inner = ", ".join(filter(None, [ENV, selector]))
    return Query(f"max({name}{{{inner}}})", legend, threshold=True)


def tier_status() -> tuple[Query, ...]:
    """Each tier's latest state: probes per tier (frontend, backend), Postgres for the database.
    A target whose scrape fails (no probe_success, no pg_up) counts as down (its `up` is 0); a Supabase
    project paused on purpose (Management API status INACTIVE) does not."""
    probes = Query('min by (tier) (probe_success{job="blackbox"} or on (instance) (up{job="blackbox"} * 0))',
                   "{{tier}}", links=(board_link(SLO, "Probes & SLOs for this tier", tier=field_label("tier")),))
    paused = f'max by (project) (supabase_project_up{{{ENV}, status="INACTIVE"}})'
    database = Query(f'label_replace(min((pg_up or on (project) (up{{job="supabase"}} * 0)) unless on (project) '
                     f'{paused}), "tier", "database", "", "")', "database",
                     links=(board_link(SUPABASE, "Supabase board"),))
    return probes, database


def error_budget(links: bool = True) -> Query:
    """Share of the 30-day error budget left per tier: 1 - (1 - availability) / (1 - objective)."""
    return Query(f"1 - (1 - last_over_time({PROBE_AVAILABILITY_30D.record}[$__interval])) / (1 - {OBJECTIVE})",
                 "{{tier}}", recordings=(PROBE_AVAILABILITY_30D,),
                 links=(board_link(SLO, "Probes & SLOs for this tier", tier=field_label("tier")),) if links else ())


def worst(expr: str, legend: str, link: DataLink, *, recordings: tuple = ()) -> Query:
    return Query(f"topk(5, {expr})", legend, links=(link,), recordings=recordings)


def board() -> Board:
    links_md = "\n".join(f"- [{b.title}](/d/{b.uid}?${{__url_time_range}}&${{__all_variables}})"
                         for b in ALL_BOARDS if b != OVERVIEW)
    broken = Row("Is anything broken?", [
        Panel("stat", "Tiers up", "Latest state of each tier: the blackbox probes of the frontend and backend, "
              "Postgres of every Supabase project (a failed scrape counts as down; a project paused on purpose "
              "does not). DOWN: click it for the tier's probes or the Supabase board.",
              tier_status(), unit="none", width=6, height=5, mappings=(UP,), better="higher",
              steps=(("red", None), ("green", 1))),
        Panel("stat", "Frontend response time", "Slowest frontend probe's duration against the frontend "
              "response-time threshold (from config). Above it: open Vercel's web vitals and recent deploys.",
              (Query('max(probe_duration_seconds{job="blackbox", tier="frontend"})', "frontend",
                     links=(board_link(SLO, "Frontend probes", tier="frontend"), board_link(VERCEL))),
               threshold("stackwatch_threshold_response_time_seconds", "threshold", 'tier="frontend"')),
              unit="s", width=4, height=5, better="lower"),
        Panel("stat", "Backend response time", "Slowest Render service's p95 HTTP latency against the backend "
              "threshold (what BackendResponseTimeHigh compares). Above it: open Render for the slow service.",
              (Query(f"max(render_service_http_latency_seconds{{{ENV}, quantile=\"0.95\"}})", "backend p95",
                     links=(board_link(RENDER),)),
               threshold("stackwatch_threshold_response_time_seconds", "threshold", 'tier="backend"')),
              unit="s", width=4, height=5, better="lower"),
        Panel("stat", "Database response time", "Mean statement time of the slowest Supabase project "
              "(pg_stat_statements) against the database threshold. Above it: open Supabase for CPU, "
              "connections and replication lag.",
              (Query(f"max(rate(pg_stat_statements_total_time_seconds[{RATE}]) / "
                     f"rate(pg_stat_statements_total_queries[{RATE}]))", "database", links=(board_link(SUPABASE),)),
               threshold("stackwatch_threshold_response_time_seconds", "threshold", 'tier="database"')),
              unit="s", width=4, height=5, interval=SCRAPED_MIN_INTERVAL, better="lower"),
        Panel("stat", "Error budget left (30 d)", "Share of each tier's 30-day error budget (1 - objective, from "
              "config) not yet spent: 1 - (1 - availability over 30 days) / (1 - objective). Below 0 the "
              "objective is missed; under 25 % freeze risky deploys. Recorded every 15 minutes.",
              (error_budget(),), unit="percentunit", decimals=1, width=6, height=5, interval="15m",
              better="higher", steps=(("red", None), ("orange", 0), ("green", 0.25))),
    ])
    alerts = Row("Alerts firing", [
        Panel("stat", "Firing alerts by severity", "Alerts Prometheus evaluates as firing now, by severity "
              "(critical pages, warning and info notify; Alertmanager routes them). Any critical: open the table "
              "beside it for the runbook. Silenced alerts still count here.",
              (Query(f"sum by (severity) (count by (severity) (ALERTS{{{FIRING}, severity=~\"{'|'.join(SEVERITIES)}\"}})"
                     + "".join(f' or label_replace(vector(0), "severity", "{s}", "", "")' for s in SEVERITIES)
                     + ")", "{{severity}}",
                     links=(DataLink("These alerts in Grafana",
                                     "/alerting/list?search=label:severity%3D" + field_label("severity")),)),),
              unit="none", width=8, height=6, better="lower", decimals=0,
              field_steps=(("critical", (("green", None), ("red", 1))),
                           ("warning", (("green", None), ("orange", 1))),
                           ("info", (("green", None), ("blue", 1))))),
        Panel("table", "Firing alerts", "Every alert firing now, critical first, with its labels (the object: "
              "provider, tier, service, project, instance). Click the alert's name for its runbook "
              "(the runbook base URL is the board's variable) or its rule in Grafana.",
              (Query(f"sort_desc(max by (alertname, severity, provider, tier, service, project, instance) ("
                     f"ALERTS{{{FIRING}, severity=\"critical\"}} * 3 or ALERTS{{{FIRING}, severity=\"warning\"}} * 2 "
                     f"or ALERTS{{{FIRING}, severity!~\"critical|warning\"}}))", "", table=True, instant=True,
                     alerts=True),),
              unit="none", width=16, height=6, no_value="No alerts firing",
              mappings=({"type": "value", "options": {"3": {"text": "page", "index": 0},
                                                      "2": {"text": "notify", "index": 1},
                                                      "1": {"text": "info", "index": 2}}},),
              column_links=(("alertname", (
                  DataLink("Runbook", "${runbook_base}/" + row_field("alertname") + ".md", new_tab=True),
                  DataLink("Alert rule in Grafana", "/alerting/list?search=" + row_field("alertname")))),)),
    ])
    vercel_project = board_link(VERCEL, "Vercel board for this project", project=field_label("project"))
    render_service = board_link(RENDER, "Render board for this service", service=field_label("service"))
    supabase_project = board_link(SUPABASE, "Supabase board for this project", project=field_label("project"))
    vercel_5xx, vercel_all = VERCEL_REQUESTS_5XX.record, VERCEL_REQUESTS_ALL.record
    render_5xx, render_all = RENDER_REQUESTS_5XX.record, RENDER_REQUESTS_ALL.record
    load = Row("Errors and saturation (worst five)", [
        Panel("bargauge", "Error rate", "Projects and services with the highest share of 5xx responses "
              "(5-minute rates) against the error-rate threshold. Click one for its board.",
              (worst(f"(sum by (project) ({vercel_5xx}{{{ENV}}}) or sum by (project) ({vercel_all}{{{ENV}}}) * 0)"
                     f" / sum by (project) ({vercel_all}{{{ENV}}})", "vercel {{project}}", vercel_project,
                     recordings=(VERCEL_REQUESTS_5XX, VERCEL_REQUESTS_ALL)),
               worst(f"(sum by (service) ({render_5xx}{{{ENV}}}) or sum by (service) ({render_all}{{{ENV}}}) * 0)"
                     f" / sum by (service) ({render_all}{{{ENV}}})", "render {{service}}", render_service,
                     recordings=(RENDER_REQUESTS_5XX, RENDER_REQUESTS_ALL)),
               threshold("stackwatch_threshold_error_rate_ratio", "threshold")),
              unit="percentunit", decimals=2, max=1, width=6, height=8, better="lower"),
        Panel("bargauge", "CPU (busiest)", "Render services and Supabase databases with the highest CPU "
              "utilisation, against the CPU threshold. Above it: scale the service or its compute add-on.",
              (worst(f"max by (service) (render_service_cpu_utilization_ratio{{{ENV}}})", "render {{service}}",
                     render_service),
               worst(f"1 - avg by (project) (rate(node_cpu_seconds_total{{mode=\"idle\"}}[{RATE}]))",
                     "supabase {{project}}", supabase_project),
               threshold("stackwatch_threshold_cpu_utilization_ratio", "threshold")),
              unit="percentunit", decimals=1, max=1, width=6, height=8, interval=SCRAPED_MIN_INTERVAL,
              better="lower"),
        Panel("bargauge", "Memory (busiest)", "Render services and Supabase databases with the highest memory "
              "utilisation, against the memory threshold. Above it: look for leaks, then scale.",
              (worst(f"max by (service) (render_service_memory_utilization_ratio{{{ENV}}})", "render {{service}}",
                     render_service),
               worst("1 - max by (project) (node_memory_MemAvailable_bytes) / "
                     "max by (project) (node_memory_MemTotal_bytes)", "supabase {{project}}", supabase_project),
               threshold("stackwatch_threshold_memory_utilization_ratio", "threshold")),
              unit="percentunit", decimals=1, max=1, width=6, height=8, better="lower"),
        Panel("bargauge", "Database connections (busiest)", "Supabase projects' Postgres connections as a share "
              "of their max_connections (both scraped), against the connections threshold. Near 100 %: new "
              "connections fail; use the pooler (Supavisor) or raise the compute size.",
              (worst("sum by (project) (pg_stat_database_num_backends) / "
                     "max by (project) (max_connections_connection_count)", "{{project}}", supabase_project),
               threshold("stackwatch_threshold_connections_utilization_ratio", "threshold")),
              unit="percentunit", decimals=1, max=1, width=6, height=8, better="lower"),
    ])
    costs = board_link(COSTS, "Costs & usage", keep=("provider",))
    cost = f"{ENV}, {PROVIDER}"
    spend = Row("Spend against budget", [
        Panel("stat", "Spend today", "Cost of the current UTC day so far (billed where billed, else "
              "estimated), against the daily budget. Above it: open Costs & usage for the driver.",
              (Query(f"sum({COST_TODAY.record}{{{cost}}})", "today", recordings=(COST_TODAY,), links=(costs,)),
               threshold("stackwatch_budget_daily_usd", "budget", 'provider="all"')),
              unit="currencyUSD", decimals=2, width=8, height=5, better="lower"),
        Panel("stat", "Month to date", "Cost of the current UTC month so far, against the monthly budget.",
              (Query(f"sum({COST_MONTH_TO_DATE.record}{{{cost}}})", "month to date",
                     recordings=(COST_MONTH_TO_DATE,), links=(costs,)),
               threshold("stackwatch_budget_monthly_usd", "budget", 'provider="all"')),
              unit="currencyUSD", decimals=2, width=8, height=5, better="lower"),
        Panel("stat", "Forecast month end", "Forecast cost of the whole month (docs/monitoring-guide.md, "
              "Forecast), against the monthly budget. Above it: act now, the month is not over.",
              (Query(f"sum({COST_FORECAST.record}{{{cost}}})", "forecast", recordings=(COST_FORECAST,),
                     links=(costs,)),
               threshold("stackwatch_budget_monthly_usd", "budget", 'provider="all"')),
              unit="currencyUSD", decimals=2, width=8, height=5, better="lower"),
    ])
    provider_link = board_link(SELF, "stackwatch itself, this provider", provider=field_label("provider"))
    monitoring = Row("Is the monitoring itself working?", [
        Panel("stat", "Provider polls", "Latest poll of every stream of each provider: UP when all succeeded. "
              "DOWN: the figures of that provider are stale; click it for the failing stream and reason "
              "(auth, rate_limited, timeout…), then the provider's status page.",
              (Query(f"max by (provider) (stackwatch_provider_up{{{ENV}, {PROVIDER}}})", "{{provider}}",
                     scenario="outage", links=(provider_link,)),),
              unit="none", width=12, height=5, mappings=(UP,), better="higher", steps=(("red", None), ("green", 1))),
        Panel("stat", "Data age", "Seconds since each provider's last fully successful poll, against the "
              "staleness threshold (from config). Above it the figures on every board are stale.",
              (Query(f"time() - max by (provider) (stackwatch_provider_last_success_timestamp_seconds{{{ENV}, "
                     f"{PROVIDER}}})", "{{provider}}", links=(provider_link,)),
               threshold("stackwatch_threshold_data_staleness_seconds", "stale after")),
              unit="s", width=12, height=5, better="lower"),
    ])
    boards = Row("Boards", [
        Panel("text", "Every board", "Links to every stackwatch board; they keep the time range and variables.",
              content=links_md, width=24, height=5, links=(COSTS, VERCEL, RENDER, SUPABASE, AI, SLO, SELF)),
    ])
    return Board(OVERVIEW.uid, "stackwatch · Overview",
                 "Is anything broken (tiers up, response time, error budget, alerts firing), the worst objects, "
                 "spend against budget and whether the monitoring itself works.",
                 "now-6h", [broken, alerts, load, spend, monitoring, boards], (ENVIRONMENT, PROVIDER_VAR, RUNBOOK),
                 refresh="1m",
                 annotations=(vercel_deploys(f'{ENV}, target="production"'), render_deploys(ENV)))
