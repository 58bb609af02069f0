"""OpenAI cost: billed (Costs API) and estimated (Usage API × price table), against the simulator."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest
from simhelpers import counter_value, make_runtime, running

from exporters.costs.ledger import CostLedger
from exporters.costs.prices import PriceBook
from exporters.costs.records import CostRecord
from exporters.providers.openai.exporter import (
    NO_PROJECT,
    Tokens,
    _billed_line,
    estimate_usd,
    model_from_line_item,
    model_prices,
)
from exporters.simulator import Simulator, World
from exporters.simulator.openai.sim import SPIKE_MODEL, UNPRICED_MODEL, OpenAISim
from exporters.simulator.world import Scale

CENT = 0.005


def openai_by_project(ledger: CostLedger, breakdown: str, now) -> dict[str, float]:  # type: ignore[no-untyped-def]
    summary = ledger.summary(now)
    totals: dict[str, float] = defaultdict(float)
    for (provider, _service, project, _model, _source), usd in getattr(summary, breakdown).items():
        if provider == "openai":
            totals[project] += usd
    return dict(totals)


def all_records(ledger: CostLedger) -> list[CostRecord]:
    """Every record the ledger holds, superseded ones included (the ledger only exposes those that count)."""
    return ledger.stored()


def daily(ledger: CostLedger, source: str | None = None) -> dict[date, float]:
    """OpenAI cost per day, from the records that count (or from one source, before superseding)."""
    totals: dict[date, float] = defaultdict(float)
    records = ledger.records() if source is None else [r for r in all_records(ledger) if r.source == source]
    for r in records:
        if r.provider == "openai":
            totals[r.day] += r.billed_cost
    return dict(totals)


# --- hand-computed prices (pure) ---

def table_on(day: date = date(2026, 11, 18)) -> dict:
    return PriceBook.load().table("openai", day)


def test_gpt_4o_estimate_prices_cached_input_at_its_own_rate_and_batch_at_half() -> None:
    prices = model_prices(table_on(), "gpt-4o")
    assert prices is not None
    usage = Tokens(input=1_000_000, cached=200_000, output=100_000, requests=10)
    # Published gpt-4o (openai.com/api/pricing, docs/providers/openai.md): $2.50 in, $1.25 cached, $10.00 out per 1M:
    # 0.8M uncached × $2.50 + 0.2M cached × $1.25 + 0.1M output × $10.00 = 2.00 + 0.25 + 1.00
    assert estimate_usd(usage, prices, 0.5, batch=False) == pytest.approx(3.25, abs=1e-12)
    # The same through the Batch API: × 0.5
    assert estimate_usd(usage, prices, 0.5, batch=True) == pytest.approx(1.625, abs=1e-12)


def test_embedding_estimate_uses_the_input_price_only() -> None:
    prices = model_prices(table_on(), "text-embedding-3-small")
    assert prices is not None
    # 5M tokens × $0.02 per 1M
    assert estimate_usd(Tokens(input=5_000_000, requests=3), prices, 0.5, batch=False) == pytest.approx(0.10)


def test_each_snapshot_has_its_own_price_and_undated_names_go_through_explicit_aliases() -> None:
    table = table_on()
    usage = Tokens(input=1_000_000, cached=500_000, output=1_000_000)
    may_2024 = model_prices(table, "gpt-4o-2024-05-13")
    assert may_2024 is not None
    # gpt-4o-2024-05-13 (published $5.00 in / $15.00 out, no cache discount): 1M × 5 + 1M × 15 = 20.00
    assert estimate_usd(usage, may_2024, 0.5, batch=False) == pytest.approx(20.00)
    # gpt-4o (alias of 2024-08-06): 0.5M × 2.50 + 0.5M × 1.25 + 1M × 10 = 11.875
    assert estimate_usd(usage, model_prices(table, "gpt-4o"), 0.5, batch=False) == pytest.approx(11.875)
    assert model_prices(table, "gpt-4o-mini") == model_prices(table, "gpt-4o-mini-2024-07-18")
    # A snapshot the table does not list is unpriced, not priced like its family.
    assert model_prices(table, "gpt-4o-2099-01-01") is None
    assert model_prices(table, "gpt-sim-experimental") is None


def test_model_names_come_from_line_items() -> None:
    assert model_from_line_item("gpt-4o-2024-08-06, cached input") == "gpt-4o-2024-08-06"
    assert model_from_line_item("gpt-4o-mini, batch output") == "gpt-4o-mini"


def test_the_price_table_covers_every_published_model_the_large_simulated_organisation_uses() -> None:
    world = World(seed=1, scale=Scale.large(), start=datetime(2026, 11, 18, 12, tzinfo=timezone.utc))
    sim = OpenAISim(world)
    assert len(sim.models) >= 30
    missing = [m for m in sim.models if sim.published(m) and model_prices(table_on(), m) is None]
    assert missing == []
    assert [m for m in sim.models if not sim.published(m)] == [UNPRICED_MODEL]


@pytest.mark.parametrize("value", [0.17391500000000002, "0.1739150000000000000000000000"])
def test_a_costs_amount_parses_from_a_json_number_and_from_a_decimal_string(value: object) -> None:
    parsed = _billed_line({"object": "organization.costs.result", "amount": {"value": value, "currency": "usd"},
                           "line_item": "gpt-4o-2024-08-06, input", "project_id": "proj_a"})
    assert not isinstance(parsed, str), parsed
    assert parsed[2] == pytest.approx(0.173915, abs=1e-15)


@pytest.mark.parametrize("value", ["NaN", float("inf"), "-Infinity", 1e12, "twelve"])
def test_a_non_finite_or_absurd_costs_amount_is_rejected(value: object) -> None:
    parsed = _billed_line({"amount": {"value": value, "currency": "usd"}, "project_id": "proj_a"})
    assert isinstance(parsed, str) and "amount.value" in parsed


def test_a_costs_row_without_a_project_is_kept_as_no_project() -> None:
    parsed = _billed_line({"amount": {"value": "1.5", "currency": "usd"}, "project_id": None,
                           "line_item": "file search storage"})
    assert not isinstance(parsed, str) and parsed[0] == NO_PROJECT == "(no project)"


# --- against the simulator ---

async def test_cost_today_month_to_date_and_by_project_equal_the_simulator_ground_truth(
        simulator: Simulator) -> None:
    async with running(make_runtime(simulator, only="openai")) as (runtime, _reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        now = simulator.world.now()
        truth = simulator.providers["openai"].ground_truth()
        summary = runtime.ledger.summary(now)
        assert summary.today_by_provider["openai"] == pytest.approx(truth["today_usd"], abs=CENT)
        assert summary.month_to_date_by_provider["openai"] == pytest.approx(truth["month_to_date_usd"], abs=CENT)
        by_project = openai_by_project(runtime.ledger, "month_to_date", now)
        assert set(by_project) == set(truth["month_to_date_by_project"])
        for project, usd in truth["month_to_date_by_project"].items():
            assert by_project[project] == pytest.approx(usd, abs=CENT), project
        assert truth["month_to_date_usd"] > truth["today_usd"] > 0  # the comparison is not between zeros


async def test_billed_cost_supersedes_the_estimate_for_complete_days_and_today_stays_estimated(
        simulator: Simulator) -> None:
    sim = simulator.providers["openai"]
    async with running(make_runtime(simulator, only="openai")) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        today = simulator.world.today()
        counted = {(r.day, r.source) for r in runtime.ledger.records() if r.provider == "openai"}
        assert (today, "estimated") in counted and (today, "billed") not in counted
        yesterday = today - timedelta(days=1)
        assert (yesterday, "billed") in counted and (yesterday, "estimated") not in counted
        # On a day OpenAI billed 1.5 % above list price, the ledger holds the billed figure, not the estimate.
        adjusted = next(d for d in (today - timedelta(days=i) for i in range(1, 15)) if sim.adjustment(d) > 0)
        billed_truth = sum(usd for _p, _item, usd, _t in sim.costs_on(adjusted))
        estimated = daily(runtime.ledger, "estimated")[adjusted]
        assert billed_truth != pytest.approx(estimated, abs=CENT)
        assert daily(runtime.ledger)[adjusted] == pytest.approx(billed_truth, abs=1e-6)
        # The billed amount exceeds the estimate by the adjustment (plus the unpriced model, billed only).
        assert daily(runtime.ledger)[adjusted] > estimated * 1.015 - CENT


@pytest.mark.incidents("unpriced-usage")
async def test_an_unknown_model_is_counted_as_unpriced_and_never_estimated_at_zero(simulator: Simulator) -> None:
    async with running(make_runtime(simulator, only="openai")) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        estimated_models = {r.model for r in all_records(runtime.ledger)
                            if r.provider == "openai" and r.source == "estimated"}
        billed_models = {r.model for r in all_records(runtime.ledger)
                         if r.provider == "openai" and r.source == "billed"}
        assert UNPRICED_MODEL not in estimated_models  # no $0 (or any) estimate for it
        assert UNPRICED_MODEL in billed_models  # OpenAI's own bill still includes it
        assert ("openai", UNPRICED_MODEL) in runtime.collector.unpriced_items


@pytest.mark.incidents("unpriced-usage")
async def test_unpriced_usage_increments_the_unpriced_items_counter(simulator: Simulator) -> None:
    async with running(make_runtime(simulator, only="openai")) as (runtime, reader):
        await runtime.collector.run_cycle(force=True)
        first = counter_value(reader, "stackwatch.cost.unpriced_items", provider="openai", item=UNPRICED_MODEL)
        simulator.world.advance(60)
        await runtime.collector.run_cycle()
        second = counter_value(reader, "stackwatch.cost.unpriced_items", provider="openai", item=UNPRICED_MODEL)
        assert first == 1 and second == 2  # once per poll that saw its usage


async def test_cost_spike_raises_todays_estimate_and_still_matches_ground_truth(simulator: Simulator) -> None:
    async with running(make_runtime(simulator, only="openai")) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        before = runtime.ledger.summary(simulator.world.now()).today_by_provider["openai"]
        simulator.world.set_scenario("cost-spike", "openai")
        simulator.world.advance(60)
        await runtime.collector.run_cycle()
        now = simulator.world.now()
        after = runtime.ledger.summary(now).today_by_provider["openai"]
        truth = simulator.providers["openai"].ground_truth()
        assert after == pytest.approx(truth["today_usd"], abs=CENT)
        spiked = [r for r in runtime.ledger.records() if r.model == SPIKE_MODEL and r.day == now.date()]
        assert spiked and after > before * 2
