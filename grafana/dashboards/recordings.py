"""Recording rules the boards read: expensive inner expressions computed once per evaluation
by Prometheus instead of at every step of every panel refresh (issue #7's latency target).

Each keeps the labels a panel filters or groups by; the panel's query aggregates the recorded
series further and applies the template variables. `python -m grafana.generate` writes those
the boards use to prometheus/rules/dashboards.rules.yaml.

Only float-valued results: Prometheus records a native-histogram result live, but promtool 3.15's
`tsdb create-blocks-from rules` wrote no samples for one (the web vitals' recorded rate: the
benchmark's backfilled panel came back empty), so a recorded histogram could not be backfilled
after a rule change and its panels would start empty. The web vitals record the p75 itself, a float
per project and metric (a float classic-histogram equivalent, one series per bucket bound, was
measured slower than the raw query: 15 float series per native histogram; docs/benchmarks.md,
Dashboards).
"""

from __future__ import annotations

from .common import Recording

# The default group: the per-provider cost sums read by the 6-hour Overview (30-second steps) and
# every other recording a panel draws at steps under 5 minutes.
INTERVAL = "1m"
# Every group evaluates over data this old (Prometheus' per-group `query_offset`): samples arrive over
# OTLP a few seconds after their timestamps (stackwatch's export, the collector's 1-second batch, its
# retries), and an evaluation at the newest instant would record a value missing them for good. The
# native-stack test caught it: a recorded 1-hour token rate 0.002 % below its source expression
# evaluated later at the same instant, every minute.
QUERY_OFFSET = "30s"
# Recordings read by 7- and 30-day boards, by the 24-hour panels drawn at a 5-minute step, and by
# hourly bars: sampled every 3 minutes. A series sampled each minute costs three times the decoding
# over such ranges for no point the panel draws (each step of 5 minutes or more still finds a sample
# within Prometheus' 5-minute lookback). What this changes: a value is up to 3 minutes old at a step.
# The Vercel board's 5-minute rates are drawn at 5-minute steps (the panels' min interval): one
# recorded sample per rate window is all such a step can show.
SLOW = "3m"
# 1-hour rates drawn as hourly points over 7 and 30 days: four samples per point are enough, and
# the panels pick the latest within each step (`last_over_time(…[$__interval])` with a 1-hour min
# interval), since the 5-minute lookback of a plain selector would miss a sample 15 minutes apart.
# Over 7 days at 3 minutes, Tokens per request decoded 2.0 M samples (178 ms p95 at large scale).
# tests/dashboards/test_recording_rules.py checks every panel reading such a series does this.
HOURLY_POINTS = "15m"

COST_TODAY = Recording(
    "stackwatch:cost_today_usd:sum_by_provider",
    "sum by (deployment_environment, provider) (stackwatch_cost_today_usd)",
    "The anomaly view divides three per-provider sums at each of a 30-day range's 720 steps; the "
    "cost series are split by service, project, model and source (thousands at large scale).")
COST_MONTH_TO_DATE = Recording(
    "stackwatch:cost_month_to_date_usd:sum_by_provider",
    "sum by (deployment_environment, provider) (stackwatch_cost_month_to_date_usd)",
    "30-day month-to-date and anomaly panels sum thousands of cost series at every step.")
COST_FORECAST = Recording(
    "stackwatch:cost_forecast_month_end_usd:sum_by_provider",
    "sum by (deployment_environment, provider) (stackwatch_cost_forecast_month_end_usd)",
    "The 30-day month-to-date panel draws the forecast beside it, from as many series.")
VERCEL_REQUESTS = Recording(
    "stackwatch:vercel_requests:rate5m",
    "sum by (deployment_environment, project, status_class) (rate(vercel_requests_total[5m]))",
    "The error-rate panel rates every Vercel request series twice at each step of 24 hours.",
    interval=SLOW)
