"""Every stackwatch alert, defined once.

Thresholds and budgets are series (`stackwatch_threshold_*`, `stackwatch_budget_*`,
exported from the config by exporters/service/config_gauges.py), compared with `on () group_left ()`
so the measured series keep their labels. `max(...)` on the threshold side keeps a
second stackwatch instance from making the match many-to-many.

Seed thresholds escalate: the same alert name fires as `warning` after `for: 5m`
and as `critical` after `for: 15m` of the same breach; Alertmanager's inhibit
rule (and Grafana's policy order) keep the critical one from doubling up.
"""

from __future__ import annotations

from exporters.providers.registry import BY_NAME

from .model import Alert, Severity, ValueFormat

# Dashboard uids (grafana/dashboards).
OVERVIEW = "stackwatch-overview"
COSTS = "stackwatch-costs"
# A provider's board: the uid the registry names for it (exporters/providers/registry.py).
VERCEL = BY_NAME["vercel"].board_uid
RENDER = BY_NAME["render"].board_uid
SUPABASE = BY_NAME["supabase"].board_uid
AI = BY_NAME["openai"].board_uid  # OpenAI and LlamaCloud
SLO = "stackwatch-slo"
SELF = "stackwatch-self"


def threshold(name: str, selector: str = "") -> str:
    """The config threshold as a label-less one-element vector, to compare with `on () group_left ()`."""
    return f"on () group_left () max(stackwatch_threshold_{name}{selector})"


def escalating(**fields) -> list[Alert]:
    """A seed-threshold alert as warning (5 min of breach) then critical (15 min)."""
    return [Alert(severity=Severity.WARNING, for_="5m", **fields),
            Alert(severity=Severity.CRITICAL, for_="15m", **fields)]


# --- response time, errors, saturation (the seed thresholds) ---

FRONTEND_LATENCY = (
    'avg by (instance, tier) (avg_over_time(probe_duration_seconds{job="blackbox", tier="frontend"}[${rate}]))\n'
    '  > ' + threshold("response_time_seconds", '{tier="frontend"}')
)
BACKEND_LATENCY = (
    'max by (service) (render_service_http_latency_seconds{quantile="0.95"})\n'
    '  > ' + threshold("response_time_seconds", '{tier="backend"}')
)
DATABASE_LATENCY = (
    "sum by (project) (rate(pg_stat_statements_total_time_seconds[${rate}]))\n"
    "  / sum by (project) (rate(pg_stat_statements_total_queries[${rate}]))\n"
    '  > ' + threshold("response_time_seconds", '{tier="database"}')
)
# An error share over a handful of requests is noise, not a rate: one 5xx among 20 requests is 5 %.
# The share is evaluated only where the window holds at least this many requests (at 100, a
# single 5xx can no longer exceed the 1 % seed threshold). A count per window, not a rate:
# the test's scaled windows hold 20x fewer requests, so the e2e run is stricter, not looser.
ERROR_RATE_MIN_REQUESTS = 100
ERROR_RATE = (
    "(\n"
    '  label_replace(label_replace(\n'
    '      sum by (project) (rate(vercel_requests_total{status_class="5xx"}[${rate}]))\n'
    "    / sum by (project) (rate(vercel_requests_total[${rate}]))\n"
    f"    and sum by (project) (increase(vercel_requests_total[${{rate}}])) >= {ERROR_RATE_MIN_REQUESTS},\n"
    '    "provider", "vercel", "", ""), "tier", "frontend", "", "")\n'
    "  or\n"
    '  label_replace(label_replace(\n'
    '      sum by (service) (rate(render_service_http_requests_total{status_class="5xx"}[${bucketed_rate}]))\n'
    "    / sum by (service) (rate(render_service_http_requests_total[${bucketed_rate}]))\n"
    f"    and sum by (service) (increase(render_service_http_requests_total[${{bucketed_rate}}])) >= {ERROR_RATE_MIN_REQUESTS},\n"
    '    "provider", "render", "", ""), "tier", "backend", "", "")\n'
    f')\n  > {threshold("error_rate_ratio")}'
)
CPU = f"max by (service) (render_service_cpu_utilization_ratio)\n  > {threshold('cpu_utilization_ratio')}"
MEMORY = f"max by (service) (render_service_memory_utilization_ratio)\n  > {threshold('memory_utilization_ratio')}"
CONNECTIONS = (
    "sum by (project) (pg_stat_database_num_backends)\n"
    "  / max by (project) (max_connections_connection_count)\n"
    f"  > {threshold('connections_utilization_ratio')}"
)


def burn(long: str, short: str, factor: str) -> str:
    """Multi-window burn rate on the blackbox probes' availability (SRE workbook, ch. 5)."""
    budget = f"on () group_left () ({factor} * (1 - max(stackwatch_threshold_availability_ratio)))"
    ratio = '(1 - avg by (tier) (avg_over_time(probe_success{{job="blackbox"}}[${{{w}}}])))'
    return (f"{ratio.format(w=long)}\n  > {budget}\nand\n{ratio.format(w=short)}\n  > {budget}")


