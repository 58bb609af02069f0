"""OpenAI cost: billed (Costs API) and estimated (Usage API × price table), against the simulator."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from simhelpers import counter_value, make_runtime, running

from exporters.cost import CostLedger, CostRecord
from exporters.openai import Tokens, estimate_usd, model_from_line_item, normalise_model
from exporters.prices import PriceBook
from exporters.simulator import Simulator
from exporters.simulator.openai import SPIKE_MODEL, UNPRICED_MODEL

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

def test_gpt_4o_estimate_prices_cached_input_at_its_own_rate_and_batch_at_half() -> None:
    prices = PriceBook.load().table("openai", date(2026, 11, 18))["usd_per_million_tokens"]["gpt-4o"]
    usage = Tokens(input=1_000_000, cached=200_000, output=100_000, requests=10)
    # 0.8M uncached × $2.50 + 0.2M cached × $1.25 + 0.1M output × $10.00 = 2.00 + 0.25 + 1.00
    assert estimate_usd(usage, prices, 0.5, batch=False) == pytest.approx(3.25, abs=1e-12)
    # The same through the Batch API: × 0.5
    assert estimate_usd(usage, prices, 0.5, batch=True) == pytest.approx(1.625, abs=1e-12)


def test_embedding_estimate_uses_the_input_price_only() -> None:
    prices = PriceBook.load().table("openai", date(2026, 11, 18))["usd_per_million_tokens"]["text-embedding-3-small"]
    # 5M tokens × $0.02 per 1M
    assert estimate_usd(Tokens(input=5_000_000, requests=3), prices, 0.5, batch=False) == pytest.approx(0.10)


def test_model_names_lose_their_snapshot_date_for_pricing_and_come_from_line_items() -> None:
    assert normalise_model("gpt-4o-2024-08-06") == "gpt-4o"
    assert normalise_model("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert normalise_model("text-embedding-3-large") == "text-embedding-3-large"
    assert model_from_line_item("gpt-4o-2024-08-06, cached input") == "gpt-4o-2024-08-06"
    assert model_from_line_item("gpt-4o-mini, batch output") == "gpt-4o-mini"


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
