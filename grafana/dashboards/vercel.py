"""Vercel: traffic and errors from log drains, web vitals, deployments and functions."""

from __future__ import annotations

from .common import (
    COSTS,
    ENV,
    ENVIRONMENT,
    OVERVIEW,
    VERCEL,
    Board,
    Panel,
    Query,
    Row,
    project_variable,
)
from .deploys import render_deploys, vercel_deploys
from .recordings import (
    VERCEL_CACHE_ALL,
    VERCEL_CACHE_HITS,
    VERCEL_CLS_P75,
    VERCEL_CRASHES,
    VERCEL_DEPLOYMENTS,
    VERCEL_FUNCTION_P95,
    VERCEL_REQUESTS,
    VERCEL_REQUESTS_5XX,
    VERCEL_REQUESTS_ALL,
    VERCEL_WEB_VITALS_P75,
)

SEL = f'{ENV}, project=~"$project"'
# web.dev's Core Web Vitals thresholds (https://web.dev/articles/vitals and each metric's page): at the
# 75th percentile of page loads, "good" up to the first value, "poor" above the second.
WEB_VITALS = (
    ("LCP", "largest contentful paint", 2.5, 4.0),
    ("INP", "interaction to next paint", 0.2, 0.5),
    ("FCP", "first contentful paint", 1.8, 3.0),
    ("TTFB", "time to first byte", 0.8, 1.8),
)
CLS_GOOD, CLS_POOR = 0.1, 0.25


def vital_panel(metric: str, name: str, good: float, poor: float) -> Panel:
    return Panel(
        "timeseries", f"p75 {metric}", f"The slowest selected project's 75th percentile {name} ({metric}; Speed "
        f"Insights drain; p75 per project over 5 minutes, recorded; the highest shown). web.dev's marks "
        f"(dashed): good up to {good:g} s, poor above {poor:g} s. Above good: look at the slowest projects "
        "and at recent deployments.",
        (Query(f"max by (metric) ({VERCEL_WEB_VITALS_P75.record}{{{SEL}, metric=\"{metric}\"}})", "{{metric}}",
               recordings=(VERCEL_WEB_VITALS_P75,)),),
        unit="s", width=6, height=8, interval="5m", better="lower",
        steps=(("green", None), ("orange", good), ("red", poor)))