OPENAI_TOKENS = Recording(
    "stackwatch:gen_ai_client_token_usage:sum_rate1h",
    "sum by (deployment_environment, gen_ai_request_model, gen_ai_token_type) "
    "(histogram_sum(rate(gen_ai_client_token_usage[1h])))",
    "Tokens per hour over 30 days: rate() of every model × project × type native histogram at each "
    "1-hour step; one hour is the panel's own unit, so the window is the meaning.",
    interval=HOURLY_POINTS)

# --- Vercel (24 h board, 120 s step, $__rate_interval 135 s) ---
# The 5-minute window is the rule's rate window where the panels used $__rate_interval: wider than
# the 24-hour board's 135 s, so the recorded lines are a little smoother (a one-minute spike is
# averaged over five). Each keeps `project`, so the $project variable still filters.
VERCEL_REQUESTS_5XX = Recording(
    "stackwatch:vercel_requests_5xx:rate5m",
    "sum by (deployment_environment, project) (rate(vercel_requests_total{status_class=\"5xx\"}[5m]))",
    "The error rate by project read the project × status-class rate twice at every step (1,600 series "
    "at large scale); the 5xx and total rates per project are 400.",
    interval=SLOW)
VERCEL_REQUESTS_ALL = Recording(
    "stackwatch:vercel_requests_all:rate5m",
    "sum by (deployment_environment, project) (rate(vercel_requests_total[5m]))",
    "The error rate's denominator per project (see the 5xx rate).",
    interval=SLOW)
VERCEL_CACHE_HITS = Recording(
    "stackwatch:vercel_cache_requests_hit:rate5m",
    "sum by (deployment_environment, project) (rate(vercel_cache_requests_total{cache=\"HIT\"}[5m]))",
    "The cache hit ratio rated every project × cache-status series twice at each step of 24 hours.",
    interval=SLOW)
VERCEL_CACHE_ALL = Recording(
    "stackwatch:vercel_cache_requests_all:rate5m",
    "sum by (deployment_environment, project) (rate(vercel_cache_requests_total[5m]))",
    "The cache hit ratio's denominator per project (see the hit rate).",
    interval=SLOW)
VERCEL_CRASHES = Recording(
    "stackwatch:vercel_function_crashes:rate5m",
    "sum by (deployment_environment, project) (rate(vercel_function_crashes_total[5m]))",
    "Function crashes per project: a recorded float read instead of a rate over a counter at each step.",
    interval=SLOW)
# Web vitals: promtool cannot backfill a recorded native histogram (module docstring), so the
# quantile itself is recorded, per project and metric, as a float. The panels then combine
# per-project p75s (max across the selected projects) instead of taking the p75 of the pooled
# observations: a different statistic, stated in the panels' descriptions.
VERCEL_WEB_VITALS_P75 = Recording(
    "stackwatch:vercel_web_vital_duration_seconds:p75_rate5m",
    "histogram_quantile(0.75, sum by (deployment_environment, project, metric) "
    "(rate(vercel_web_vital_duration_seconds[5m])))",
    "histogram_quantile over 1,000 native histograms at each of 720 steps was the slowest query of every "
    "board (1.3 s p95 at large scale); the recorded p75 per project and metric is a float series.",
    interval=SLOW)
VERCEL_CLS_P75 = Recording(
    "stackwatch:vercel_web_vital_cls:p75_rate5m",
    "histogram_quantile(0.75, sum by (deployment_environment, project) (rate(vercel_web_vital_cls[5m])))",
    "p75 CLS per project: histogram_quantile over 200 native histograms at each step (0.8 s p95 at "
    "large scale).",
    interval=SLOW)
# Function execution time (trace drains): the p95 per project and route, recorded as a float for
# the same reasons as the web vitals' p75 (a native histogram per project and route).
VERCEL_FUNCTION_P95 = Recording(
    "stackwatch:vercel_function_duration_seconds:p95_rate5m",
    "histogram_quantile(0.95, sum by (deployment_environment, project, route) "
    "(rate(vercel_function_duration_seconds[5m])))",
    "histogram_quantile over up to 9 native histograms per project (8 routes and other) at each step; "
    "the recorded p95 per project and route is a float series.",
    interval=SLOW)

