"""Every stackwatch alert, defined once.

Thresholds and budgets are series (`stackwatch_threshold_*`, `stackwatch_budget_*`,
exported from the config by exporters/service/config_gauges.py), compared with `on () group_left ()`
so the measured series keep their labels. `max(...)` on the threshold side keeps a
second stackwatch instance from making the match many-to-many.

Seed thresholds escalate: the same alert name fires as `warning` after `for: 5m`
and as `critical` after `for: 15m` of the same breach; Alertmanager's inhibit
rule keeps the critical one from doubling up (docs/alerting.md, Routing).
Every rule carries `source` (where its data comes from), so a dead source holds
back what it feeds.
"""

from __future__ import annotations

from exporters.providers.registry import BY_NAME

from .model import Alert, Figure, Severity, Source, ValueFormat

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


def escalating(*, for_steps: tuple[str, str] = ("5m", "15m"), **fields) -> list[Alert]:
    """An alert as warning after the first `for`, then critical after the longer one (5 and 15 min by
    default): Alertmanager's inhibition keeps the critical step from doubling up with the warning.

    The critical rule comes first in its group: both steps end at the same evaluation, Prometheus
    sends each rule's alerts as it evaluates it, and a warning that Alertmanager sees resolved while
    its critical still fires is muted and dropped, so its "resolved" message would never go out."""
    return [Alert(severity=Severity.CRITICAL, for_=for_steps[1], **fields),
            Alert(severity=Severity.WARNING, for_=for_steps[0], **fields)]


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
# Supabase's database host, from node_exporter series on each project's metrics endpoint
# (docs/providers/supabase.md): CPU busy = 1 - idle share (mean over CPUs), memory used = 1 -
# MemAvailable / MemTotal. Compared with the same thresholds as Render's services.
SUPABASE_CPU = (
    '1 - avg by (project) (rate(node_cpu_seconds_total{job="supabase", mode="idle"}[${rate}]))\n'
    f"  > {threshold('cpu_utilization_ratio')}"
)
SUPABASE_MEMORY = (
    '1 - max by (project) (node_memory_MemAvailable_bytes{job="supabase"})\n'
    '  / max by (project) (node_memory_MemTotal_bytes{job="supabase"})\n'
    f"  > {threshold('memory_utilization_ratio')}"
)
SUPABASE_DISK = f"max by (project) (supabase_disk_utilization_ratio)\n  > {threshold('disk_utilization_ratio')}"
# Two Supabase sources name the lag series differently (docs/providers/supabase.md): either counts.
REPLICATION_LAG = (
    'max by (project) (\n'
    '    physical_replication_lag_physical_replica_lag_seconds{job="supabase"}\n'
    '    or physical_replication_lag_physical_replication_lag_seconds{job="supabase"}\n'
    f"  )\n  > {threshold('replication_lag_seconds')}"
)
CONNECTIONS = (
    "sum by (project) (pg_stat_database_num_backends)\n"
    "  / max by (project) (max_connections_connection_count)\n"
    f"  > {threshold('connections_utilization_ratio')}"
)


def burn(long: str, short: str, factor: str) -> str:
    """Multi-window burn rate per tier on the blackbox probes' availability (SRE workbook, ch. 5:
    page at 14.4x over 1 h and 5 m, and 6x over 6 h and 30 m; ticket at 1x over 3 d and 6 h)."""
    budget = f"on () group_left () ({factor} * (1 - max(stackwatch_threshold_availability_ratio)))"
    ratio = '(1 - avg by (tier) (avg_over_time(probe_success{{job="blackbox"}}[${{{w}}}])))'
    return (f"{ratio.format(w=long)}\n  > {budget}\nand on (tier)\n{ratio.format(w=short)}\n  > {budget}")


# --- traffic spikes ---

def _traffic_baseline(metric: str, by: str) -> str:
    return (f"max by ({by}) (\n"
            f'      label_replace(sum by ({by}) (rate({metric}[${{spike}}] offset ${{day}})), "ago", "1d", "", "")\n'
            f'      or label_replace(sum by ({by}) (rate({metric}[${{spike}}] offset ${{week}})), "ago", "1w", "", ""))')


def traffic_spike(metric: str, by: str, provider: str) -> str:
    """A request rate over the `spike` window against its own baseline: the same window a day and
    a week earlier, the higher of the two (so a normal daily cycle, and a weekly one, stay quiet;
    a new object without a day of history, or without traffic then, has no baseline and stays
    quiet). Fires above factor x baseline AND above the floor. The value is the factor (now / baseline)."""
    now = f"sum by ({by}) (rate({metric}[${{spike}}]))"
    ago = _traffic_baseline(metric, by)
    return (f"label_replace(\n"
            f"  (\n    {now}\n      > on ({by}) ({ago} * {threshold('traffic_spike_factor')})\n"
            f"    and on ({by}) {now} > {threshold('traffic_spike_floor_per_second')}\n  )\n"
            f"  / on ({by}) ({ago} > 0),\n"
            f'  "provider", "{provider}", "", "")')


