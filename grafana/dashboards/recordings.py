"""Recording rules the boards read: expensive inner expressions computed once per evaluation
by Prometheus instead of at every step of every panel refresh (issue #7's latency target).

Each keeps the labels a panel filters or groups by; the panel's query aggregates the recorded
series further and applies the template variables. `python -m grafana.generate` writes those
the boards use to prometheus/rules/dashboards.rules.yaml.

Only float-valued results: Prometheus records a native-histogram result live, but promtool 3.15's
`tsdb create-blocks-from rules` wrote no samples for one (the web vitals' recorded rate: the
benchmark's backfilled panel came back empty), so a recorded histogram could not be backfilled
after a rule change and its panels would start empty. The web vitals keep their raw query: a float
classic-histogram equivalent per project (one series per bucket bound) was measured slower than the
raw query (15 float series per native histogram; docs/dashboards.md, Query performance).
"""

from __future__ import annotations

from .common import Recording

# Every evaluation of the dashboards' group (and the benchmark's backfill step): a recorded
# 5-minute rate sampled each minute is as fine as a 24-hour panel's 3-minute step needs.
INTERVAL = "1m"

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
    "The error-rate panel rates every Vercel request series twice at each step of 24 hours.")
OPENAI_TOKENS = Recording(
    "stackwatch:gen_ai_client_token_usage:sum_rate1h",
    "sum by (deployment_environment, gen_ai_request_model, gen_ai_token_type) "
    "(histogram_sum(rate(gen_ai_client_token_usage[1h])))",
    "Tokens per hour over 30 days: rate() of every model × project × type native histogram at each "
    "1-hour step; one hour is the panel's own unit, so the window is the meaning.")
