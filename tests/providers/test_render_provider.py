"""Render exporter against the real simulator over loopback HTTP."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from simhelpers import FIXED_NOW, make_runtime, metric_points

from exporters.simulator import Simulator, World
from exporters.simulator.render.sim import CPU_LIMIT, HOT_CPU_INDEX, _noise
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


async def test_first_poll_mid_month_estimates_what_the_api_attests_and_reports_the_rest_as_a_gap(simulator):
    """First poll on the 18th, no stored history. A manual service's updatedAt proves its settings
    unchanged since then, so its month so far is estimated to the cent against the simulator's
    invoice. The suspended service's running days before its suspension, and an autoscaled service's
    instance counts before the first observation, are unknown: reported as unobserved seconds, not priced."""
    runtime, reader = render_runtime(simulator)
    await runtime.collector.run_cycle(force=True)
    truth = simulator.providers["render"].ground_truth()["month_to_date_by_project"]
    summary = runtime.ledger.summary(simulator.world.now())
    by_service: dict[str, float] = {}
    for (provider, _service, project, _model, _source), usd in summary.month_to_date.items():
        if provider == "render":
            by_service[project] = by_service.get(project, 0.0) + usd
    sim_services = {s.name: s for s in simulator.providers["render"].services()}
    gaps = {"web", "worker"}  # suspended before we looked; autoscaled
    assert sim_services["web"].suspended_at is not None and sim_services["worker"].autoscaling
    for name, usd in truth.items():
        if name not in gaps:
            assert by_service.get(name, 0.0) == pytest.approx(usd, abs=0.005), name
    assert all(by_service.get(name, 0.0) == 0.0 for name in gaps) and all(truth[name] > 1 for name in gaps)
    unobserved = {p.attributes["resource"]: p.value for p in metric_points(reader, "render.cost.unobserved")}
    month_start = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
    assert unobserved["web"] == pytest.approx(sim_services["web"].suspended_at - month_start)
    assert unobserved["worker"] == pytest.approx(simulator.world.now_ts() - month_start)
    assert unobserved["api"] == 0.0
    await runtime.aclose()


@pytest.mark.incidents("saturation")  # the hot service at HOT_CPU_INDEX
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
            for k in range(hot.state_at(now)["instances"])]
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


def counter_points(reader, name: str) -> dict[tuple, float]:
    data = reader.get_metrics_data()
    return {tuple(sorted(p.attributes.items())): p.value for rm in (data.resource_metrics if data else [])
            for sm in rm.scope_metrics for m in sm.metrics if m.name == name for p in m.data.data_points}


async def test_each_service_s_failure_series_exist_at_0_from_the_first_poll_so_its_first_failure_is_a_rise(simulator):
    """A counter series is born at its first value; DeployFailed reads increase(), which cannot see
    the event that creates a series. The exporter starts each service's failure series at 0."""
    runtime, reader = render_runtime(simulator)
    sim = simulator.providers["render"]
    await runtime.collector.run_cycle(force=True)
    points = counter_points(reader, "render.deploys")
    now = simulator.world.now_ts()
    for service in sim.services():
        if service.created > now:
            continue
        for status in ("build_failed", "update_failed", "pre_deploy_failed"):
            failed = sum(1 for d in service.deploys if d.outcome == status and d.finished <= now)
            # Failures of the history read in this first poll are the birth value, not a rise.
            assert points[(("service", service.name), ("status", status))] == failed, (service.name, status)
    await runtime.aclose()
