"""Scenario: an OpenAI month with string amounts and an organisation-level (null project) line,
on a frozen clock (in months of each length, on the 1st, on a leap day, across a month's end),
against the simulator's independent invoice (its own price fixtures)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest
from calendars import Moment
from simhelpers import counter_value, make_runtime, metric_points, running

from exporters.simulator import Simulator, World
from exporters.simulator.openai.sim import NO_PROJECT, STORAGE_LINE_ITEM, UNPRICED_MODEL
from exporters.simulator.world import Scale

NOW = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)
HALF_CENT = 0.005


def unpriced_world_options() -> dict:
    """The organisation uses its model without a published price every day (the simulator's
    `unpriced-usage` condition, where it has one)."""
    from exporters.simulator import world
    return {"incidents": frozenset({"unpriced-usage"})} if "unpriced-usage" in getattr(world, "CONDITIONS", ()) else {}


def simulator_at(now: datetime) -> Simulator:
    simulator = Simulator(World(seed=21, scale=Scale(openai_models=12), start=now, frozen=True,
                                **unpriced_world_options()), record_exchanges=True)
    simulator.providers["openai"].amounts_as_strings = True  # as the real API sends them
    return simulator


@pytest.fixture
async def sim():  # type: ignore[no-untyped-def]
    simulator = simulator_at(NOW)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def sim_at_moment(moment: Moment):  # type: ignore[no-untyped-def]
    simulator = simulator_at(moment.now)
    await simulator.start()
    yield simulator, moment.now
    await simulator.stop()


def by_project(runtime, now) -> dict[str, float]:  # type: ignore[no-untyped-def]
    totals: dict[str, float] = defaultdict(float)
    for (provider, _service, project, _model, _source), usd in runtime.ledger.summary(now).month_to_date.items():
        if provider == "openai":
            totals[project] += usd
    return dict(totals)


async def test_openai_month_with_string_amounts_and_a_null_project_matches_the_invoice(sim_at_moment) -> None:  # type: ignore[no-untyped-def]
    sim, now = sim_at_moment
    served = []
    async with running(make_runtime(sim, only="openai")) as (runtime, reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        served = [e for e in sim.stats.exchanges if e.path.startswith("/organization/costs")]
        assert served and b'"value": "0.' in served[0].body  # the amounts really were strings
        truth = sim.providers["openai"].ground_truth()
        summary = runtime.ledger.summary(now)
        assert summary.month_to_date_by_provider["openai"] == pytest.approx(truth["month_to_date_usd"], abs=HALF_CENT)
        assert summary.today_by_provider["openai"] == pytest.approx(truth["today_usd"], abs=HALF_CENT)
        # Month-to-date is this UTC month's days only: on the 1st, today's.
        assert (summary.month_to_date_by_provider["openai"] == pytest.approx(summary.today_by_provider["openai"]))\
            is (now.day == 1)
        projects = by_project(runtime, now)
        no_project = projects.get(NO_PROJECT, 0.0)
        assert no_project == pytest.approx(truth["month_to_date_by_project"].get(NO_PROJECT, 0.0), abs=HALF_CENT)
        # The month's billed days of file-search storage (17 on the 18th; none yet on the 1st), not
        # a rounding error.
        assert no_project > 0.5 * (now.day - 1) / 17 if now.day > 1 else no_project == 0.0
        for project, usd in truth["month_to_date_by_project"].items():
            assert projects.get(project, 0.0) == pytest.approx(usd, abs=HALF_CENT), project
        # The invoice is what stackwatch reports + what it cannot price + what OpenAI bills later.
        invoice = truth["invoice"]["month_to_date_usd"]
        parts = truth["month_to_date_usd"] + truth["unpriced"]["month_to_date_usd"] + truth["pending"]["month_to_date_usd"]
        assert invoice == pytest.approx(parts, abs=1e-9)
        # Today's usage of the model with no published price is billed by OpenAI, and stackwatch
        # reports it as unpriced usage (counted), never as $0.
        assert truth["unpriced"]["items"][UNPRICED_MODEL] > 0
        assert counter_value(reader, "stackwatch.cost.unpriced_items", provider="openai", item=UNPRICED_MODEL) >= 1
        tokens_today = sum(u.input + u.output for u in sim.providers["openai"].usage_on(now.date())
                           if u.model == UNPRICED_MODEL)
        usage = [p for p in metric_points(reader, "stackwatch.cost.unpriced.usage")
                 if p.attributes.get("provider") == "openai" and p.attributes.get("item") == UNPRICED_MODEL]
        assert [p.value for p in usage] == [tokens_today] and usage[0].attributes["unit"] == "tokens"
        storage = [r for r in runtime.ledger.records() if r.provider == "openai" and r.sku == STORAGE_LINE_ITEM]
        assert storage and {r.resource_name for r in storage} == {NO_PROJECT}


async def test_a_late_revision_of_an_early_day_of_the_month_lands_on_the_next_slow_cycle(sim: Simulator) -> None:
    openai = sim.providers["openai"]
    early = NOW.date().replace(day=3)
    async with running(make_runtime(sim, only="openai")) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        before = runtime.ledger.summary(NOW).month_to_date_by_provider["openai"]
        # OpenAI revises a day two weeks back: one more billed line on the 3rd.
        revised = list(openai.costs_on(early)) + [(openai.projects[0], "gpt-4o-2024-08-06, input", 12.34, 4_936_000)]
        openai._costs_cache[early] = revised  # noqa: SLF001 (the simulated provider's own bill)
        sim.world.advance(60)
        await runtime.collector.run_cycle(force=True)  # the next slow cycle
        after = runtime.ledger.summary(sim.world.now()).month_to_date_by_provider["openai"]
        truth = openai.ground_truth()
        assert after == pytest.approx(truth["month_to_date_usd"], abs=HALF_CENT)
        assert after - before == pytest.approx(12.34, abs=0.02)  # + the minute of today's usage
        day_total = sum(r.billed_cost for r in runtime.ledger.records() if r.provider == "openai" and r.day == early)
        assert day_total == pytest.approx(sum(usd for _p, _i, usd, _q in revised), abs=1e-6)
        assert early < NOW.date() - timedelta(days=2)  # outside the old two-day re-read


async def test_nan_infinite_and_absurd_amounts_are_rejected_and_counted_and_the_month_stays_right(
        sim: Simulator) -> None:
    openai = sim.providers["openai"]
    yesterday = NOW.date() - timedelta(days=1)
    good = list(openai.costs_on(yesterday))
    project = openai.projects[0]
    openai._costs_cache[yesterday] = good + [  # noqa: SLF001 (the simulated provider's own bill)
        (project, "glitch-a, input", float("nan"), 1),  # own line items: not summed into good ones
        (project, "glitch-b, output", float("inf"), 1),
        (project, "glitch-c, cached input", 5e12, 1)]
    async with running(make_runtime(sim, only="openai")) as (runtime, reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        assert counter_value(reader, "stackwatch.provider.invalid_items", provider="openai", stream="costs") == 3
        day_total = sum(r.billed_cost for r in runtime.ledger.records() if r.provider == "openai" and r.day == yesterday)
        assert day_total == pytest.approx(sum(usd for _p, _i, usd, _q in good), abs=1e-6)
        mtd = runtime.ledger.summary(NOW).month_to_date_by_provider["openai"]
        assert mtd == mtd and mtd < 1e6  # finite: the series does not vanish


async def test_todays_usage_of_an_unpriced_model_is_reported_as_an_amount_at_its_own_billed_rate() -> None:
    """OpenAI publishes no price for the model, but bills it: the Costs API's lines for it (amount and
    token quantity per line item) give its rate, so today's tokens are reported as an unpriced amount,
    apart from cost, until OpenAI bills the day."""
    sim = Simulator(World(seed=21, scale=Scale(openai_models=12), start=NOW, frozen=True, **unpriced_world_options()))
    await sim.start()
    try:
        async with running(make_runtime(sim, only="openai")) as (runtime, reader):
            await runtime.collector.run_cycle(force=True)  # the Costs read gives the billed rates
            sim.world.advance(60)
            outcomes = await runtime.collector.run_cycle(force=True)
            assert all(o.ok for o in outcomes), outcomes
            truth = sim.providers["openai"].ground_truth()
            amounts = [p.value for p in metric_points(reader, "stackwatch.cost.unpriced.month_to_date_usd")
                       if p.attributes == {"provider": "openai", "item": UNPRICED_MODEL}]
            invoiced = truth["unpriced"]["items"][UNPRICED_MODEL]  # today's tokens × the fixture's list price
            assert invoiced > 1.0 and len(amounts) == 1
            # Within OpenAI's adjustments (+1.5 % on some of the days the rate is taken from).
            assert amounts[0] == pytest.approx(invoiced, rel=0.016)
            # It is not cost: the ledger still holds exactly what OpenAI billed and the priced estimate.
            mtd = runtime.ledger.summary(sim.world.now()).month_to_date_by_provider["openai"]
            assert mtd == pytest.approx(truth["month_to_date_usd"], abs=HALF_CENT)
    finally:
        await sim.stop()
