"""The "cache parsed results" recommendation (LlamaParse repeated parses): hand-worked figures, then the
whole path from the simulator's served re-parses through the exporter's counters to the report, priced
with the simulator's own fixture ($1.25 per 1,000 credits), and its export as a recommendation metric."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from simhelpers import counter_value, make_runtime, running

import exporters.simulator.llamacloud.sim as sim_llamacloud
from exporters.ops.report import push as push_module
from exporters.ops.report.build import build
from exporters.ops.report.collect import collect
from exporters.ops.report.model import LlamaRepeats, Recommendation
from exporters.ops.report.recommend import llamaparse_repeats
from exporters.simulator import Simulator, World
from exporters.simulator.price_fixtures import LLAMACLOUD_USD_PER_1000_CREDITS
from exporters.simulator.world import Scale

from .fakeprom import FakePrometheus

USD_PER_CREDIT = 1.25 / 1000  # docs/providers/llamacloud.md: pay-as-you-go $1.25 per 1,000 credits
NOW = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)
DAYS = 30


def test_savings_are_the_repeated_parses_credits_priced_and_projected_to_a_month():
    # 4,800 credits in 30 d → 4,800 credits/month × $0.00125 = $6.00.
    rec = llamaparse_repeats(LlamaRepeats("proj-a", 40, 4_800, 30), USD_PER_CREDIT, 30)
    assert rec is not None and rec.monthly_savings_usd == 6.0
    assert rec.kind == "repeat_parse" and rec.provider == "llamacloud" and rec.resource == "proj-a"
    assert "cache parsed results" in rec.action and rec.confidence == "medium"
    assert "40 parses" in rec.evidence and "4,800 credits in 30 d" in rec.evidence and rec.window == "30 d"
    assert "llamacloud_repeat_parse_credits_total" in rec.series
    # 700 credits in 7 d → 700 × 30 / 7 = 3,000 credits/month → $3.75.
    assert llamaparse_repeats(LlamaRepeats("proj-a", 9, 700, 7), USD_PER_CREDIT, 7).monthly_savings_usd == 3.75
    # Two days of samples: low confidence.
    assert llamaparse_repeats(LlamaRepeats("proj-a", 9, 700, 2), USD_PER_CREDIT, 30).confidence == "low"


def test_no_advice_when_repeated_parses_cost_nothing():
    # Re-parses LlamaCloud served from its 48 h cache used no credits: nothing to save.
    assert llamaparse_repeats(LlamaRepeats("proj-a", 12, 0.0, 30), USD_PER_CREDIT, 30) is None


async def report_on_simulated_usage(projects: int) -> tuple[dict[str, float], list[Recommendation], Simulator]:
    """The exporter polls a simulated LlamaCloud; Prometheus' answers are the exporter's counters
    (its first poll counts the window's history); returns the simulator's repeated-parse credits per
    project (its ground truth) and the report's recommendations."""
    world = World(seed=11, scale=Scale(llamacloud_projects=projects, history_days=DAYS), start=NOW, frozen=True)
    sim = Simulator(world)
    await sim.start()
    try:
        runtime = make_runtime(sim, only="llamacloud",
                               overrides={"providers": {"llamacloud": {"history_days": DAYS}}})
        async with running(runtime) as (rt, reader):
            assert all(o.ok for o in await rt.collector.run_cycle(force=True))
            truth = sim.providers["llamacloud"].repeat_parses(NOW.date() - timedelta(days=DAYS))
            prom = FakePrometheus()
            by_project = [(p, counter_value(reader, "llamacloud.repeat_parses", project=p),
                           counter_value(reader, "llamacloud.repeat_parse_credits", project=p))
                          for p in sim.providers["llamacloud"].projects]
            prom.answer("increase(llamacloud_repeat_parses_total", *[({"project": p}, n) for p, n, c in by_project if n])
            prom.answer("increase(llamacloud_repeat_parse_credits_total",
                        *[({"project": p}, c) for p, n, c in by_project if c])
            prom.answer("timestamp(llamacloud_repeat_parse_credits_total)",
                        *[({"project": p}, NOW.timestamp() - DAYS * 86400) for p, n, c in by_project if c])
            # Prometheus holds the whole window (as the timestamps above say): every hour has data.
            prom.answer("count_over_time((max by (provider) (stackwatch_provider_up))",
                        ({"provider": "llamacloud"}, DAYS * 24.0))
            report = build(collect(prom, DAYS, NOW.timestamp()), NOW.isoformat())
            return {p: c for p, (_n, c) in truth.items()}, report.recommendations, sim
    finally:
        await sim.stop()


async def test_simulated_reparses_give_each_project_its_saving_at_the_fixture_price():
    truth, recs, _sim = await report_on_simulated_usage(projects=3)
    repeat = {r.resource: r for r in recs if r.kind == "repeat_parse"}
    assert len(truth) == 3 and set(repeat) == set(truth)
    usd_per_credit = LLAMACLOUD_USD_PER_1000_CREDITS.usd / 1000
    for project, credits in truth.items():
        expected = credits * 30 / DAYS * usd_per_credit  # the simulator's credits × its fixture price
        assert expected > 1  # a real saving, not rounding noise
        assert repeat[project].monthly_savings_usd == pytest.approx(expected, abs=0.005)
        assert repeat[project].confidence == "medium"


async def test_a_world_without_reparses_gets_no_cache_advice(monkeypatch):
    monkeypatch.setattr(sim_llamacloud, "REPEAT_SHARE", 0.0)
    truth, recs, _sim = await report_on_simulated_usage(projects=3)
    assert truth == {}
    assert not [r for r in recs if r.kind == "repeat_parse"]


class CapturingExporter(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[MetricsData] = []

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        self.batches.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


def exported_points(exporter: CapturingExporter) -> Sequence:
    return [(dict(p.attributes), p.value) for batch in exporter.batches for rm in batch.resource_metrics
            for sm in rm.scope_metrics for m in sm.metrics if m.name == push_module.METRIC for p in m.data.data_points]


def test_push_exports_the_repeat_parse_saving_like_the_other_recommendations(monkeypatch):
    exporter = CapturingExporter()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # never dialled: captured below
    monkeypatch.setattr(push_module, "otlp_exporter", lambda: exporter)
    rec = llamaparse_repeats(LlamaRepeats("proj-a", 40, 4_800, 30), USD_PER_CREDIT, 30)
    assert push_module.push([rec], "test") == 1
    points = exported_points(exporter)  # the flush, and the shutdown's final export: the same point
    assert points and all(p == ({"provider": "llamacloud", "kind": "repeat_parse", "resource": "proj-a"}, 6.0)
                          for p in points)
