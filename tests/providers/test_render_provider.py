"""Render exporter against the real simulator over loopback HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from conftest import FIXED_NOW, make_runtime

from exporters.cost import CostRecord
from exporters.prices import PriceBook
from exporters.render import RenderProvider, RenderService
from exporters.simulator import Simulator, World
from exporters.simulator.render import CPU_LIMIT, HOT_CPU_INDEX, _noise
from exporters.simulator.world import Scale

HISTORY = Scale().history_days


def counter_total(reader, name: str, **match: str) -> float:
    total = 0.0
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    if all(point.attributes.get(k) == v for k, v in match.items()):
                        total += getattr(point, "value", None) or getattr(point, "count", 0)
    return total


def render_runtime(sim: Simulator, **extra):
    return make_runtime(sim, only="render", overrides={"providers": {"render": {"history_days": HISTORY, **extra}}})


async def test_first_cycle_pages_by_cursor_and_makes_exactly_the_minimum_requests(simulator):
    runtime, _ = render_runtime(simulator)
    outcomes = await runtime.collector.run_cycle(force=True)
    assert all(o.ok for o in outcomes), outcomes
    minimum = simulator.providers["render"].minimum_requests()
    ops = simulator.stats.by_operation
    assert ops["render GET /render/v1/services"] == minimum["services"]
    assert ops["render GET /render/v1/postgres"] == minimum["postgres"]
    assert ops["render GET /render/v1/services/{serviceId}/deploys"] == minimum["deploys"]
    # Some service has more than 100 deploys in 40 days, so its deploys took two cursor pages.
    assert minimum["deploys"] > len(simulator.providers["render"].services())
    assert simulator.stats.requests["render"] == sum(minimum.values())
    await runtime.aclose()


async def test_second_cycle_reads_only_fast_metrics(simulator):
    runtime, _ = render_runtime(simulator)
    await runtime.collector.run_cycle(force=True)
    first = simulator.stats.requests["render"]
    simulator.world.advance(60)
    await runtime.collector.run_cycle()
    second = simulator.stats.requests["render"] - first
    assert second == 7  # cpu, memory, instance-count, http-latency, http-requests, bandwidth, active-connections
    await runtime.aclose()


async def test_estimated_cost_matches_ground_truth_to_the_cent(simulator):
    runtime, _ = render_runtime(simulator)
    await runtime.collector.run_cycle(force=True)
    truth = simulator.providers["render"].ground_truth()
    summary = runtime.ledger.summary(simulator.world.now())
    assert summary.today_by_provider["render"] == pytest.approx(truth["today_usd"], abs=0.005)
    assert summary.month_to_date_by_provider["render"] == pytest.approx(truth["month_to_date_usd"], abs=0.005)
    by_service: dict[str, float] = {}
    for (provider, _service, project, _model, _source), usd in summary.month_to_date.items():
        if provider == "render":
            by_service[project] = by_service.get(project, 0.0) + usd
    assert by_service.keys() == truth["month_to_date_by_project"].keys()
    for name, usd in truth["month_to_date_by_project"].items():
        assert by_service[name] == pytest.approx(usd, abs=0.005), name
    await runtime.aclose()


class _PriceContext:
    """Just what _service_cost reads: the real price book and an unpriced list."""

    def __init__(self) -> None:
        self.prices = PriceBook.load()
        self.unpriced_items: list[str] = []

    def unpriced(self, item: str) -> None:
        self.unpriced_items.append(item)


def _service(plan: str, instances: int, created: datetime) -> RenderService:
    return RenderService("srv-x", "api", "web_service", plan, "oregon", instances, None, False, created, created)


def test_standard_service_with_two_instances_for_36_hours_of_a_30_day_month_costs_2_50():
    provider = RenderProvider.__new__(RenderProvider)
    start = datetime(2026, 11, 10, 0, 0, tzinfo=timezone.utc)  # November has 30 days
    records: list[CostRecord] = provider._service_cost(_PriceContext(), _service("standard", 2, start),
                                                       start, start + timedelta(hours=36))
    # 25 USD × 2 instances × 36×3600 s / (30×86400 s) = 2.50, split 24 h + 12 h = 1.6667 + 0.8333
    assert sum(r.billed_cost for r in records) == pytest.approx(2.50, abs=1e-9)
    assert [round(r.billed_cost, 4) for r in records] == [1.6667, 0.8333]
    assert {r.service_name for r in records} == {"Web Service"}


def test_free_plan_is_a_real_zero_and_an_unknown_plan_is_unpriced():
    provider = RenderProvider.__new__(RenderProvider)
    start = datetime(2026, 11, 10, tzinfo=timezone.utc)
    ctx = _PriceContext()
    free = provider._service_cost(ctx, _service("free", 1, start), start, start + timedelta(hours=5))
    unknown = provider._service_cost(ctx, _service("pro_galactic", 1, start), start, start + timedelta(hours=5))
    assert [r.billed_cost for r in free] == [0.0]
    assert unknown == [] and ctx.unpriced_items == ["plan:pro_galactic"]


async def test_cpu_utilisation_is_latest_mean_over_instances_divided_by_the_limit(simulator):
    runtime, _ = render_runtime(simulator)
    await runtime.collector.run_cycle(force=True)
    sim = simulator.providers["render"]
    hot = sim.services()[HOT_CPU_INDEX]
    points = runtime.store.gauge_points("render.service.cpu.utilization")
    ratio = points[(("service", hot.name),)]
    # The simulator's latest complete-or-current bucket, per instance: limit × (0.93 + 0.05 × noise).
    now = simulator.world.now_ts()
    latest = (now // 60) * 60
    limit = CPU_LIMIT[hot.plan]
    used = [round(limit * (0.93 + 0.05 * _noise(simulator.world.seed, f"{hot.id}-{k}", "cpu", latest)), 4)
            for k in range(hot.instances)]
    assert ratio == pytest.approx(sum(used) / len(used) / limit)
    assert ratio > 0.9
    await runtime.aclose()


async def test_http_request_counter_adds_only_newly_completed_buckets(simulator):
    runtime, reader = render_runtime(simulator)
    sim = simulator.providers["render"]
    await runtime.collector.run_cycle(force=True)
    before = counter_total(reader, "render.service.http.requests")
    assert before > 0
    now = simulator.world.now_ts()
    newest_complete = (now // 60) * 60 - 60
    simulator.world.advance(60)
    await runtime.collector.run_cycle()
    after = counter_total(reader, "render.service.http.requests")
    later_now = simulator.world.now_ts()
    expected_bucket = newest_complete + 60  # the bucket that was in progress at the first poll
    expected = sum(sim._bucket_total(s, expected_bucket, 60, later_now) for s in sim.services()
                   if s.type == "web_service" and not s.is_suspended(later_now))
    assert after - before == expected
    await runtime.aclose()


async def test_final_deploys_are_counted_once_across_cycles(simulator):
    runtime, reader = render_runtime(simulator)
    sim = simulator.providers["render"]
    await runtime.collector.run_cycle(force=True)
    simulator.world.advance(6 * 3600)  # deploys that were in progress finish; new ones appear
    await runtime.collector.run_cycle(force=True)
    now = simulator.world.now_ts()
    start = simulator.world.history_start().timestamp()
    # history_start moved with the clock only if the day changed; FIXED_NOW + 6 h is the same day.
    expected = sum(1 for s in sim.services() for d in s.deploys if start < d.created and d.finished <= now)
    assert counter_total(reader, "render.deploys") == expected
    assert counter_total(reader, "render.deploy.duration") == expected
    await runtime.aclose()


async def test_rate_limit_with_seconds_remaining_reset_waits_instead_of_failing():
    world = World(seed=7, scale=Scale(), start=FIXED_NOW)
    sim = Simulator(world, rate_limit_per_minute=4)
    await sim.start()
    try:
        runtime, reader = render_runtime(sim)
        started = world.now_ts()
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        # Remaining hit 0 after 4 requests; Ratelimit-Reset said "seconds left in the minute" and
        # the client slept (on the simulated clock) into the next window instead of failing.
        window_end = (started // 60 + 1) * 60
        assert sim.stats.requests["render"] > 4
        assert world.now_ts() >= window_end
        assert counter_total(reader, "stackwatch.provider.api.requests", status_code="429") == 0
        await runtime.aclose()
    finally:
        await sim.stop()
