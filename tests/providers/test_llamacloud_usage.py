"""LlamaCloud: page_token pagination, deltas, the plan allowance rule, ground truth, not-enabled orgs."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest
from simhelpers import counter_value, make_runtime, running

from exporters.providers.llamacloud.exporter import Plan, UsageKey, billable_credits, fee_usd
from exporters.simulator import Simulator, World
from exporters.simulator.llamacloud.sim import INDEXED, MAX_PAGE_SIZE, OPERATION_EVENTS, PARSED, UNPRICED_MODE
from exporters.simulator.world import Scale

FIXED_NOW = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)
HISTORY_DAYS = 40
CENT = 0.005


@pytest.fixture
def world() -> World:
    # Enough projects that the history needs more than one page of 1000 items; the unpublished
    # mode and the unknown event type on every day of the history (the `unpriced-usage` condition).
    return World(seed=5, scale=Scale(llamacloud_projects=14, history_days=HISTORY_DAYS), start=FIXED_NOW,
                 incidents=frozenset({"unpriced-usage"}))


def llama_runtime(simulator: Simulator, **settings):  # type: ignore[no-untyped-def]
    return make_runtime(simulator, only="llamacloud",
                        overrides={"providers": {"llamacloud": {"history_days": HISTORY_DAYS, **settings}}})


def sim_totals(simulator: Simulator) -> tuple[int, float]:
    """Pages parsed and credits of billed events stackwatch can price, over the whole history, now."""
    sim = simulator.providers["llamacloud"]
    pages, credits = 0, 0.0
    for m in sim.visible(simulator.world.history_start().date(), simulator.world.today()):
        if m.event_type == PARSED:
            pages += m.pages
        if m.event_type in (PARSED, *OPERATION_EVENTS):
            credits += m.true_credits(sim._credits_per_page) or 0.0
    return pages, credits


def llama_exchanges(simulator: Simulator) -> list:  # type: ignore[no-untyped-def]
    return [e for e in simulator.stats.exchanges if e.provider == "llamacloud"]


def by_project(runtime, now) -> dict[str, float]:  # type: ignore[no-untyped-def]
    totals: dict[str, float] = defaultdict(float)
    for (provider, _s, project, _m, _src), usd in runtime.ledger.summary(now).month_to_date.items():
        if provider == "llamacloud":
            totals[project] += usd
    return dict(totals)


# --- the cost rule, hand-computed ---

def test_credits_within_the_monthly_allowance_are_free_and_the_rest_cost_the_pay_as_you_go_rate() -> None:
    a, b = "proj-a", "proj-b"
    nov = lambda d: date(2026, 11, d)  # noqa: E731
    credits = {
        nov(1): {UsageKey(nov(1), a, "agentic"): 20_000.0, UsageKey(nov(1), b, "fast"): 10_000.0},
        nov(2): {UsageKey(nov(2), a, "agentic"): 15_000.0},
        nov(3): {UsageKey(nov(3), a, "agentic"): 6_000.0, UsageKey(nov(3), b, "fast"): 2_000.0},
        date(2026, 12, 1): {UsageKey(date(2026, 12, 1), a, "agentic"): 1_000.0},
    }
    billable = billable_credits(credits, included_credits=40_000)  # Starter: 40k credits a month
    # Nov 1: 30,000 used of 40,000 included → nothing billable.
    assert sum(billable[nov(1)].values()) == 0
    # Nov 2: 30,000 + 15,000 = 45,000 → 5,000 beyond the allowance.
    assert billable[nov(2)] == {UsageKey(nov(2), a, "agentic"): 5_000.0}
    # Nov 3: all 8,000 beyond it, shared 6:2 → 6,000 and 2,000.
    assert billable[nov(3)] == {UsageKey(nov(3), a, "agentic"): 6_000.0, UsageKey(nov(3), b, "fast"): 2_000.0}
    # December starts a new allowance.
    assert sum(billable[date(2026, 12, 1)].values()) == 0
    # In dollars at $1.25 per 1,000 credits: Nov 2 5,000 → $6.25; Nov 3 8,000 → $10.00 (A $7.50, B $2.50).
    assert 5_000 * 1.25 / 1000 == 6.25 and 6_000 * 1.25 / 1000 == 7.50 and 2_000 * 1.25 / 1000 == 2.50


def test_the_plan_fee_accrues_per_second_of_the_calendar_month() -> None:
    starter = Plan("starter", usd_per_month=50.0, included_credits=40_000, usd_per_1000_credits=1.25)
    day = datetime(2026, 11, 18, tzinfo=timezone.utc)
    # November has 30 days: a whole day is $50 / 30 = $1.6667; half a day $0.8333.
    assert fee_usd(starter, day, day + timedelta(days=1)) == pytest.approx(50 / 30)
    assert fee_usd(starter, day, day + timedelta(hours=12)) == pytest.approx(25 / 30)


# --- against the simulator ---

async def test_first_cycle_pages_with_page_token_and_makes_the_minimum_number_of_requests(
        simulator: Simulator) -> None:
    async with running(llama_runtime(simulator)) as (runtime, reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        exchanges = llama_exchanges(simulator)
        minimum = simulator.providers["llamacloud"].minimum_requests()["usage"]
        assert minimum >= 2 and len(exchanges) == minimum
        first, second = dict(exchanges[0].query), dict(exchanges[1].query)
        assert "page_token" not in first and second["page_token"]
        assert first["page_size"] == str(MAX_PAGE_SIZE)
        assert first["day_on_or_after"] == "2026-10-09" and first["day_on_or_before"] == "2026-11-18"
        pages, credits = sim_totals(simulator)
        assert counter_value(reader, "llamacloud.pages") == pages  # every page of items arrived once
        assert counter_value(reader, "llamacloud.credits") == pytest.approx(credits)


async def test_a_second_cycle_rereads_today_and_counts_only_new_jobs(simulator: Simulator) -> None:
    async with running(llama_runtime(simulator)) as (runtime, reader):
        await runtime.collector.run_cycle(force=True)
        first_pages = counter_value(reader, "llamacloud.pages")
        simulator.stats.exchanges.clear()
        simulator.world.advance(3 * 3600)  # three hours: new jobs appear today
        await runtime.collector.run_cycle()
        exchanges = llama_exchanges(simulator)
        assert len(exchanges) == 1 and dict(exchanges[0].query)["day_on_or_after"] == "2026-11-18"
        pages, credits = sim_totals(simulator)
        assert pages > first_pages
        assert counter_value(reader, "llamacloud.pages") == pages
        assert counter_value(reader, "llamacloud.credits") == pytest.approx(credits)


@pytest.mark.parametrize("plan", ["pay_as_you_go", "starter", "pro"])
async def test_cost_today_month_to_date_and_by_project_equal_the_simulator_ground_truth(
        simulator: Simulator, plan: str) -> None:
    simulator.providers["llamacloud"].plan = plan
    async with running(llama_runtime(simulator, plan=plan)) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        now = simulator.world.now()
        truth = simulator.providers["llamacloud"].ground_truth()
        summary = runtime.ledger.summary(now)
        assert summary.today_by_provider["llamacloud"] == pytest.approx(truth["today_usd"], abs=CENT)
        assert summary.month_to_date_by_provider["llamacloud"] == pytest.approx(truth["month_to_date_usd"], abs=CENT)
        mine = by_project(runtime, now)
        for project, usd in truth["month_to_date_by_project"].items():
            assert mine.get(project, 0.0) == pytest.approx(usd, abs=CENT), project
        assert truth["month_to_date_usd"] > 0


async def test_the_starter_allowance_makes_the_month_cheaper_than_pay_as_you_go(simulator: Simulator) -> None:
    """The allowance and the fee both show: Starter = $50 prorated + credits beyond 40k."""
    sim = simulator.providers["llamacloud"]
    results = {}
    for plan in ("pay_as_you_go", "starter"):
        sim.plan = plan
        async with running(llama_runtime(simulator, plan=plan)) as (runtime, _reader):
            await runtime.collector.run_cycle(force=True)
            results[plan] = runtime.ledger.summary(simulator.world.now()).month_to_date_by_provider["llamacloud"]
    # 17.5625 days of November elapsed: fee = 50 × 17.5625 / 30; 40,000 credits free = $50.00 saved.
    fee = 50 * (17 + 13.5 / 24) / 30
    assert results["starter"] == pytest.approx(max(0.0, results["pay_as_you_go"] - 50.0) + fee, abs=0.01)


async def test_unknown_mode_without_credits_is_unpriced_and_operations_count_in_credits_not_pages(
        simulator: Simulator) -> None:
    async with running(llama_runtime(simulator)) as (runtime, reader):
        await runtime.collector.run_cycle(force=True)
        assert counter_value(reader, "stackwatch.cost.unpriced_items", provider="llamacloud",
                             item=f"mode:{UNPRICED_MODE}") == 1
        assert counter_value(reader, "llamacloud.pages", mode=UNPRICED_MODE) > 0  # pages still counted
        assert counter_value(reader, "llamacloud.credits", mode=UNPRICED_MODE) == 0  # credits unknown, not 0-priced
        sim = simulator.providers["llamacloud"]
        visible = sim.visible(simulator.world.history_start().date(), simulator.world.today())
        indexed = [m for m in visible if m.event_type == INDEXED]
        assert indexed  # they exist and were read; their credits count, their pages are not "pages parsed"
        assert counter_value(reader, "llamacloud.pages") == sim_totals(simulator)[0]
        assert counter_value(reader, "llamacloud.credits", mode="index") == pytest.approx(
            sum(m.credits for m in indexed))
        assert counter_value(reader, "stackwatch.provider.invalid_items", provider="llamacloud") == 0


async def test_an_organisation_without_usage_metrics_fails_clearly_and_reports_no_cost(
        simulator: Simulator) -> None:
    simulator.providers["llamacloud"].usage_metrics_enabled = False
    async with running(llama_runtime(simulator)) as (runtime, reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        (outcome,) = outcomes
        assert not outcome.ok and outcome.reason == "client_error"
        assert "not enabled" in (outcome.message or "")
        assert counter_value(reader, "stackwatch.provider.poll.errors", provider="llamacloud",
                             reason="client_error") == 1
        assert "llamacloud" not in runtime.ledger.summary(simulator.world.now()).month_to_date_by_provider


async def test_cost_spike_multiplies_todays_cost_and_matches_ground_truth(simulator: Simulator) -> None:
    async with running(llama_runtime(simulator)) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        before = runtime.ledger.summary(simulator.world.now()).today_by_provider["llamacloud"]
        simulator.world.set_scenario("cost-spike", "llamacloud")
        simulator.world.advance(60)
        await runtime.collector.run_cycle()
        truth = simulator.providers["llamacloud"].ground_truth()
        after = runtime.ledger.summary(simulator.world.now()).today_by_provider["llamacloud"]
        assert after == pytest.approx(truth["today_usd"], abs=CENT) and after > before * 1.5
