"""Every catalogued histogram leaves the SDK as an exponential (base-2) histogram at the chosen scale."""

from __future__ import annotations

import math

import pytest
from opentelemetry.sdk.metrics.export import ExponentialHistogram, ExponentialHistogramDataPoint

from exporters.core.catalogue import Kind
from exporters.core.metrics import MetricStore
from exporters.core.telemetry import HISTOGRAM_MAX_SCALE, HISTOGRAM_MAX_SIZE, build_meter_provider, in_memory_reader
from exporters.providers.registry import all_metrics


def exported(reader, name: str):  # type: ignore[no-untyped-def]
    data = reader.get_metrics_data()
    return [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics if m.name == name]


@pytest.fixture
def store_and_reader():  # type: ignore[no-untyped-def]
    reader = in_memory_reader()
    provider = build_meter_provider("test", export_interval_s=60, extra_readers=(reader,))
    yield MetricStore(provider.get_meter("test"), all_metrics()), reader
    provider.shutdown()


def sample_attributes(spec) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {key: "x" for key in spec.attributes}


def test_every_histogram_is_exported_as_an_exponential_histogram(store_and_reader) -> None:  # type: ignore[no-untyped-def]
    store, reader = store_and_reader
    histograms = [s for s in all_metrics() if s.kind is Kind.HISTOGRAM]
    assert histograms
    for spec in histograms:
        store.record(spec.name, 12.5, sample_attributes(spec))
    for spec in histograms:
        (metric,) = exported(reader, spec.name)
        assert isinstance(metric.data, ExponentialHistogram), spec.name
        (point,) = metric.data.data_points
        assert isinstance(point, ExponentialHistogramDataPoint)
        assert (point.count, point.sum, point.scale) == (1, 12.5, HISTOGRAM_MAX_SCALE)


def test_count_and_sum_are_exact_and_a_value_lands_in_its_base_2_bucket(store_and_reader) -> None:  # type: ignore[no-untyped-def]
    store, reader = store_and_reader
    spec = next(s for s in all_metrics() if s.name == "vercel.deployment.build.duration")
    values = [20.0, 45.5, 61.0, 300.0, 419.9]
    for value in values:
        store.record(spec.name, value, sample_attributes(spec))
    (metric,) = exported(reader, spec.name)
    (point,) = metric.data.data_points
    assert point.count == len(values) and point.sum == pytest.approx(sum(values))
    # OTel's bucket i holds (base**i, base**(i+1)] with base = 2**(2**-scale): worked out here
    # from the specification, not from the SDK.
    base = 2 ** (2 ** -point.scale)
    expected: dict[int, int] = {}
    for value in values:
        index = math.ceil(math.log(value, base)) - 1
        expected[index] = expected.get(index, 0) + 1
    counts = point.positive.bucket_counts
    got = {point.positive.offset + i: c for i, c in enumerate(counts) if c}
    assert got == expected


def test_a_range_wider_than_the_bucket_budget_is_downscaled_not_dropped(store_and_reader) -> None:  # type: ignore[no-untyped-def]
    store, reader = store_and_reader
    spec = next(s for s in all_metrics() if s.name == "gen_ai.client.token.usage")
    # 1 .. 2**24 tokens: 24 doublings need 192 buckets at scale 3, more than the budget.
    for exponent in range(25):
        store.record(spec.name, float(2 ** exponent), sample_attributes(spec))
    (point,) = exported(reader, spec.name)[0].data.data_points
    assert point.count == 25
    assert point.scale < HISTOGRAM_MAX_SCALE
    assert len(point.positive.bucket_counts) <= HISTOGRAM_MAX_SIZE