# --- AI services (7-day board, 1,200 s step, $__rate_interval 1,215 s) ---
# One hour is the panels' own unit (tokens per hour), as for OPENAI_TOKENS: a 1-hour rate is
# "tokens in the last hour", smoother than the 7-day board's 20-minute $__rate_interval.
OPENAI_TOKENS_BY_PROJECT = Recording(
    "stackwatch:gen_ai_client_token_usage:sum_rate1h_by_project",
    "sum by (deployment_environment, project, gen_ai_token_type) "
    "(histogram_sum(rate(gen_ai_client_token_usage[1h])))",
    "Tokens per hour by type rated every model × project × type native histogram (600 at large scale) at "
    "each step of 7 days; per project and type they are 20 float series, and $project still filters.",
    interval=SLOW)
OPENAI_CACHED_TOKENS = Recording(
    "stackwatch:openai_usage_cached_input_tokens:rate1h",
    "sum by (deployment_environment, project) (rate(openai_usage_cached_input_tokens_total[1h]))",
    "Cached input tokens beside the token types: 300 model × project counters per step, 10 series recorded.",
    interval=SLOW)

# --- Recordings added for the large-scale latency target (docs/dashboards.md, Large scale) ---
COST_MONTH_TO_DATE_BY_MODEL = Recording(
    "stackwatch:cost_month_to_date_usd:sum_by_model",
    "sum by (deployment_environment, provider, model) (stackwatch_cost_month_to_date_usd{provider=\"openai\"})",
    "OpenAI cost by model over 30 days read 300 model × project cost gauges at each of 720 steps (311 ms p95 "
    "at large scale); per model they are 30 series.",
    interval=SLOW)
COST_TODAY_BY_PROJECT_MODEL = Recording(
    "stackwatch:cost_today_usd:sum_by_project_model",
    "sum by (deployment_environment, provider, project, model) (stackwatch_cost_today_usd{provider=\"openai\"})",
    "Today's OpenAI cost by model on the 7-day AI board, sampled every 3 minutes instead of at every poll of "
    "300 cost series; keeps `project` so $project still filters.",
    interval=SLOW)
OPENAI_TOKENS_BY_PROJECT_MODEL = Recording(
    "stackwatch:gen_ai_client_token_usage:sum_rate1h_by_project_model",
    "sum by (deployment_environment, project, gen_ai_request_model) "
    "(histogram_sum(rate(gen_ai_client_token_usage[1h])))",
    "Tokens per request rated 600 token native histograms over 7 days at every step (479 ms p95 at large "
    "scale, the slowest query); per project and model, all token types, they are 300 float series.",
    interval=HOURLY_POINTS)
OPENAI_REQUESTS_BY_PROJECT_MODEL = Recording(
    "stackwatch:openai_usage_requests:rate1h_by_project_model",
    "sum by (deployment_environment, project, model) (rate(openai_usage_requests_total[1h]))",
    "Tokens per request's denominator: requests per second per project and model over the same hour.",
    interval=HOURLY_POINTS)
VERCEL_DEPLOYMENTS = Recording(
    "stackwatch:vercel_deployments:increase1h",
    "sum by (deployment_environment, project, state) (increase(vercel_deployments_total[1h]))",
    "Deployments by state increased 1,200 project × state counters over each hour of 24 (171 ms p95 at "
    "large scale); the recorded hourly increase is read as is.",
    interval=SLOW)
RENDER_REQUESTS_5XX = Recording(
    "stackwatch:render_service_http_requests_5xx:rate5m",
    "sum by (deployment_environment, service) "
    "(rate(render_service_http_requests_total{status_class=\"5xx\"}[5m]))",
    "Render's error rate by service rated 400 service × status-class counters twice at each step of 24 "
    "hours (169 ms p95 at large scale); per service the 5xx and total rates are 100 series each.",
    interval=SLOW)
RENDER_REQUESTS = Recording(
    "stackwatch:render_service_http_requests:rate5m",
    "sum by (deployment_environment, service, status_class) (rate(render_service_http_requests_total[5m]))",
    "Requests by status class rated 400 service × status-class counters at each step of 24 hours (69–73 ms "
    "p50 at large scale, over 100 ms p95 in one quiet run); recorded every 3 minutes, drawn at 5-minute steps.",
    interval=SLOW)