TRAFFIC_SPIKE = (
    traffic_spike("vercel_requests_total", "project", "vercel")
    + "\nor\n"
    + traffic_spike("render_service_http_requests_total", "service", "render")
)
# The baseline the factor divides by, requests per second, labelled as the alert's series are.
TRAFFIC_BASELINE = (
    f'label_replace({_traffic_baseline("vercel_requests_total", "project")}, "provider", "vercel", "", "")\n'
    "or\n"
    f'label_replace({_traffic_baseline("render_service_http_requests_total", "service")}, "provider", "render", "", "")'
)

# --- Render autoscaling ---

AUTOSCALED = "max by (service) (render_service_autoscaling_max_instances)"
INSTANCE_COUNT_CHANGED = (
    "max by (service) (render_service_instances)\n"
    "and on (service) (max by (service) (changes(render_service_instances[${scaling}])) > 0)\n"
    f"and on (service) {AUTOSCALED}"
)
AUTOSCALING_AT_MAX = f"max by (service) (render_service_instances)\n  >= on (service) {AUTOSCALED}"

# --- cost ---

def per_provider_and_total(metric: str) -> str:
    return (f"(\n  sum by (provider) ({metric})\n  or label_replace(sum({metric}), \"provider\", \"all\", \"\", \"\")\n)")


MTD_RATIO = (f"{per_provider_and_total('stackwatch_cost_month_to_date_usd')}\n"
             "/ on (provider) max by (provider) (stackwatch_budget_monthly_usd)")
FORECAST_RATIO = (f"{per_provider_and_total('stackwatch_cost_forecast_month_end_usd')}\n"
                  "/ on (provider) max by (provider) (stackwatch_budget_monthly_usd)")
TODAY = "sum by (provider) (stackwatch_cost_today_usd)"
# The usual day, for the Costs board's "today vs usual" view (grafana/dashboards/costs.py; no alert
# reads it since RunawaySpend, a rate against a rate, replaced a partial day against full days):
# each of the previous 14 full days' total (max of the running daily total over that day, sampled
# every 15 min), then their median.
BASELINE = ("quantile_over_time(0.5,\n"
            f"    max_over_time(({TODAY})[${{day}}:${{baseline_step}}])[${{baseline}}:${{day}}]\n  )")
DAILY_OVER_BUDGET = (f"{per_provider_and_total('stackwatch_cost_today_usd')}\n"
                     "> on (provider) max by (provider) (stackwatch_budget_daily_usd)")

# Runaway spend: the spend rate over the last `spend` window (USD per hour, from the month-to-date
# figure, which only resets at the month's start) against the provider's own average rate this
# month before that window (month to date / hours elapsed). A rate against a rate: a leak at 01:00
# shows at once, where a partial day against full days waits for the day to add up. Quiet until
# the month's baseline covers `spend_baseline_min` (the first hours of a month have none).
MTD = "sum by (provider) (stackwatch_cost_month_to_date_usd)"


def mtd_ago(window: str) -> str:
    return f"sum by (provider) (stackwatch_cost_month_to_date_usd offset ${{{window}}})"


def spend_rate(window: str) -> str:
    """USD per hour over the window named `window` (a Windows field), from the month-to-date figure."""
    return f"(({MTD} - {mtd_ago(window)}) * 3600 / ${{{window}_s}})"


SPEND_RATE = spend_rate("spend")
MONTH_ELAPSED_S = "((day_of_month() - 1) * 86400 + time() % 86400)"
BASELINE_RATE = (f"({mtd_ago('spend')} * 3600\n"
                 f"    / on () group_left () ({MONTH_ELAPSED_S} - ${{spend_s}}))")
# The rate holds over the last `spend_short` too (a third of the window): a lump of cost landing at
# once (a batch's bill, a big parse job) leaves that window before `for` has passed; a runaway does
# not. A poll that failed within the window mutes it: the cost the outage held back lands in one
# step when polling resumes, which is a backlog, not a rate (a real runaway shows one window later).
ANOMALOUS_RATE = f"({BASELINE_RATE} * {threshold('spend_anomaly_factor')})"
RUNAWAY_SPEND = (
    f"{SPEND_RATE}\n  > on (provider) {ANOMALOUS_RATE}\n"
    f"and on (provider)\n{SPEND_RATE}\n  > {threshold('runaway_spend_floor_hourly_usd')}\n"
    f"and on (provider)\n{spend_rate('spend_short')}\n  > on (provider) {ANOMALOUS_RATE}\n"
    f"and on ()\n({MONTH_ELAPSED_S} - ${{spend_s}} >= ${{spend_baseline_min_s}})\n"
    "unless on (provider)\n(min by (provider) (min_over_time(stackwatch_provider_up[${spend}])) == 0)"
)

