"""Render: services, deploys, the metrics API, and cost estimated from plan × instances × time.

STUB — to be implemented (see the helper brief). The metric catalogue below is final.
"""

from __future__ import annotations

from .catalogue import Kind, MetricSpec

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("render.service.info", Kind.GAUGE, "{service}",
               "1 per service, with its type, plan and region (join on `service`).",
               ("service", "type", "plan", "region")),
    MetricSpec("render.service.suspended", Kind.GAUGE, "{status}", "1 when the service is suspended.", ("service",)),
    MetricSpec("render.service.instances", Kind.GAUGE, "{instance}",
               "Running instances (metrics API instance-count; the configured numInstances when absent).",
               ("service",)),
    MetricSpec("render.service.autoscaling.min_instances", Kind.GAUGE, "{instance}",
               "Autoscaling lower bound (services with autoscaling only).", ("service",)),
    MetricSpec("render.service.autoscaling.max_instances", Kind.GAUGE, "{instance}",
               "Autoscaling upper bound (services with autoscaling only).", ("service",)),
    MetricSpec("render.deploys", Kind.COUNTER, "{deploy}",
               "Deploys that reached a final status, counted once each.", ("service", "status")),
    MetricSpec("render.deploy.duration", Kind.HISTOGRAM, "s",
               "Deploy duration of final deploys: finishedAt - startedAt (createdAt when not started).",
               ("service", "status"), buckets=(10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)),
    MetricSpec("render.service.cpu.utilization", Kind.GAUGE, "1",
               "CPU used / CPU limit, latest sample, mean over instances.", ("service",)),
    MetricSpec("render.service.memory.utilization", Kind.GAUGE, "1",
               "Memory used / memory limit, latest sample, mean over instances.", ("service",)),
    MetricSpec("render.service.memory.usage", Kind.GAUGE, "By", "Memory used, latest sample.", ("service",)),
    MetricSpec("render.service.http.requests", Kind.COUNTER, "{request}",
               "HTTP requests served, by status class (2xx … 5xx).", ("service", "status_class")),
    MetricSpec("render.service.http.latency", Kind.GAUGE, "s",
               "HTTP response time at a quantile (0.5, 0.95, 0.99), latest sample.", ("service", "quantile")),
    MetricSpec("render.service.bandwidth", Kind.COUNTER, "By", "Outbound bandwidth.", ("service",)),
    MetricSpec("render.datastore.connections", Kind.GAUGE, "{connection}",
               "Active connections of a Render Postgres or Key Value instance.", ("datastore", "type")),
)
