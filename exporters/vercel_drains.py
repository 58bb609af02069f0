"""The Vercel drain receiver: log drains and Speed Insights drains.

STUB — to be implemented (see the helper brief). The metric catalogue below is final.
"""

from __future__ import annotations

from .catalogue import Kind, MetricSpec

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("vercel.requests", Kind.COUNTER, "{request}",
               "Requests seen in log drains, by project, source (edge, lambda, static, …), "
               "HTTP status class (2xx … 5xx) and cache status (HIT, MISS, …; `none` when absent).",
               ("project", "source", "status_class", "cache")),
    MetricSpec("vercel.function.crashes", Kind.COUNTER, "{crash}",
               "Function invocations that crashed (log drain statusCode -1).", ("project",)),
    MetricSpec("vercel.web_vital.duration", Kind.HISTOGRAM, "s",
               "Speed Insights timings (LCP, FCP, TTFB, INP, FID) by metric and route; p75 via "
               "histogram_quantile(0.75, …).", ("project", "metric", "route"),
               buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0)),
    MetricSpec("vercel.web_vital.cls", Kind.HISTOGRAM, "1",
               "Speed Insights cumulative layout shift by route.", ("project", "route"),
               buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0)),
    MetricSpec("stackwatch.drain.events", Kind.COUNTER, "{event}",
               "Drain events accepted, by drain (log, speed_insights).", ("drain",)),
    MetricSpec("stackwatch.drain.rejected", Kind.COUNTER, "{request}",
               "Drain deliveries rejected, by drain and reason (bad_signature, oversize, malformed, "
               "unconfigured).", ("drain", "reason")),
)