# --- Supabase authentication ---

# The share of failed authentication attempts (every kind) per project over the auth window, when the
# window holds at least AUTH_MIN_ATTEMPTS attempts (a handful of mistyped passwords on a quiet project
# is no incident). Fixed here, not config thresholds (docs/runbooks/SupabaseAuthFailuresHigh.md).
AUTH_FAILURE_RATIO = 0.25
AUTH_MIN_ATTEMPTS = 20
AUTH_ATTEMPTS = "sum by (project) (increase(supabase_auth_events_total[${auth}]))"
AUTH_FAILURES = (
    'sum by (project) (increase(supabase_auth_events_total{outcome="failure"}[${auth}]))\n'
    f"  / {AUTH_ATTEMPTS}\n  > {AUTH_FAILURE_RATIO}\n"
    f"and on (project)\n{AUTH_ATTEMPTS} >= {AUTH_MIN_ATTEMPTS}"
)

# --- dead sources ---

# Each project's current status only. The status is a label, so a status change starts a new series
# while the old one stays in Prometheus' 5-minute lookback (OTLP sends no staleness marker): without
# this, a project that recovered would keep paging for 5 minutes. The current series is the one
# stackwatch exported last (its newest sample).
def current_project_status(selector: str = "") -> str:
    return (f"(supabase_project_up{selector}\n"
            "  and on (project, status) (timestamp(supabase_project_up)\n"
            "    == on (project) group_left () max by (project) (timestamp(supabase_project_up))))")


INACTIVE_PROJECTS = "max by (project) " + current_project_status('{status="INACTIVE"}')  # paused on purpose: shown, not paged
SUPABASE_SCRAPED = ("pg_up", "pg_stat_statements_total_queries", "pg_stat_statements_total_time_seconds",
                    "pg_stat_database_num_backends", "max_connections_connection_count", "node_cpu_seconds_total",
                    "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes")
THRESHOLDS_READ = ("response_time_seconds", "error_rate_ratio", "cpu_utilization_ratio", "memory_utilization_ratio",
                   "availability_ratio", "connections_utilization_ratio", "backup_age_seconds", "tls_expiry_seconds",
                   "data_staleness_seconds", "ratelimit_headroom_ratio", "spend_anomaly_factor",
                   "runaway_spend_floor_hourly_usd", "disk_utilization_ratio", "replication_lag_seconds",
                   "traffic_spike_factor", "traffic_spike_floor_per_second")


def input_absent(input_name: str, expr: str, source: Source, description: str) -> Alert:
    return Alert(name="AlertInputAbsent", group="dead-sources", expr=expr, for_="10m", severity=Severity.WARNING,
                 summary=f"No {input_name} arrives: the alerts that read it are blind",
                 description=description, value_format=ValueFormat.COUNT, dashboard=SELF, tier="",
                 source=source, labels={"input": input_name}, variant=input_name)


def input_absent_alerts() -> list[Alert]:
    alerts = [input_absent(
        "up", 'absent_over_time(up{job="blackbox"}[${absent}])', Source.BLACKBOX,
        "Prometheus scrapes no blackbox probe target (targets/probes.yml empty or not loaded): availability "
        "and frontend response time cannot alert.")]
    for metric, tier in (("probe_success", "frontend"), ("probe_success", "backend"),
                         ("probe_duration_seconds", "frontend")):
        alerts.append(input_absent(
            f"{metric}/{tier}", f'absent_over_time({metric}{{job="blackbox", tier="{tier}"}}[${{absent}}])',
            Source.BLACKBOX, f"No {tier} probe result ({metric}): the {tier} tier has no probe."))
    alerts.append(input_absent(
        "up/supabase",
        'absent_over_time(up{job="supabase"}[${absent}])\n'
        'and on () (count(supabase_project_up{status!="INACTIVE"}) > 0)', Source.SUPABASE_METRICS,
        "stackwatch sees active Supabase projects but Prometheus scrapes no Supabase metrics endpoint "
        "(prometheus/targets/supabase.yml)."))
    for metric in SUPABASE_SCRAPED:
        alerts.append(input_absent(
            metric, f'(max by (job, instance, project) (up{{job="supabase"}}) == 1)\n'
                    f'unless on (project) max by (project) ({metric}{{job="supabase"}})',
            Source.SUPABASE_METRICS,
            f"The project's metrics endpoint answers but carries no {metric}: an alert reading it cannot fire."))
    for name in THRESHOLDS_READ:
        alerts.append(input_absent(
            f"stackwatch_threshold_{name}",
            f"absent_over_time(stackwatch_threshold_{name}[${{absent}}])\nand on () count(stackwatch_provider_up)",
            Source.STACKWATCH, "stackwatch reports, but not this threshold series: the alerts comparing with it cannot fire."))
    return alerts


