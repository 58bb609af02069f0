"""stackwatch itself: polls, provider APIs, drains, the collector and Prometheus' ingestion."""

from __future__ import annotations

from .common import ENV, ENVIRONMENT, OVERVIEW, PROVIDER, PROVIDER_VAR, SELF, Board, Panel, Query, Row

SEL = f"{ENV}, {PROVIDER}"
RATE = "$__rate_interval"


def board() -> Board:
    polls = Row("Polls", [
        Panel("timeseries", "Poll errors by reason", "Failed polls per minute by provider, stream and reason. "
              "auth: rotate the token; rate_limited: lengthen the poll interval; timeout/server_error: the "
              "provider is struggling (status page).",
              (Query(f"sum by (provider, stream, reason) (rate(stackwatch_provider_poll_errors_total{{{SEL}}}"
                     f"[{RATE}])) * 60", "{{provider}} {{stream}} {{reason}}", scenario="outage"),),
              unit="short", width=12, height=8, links=(OVERVIEW,), no_value="No poll errors"),
        Panel("timeseries", "Poll duration p95", "95th percentile wall time of one poll per provider and "
              "stream. Near the timeout: raise timeout_seconds or reduce the page size.",
              (Query(f"histogram_quantile(0.95, sum by (provider, stream) (rate("
                     f"stackwatch_provider_poll_duration_seconds{{{SEL}}}[{RATE}])))", "{{provider}} {{stream}}"),),
              unit="s", width=12, height=8),
        Panel("timeseries", "Invalid items skipped", "Items in provider responses that failed validation, per "
              "minute. Any: the provider changed its API; see the logs for the field and report it.",
              (Query(f"sum by (provider, stream) (rate(stackwatch_provider_invalid_items_total{{{SEL}}}[{RATE}]))"
                     f" * 60 or sum by (provider) (stackwatch_provider_up{{{SEL}}}) * 0", "{{provider}} {{stream}}"),),
              unit="short", width=12, height=8),
        Panel("timeseries", "Data age", "Seconds since each provider's last fully successful poll, against the "
              "staleness threshold (dashed, from config): above it the provider's figures are stale.",
              (Query(f"time() - max by (provider) (stackwatch_provider_last_success_timestamp_seconds{{{SEL}}})",
                     "{{provider}}"),
               Query(f"max(stackwatch_threshold_data_staleness_seconds{{{ENV}}})", "stale after", threshold=True)),
              unit="s", width=12, height=8),
    ])
    apis = Row("Provider APIs", [
        Panel("timeseries", "API requests by status", "HTTP requests sent to each provider's API per minute, "
              "by response status (timeout / transport_error when none arrived). 429s: slow down.",
              (Query(f"sum by (provider, status_code) (rate(stackwatch_provider_api_requests_total{{{SEL}}}"
                     f"[{RATE}])) * 60", "{{provider}} {{status_code}}"),),
              unit="short", width=12, height=8, stack=True),
        Panel("timeseries", "Rate-limit headroom", "Remaining / limit from each provider's latest rate-limit "
              "headers, against the headroom threshold (dashed, from config). Below it: polls will be "
              "throttled; lengthen intervals or reduce streams.",
              (Query(f"min by (provider) (stackwatch_provider_ratelimit_remaining_ratio{{{SEL}}})", "{{provider}}"),
               Query(f"max(stackwatch_threshold_ratelimit_headroom_ratio{{{ENV}}})", "threshold", threshold=True)),
              unit="percentunit", width=12, height=8, max=1),
    ])
    drains = Row("Vercel drains", [
        Panel("timeseries", "Drain events accepted", "Drain events accepted per second by drain. Zero while "
              "the site has traffic: the drain is disabled or its URL changed in Vercel.",
              (Query(f"sum by (drain) (rate(stackwatch_drain_events_total{{{ENV}}}[{RATE}]))", "{{drain}}"),),
              unit="short", width=12, height=8),
        Panel("timeseries", "Drain deliveries rejected", "Rejected deliveries per minute by drain and reason. "
              "bad_signature: the drain secret differs from VERCEL_DRAIN_SECRET; oversize/malformed: report.",
              (Query(f"sum by (drain, reason) (rate(stackwatch_drain_rejected_total{{{ENV}}}[{RATE}])) * 60 or "
                     f"sum by (drain) (rate(stackwatch_drain_events_total{{{ENV}}}[{RATE}])) * 0",
                     "{{drain}} {{reason}}"),),
              unit="short", width=12, height=8),
    ])
    # The collector's own counters arrive without `_total`: Prometheus scrapes its telemetry in
    # the protobuf format, where the OpenMetrics suffix is not added (checked on the native stack).
    pipeline = Row("Collector and Prometheus", [
        Panel("timeseries", "Collector points accepted / refused", "Metric points the collector's OTLP "
              "receiver accepted and refused per second. Refused: the collector is overloaded (memory_limiter).",
              (Query(f"sum(rate(otelcol_receiver_accepted_metric_points[{RATE}]))", "accepted"),
               Query(f"sum(rate(otelcol_receiver_refused_metric_points[{RATE}]))", "refused")),
              unit="short", width=8, height=8),
        Panel("timeseries", "Collector export queue", "Batches waiting in the exporter's sending queue and its "
              "capacity (dashed). Filling up: Prometheus is down or slow; data is lost when it is full.",
              (Query("max(otelcol_exporter_queue_size)", "queue"),
               Query("max(otelcol_exporter_queue_capacity)", "capacity", threshold=True)),
              unit="short", width=8, height=8),
        Panel("timeseries", "Collector export failures", "Points the collector failed to send to Prometheus "
              "per second. Any: read the collector's log (out-of-order samples, Prometheus down).",
              (Query(f"sum(rate(otelcol_exporter_send_failed_metric_points[{RATE}])) or "
                     f"sum(rate(otelcol_exporter_sent_metric_points[{RATE}])) * 0", "failed"),),
              unit="short", width=8, height=8),
        Panel("timeseries", "Prometheus ingestion", "Samples appended per second and series in the head "
              "block. Series climbing without bound: a label with unbounded values (docs/metrics.md).",
              (Query(f"sum(rate(prometheus_tsdb_head_samples_appended_total[{RATE}]))", "samples/s"),
               Query("max(prometheus_tsdb_head_series)", "head series")),
              unit="short", width=12, height=8),
        Panel("timeseries", "OTLP writes to Prometheus", "Requests to Prometheus' OTLP receiver per second by "
              "HTTP code. Non-2xx: the collector's exports are rejected (see its log).",
              (Query(f"sum by (code) (rate(prometheus_http_requests_total{{handler=\"/api/v1/otlp/v1/metrics\"}}"
                     f"[{RATE}]))", "{{code}}"),),
              unit="reqps", width=12, height=8),
    ])
    return Board(SELF.uid, "stackwatch · stackwatch itself",
                 "Is the monitoring itself working: poll errors and durations, provider API requests and "
                 "rate-limit headroom, drains, the collector and Prometheus' ingestion.",
                 "now-6h", [polls, apis, drains, pipeline], (ENVIRONMENT, PROVIDER_VAR))