def board() -> Board:
    traffic = Row("Traffic, errors and functions (log and trace drains)", [
        Panel("timeseries", "Requests by status class", "Requests per second seen in log drains, by HTTP "
              "status class (5-minute rate, recorded per project). A drop to zero: the drain stopped (see "
              "'stackwatch itself', drain rejected) or the site is down.",
              (Query(f"sum by (status_class) ({VERCEL_REQUESTS.record}{{{SEL}}})", "{{status_class}}",
                     recordings=(VERCEL_REQUESTS,)),),
              unit="reqps", width=12, height=8, stack=True, interval="5m"),
        Panel("timeseries", "Error rate by project", "Share of 5xx responses per project (5-minute rates; "
              "the ten highest at each step), against the error-rate threshold (dashed, from config). Above "
              "it: open the project's deployments and function logs in Vercel; roll back a bad deployment.",
              # `or … * 0`: a project that never served a 5xx has no 5xx series; it shows 0, not nothing.
              (Query(f"topk(10, (sum by (project) ({VERCEL_REQUESTS_5XX.record}{{{SEL}}}) or "
                     f"sum by (project) ({VERCEL_REQUESTS_ALL.record}{{{SEL}}}) * 0) / "
                     f"sum by (project) ({VERCEL_REQUESTS_ALL.record}{{{SEL}}}))", "{{project}}",
                     recordings=(VERCEL_REQUESTS_5XX, VERCEL_REQUESTS_ALL)),
               Query(f"max(stackwatch_threshold_error_rate_ratio{{{ENV}}})", "threshold", threshold=True)),
              unit="percentunit", width=12, height=8, links=(OVERVIEW,), interval="5m"),
        Panel("timeseries", "Cache hit ratio", "Share of requests served from Vercel's cache per project "
              "(5-minute rates; the ten lowest at each step). A sudden drop: a deployment changed cache "
              "headers; origin cost and latency rise.",
              (Query(f"bottomk(10, sum by (project) ({VERCEL_CACHE_HITS.record}{{{SEL}}}) / "
                     f"sum by (project) ({VERCEL_CACHE_ALL.record}{{{SEL}}}))", "{{project}}",
                     recordings=(VERCEL_CACHE_HITS, VERCEL_CACHE_ALL)),),
              unit="percentunit", width=12, height=8, interval="5m"),
        Panel("timeseries", "Function crashes", "Function invocations that crashed (drain statusCode -1) per "
              "minute (the ten projects with most at each step). Any: read the function's logs; a crash loop after a deploy means roll back.",
              (Query(f"topk(10, sum by (project) ({VERCEL_CRASHES.record}{{{SEL}}}) * 60)",
                     "{{project}}", scenario="error-burst", recordings=(VERCEL_CRASHES,)),),
              unit="short", width=12, height=8, interval="5m", no_value="No crashes"),
        Panel("timeseries", "Function execution time (p95) by route", "95th percentile execution time of "
              "Vercel Functions per route (trace drains: each server span's end − start), the slowest selected "
              "project's at each step; the routes a project adds beyond the first few seen count as `other`. "
              "Rising after a deploy: the new code; everywhere at once: a slow dependency.",
              (Query(f"topk(10, max by (route) ({VERCEL_FUNCTION_P95.record}{{{SEL}}}))", "{{route}}",
                     recordings=(VERCEL_FUNCTION_P95,)),),
              unit="s", width=12, height=8, interval="5m"),
        Panel("timeseries", "Function invocations by route", "Function invocations per minute per route "
              "(server spans in trace drains), the ten busiest.",
              (Query(f"topk(10, sum by (route) (histogram_count(rate(vercel_function_duration_seconds{{{SEL}}}"
                     "[$__rate_interval])))) * 60", "{{route}}"),),
              unit="short", width=12, height=8, interval="5m"),
    ])
    vitals = Row("Web vitals (Speed Insights)", [
        *(vital_panel(*vital) for vital in WEB_VITALS),
        Panel("table", "Slowest projects (p75 LCP)", "Projects by their p75 largest contentful paint averaged "
              "over the range (the mean of each project's recorded 5-minute p75s, not the p75 of all the range's "
              "page loads; web vitals carry no route label: bounded cardinality). Start optimising at the top; "
              "Vercel's Speed Insights page breaks a project down by route.",
              # The recorded p75s instead of one p75 over the range's raw native histograms: that read
              # 5.4 M samples at large scale (88 ms p50 on a quiet machine, over the 100 ms target under load).
              (Query(f"topk(10, max by (project) (avg_over_time({VERCEL_WEB_VITALS_P75.record}"
                     f"{{{SEL}, metric=\"LCP\"}}[$__range])))", "", instant=True, table=True,
                     recordings=(VERCEL_WEB_VITALS_P75,)),),
              unit="s", width=12, height=8),
        Panel("timeseries", "p75 CLS", "75th percentile cumulative layout shift by project (over 5 minutes, "
              "recorded; the ten highest at each step). web.dev's marks (dashed): good up to 0.1, poor above "
              "0.25. Above good: look for images or ads without reserved space.",
              (Query(f"topk(10, max by (project) ({VERCEL_CLS_P75.record}{{{SEL}}}))", "{{project}}",
                     recordings=(VERCEL_CLS_P75,)),),
              unit="none", decimals=3, width=12, height=8, better="lower",
              steps=(("green", None), ("orange", CLS_GOOD), ("red", CLS_POOR)), interval="5m"),
    ])
    deploys = Row("Deployments", [
        Panel("timeseries", "Deployments by state", "Deployments reaching a final state per hour. ERROR: open "
              "the build log in Vercel.",
              # The latest recorded hourly increase within each 1-hour step: Grafana ceils the range's end to
              # the step, so the current hour's bar lies ahead of the 5-minute lookback of a plain selector.
              (Query(f"sum by (state) (last_over_time({VERCEL_DEPLOYMENTS.record}{{{SEL}}}[$__interval]))", "{{state}}",
                     recordings=(VERCEL_DEPLOYMENTS,)),),
              unit="short", width=8, height=8, bars=True, stack=True, interval="1h"),
        Panel("stat", "In progress", "Deployments queued, initializing or building as of the latest poll. "
              "Stuck for long: check Vercel's status page and the team's concurrency limit.",
              (Query(f"sum(vercel_deployments_in_progress{{{SEL}}}) or vector(0)", "in progress"),),
              unit="short", width=4, height=8),
        # One figure per query over the whole range (instant queries): bars, not a time series; a stat's
        # sparkline would re-read the whole range at every step.
        Panel("bargauge", "Build and queue time (p95)", "95th percentile build time and queue time of final "
              "deployments over the range. Builds slowing: check dependency caching; queueing: concurrency limit reached.",
              (Query(f"histogram_quantile(0.95, sum(rate(vercel_deployment_build_duration_seconds{{{SEL}}}"
                     f"[$__range])))", "build p95", instant=True, history=True),
               Query(f"histogram_quantile(0.95, sum(rate(vercel_deployment_queue_duration_seconds{{{SEL}}}"
                     f"[$__range])))", "queue p95", instant=True, history=True)),
              unit="s", width=8, height=8),
        Panel("stat", "Projects", "Projects in the Vercel team (latest poll).",
              (Query(f"max(vercel_projects{{{ENV}}})", "projects"),), unit="short", width=4, height=8,
              links=(COSTS,)),
    ])
    return Board(VERCEL.uid, "stackwatch · Vercel",
                 "Vercel traffic, errors and cache from log drains; web vitals from Speed Insights; deployments.",
                 "now-24h", [traffic, vitals, deploys],
                 (ENVIRONMENT, project_variable("vercel_requests_total")),
                 annotations=(vercel_deploys(SEL), render_deploys(ENV)))