# --- cost ---

def per_provider_and_total(metric: str) -> str:
    return (f"(\n  sum by (provider) ({metric})\n  or label_replace(sum({metric}), \"provider\", \"all\", \"\", \"\")\n)")


MTD_RATIO = (f"{per_provider_and_total('stackwatch_cost_month_to_date_usd')}\n"
             "/ on (provider) max by (provider) (stackwatch_budget_monthly_usd)")
FORECAST_RATIO = (f"{per_provider_and_total('stackwatch_cost_forecast_month_end_usd')}\n"
                  "/ on (provider) max by (provider) (stackwatch_budget_monthly_usd)")
TODAY = "sum by (provider) (stackwatch_cost_today_usd)"
# Each of the previous 14 full days' total (max of the running daily total over that day,
# sampled every 15 min), then their median: robust against one expensive day.
BASELINE = ("quantile_over_time(0.5,\n"
            f"    max_over_time(({TODAY})[${{day}}:${{baseline_step}}])[${{baseline}}:${{day}}]\n  )")
SPEND_ANOMALY = (
    f"(\n  {TODAY}\n  > on (provider) ({BASELINE} * {threshold('spend_anomaly_factor')})\n)\n"
    f"and on (provider)\n(\n  {TODAY}\n  > {threshold('spend_anomaly_floor_usd')}\n)"
)
DAILY_OVER_BUDGET = (f"{per_provider_and_total('stackwatch_cost_today_usd')}\n"
                     "> on (provider) max by (provider) (stackwatch_budget_daily_usd)")