def burn_alert(name: str, long: str, short: str, factor: str, for_: str, severity: Severity, window_text: str,
               summary: str) -> Alert:
    return Alert(name=name, group="slo", expr=burn(long, short, factor), for_=for_, severity=severity,
                 summary=summary, description=window_text, value_format=ValueFormat.RATIO, dashboard=SLO, tier="",
                 source=Source.BLACKBOX, provider="blackbox", dashboard_vars={"tier": "tier"})


ALERTS: tuple[Alert, ...] = (
    *escalating(
        name="FrontendResponseTimeHigh", group="response-time", expr=FRONTEND_LATENCY,
        summary="Frontend {label:instance} answers in {value} (threshold: stackwatch_threshold_response_time_seconds{tier=\"frontend\"})",
        description="The blackbox probe of the frontend took {value} on average over the rate window.",
        value_format=ValueFormat.SECONDS, dashboard=SLO, tier="", provider="vercel",  # tier: the series' (frontend)
        source=Source.BLACKBOX, dashboard_vars={"tier": "tier"}),
    *escalating(
        name="BackendResponseTimeHigh", group="response-time", expr=BACKEND_LATENCY,
        summary="Render service {label:service} p95 response time is {value}",
        description="Render's p95 HTTP latency of {label:service} is above the backend threshold.",
        value_format=ValueFormat.SECONDS, dashboard=RENDER, tier="backend", provider="render",
        dashboard_vars={"service": "service"}),
    *escalating(
        name="DatabaseResponseTimeHigh", group="response-time", expr=DATABASE_LATENCY,
        summary="Supabase project {label:project} queries take {value} on average",
        description="Mean statement time (pg_stat_statements) of {label:project} is above the database threshold.",
        value_format=ValueFormat.SECONDS, dashboard=SUPABASE, tier="database", provider="supabase",
        source=Source.SUPABASE_METRICS, dashboard_vars={"project": "project"}),
    *escalating(
        name="ErrorRateHigh", group="errors", expr=ERROR_RATE,
        summary="{label:provider} {label:project}{label:service} serves {value} 5xx responses",
        description="Share of 5xx responses over the rate window is above the error-rate threshold.",
        value_format=ValueFormat.RATIO, dashboard=OVERVIEW, tier="",  # tier and provider set per series
        dashboard_vars={"provider": "provider"}),
    *escalating(
        name="CpuUtilizationHigh", group="saturation", expr=CPU,
        summary="Render service {label:service} uses {value} of its CPU",
        description="CPU used / CPU limit (mean over instances) is above the CPU threshold.",
        value_format=ValueFormat.RATIO, dashboard=RENDER, tier="backend", provider="render",
        dashboard_vars={"service": "service"}),
    *escalating(
        name="MemoryUtilizationHigh", group="saturation", expr=MEMORY,
        summary="Render service {label:service} uses {value} of its memory",
        description="Memory used / memory limit (mean over instances) is above the memory threshold.",
        value_format=ValueFormat.RATIO, dashboard=RENDER, tier="backend", provider="render",
        dashboard_vars={"service": "service"}),
    # The same symptoms on Supabase's database host: one alert name per symptom, a rule per provider
    # (variant), so escalation and inhibition work per object (its project) as for a Render service.
    *escalating(
        name="CpuUtilizationHigh", group="saturation", expr=SUPABASE_CPU, variant="supabase",
        summary="Supabase project {label:project} uses {value} of its database CPU",
        description="1 - the idle share of the database host's CPUs (node_cpu_seconds_total, mean over CPUs) "
                    "is above the CPU threshold.",
        value_format=ValueFormat.RATIO, dashboard=SUPABASE, tier="database", provider="supabase",
        source=Source.SUPABASE_METRICS, dashboard_vars={"project": "project"}),
    *escalating(
        name="MemoryUtilizationHigh", group="saturation", expr=SUPABASE_MEMORY, variant="supabase",
        summary="Supabase project {label:project} uses {value} of its database memory",
        description="1 - MemAvailable / MemTotal of the database host is above the memory threshold.",
        value_format=ValueFormat.RATIO, dashboard=SUPABASE, tier="database", provider="supabase",
        source=Source.SUPABASE_METRICS, dashboard_vars={"project": "project"}),
    Alert(name="SupabaseDiskUtilizationHigh", group="saturation", expr=SUPABASE_DISK, for_="15m",
          severity=Severity.WARNING,
          summary="Supabase project {label:project} has used {value} of its database disk",
          description="Disk used / disk size (Management API) is above the disk threshold; Supabase turns the "
                      "database read-only at 95 %.",
          value_format=ValueFormat.RATIO, dashboard=SUPABASE, tier="database", provider="supabase",
          dashboard_vars={"project": "project"}),
    Alert(name="SupabaseDatabaseReadOnly", group="saturation", for_="5m", severity=Severity.CRITICAL,
          expr="max by (project) (supabase_database_readonly) == 1",
          summary="Supabase project {label:project} is in read-only mode: every write fails",
          description="The Management API reports read-only mode on (Supabase turns it on when the database "
                      "reaches 95 % of its disk): inserts, updates and deletes fail until the disk is freed or grown.",
          value_format=ValueFormat.COUNT, dashboard=SUPABASE, tier="database", provider="supabase",
          dashboard_vars={"project": "project"}),
    Alert(name="SupabaseReplicationLagHigh", group="saturation", expr=REPLICATION_LAG, for_="5m",
          severity=Severity.WARNING,
          summary="A read replica of Supabase project {label:project} lags {value} behind",
          description="The physical replication lag on the project's metrics endpoint is above the "
                      "replication-lag threshold: reads from the replica return stale data.",
          value_format=ValueFormat.SECONDS, dashboard=SUPABASE, tier="database", provider="supabase",
          source=Source.SUPABASE_METRICS, dashboard_vars={"project": "project"}),
    # --- traffic and scaling ---
    Alert(name="TrafficSpike", group="traffic", expr=TRAFFIC_SPIKE, for_="10m", severity=Severity.WARNING,
          summary="{label:provider} {label:project}{label:service} gets {value} its usual request rate "
                  "(usual: {figure:baseline} requests/s)",
          description="The request rate over the last 15 min is above traffic_spike_factor x its baseline (the "
                      "same 15 min a day and a week ago, the higher: {figure:baseline} requests/s) and above "
                      "traffic_spike_floor_per_second. The value is the factor: now / baseline.",
          value_format=ValueFormat.FACTOR, dashboard=OVERVIEW, tier="traffic",
          dashboard_vars={"provider": "provider"},
          figures=(Figure("baseline", TRAFFIC_BASELINE, ("provider", "project", "service"), ValueFormat.COUNT),)),
    Alert(name="RenderInstanceCountChanged", group="traffic", expr=INSTANCE_COUNT_CHANGED, for_="0s",
          severity=Severity.INFO,
          summary="Render autoscaled {label:service} to {value} instances",
          description="The running instance count of an autoscaled service changed in the last 15 min.",
          value_format=ValueFormat.COUNT, dashboard=RENDER, tier="backend", provider="render",
          dashboard_vars={"service": "service"}),
    Alert(name="RenderAutoscalingAtMax", group="traffic", expr=AUTOSCALING_AT_MAX, for_="15m",
          severity=Severity.WARNING,
          summary="Render service {label:service} runs at its autoscaling maximum ({value} instances)",
          description="The service has run at its autoscaling max for 15 min: it cannot scale further, so more "
                      "load shows as CPU, memory and latency.",
          value_format=ValueFormat.COUNT, dashboard=RENDER, tier="backend", provider="render",
          dashboard_vars={"service": "service"}),
    Alert(name="DatabaseConnectionsHigh", group="saturation", expr=CONNECTIONS, for_="5m",
          severity=Severity.WARNING,
          summary="Supabase project {label:project} uses {value} of max_connections",
          description="Connected backends / max_connections is above the connections threshold.",
          value_format=ValueFormat.RATIO, dashboard=SUPABASE, tier="database", provider="supabase",
          source=Source.SUPABASE_METRICS, dashboard_vars={"project": "project"}),
    # --- availability SLO (99 % by default): the SRE workbook's multiwindow, multi-burn-rate alerts,
    # per tier (the `tier` label is the series'), so a full outage is one alert per tier, both paging ---
    burn_alert("AvailabilityBudgetBurnFast", "burn_fast_long", "burn_fast_short", "14.4", "2m", Severity.CRITICAL,
               "At this rate a 30-day error budget is gone in about 2 days (both 1 h and 5 m windows agree).",
               "{label:tier} burns its error budget 14.4x too fast ({value} failed probes over 1 h)"),
    burn_alert("AvailabilityBudgetBurnMedium", "burn_medium_long", "burn_medium_short", "6", "15m", Severity.CRITICAL,
               "At this rate a 30-day error budget is gone in 5 days (both 6 h and 30 m windows agree).",
               "{label:tier} burns its error budget 6x too fast ({value} failed probes over 6 h)"),
    burn_alert("AvailabilityBudgetBurnSlow", "burn_slow_long", "burn_slow_short", "1", "1h", Severity.WARNING,
               "The budget runs out before the end of the 30-day window (both 3 d and 6 h windows agree): a ticket, not a page.",
               "{label:tier} spends its error budget faster than it earns it ({value} failed probes over 3 d)"),
    # --- Supabase availability (an intentionally paused project, INACTIVE, is shown, not alerted) ---
    *escalating(
        # 10 then 20 minutes: a restart or an upgrade passes through these statuses for minutes.
        name="SupabaseProjectUnhealthy", group="database-availability", for_steps=("10m", "20m"),
        expr="max by (project, status) " + current_project_status('{status!="INACTIVE"}') + " == 0",
        summary="Supabase project {label:project} is {label:status}",
        description="The Management API reports the project neither ACTIVE_HEALTHY nor paused (INACTIVE); "
                    "supabase_service_healthy says which services are down.",
        value_format=ValueFormat.COUNT, dashboard=SUPABASE, tier="database", provider="supabase",
        dashboard_vars={"project": "project"}),
    Alert(name="SupabaseDatabaseDown", group="database-availability", for_="2m", severity=Severity.CRITICAL,
          expr=f'max by (project) (pg_up{{job="supabase"}}) == 0\nunless on (project) {INACTIVE_PROJECTS}',
          summary="Postgres of Supabase project {label:project} is down (pg_up = {value})",
          description="The project's metrics endpoint answers, but its exporter cannot connect to Postgres.",
          value_format=ValueFormat.COUNT, dashboard=SUPABASE, tier="database", provider="supabase",
          source=Source.SUPABASE_METRICS, dashboard_vars={"project": "project"}),
    # --- deploys, backups, certificates ---
    Alert(name="DeployFailed", group="changes", for_="0s", severity=Severity.WARNING,
          expr=('(\n'
                '  label_replace(sum by (project) (increase(vercel_deployments_total{target="production", state="ERROR"}[${deploys}])),\n'
                '    "provider", "vercel", "", "")\n'
                '  or\n'
                '  label_replace(sum by (service) (increase(render_deploys_total{status=~"build_failed|update_failed|pre_deploy_failed"}[${deploys}])),\n'
                '    "provider", "render", "", "")\n'
                ') > 0'),
          summary="{value} failed deploys of {label:provider} {label:project}{label:service}",
          description="A production deployment ended in ERROR (Vercel) or a deploy in build/update/pre-deploy failure (Render) in the deploys window.",
          value_format=ValueFormat.COUNT, dashboard=OVERVIEW, tier="deploy", dashboard_vars={"provider": "provider"}),
    Alert(name="SupabaseBackupMissing", group="changes", for_="10m", severity=Severity.CRITICAL,
          expr=(f"max by (project) (supabase_backup_age_seconds)\n  > {threshold('backup_age_seconds')}\n"
                "and on (project)\n(max by (project) (supabase_backup_pitr_enabled) == 0)"),
          summary="Supabase project {label:project} has no backup for {value} and PITR is off",
          description="The latest completed backup is older than the backup-age threshold and point-in-time recovery is off.",
          value_format=ValueFormat.SECONDS, dashboard=SUPABASE, tier="database", provider="supabase",
          dashboard_vars={"project": "project"}),
    Alert(name="TlsCertificateExpiring", group="changes", for_="10m", severity=Severity.WARNING,
          expr=(f'min by (instance) (probe_ssl_earliest_cert_expiry{{job="blackbox"}}) - time()\n'
                f"  < {threshold('tls_expiry_seconds')}"),
          summary="TLS certificate of {label:instance} expires in {value}",
          description="The earliest certificate in the chain expires within the TLS-expiry threshold.",
          value_format=ValueFormat.SECONDS, dashboard=SLO, tier="edge", provider="blackbox", source=Source.BLACKBOX),
    # --- cost: nothing here is fixed at 3 am except a runaway ---
    Alert(name="MonthlyBudgetHalfSpent", group="cost", for_="10m", severity=Severity.INFO,
          expr=f"{MTD_RATIO}\n>= 0.5 < 0.8",
          summary="{label:provider} has spent {value} of its monthly budget",
          description="Month-to-date cost is between 50 % and 80 % of the monthly budget (provider=\"all\" is the total).",
          value_format=ValueFormat.RATIO, dashboard=COSTS, tier="cost", cadence="daily",
          dashboard_vars={"provider": "provider"}),
    Alert(name="MonthlyBudgetMostlySpent", group="cost", for_="10m", severity=Severity.WARNING,
          expr=f"{MTD_RATIO}\n>= 0.8 < 1",
          summary="{label:provider} has spent {value} of its monthly budget",
          description="Month-to-date cost is between 80 % and 100 % of the monthly budget (provider=\"all\" is the total).",
          value_format=ValueFormat.RATIO, dashboard=COSTS, tier="cost", cadence="daily",
          dashboard_vars={"provider": "provider"}),
    Alert(name="MonthlyBudgetExceeded", group="cost", for_="10m", severity=Severity.WARNING,
          expr=f"{MTD_RATIO}\n>= 1",
          summary="{label:provider} has spent {value} of its monthly budget",
          description="Month-to-date cost has reached the monthly budget (provider=\"all\" is the total). "
                      "Told once a day while it holds: a spent budget is not fixed at 3 am; RunawaySpend pages a leak.",
          value_format=ValueFormat.RATIO, dashboard=COSTS, tier="cost", cadence="daily",
          dashboard_vars={"provider": "provider"}),
    Alert(name="MonthEndForecastOverBudget", group="cost", for_="1h", severity=Severity.WARNING,
          expr=f"{FORECAST_RATIO}\n> 1",
          summary="{label:provider} is forecast to spend {value} of its monthly budget by month end",
          description="The month-end forecast (docs/monitoring-guide.md, Forecast) is above the monthly budget.",
          value_format=ValueFormat.RATIO, dashboard=COSTS, tier="cost", cadence="daily",
          dashboard_vars={"provider": "provider"}),
    Alert(name="DailySpendOverBudget", group="cost", for_="10m", severity=Severity.WARNING,
          expr=DAILY_OVER_BUDGET,
          summary="{label:provider} has spent {value} today, above its daily budget",
          description="Today's cost (UTC day so far) is above the daily budget (provider=\"all\" is the total).",
          value_format=ValueFormat.USD, dashboard=COSTS, tier="cost", cadence="daily",
          dashboard_vars={"provider": "provider"}),
    *escalating(
        name="RunawaySpend", group="cost-rate", expr=RUNAWAY_SPEND, for_steps=("15m", "45m"),
        summary="{label:provider} spends {value} an hour, far above its usual rate",
        description="The spend rate over the last 30 min is above spend_anomaly_factor x the provider's average "
                    "hourly spend this month and above runaway_spend_floor_hourly_usd: a leaked key, a loop, "
                    "an unbounded job. The rate over the last 10 min must be as high (a one-off lump of cost "
                    "leaves that window before the 15 min pass). A warning after 15 min; a page when it lasts "
                    "45 min. Muted for 30 min after a failed poll of the provider: the cost an outage held "
                    "back lands at once.",
        value_format=ValueFormat.USD, dashboard=COSTS, tier="cost", dashboard_vars={"provider": "provider"}),
    Alert(name="UnpricedUsageSeen", group="cost", for_="0s", severity=Severity.WARNING,
          # An unpriced item is unknown until usage of it arrives, so its counter series is born at
          # its first value: a series that is new within the window counts as a rise.
          expr=("sum by (provider, item) (increase(stackwatch_cost_unpriced_items_total[${unpriced}])) > 0\n"
                "or\nsum by (provider, item) (stackwatch_cost_unpriced_items_total)\n"
                "  unless sum by (provider, item) (stackwatch_cost_unpriced_items_total offset ${unpriced})"),
          summary="{label:provider} reported {value} usage items of {label:item} that stackwatch cannot price",
          description="An unknown model or plan: its cost is missing from every cost figure until a price is added.",
          value_format=ValueFormat.COUNT, dashboard=COSTS, tier="cost", dashboard_vars={"provider": "provider"}),
    # --- stackwatch's own health ---
    Alert(name="ProviderApiDown", group="collection", for_="5m", severity=Severity.WARNING,
          expr="max by (provider) (stackwatch_provider_up) == 0",
          summary="stackwatch cannot poll {label:provider} (stackwatch_provider_up = {value} for the whole pending period)",
          description="stackwatch_provider_up is 0: the latest poll of at least one stream failed. "
                      "The provider's other stackwatch alerts are held back meanwhile (their data is stale).",
          value_format=ValueFormat.COUNT, dashboard=SELF, tier="collection", dashboard_vars={"provider": "provider"}),
    Alert(name="ProviderDataStale", group="collection", for_="5m", severity=Severity.WARNING,
          expr=("time() - max by (provider) (stackwatch_provider_last_success_timestamp_seconds)\n"
                f"  > {threshold('data_staleness_seconds')}"),
          summary="{label:provider} data is {value} old",
          description="No fully successful poll cycle for longer than the data-staleness threshold: figures are stale.",
          value_format=ValueFormat.SECONDS, dashboard=SELF, tier="collection", dashboard_vars={"provider": "provider"}),
    Alert(name="RateLimitHeadroomLow", group="collection", for_="5m", severity=Severity.WARNING,
          # The gauge holds the latest response's headers: within one poll it swings between an
          # exhausted window and a fresh one, so the lowest point over the window is what matters.
          expr=("min by (provider) (min_over_time(stackwatch_provider_ratelimit_remaining_ratio[${rate}]))\n"
                f"  < {threshold('ratelimit_headroom_ratio')}"),
          summary="{label:provider} rate-limit headroom fell to {value}",
          description="The lowest remaining / limit in the provider's rate-limit headers over the window is below the headroom threshold.",
          value_format=ValueFormat.RATIO, dashboard=SELF, tier="collection", dashboard_vars={"provider": "provider"}),
    Alert(name="CollectorExportFailing", group="collection", for_="5m", severity=Severity.CRITICAL,
          expr="sum by (exporter) (rate(otelcol_exporter_send_failed_metric_points[${rate}])) > 0",
          summary="The collector's exporter {label:exporter} fails to send {value} points/s",
          description="otel-collector cannot deliver metrics: dashboards and alerts go blind while its queue fills.",
          value_format=ValueFormat.COUNT, dashboard=SELF, tier="collection", provider="otel-collector",
          source=Source.COLLECTOR),
    Alert(name="DrainRejectionsSpiking", group="collection", for_="5m", severity=Severity.WARNING,
          expr="sum by (drain, reason) (increase(stackwatch_drain_rejected_total[${drain}])) > 10",
          summary="{value} Vercel {label:drain} drain deliveries rejected ({label:reason})",
          description="More than 10 drain deliveries rejected in the drain window: signature, size or format problem.",
          value_format=ValueFormat.COUNT, dashboard=VERCEL, tier="collection", provider="vercel"),
    Alert(name="StackwatchAbsent", group="collection", for_="5m", severity=Severity.CRITICAL,
          expr=('(up{job="stackwatch"} == 0)\n'
                "or on ()\nabsent_over_time(stackwatch_provider_up[${absent}])"),
          summary="stackwatch is not reporting (value {value})",
          description="stackwatch's self-scrape is down or none of its OTLP metrics arrived in the absent window: "
                      "every alert on its data is blind (and held back).",
          value_format=ValueFormat.COUNT, dashboard=SELF, tier="collection", provider="stackwatch",
          source=Source.PROMETHEUS),
    # --- Supabase authentication (issue 19: sign-in, sign-up and token-refresh outcomes from the auth logs) ---
    Alert(name="SupabaseAuthFailuresHigh", group="authentication", for_="10m", severity=Severity.WARNING,
          expr=AUTH_FAILURES,
          summary="{value} of Supabase project {label:project}'s sign-ins, sign-ups and token refreshes fail",
          description=f"More than {AUTH_FAILURE_RATIO:.0%} of the project's authentication attempts failed over the "
                      f"auth window, with at least {AUTH_MIN_ATTEMPTS} attempts: credential stuffing, a broken "
                      "sign-in flow or auth configuration, or an expired refresh-token rotation.",
          value_format=ValueFormat.RATIO, dashboard=SUPABASE, tier="database", provider="supabase",
          dashboard_vars={"project": "project"}),
    # --- dead sources and the alert path itself ---
    Alert(name="ScrapeTargetDown", group="dead-sources", for_="10m", severity=Severity.WARNING,
          expr=f'(up{{job!="stackwatch"}} == 0)\nunless on (project) {INACTIVE_PROJECTS}',
          summary="Prometheus cannot scrape {label:job} target {label:instance}",
          description="The scrape fails (target down, refused, timing out, or answering an error): every alert "
                      "on what it serves is blind. stackwatch's own target is StackwatchAbsent; a paused "
                      "Supabase project's endpoint is expected to fail.",
          value_format=ValueFormat.COUNT, dashboard=SELF, tier="", source=Source.PROMETHEUS),
    *input_absent_alerts(),
    Alert(name="AlertDeliveryFailing", group="dead-sources", for_="10m", severity=Severity.WARNING,
          expr="sum by (integration, receiver_name) (rate(alertmanager_notifications_failed_total[${rate}])) > 0",
          summary="Alertmanager fails to deliver notifications to {label:receiver_name} ({label:integration})",
          description="A channel's webhook, key or mail server refuses Alertmanager's notifications: alerts routed "
                      "there reach nobody. `stackwatch alerts test --receiver <name>` shows the reason.",
          value_format=ValueFormat.COUNT, dashboard=SELF, tier="", source=Source.ALERTMANAGER),
    Alert(name="Watchdog", group="dead-sources", expr="vector(1)", for_="0s", severity=Severity.NONE,
          summary="The alert path is alive: Prometheus evaluates rules and Alertmanager delivers",
          description="Always fires. Routed only to the heartbeat receiver (a dead-man's switch such as "
                      "healthchecks.io or a PagerDuty/Opsgenie heartbeat), which pages when it stops arriving.",
          value_format=ValueFormat.COUNT, dashboard=SELF, tier="", source=Source.PROMETHEUS),
)


def alert_names() -> list[str]:
    return sorted({a.name for a in ALERTS})
