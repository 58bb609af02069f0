"""The metric catalogue: Prometheus names, and docs/metrics.md kept in step with the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.catalogue import RESOURCES, Kind, prometheus_name
from exporters.ops.catalogue import render_markdown
from exporters.providers.registry import all_metrics

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("name", "unit", "kind", "expected"), [
    ("http.server.request.duration", "s", Kind.HISTOGRAM, "http_server_request_duration_seconds"),
    ("stackwatch.provider.api.requests", "{request}", Kind.COUNTER, "stackwatch_provider_api_requests_total"),
    ("render.service.cpu.utilization", "1", Kind.GAUGE, "render_service_cpu_utilization_ratio"),
    ("render.service.bandwidth", "By", Kind.COUNTER, "render_service_bandwidth_bytes_total"),
    ("stackwatch.cost.month_to_date_usd", "{USD}", Kind.GAUGE, "stackwatch_cost_month_to_date_usd"),
    ("cost", "USD", Kind.COUNTER, "cost_USD_total"),  # why currency never goes in the unit
    ("queue.size.bytes", "By", Kind.GAUGE, "queue_size_bytes"),  # no doubled unit
    ("jobs.total", "{job}", Kind.COUNTER, "jobs_total"),  # no doubled _total
    ("throughput", "By/s", Kind.GAUGE, "throughput_bytes_per_second"),
    ("a..b__c", "ms", Kind.GAUGE, "a_b_c_milliseconds"),
])
def test_prometheus_names_follow_the_otlp_translator(name: str, unit: str, kind: Kind, expected: str) -> None:
    assert prometheus_name(name, unit, kind) == expected


def test_names_are_lowercase_and_currency_is_in_the_name_never_the_unit() -> None:
    for spec in all_metrics():
        assert spec.name == spec.name.lower(), spec.name
        assert "USD" not in spec.unit.replace("{USD}", ""), spec.name
        if "{USD}" in spec.unit:
            assert spec.prometheus_name.endswith("_usd"), spec.name


def test_no_high_cardinality_attributes() -> None:
    forbidden = {"deployment_id", "request_id", "path", "user", "user_id", "url"}
    for spec in all_metrics():
        assert forbidden.isdisjoint(spec.attributes), spec.name


def test_every_metric_states_its_expected_series_per_resource() -> None:
    for spec in all_metrics():
        assert spec.series is not None, f"{spec.name}: state `series=Series(per, at_most, how)` (docs/metrics.md)"
        assert spec.series.per in RESOURCES and spec.series.at_most >= 1, spec.name
        if not spec.attributes:  # no attribute: one series for the whole exporter
            assert (spec.series.per, spec.series.at_most) == ("stackwatch", 1), spec.name


def test_prometheus_names_are_unique() -> None:
    names = [n for spec in all_metrics() for n in spec.prometheus_series]
    assert len(names) == len(set(names))


def test_docs_metrics_md_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "docs/metrics.md is stale: run `make generate`"