ALERTS: tuple[Alert, ...] = (
    *escalating(
        name="FrontendResponseTimeHigh", group="response-time", expr=FRONTEND_LATENCY,
        summary="Frontend {label:instance} answers in {value} (threshold: stackwatch_threshold_response_time_seconds{tier=\"frontend\"})",
        description="The blackbox probe of the frontend took {value} on average over the rate window.",
        value_format=ValueFormat.SECONDS, dashboard=VERCEL, tier="frontend", provider="vercel"),
    *escalating(
        name="BackendResponseTimeHigh", group="response-time", expr=BACKEND_LATENCY,
        summary="Render service {label:service} p95 response time is {value}",
        description="Render's p95 HTTP latency of {label:service} is above the backend threshold.",
        value_format=ValueFormat.SECONDS, dashboard=RENDER, tier="backend", provider="render"),
    *escalating(
        name="DatabaseResponseTimeHigh", group="response-time", expr=DATABASE_LATENCY,
        summary="Supabase project {label:project} queries take {value} on average",
        description="Mean statement time (pg_stat_statements) of {label:project} is above the database threshold.",
        value_format=ValueFormat.SECONDS, dashboard=SUPABASE, tier="database", provider="supabase"),
    *escalating(
        name="ErrorRateHigh", group="errors", expr=ERROR_RATE,
        summary="{label:provider} {label:project}{label:service} serves {value} 5xx responses",
        description="Share of 5xx responses over the rate window is above the error-rate threshold.",
        value_format=ValueFormat.RATIO, dashboard=OVERVIEW, tier=""),  # tier set per series
    *escalating(
        name="CpuUtilizationHigh", group="saturation", expr=CPU,
        summary="Render service {label:service} uses {value} of its CPU",
        description="CPU used / CPU limit (mean over instances) is above the CPU threshold.",
        value_format=ValueFormat.RATIO, dashboard=RENDER, tier="backend", provider="render"),
    *escalating(
        name="MemoryUtilizationHigh", group="saturation", expr=MEMORY,
        summary="Render service {label:service} uses {value} of its memory",
        description="Memory used / memory limit (mean over instances) is above the memory threshold.",
        value_format=ValueFormat.RATIO, dashboard=RENDER, tier="backend", provider="render"),
    Alert(name="DatabaseConnectionsHigh", group="saturation", expr=CONNECTIONS, for_="5m",
          severity=Severity.WARNING,
          summary="Supabase project {label:project} uses {value} of max_connections",
          description="Connected backends / max_connections is above the connections threshold.",
          value_format=ValueFormat.RATIO, dashboard=SUPABASE, tier="database", provider="supabase"),
    # --- availability SLO (99 % by default), multi-window multi-burn-rate ---
    Alert(name="AvailabilityBudgetBurnFast", group="slo",
          expr=burn("burn_fast_long", "burn_fast_short", "14.4"), for_="2m", severity=Severity.CRITICAL,
          summary="{label:tier} burns its error budget 14.4x too fast ({value} failed probes over 1 h)",
          description="At this rate a 30-day error budget is gone in about 2 days (both 1 h and 5 m windows agree).",
          value_format=ValueFormat.RATIO, dashboard=SLO, tier="slo", provider="blackbox"),
    Alert(name="AvailabilityBudgetBurnMedium", group="slo",
          expr=burn("burn_medium_long", "burn_medium_short", "6"), for_="15m", severity=Severity.CRITICAL,
          summary="{label:tier} burns its error budget 6x too fast ({value} failed probes over 6 h)",
          description="At this rate a 30-day error budget is gone in 5 days (both 6 h and 30 m windows agree).",
          value_format=ValueFormat.RATIO, dashboard=SLO, tier="slo", provider="blackbox"),
    Alert(name="AvailabilityBudgetBurnSlow", group="slo",
          expr=burn("burn_slow_long", "burn_slow_short", "1"), for_="1h", severity=Severity.WARNING,
          summary="{label:tier} spends its error budget faster than it earns it ({value} failed probes over 3 d)",
          description="The budget runs out before the end of the 30-day window (both 3 d and 6 h windows agree): a ticket, not a page.",
          value_format=ValueFormat.RATIO, dashboard=SLO, tier="slo", provider="blackbox"),
    # --- deploys, backups, certificates ---
    Alert(name="DeployFailed", group="changes", for_="0s", severity=Severity.WARNING,
          expr=('(\n'
                '  label_replace(sum by (project) (increase(vercel_deployments_total{state="ERROR"}[${deploys}])),\n'
                '    "provider", "vercel", "", "")\n'
                '  or\n'
                '  label_replace(sum by (service) (increase(render_deploys_total{status=~"build_failed|update_failed|pre_deploy_failed"}[${deploys}])),\n'
                '    "provider", "render", "", "")\n'
                ') > 0'),
          summary="{value} failed deploys of {label:provider} {label:project}{label:service}",
          description="A deploy ended in ERROR (Vercel) or build/update/pre-deploy failure (Render) in the deploys window.",
          value_format=ValueFormat.COUNT, dashboard=OVERVIEW, tier="deploy"),
    Alert(name="SupabaseBackupMissing", group="changes", for_="10m", severity=Severity.CRITICAL,
          expr=(f"max by (project) (supabase_backup_age_seconds)\n  > {threshold('backup_age_seconds')}\n"
                "and on (project)\n(max by (project) (supabase_backup_pitr_enabled) == 0)"),
          summary="Supabase project {label:project} has no backup for {value} and PITR is off",
          description="The latest completed backup is older than the backup-age threshold and point-in-time recovery is off.",
          value_format=ValueFormat.SECONDS, dashboard=SUPABASE, tier="database", provider="supabase"),
    Alert(name="TlsCertificateExpiring", group="changes", for_="10m", severity=Severity.WARNING,
          expr=(f'min by (instance) (probe_ssl_earliest_cert_expiry{{job="blackbox"}}) - time()\n'
                f"  < {threshold('tls_expiry_seconds')}"),
          summary="TLS certificate of {label:instance} expires in {value}",
          description="The earliest certificate in the chain expires within the TLS-expiry threshold.",
          value_format=ValueFormat.SECONDS, dashboard=OVERVIEW, tier="edge", provider="blackbox"),
    # --- cost ---
    Alert(name="MonthlyBudgetHalfSpent", group="cost", for_="10m", severity=Severity.INFO,
          expr=f"{MTD_RATIO}\n>= 0.5 < 0.8",
          summary="{label:provider} has spent {value} of its monthly budget",
          description="Month-to-date cost is between 50 % and 80 % of the monthly budget (provider=\"all\" is the total).",
          value_format=ValueFormat.RATIO, dashboard=COSTS, tier="cost"),
    Alert(name="MonthlyBudgetMostlySpent", group="cost", for_="10m", severity=Severity.WARNING,
          expr=f"{MTD_RATIO}\n>= 0.8 < 1",
          summary="{label:provider} has spent {value} of its monthly budget",
          description="Month-to-date cost is between 80 % and 100 % of the monthly budget (provider=\"all\" is the total).",
          value_format=ValueFormat.RATIO, dashboard=COSTS, tier="cost"),
    Alert(name="MonthlyBudgetExceeded", group="cost", for_="10m", severity=Severity.CRITICAL,
          expr=f"{MTD_RATIO}\n>= 1",
          summary="{label:provider} has spent {value} of its monthly budget",
          description="Month-to-date cost has reached the monthly budget (provider=\"all\" is the total).",
          value_format=ValueFormat.RATIO, dashboard=COSTS, tier="cost"),
    Alert(name="MonthEndForecastOverBudget", group="cost", for_="1h", severity=Severity.WARNING,
          expr=f"{FORECAST_RATIO}\n> 1",
          summary="{label:provider} is forecast to spend {value} of its monthly budget by month end",
          description="The month-end forecast (docs/monitoring-guide.md, Forecast) is above the monthly budget.",
          value_format=ValueFormat.RATIO, dashboard=COSTS, tier="cost"),
    Alert(name="DailySpendOverBudget", group="cost", for_="10m", severity=Severity.WARNING,
          expr=DAILY_OVER_BUDGET,
          summary="{label:provider} has spent {value} today, above its daily budget",
          description="Today's cost (UTC day so far) is above the daily budget (provider=\"all\" is the total).",
          value_format=ValueFormat.USD, dashboard=COSTS, tier="cost"),
    Alert(name="DailySpendAnomaly", group="cost-baseline", for_="15m", severity=Severity.WARNING,
          expr=SPEND_ANOMALY,
          summary="{label:provider} has spent {value} today, far above its usual day",
          description="Today's cost is above spend_anomaly_factor x the median of the previous 14 days and above the absolute floor.",
          value_format=ValueFormat.USD, dashboard=COSTS, tier="cost"),
    Alert(name="UnpricedUsageSeen", group="cost", for_="0s", severity=Severity.WARNING,
          expr="sum by (provider, item) (increase(stackwatch_cost_unpriced_items_total[${unpriced}])) > 0",
          summary="{label:provider} reported {value} usage items of {label:item} that stackwatch cannot price",
          description="An unknown model or plan: its cost is missing from every cost figure until a price is added.",
          value_format=ValueFormat.COUNT, dashboard=COSTS, tier="cost"),
    # --- stackwatch's own health ---
    Alert(name="ProviderApiDown", group="collection", for_="5m", severity=Severity.WARNING,
          expr="max by (provider) (stackwatch_provider_up) == 0",
          summary="stackwatch cannot poll {label:provider} (stackwatch_provider_up = {value} for the whole pending period)",
          description="stackwatch_provider_up is 0: the latest poll of at least one stream failed.",
          value_format=ValueFormat.COUNT, dashboard=SELF, tier="collection"),
    Alert(name="ProviderDataStale", group="collection", for_="5m", severity=Severity.WARNING,
          expr=("time() - max by (provider) (stackwatch_provider_last_success_timestamp_seconds)\n"
                f"  > {threshold('data_staleness_seconds')}"),
          summary="{label:provider} data is {value} old",
          description="No fully successful poll cycle for longer than the data-staleness threshold: figures are stale.",
          value_format=ValueFormat.SECONDS, dashboard=SELF, tier="collection"),
    Alert(name="RateLimitHeadroomLow", group="collection", for_="5m", severity=Severity.WARNING,
          # The gauge holds the latest response's headers: within one poll it swings between an
          # exhausted window and a fresh one, so the lowest point over the window is what matters.
          expr=("min by (provider) (min_over_time(stackwatch_provider_ratelimit_remaining_ratio[${rate}]))\n"
                f"  < {threshold('ratelimit_headroom_ratio')}"),
          summary="{label:provider} rate-limit headroom fell to {value}",
          description="The lowest remaining / limit in the provider's rate-limit headers over the window is below the headroom threshold.",
          value_format=ValueFormat.RATIO, dashboard=SELF, tier="collection"),
    Alert(name="CollectorExportFailing", group="collection", for_="5m", severity=Severity.CRITICAL,
          expr="sum by (exporter) (rate(otelcol_exporter_send_failed_metric_points[${rate}])) > 0",
          summary="The collector's exporter {label:exporter} fails to send {value} points/s",
          description="otel-collector cannot deliver metrics: dashboards and alerts go blind while its queue fills.",
          value_format=ValueFormat.COUNT, dashboard=SELF, tier="collection", provider="otel-collector"),
    Alert(name="DrainRejectionsSpiking", group="collection", for_="5m", severity=Severity.WARNING,
          expr="sum by (drain, reason) (increase(stackwatch_drain_rejected_total[${drain}])) > 10",
          summary="{value} Vercel {label:drain} drain deliveries rejected ({label:reason})",
          description="More than 10 drain deliveries rejected in the drain window: signature, size or format problem.",
          value_format=ValueFormat.COUNT, dashboard=VERCEL, tier="collection", provider="vercel"),
    Alert(name="StackwatchAbsent", group="collection", for_="5m", severity=Severity.CRITICAL,
          expr=('(up{job="stackwatch"} == 0)\n'
                "or on ()\nabsent_over_time(stackwatch_provider_up[${absent}])"),
          summary="stackwatch is not reporting (value {value})",
          description="stackwatch's self-scrape is down or none of its OTLP metrics arrived in the absent window: every other alert is blind.",
          value_format=ValueFormat.COUNT, dashboard=SELF, tier="collection", provider="stackwatch"),
)


def alert_names() -> list[str]:
    return sorted({a.name for a in ALERTS})
