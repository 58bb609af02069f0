"""The OTLP pipeline: a MeterProvider exporting cumulative metrics over OTLP.

The exporter is configured by the standard `OTEL_EXPORTER_OTLP_*` variables:
endpoint, headers, timeout, and protocol (`grpc` or `http/protobuf`, the
specification's default). With no endpoint set, nothing is exported (the demo
still prints its summary).

Every histogram is aggregated as an exponential (base-2) histogram, whatever
the reader, so Prometheus 3's OTLP receiver stores each attribute set as one
native histogram series instead of one series per bucket (docs/metrics.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from exporters import __version__

CUMULATIVE = {kind: AggregationTemporality.CUMULATIVE for kind in (
    Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter, ObservableGauge)}

METER_NAME = "stackwatch"

# Exponential histogram resolution. Scale 3: bucket bounds grow by 2**(1/8) ≈ 1.09, so a
# quantile read with histogram_quantile() lies in the same bucket as the true value, within
# a factor 1.09 of it (client_golang's usual native-histogram bucket factor is 1.1, schema 3).
# Starting at a fixed scale (rather than the SDK default of 20, which Prometheus would cut
# to 8 anyway) gives every series the same schema and at most 8 buckets per doubling, so a
# sample stays small. 160 buckets (the SDK default) at scale 3 span 2**20 ≈ 10**6 between
# the smallest and largest value of one series: 1 ms..17 min, or 1..10**6 tokens. A wider
# series is downscaled by the SDK (coarser, never dropped).
HISTOGRAM_MAX_SCALE = 3
HISTOGRAM_MAX_SIZE = 160


def histogram_views() -> tuple[View, ...]:
    """The views that make every histogram of every reader exponential."""
    return (View(instrument_type=Histogram, aggregation=ExponentialBucketHistogramAggregation(
        max_size=HISTOGRAM_MAX_SIZE, max_scale=HISTOGRAM_MAX_SCALE)),)


def otlp_endpoint_configured(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def otlp_protocol(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    protocol = (env.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
                or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip()
    if protocol not in ("grpc", "http/protobuf"):
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: expected grpc or http/protobuf "
                         "(http/json is not supported by the Python exporter)")
    return protocol


# Per export request, retries included. The SDK's default (10 s) would let one export to an
# endpoint that never answers hold the export lock through most of the 8 s shutdown budget
# (service.py), leaving no time for the final flush. A local collector answers in milliseconds.
DEFAULT_EXPORT_TIMEOUT_S = 5.0


def export_timeout_s(environ: Mapping[str, str] | None = None) -> float | None:
    """Our default export timeout, or None when OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT decides."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT") or env.get("OTEL_EXPORTER_OTLP_TIMEOUT"):
        return None
    return DEFAULT_EXPORT_TIMEOUT_S


def otlp_exporter(environ: Mapping[str, str] | None = None) -> MetricExporter:
    """The OTLP metric exporter the environment asks for; endpoint and headers come from env too."""
    timeout = export_timeout_s(environ)
    if otlp_protocol(environ) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Grpc
        return Grpc(preferred_temporality=CUMULATIVE, timeout=timeout)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Http
    return Http(preferred_temporality=CUMULATIVE, timeout=timeout)


def resource(environment: str) -> Resource:
    # Resource.create also merges OTEL_RESOURCE_ATTRIBUTES; ours win for these keys.
    return Resource.create({
        "service.name": "stackwatch",
        "service.version": __version__,
        "deployment.environment": environment,
        "deployment.environment.name": environment,
    })


def build_meter_provider(environment: str, *, export_interval_s: float,
                         exporter: MetricExporter | None = None,
                         extra_readers: tuple[MetricReader, ...] = ()) -> MeterProvider:
    readers: list[MetricReader] = list(extra_readers)
    if exporter is None and otlp_endpoint_configured():
        exporter = otlp_exporter()
    if exporter is not None:
        readers.append(PeriodicExportingMetricReader(
            exporter, export_interval_millis=export_interval_s * 1000))
    return MeterProvider(resource=resource(environment), metric_readers=readers, views=histogram_views())


def in_memory_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader(preferred_temporality=CUMULATIVE)
