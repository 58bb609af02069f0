"""The OTLP pipeline: a MeterProvider exporting cumulative metrics over OTLP.

The exporter is configured by the standard `OTEL_EXPORTER_OTLP_*` variables:
endpoint, headers, timeout, and protocol (`grpc` or `http/protobuf`, the
specification's default). With no endpoint set, nothing is exported (the demo
still prints its summary).
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
from opentelemetry.sdk.resources import Resource

from . import __version__

CUMULATIVE = {kind: AggregationTemporality.CUMULATIVE for kind in (
    Counter, UpDownCounter, Histogram, ObservableCounter, ObservableUpDownCounter, ObservableGauge)}

METER_NAME = "stackwatch"


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


def otlp_exporter(environ: Mapping[str, str] | None = None) -> MetricExporter:
    """The OTLP metric exporter the environment asks for; endpoint and headers come from env too."""
    if otlp_protocol(environ) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as Grpc
        return Grpc(preferred_temporality=CUMULATIVE)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as Http
    return Http(preferred_temporality=CUMULATIVE)


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
    return MeterProvider(resource=resource(environment), metric_readers=readers)


def in_memory_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader(preferred_temporality=CUMULATIVE)
