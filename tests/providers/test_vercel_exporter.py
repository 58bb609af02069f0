"""Vercel exporter against the simulator: pagination, incremental polling, deployments, billing."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from simhelpers import counter_value, make_runtime, running

from exporters.providers.vercel.exporter import InvalidItem, parse_charge, parse_deployment
from exporters.simulator import Simulator, World
from exporters.simulator.server import Fault
from exporters.simulator.vercel.sim import FINAL_STATES, VercelSim
from exporters.simulator.world import Scale

START = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)
CENT = 0.005


def vercel_only(history_days: int) -> dict:
    return {"providers": {"vercel": {"history_days": history_days}}}


def vercel_sim(sim: Simulator) -> VercelSim:
    return sim.providers["vercel"]  # type: ignore[return-value]


def requests_to(sim: Simulator, path: str) -> int:
    return sim.stats.by_operation[f"vercel GET /vercel{path}"]


def queries(sim: Simulator, path: str) -> list[dict[str, str]]:
    return [dict(e.query) for e in sim.stats.exchanges if e.provider == "vercel" and e.path == path]


def finals_in_sim(sim: Simulator) -> int:
    """Final deployments the simulator holds now (its own view, not the exporter's)."""
    vs = vercel_sim(sim)
    now_ms = int(sim.world.now_ts() * 1000)
    history_from = sim.world.history_start().timestamp() * 1000
    return sum(1 for d in vs.visible_deployments(now_ms)
               if d.created_ms > history_from and d.state_at(now_ms) in FINAL_STATES)


def vercel_mtd_by_project(runtime, now) -> dict[str, float]:  # type: ignore[no-untyped-def]
    totals: dict[str, float] = defaultdict(float)
    for (provider, _service, project, _model, _source), usd in runtime.ledger.summary(now).month_to_date.items():
        if provider == "vercel":
            totals[project] += usd
    return dict(totals)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    # Failed deployments in the history and one failing at the start (the `deploy-failure` condition).
    simulator = Simulator(World(seed=11, scale=Scale(vercel_projects=6), start=START,
                                incidents=frozenset({"deploy-failure"})), record_exchanges=True)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_projects_page_with_the_continuation_token_sent_as_from() -> None:
    simulator = Simulator(World(seed=3, scale=Scale(vercel_projects=250, vercel_deployments_per_project_per_day=0.01,
                                                    history_days=3), start=START), record_exchanges=True)
    await simulator.start()
    async with running(make_runtime(simulator, only="vercel", overrides=vercel_only(3))) as (runtime, _reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        # 250 projects at 100 a page: 3 requests; the 2nd and 3rd send the previous page's token.
        asked = queries(simulator, "/v10/projects")
        assert len(asked) == 3
        assert "from" not in asked[0]
        answers = [json.loads(e.body) for e in simulator.stats.exchanges if e.path == "/v10/projects"]
        assert [q.get("from") for q in asked[1:]] == [a["pagination"]["next"] for a in answers[:2]]
        assert answers[2]["pagination"]["next"] is None
        assert all(q["limit"] == "100" and q["teamId"] == "team_sim0000000000000000" for q in asked)
        assert runtime.store.gauge_points("vercel.projects") == {(): 250.0}
        await simulator.stop()


async def test_first_cycle_makes_the_minimum_requests_and_pages_deployments_with_until(sim: Simulator) -> None:
    async with running(make_runtime(sim, only="vercel", overrides=vercel_only(sim.world.scale.history_days))) as (runtime, reader):
        minimum = vercel_sim(sim).minimum_requests()
        assert minimum["deployments"] >= 3  # 6 projects × 1.5 a day × 40 days: several pages
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        assert requests_to(sim, "/v10/projects") == minimum["projects"]
        assert requests_to(sim, "/v6/deployments") == minimum["deployments"]
        assert requests_to(sim, "/v1/billing/charges") == minimum["billing"]
        asked = queries(sim, "/v6/deployments")
        answers = [json.loads(e.body) for e in sim.stats.exchanges if e.path == "/v6/deployments"]
        history_from = int(sim.world.history_start().timestamp() * 1000)
        assert all(q["since"] == str(history_from) and q["limit"] == "100" for q in asked)
        assert "until" not in asked[0]
        assert [int(q["until"]) for q in asked[1:]] == [a["pagination"]["next"] for a in answers[:-1]]
        # Every final deployment of the history is counted, once.
        assert counter_value(reader, "vercel.deployments") == finals_in_sim(sim)
        assert counter_value(reader, "vercel.deployments", state="ERROR") > 0


async def test_second_cycle_reads_only_what_is_new(sim: Simulator) -> None:
    async with running(make_runtime(sim, only="vercel", overrides=vercel_only(sim.world.scale.history_days))) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        first = sim.stats.requests["vercel"]
        sim.stats.requests.clear()
        sim.stats.by_operation.clear()
        sim.world.advance(60)
        outcomes = await runtime.collector.run_cycle()
        # Projects and billing are slow streams: not due after 60 s. Deployments: one page.
        assert [o.stream for o in outcomes] == ["deployments"]
        assert sim.stats.requests["vercel"] == 1 < first


async def test_at_large_scale_the_first_cycle_is_minimal_and_the_second_under_5_percent() -> None:
    simulator = Simulator(World(seed=5, scale=Scale.large(), start=START))
    await simulator.start()
    async with running(make_runtime(simulator, only="vercel", overrides=vercel_only(Scale.large().history_days))) as (runtime, _reader):
        minimum = vercel_sim(simulator).minimum_requests()
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        first = simulator.stats.requests["vercel"]
        # 200 projects: 2 pages; ~27,000 deployments over 90 days: ~270 pages; billing: 1 request.
        assert first == sum(minimum.values())
        assert minimum["projects"] == 2 and minimum["deployments"] > 200
        simulator.stats.requests.clear()
        simulator.world.advance(60)
        assert all(o.ok for o in await runtime.collector.run_cycle())
        assert simulator.stats.requests["vercel"] <= 0.05 * first
        await simulator.stop()


async def test_a_deployment_in_progress_is_counted_once_when_it_becomes_final(sim: Simulator) -> None:
    async with running(make_runtime(sim, only="vercel", overrides=vercel_only(sim.world.scale.history_days))) as (runtime, reader):
        await runtime.collector.run_cycle(force=True)
        in_progress = runtime.store.gauge_points("vercel.deployments.in_progress")
        # The simulator anchors three deployments in progress at the start (one queued, two building).
        assert sum(in_progress.values()) == 3
        assert {dict(k)["state"] for k in in_progress} == {"QUEUED", "BUILDING"}
        counted = counter_value(reader, "vercel.deployments")
        assert counted == finals_in_sim(sim)
        # Two finish within 130 s, the queued one at +185 s; then nothing changes.
        for step in (60, 70, 120, 300, 60):
            sim.world.advance(step)
            outcomes = await runtime.collector.run_cycle()
            assert all(o.ok for o in outcomes), outcomes
            assert counter_value(reader, "vercel.deployments") == finals_in_sim(sim)
        assert counter_value(reader, "vercel.deployments") == counted + 3
        assert counter_value(reader, "vercel.deployments", project="docs", state="ERROR", target="production") >= 1
        # The finished deployments left the in-progress gauge (an empty poll clears old points).
        assert runtime.store.gauge_points("vercel.deployments.in_progress") == {}


async def test_billing_matches_the_simulator_ground_truth_to_the_cent(sim: Simulator) -> None:
    async with running(make_runtime(sim, only="vercel", overrides=vercel_only(sim.world.scale.history_days))) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        truth = vercel_sim(sim).ground_truth()
        now = sim.world.now()
        summary = runtime.ledger.summary(now)
        assert truth["today_usd"] > 0
        assert summary.today_by_provider["vercel"] == pytest.approx(truth["today_usd"], abs=CENT)
        assert summary.month_to_date_by_provider["vercel"] == pytest.approx(truth["month_to_date_usd"], abs=CENT)
        by_project = vercel_mtd_by_project(runtime, now)
        # Build Minutes lines carry only a ProjectId: named from the project list, not left as ids.
        assert set(by_project) == set(truth["month_to_date_by_project"])
        for name, usd in truth["month_to_date_by_project"].items():
            assert by_project[name] == pytest.approx(usd, abs=CENT), name


async def test_later_billing_polls_refetch_the_last_two_days_in_one_request(sim: Simulator) -> None:
    async with running(make_runtime(sim, only="vercel", overrides=vercel_only(sim.world.scale.history_days))) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        sim.stats.exchanges.clear()
        sim.world.advance(3600)  # past the slow interval, and one more hour of charges accrues
        outcomes = await runtime.collector.run_cycle()
        assert {o.stream for o in outcomes} == {"projects", "deployments", "billing"}
        asked = queries(sim, "/v1/billing/charges")
        today = sim.world.today()  # 14:30Z: the Pacific billing day has the same date
        # Billing days today-1 and today run from (today-1) 08:00Z to (today+1) 08:00Z: whole UTC
        # days from today-1 to today+2 (exclusive) cover them.
        assert asked == [{"teamId": "team_sim0000000000000000",
                          "from": f"{today - timedelta(days=1)}T00:00:00Z",
                          "to": f"{today + timedelta(days=2)}T00:00:00Z"}]
        truth = vercel_sim(sim).ground_truth()
        summary = runtime.ledger.summary(sim.world.now())
        assert summary.today_by_provider["vercel"] == pytest.approx(truth["today_usd"], abs=CENT)
        assert summary.month_to_date_by_provider["vercel"] == pytest.approx(truth["month_to_date_usd"], abs=CENT)


async def test_a_cut_off_billing_body_fails_the_poll_and_keeps_the_last_costs(sim: Simulator) -> None:
    async with running(make_runtime(sim, only="vercel", overrides=vercel_only(sim.world.scale.history_days))) as (runtime, reader):
        await runtime.collector.run_cycle(force=True)
        before = runtime.ledger.summary(sim.world.now()).month_to_date_by_provider["vercel"]
        sim.inject("vercel", Fault(kind="truncated", path_contains="/billing/charges"))
        sim.world.advance(3600)
        outcomes = {o.stream: o for o in await runtime.collector.run_cycle()}
        assert not outcomes["billing"].ok and outcomes["billing"].reason == "malformed"
        after = runtime.ledger.summary(sim.world.now()).month_to_date_by_provider["vercel"]
        assert after == pytest.approx(before, abs=1e-9)  # not replaced by a partial (or empty) day
        assert counter_value(reader, "stackwatch.provider.poll.errors", stream="billing") == 1


# --- item validation (pure) ---

def test_deployment_with_null_target_is_a_preview_and_created_falls_back_to_created_at() -> None:
    deployment = parse_deployment({"uid": "dpl_1", "projectId": "prj_1", "name": "web", "readyState": "ready",
                                   "target": None, "createdAt": 1_000, "buildingAt": 4_000, "ready": 64_000})
    assert (deployment.target, deployment.state, deployment.created_ms) == ("preview", "READY", 1_000.0)
    assert deployment.is_final and not deployment.in_progress


@pytest.mark.parametrize("item", [
    "not an object",
    {"projectId": "prj_1", "state": "READY", "created": 1},  # no uid
    {"uid": "dpl_1", "projectId": "prj_1", "state": "READY"},  # no created
    {"uid": "dpl_1", "projectId": "prj_1", "state": "READY", "created": "yesterday"},
    {"uid": "dpl_1", "projectId": "prj_1", "created": 1},  # no state
    {"uid": "dpl_1", "projectId": 7, "state": "READY", "created": 1},
    {"uid": "dpl_1", "projectId": "prj_1", "state": "READY", "created": 1, "target": 3},
])
def test_bad_deployments_are_invalid_items(item: object) -> None:
    with pytest.raises(InvalidItem):
        parse_deployment(item)


@pytest.mark.parametrize(("start", "end", "days"), [
    # Pacific midnight is 08:00Z in winter (PST): 02:00Z..14:00Z is 6 h on the 9th and 6 h on the 10th.
    ("2026-11-10T02:00:00Z", "2026-11-10T14:00:00Z", ("2026-11-09", "2026-11-10")),
    # ...and 07:00Z in summer (PDT).
    ("2026-07-10T01:00:00Z", "2026-07-10T13:00:00Z", ("2026-07-09", "2026-07-10")),
])
def test_a_usage_charge_spanning_pacific_midnight_is_split_in_proportion_to_time(start, end, days) -> None:
    pieces = parse_charge({"BilledCost": "2.40", "EffectiveCost": "2.00", "ListCost": 3.00,
                           "ChargePeriodStart": start, "ChargePeriodEnd": end, "ServiceName": "Edge Requests",
                           "ServiceCategory": "Networking", "Tags": {"projectName": "web"}})
    assert [(str(p.day), round(p.cost, 10), round(p.effective, 10), round(p.list_cost, 10), p.project_name,
             p.project_id) for p in pieces] == [
        (days[0], 1.2, 1.0, 1.5, "web", None), (days[1], 1.2, 1.0, 1.5, "web", None)]


def test_a_daily_line_on_a_pacific_day_stays_whole_on_that_day() -> None:
    (piece,) = parse_charge({"BilledCost": 1.5, "ChargePeriodStart": "2026-11-18T08:00:00Z",
                             "ChargePeriodEnd": "2026-11-19T08:00:00Z", "ServiceName": "Edge Requests"})
    assert (str(piece.day), piece.cost, piece.effective, piece.list_cost) == ("2026-11-18", 1.5, 1.5, 1.5)


def test_a_seat_purchase_for_the_month_counts_whole_on_its_first_billing_day() -> None:
    (piece,) = parse_charge({"BilledCost": "60.00", "ChargeCategory": "Purchase", "ServiceName": "Vercel Pro",
                             "ChargePeriodStart": "2026-11-01T07:00:00Z", "ChargePeriodEnd": "2026-12-01T08:00:00Z"})
    assert (str(piece.day), piece.cost, piece.charge_category) == ("2026-11-01", 60.0, "Purchase")


@pytest.mark.parametrize("line", [
    [1, 2],
    {"ChargePeriodStart": "2026-11-01T00:00:00Z", "ChargePeriodEnd": "2026-11-02T00:00:00Z", "ServiceName": "x"},
    {"BilledCost": True, "ChargePeriodStart": "2026-11-01T00:00:00Z", "ChargePeriodEnd": "2026-11-02T00:00:00Z",
     "ServiceName": "x"},
    {"BilledCost": 1, "ChargePeriodStart": "soon", "ChargePeriodEnd": "2026-11-02T00:00:00Z", "ServiceName": "x"},
    {"BilledCost": 1, "ChargePeriodStart": "2026-11-02T00:00:00Z", "ChargePeriodEnd": "2026-11-01T00:00:00Z",
     "ServiceName": "x"},
    {"BilledCost": 1, "BillingCurrency": "EUR", "ChargePeriodStart": "2026-11-01T00:00:00Z",
     "ChargePeriodEnd": "2026-11-02T00:00:00Z", "ServiceName": "x"},
    {"BilledCost": math.inf, "ChargePeriodStart": "2026-11-01T00:00:00Z", "ChargePeriodEnd": "2026-11-02T00:00:00Z",
     "ServiceName": "x"},
    {"BilledCost": "NaN", "ChargePeriodStart": "2026-11-01T00:00:00Z", "ChargePeriodEnd": "2026-11-02T00:00:00Z",
     "ServiceName": "x"},
    {"BilledCost": 1, "EffectiveCost": "-inf", "ChargePeriodStart": "2026-11-01T00:00:00Z",
     "ChargePeriodEnd": "2026-11-02T00:00:00Z", "ServiceName": "x"},
    {"BilledCost": 5e9, "ChargePeriodStart": "2026-11-01T00:00:00Z", "ChargePeriodEnd": "2026-11-02T00:00:00Z",
     "ServiceName": "x"},
])
def test_bad_charge_lines_are_invalid_items(line: object) -> None:
    with pytest.raises(InvalidItem):
        parse_charge(line)


async def test_each_project_s_production_failure_series_exists_at_0_from_the_first_poll(sim: Simulator) -> None:
    """A counter series is born at its first value; DeployFailed reads increase(), which cannot see
    the event that creates a series. The exporter starts each project's production ERROR series at 0."""
    from simhelpers import metric_points
    async with running(make_runtime(sim, only="vercel", overrides=vercel_only(sim.world.scale.history_days))) as (runtime, reader):
        await runtime.collector.run_cycle(force=True)
        series = {p.attributes["project"]: p.value for p in metric_points(reader, "vercel.deployments")
                  if p.attributes.get("target") == "production" and p.attributes.get("state") == "ERROR"}
        projects = {p.name for p in vercel_sim(sim).projects}
        # Every project's series exists, failures or not (the history's failures are its birth value).
        assert projects and projects <= set(series), projects - set(series)