OPENAI_REQUESTS_BY_OPERATION = Recording(
    "stackwatch:openai_usage_requests:rate1h_by_operation",
    "sum by (deployment_environment, project, operation, batch) (rate(openai_usage_requests_total[1h]))",
    "Requests per hour by operation rated every project × model × operation × batch counter over 7 days at "
    "each 20-minute step (627,000 samples, 60–63 ms p50 at large scale); an hour is the panel's unit, as for "
    "tokens per hour beside it.",
    interval=SLOW)
RENDER_REQUESTS_ALL = Recording(
    "stackwatch:render_service_http_requests_all:rate5m",
    "sum by (deployment_environment, service) (rate(render_service_http_requests_total[5m]))",
    "The error rate's denominator per service (see the 5xx rate); also the requests served in cost per "
    "unit of work.",
    interval=SLOW)

# --- Overview and Probes & SLOs: availability over the SLO's long windows ---
# The availability objective is a 30-day one, and the slow burn-rate rule's long window is 3 days:
# avg_over_time over those windows at every step of a 6-hour or 24-hour board would read the whole
# window again per step. Recorded per tier every 15 minutes (a 30-day share moves by at most 0.035 %
# of the window in 15 minutes); the panels take the latest within each step (min interval 15 m).
# Scraped series (blackbox): no deployment_environment label to keep.
PROBE_AVAILABILITY_30D = Recording(
    "stackwatch:probe_success:avg_over_time30d",
    'avg by (tier) (avg_over_time(probe_success{job="blackbox"}[30d]))',
    "The 30-day error budget per tier: avg_over_time over 30 days of every probe at each step of the Overview "
    "and Probes & SLOs (a 6-hour board steps every 30 s) would read 30 days again per step.",
    interval=HOURLY_POINTS)
PROBE_AVAILABILITY_3D = Recording(
    "stackwatch:probe_success:avg_over_time3d",
    'avg by (tier) (avg_over_time(probe_success{job="blackbox"}[3d]))',
    "The slow burn rate's long window (3 days, the ticket rule's): 3 days of every probe per step of 24 hours.",
    interval=HOURLY_POINTS)

# --- Costs: requests served per provider (cost per unit of work) ---
REQUESTS_BY_PROVIDER = Recording(
    "stackwatch:requests_served:rate5m_by_provider",
    'label_replace(sum by (deployment_environment) (rate(vercel_requests_total[5m])), "provider", "vercel", "", "")'
    ' or label_replace(sum by (deployment_environment) (rate(render_service_http_requests_total[5m])), '
    '"provider", "render", "", "")',
    "Cost per unit of work draws a sparkline of a day's requests: summing a day of the per-project rates "
    "(400 series at large scale) at every step; per provider they are two series.",
    interval=SLOW)

# --- Deploy markers (annotations on six boards) ---
# changes() over every deploy counter at each step of a 24-hour board (1,200 Vercel project × target × state
# counters at large scale) for events that happen a few times a day per project. Recorded every 3 minutes
# over 3-minute windows, which tile (each final deploy lands in one), and only where a deploy happened
# (`> 0`): a marker reads a handful of samples a day instead of a zero per counter per evaluation (those
# zeros cost 150 ms at large scale). The annotations take the largest within each 5-minute step.
VERCEL_DEPLOY_CHANGES = Recording(
    "stackwatch:vercel_deployments:changes3m",
    "sum by (deployment_environment, project, target, state) (changes(vercel_deployments_total[3m])) > 0",
    "Vercel deploy markers read changes() of 1,200 deploy counters at every step of the boards' range.",
    interval=SLOW, scenario="deploy-failure")
RENDER_DEPLOY_CHANGES = Recording(
    "stackwatch:render_deploys:changes3m",
    "sum by (deployment_environment, service, status) (changes(render_deploys_total[3m])) > 0",
    "Render deploy markers read changes() of every service × status deploy counter at every step.",
    interval=SLOW, scenario="deploy-failure")
