"""`stackwatch report --push`: the top recommendations as one OTLP export of a gauge.

Pushed once per report run (no service keeps it alive): Prometheus shows each series for its
lookback (5 min) after the push, and `last_over_time(...[1d])` on dashboards bridges runs, so
run the report on a schedule (docs/operations.md) for the dashboards to stay current.
"""

from __future__ import annotations

from opentelemetry.metrics import CallbackOptions, Observation

from exporters.core.telemetry import build_meter_provider, otlp_endpoint_configured, otlp_exporter
from exporters.ops.report.model import Recommendation

METRIC = "stackwatch.recommendation.savings_monthly_usd"
TOP = 10


class PushNotConfigured(Exception):
    pass


def push(recommendations: list[Recommendation], environment: str) -> int:
    if not otlp_endpoint_configured():
        raise PushNotConfigured("--push needs OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)")
    top = [r for r in recommendations if r.monthly_savings_usd > 0][:TOP]

    def observe(_: CallbackOptions):
        return [Observation(r.monthly_savings_usd, {"provider": r.provider, "kind": r.kind, "resource": r.resource})
                for r in top]

    provider = build_meter_provider(environment, export_interval_s=3600, exporter=otlp_exporter())
    provider.get_meter("stackwatch.report").create_observable_gauge(
        METRIC, callbacks=[observe], unit="{USD}", description="Monthly saving of a top recommendation.")
    try:
        if not provider.force_flush(timeout_millis=15_000):
            raise PushNotConfigured("the OTLP export of the recommendations did not finish within 15 s")
    finally:
        provider.shutdown(timeout_millis=5_000)
    return len(top)
