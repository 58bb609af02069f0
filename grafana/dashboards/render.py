"""Render: services' traffic, latency, resources, instances and deploys; datastores."""

from __future__ import annotations

from .common import (
    COSTS,
    ENV,
    ENVIRONMENT,
    RENDER,
    Board,
    Panel,
    Query,
    Row,
    project_variable,
)
from .deploys import render_deploys, vercel_deploys
from .recordings import RENDER_REQUESTS, RENDER_REQUESTS_5XX, RENDER_REQUESTS_ALL

SEL = f'{ENV}, service=~"$service"'
RATE = "$__rate_interval"


def threshold(metric: str, selector: str = "") -> Query:
    extra = f", {selector}" if selector else ""
    return Query(f"max({metric}{{{ENV}{extra}}})", "threshold", threshold=True)


def board() -> Board:
    http = Row("HTTP", [
        Panel("timeseries", "Requests by status class", "Requests per second served by the selected services, "
              "by status class (5-minute rates, recorded per service). A sudden drop: the service is down or "
              "suspended (see Instances).",
              (Query(f"sum by (status_class) ({RENDER_REQUESTS.record}{{{SEL}}})", "{{status_class}}",
                     recordings=(RENDER_REQUESTS,)),),
              unit="reqps", width=8, height=8, stack=True, interval="5m"),
        Panel("timeseries", "Error rate by service", "Share of 5xx responses per service (5-minute rates, "
              "recorded per service; the ten highest at each step) against the error-rate threshold. Above it: "
              "read the service's logs in Render; roll back a bad deploy.",
              # `or … * 0`: a service that never served a 5xx has no 5xx series; it shows 0, not nothing.
              (Query(f"topk(10, (sum by (service) ({RENDER_REQUESTS_5XX.record}{{{SEL}}}) or "
                     f"sum by (service) ({RENDER_REQUESTS_ALL.record}{{{SEL}}}) * 0) / "
                     f"sum by (service) ({RENDER_REQUESTS_ALL.record}{{{SEL}}}))", "{{service}}",
                     recordings=(RENDER_REQUESTS_5XX, RENDER_REQUESTS_ALL)),
               threshold("stackwatch_threshold_error_rate_ratio")),
              unit="percentunit", width=8, height=8, interval="5m"),
        Panel("timeseries", "p95 latency by service", "95th percentile HTTP response time per service "
              "(Render's metrics API; the ten slowest at each step) against the backend response-time threshold. Above it: check CPU, "
              "memory and instance count below, then the database.",
              (Query(f"topk(10, max by (service) (render_service_http_latency_seconds{{{SEL}, quantile=\"0.95\"}}))",
                     "{{service}}"),
               threshold("stackwatch_threshold_response_time_seconds", 'tier="backend"')),
              unit="s", width=8, height=8),
    ])
    resources = Row("Resources", [
        Panel("timeseries", "CPU utilisation", "CPU used / limit per service (the ten highest at each step) against the CPU threshold. "
              "Sustained above it: scale up the plan or out the instances.",
              (Query(f"topk(10, max by (service) (render_service_cpu_utilization_ratio{{{SEL}}}))", "{{service}}"),
               threshold("stackwatch_threshold_cpu_utilization_ratio")),
              unit="percentunit", width=8, height=8),
        Panel("timeseries", "Memory utilisation", "Memory used / limit per service (the ten highest at each step) against the memory "
              "threshold. Climbing steadily: a leak; near 100 % the service is OOM-killed.",
              (Query(f"topk(10, max by (service) (render_service_memory_utilization_ratio{{{SEL}}}))", "{{service}}"),
               threshold("stackwatch_threshold_memory_utilization_ratio")),
              unit="percentunit", width=8, height=8),
        Panel("timeseries", "Instances and autoscaling bounds", "Running instances per service with the "
              "autoscaling maximum (services with autoscaling; 5-minute points). At the maximum for long: raise it or the plan.",
              (Query(f"sum by (service) (render_service_instances{{{SEL}}})", "{{service}}"),
               Query(f"max by (service) (render_service_autoscaling_max_instances{{{SEL}}})", "max {{service}}")),
              unit="short", width=8, height=8, interval="5m"),
        Panel("timeseries", "Bandwidth", "Outbound bytes per second per service (the ten highest at each step; billed beyond the plan's "
              "allowance). A spike: a crawler or a large asset served from the origin.",
              (Query(f"topk(10, sum by (service) (rate(render_service_bandwidth_bytes_total{{{SEL}}}[{RATE}])))",
                     "{{service}}"),),
              unit="Bps", width=8, height=8, links=(COSTS,)),
        Panel("table", "Services", "Every service with its type, plan and region, and whether it is "
              "suspended (1). A suspended service serves nothing: check billing or who suspended it.",
              (Query(f"max by (service, type, plan, region) (render_service_info{{{SEL}}}) * on (service) "
                     f"group_left () max by (service) (render_service_suspended{{{SEL}}})", "",
                     instant=True, table=True),),
              unit="none", width=8, height=8),
        Panel("timeseries", "Datastore connections", "Active connections of each Render Postgres / Key Value "
              "instance. Near the plan's limit: add pooling or upgrade.",
              (Query(f"sum by (datastore, type) (render_datastore_connections{{{ENV}}})", "{{datastore}}"),),
              unit="short", width=8, height=8),
    ])
    deploys = Row("Deploys", [
        Panel("timeseries", "Deploys by status", "Deploys reaching a final status per hour. build_failed or "
              "update_failed: open the deploy's log in Render.",
              (Query(f"sum by (status) (increase(render_deploys_total{{{SEL}}}[1h]))", "{{status}}"),),
              unit="short", width=12, height=8, bars=True, stack=True, interval="1h"),
        # One figure per service over the whole range (an instant query): bars, not a time series.
        Panel("bargauge", "Deploy duration (p95)", "95th percentile duration of final deploys per service "
              "over the range. Growing: slow builds or health checks; check the build cache.",
              (Query(f"histogram_quantile(0.95, sum by (service) (rate(render_deploy_duration_seconds{{{SEL}}}"
                     f"[$__range])))", "{{service}}", instant=True, history=True),),
              unit="s", width=12, height=8),
    ])
    return Board(RENDER.uid, "stackwatch · Render",
                 "Render services' traffic, errors, latency, CPU, memory, instances, bandwidth and deploys; "
                 "datastore connections.",
                 "now-24h", [http, resources, deploys],
                 (ENVIRONMENT, project_variable("render_service_info", "service", "Service")),
                 annotations=(render_deploys(SEL), vercel_deploys(f'{ENV}, target="production"')))
