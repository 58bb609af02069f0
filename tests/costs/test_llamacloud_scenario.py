"""Scenario: a LlamaCloud month with every credit-carrying event type (parse, extract, index,
classify, split), an unpublished parse mode and an event type stackwatch does not know, on a
frozen clock, against the simulator's independent invoice (its own price fixtures)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from simhelpers import counter_value, make_runtime, metric_points, running

from exporters.simulator import Simulator, World
from exporters.simulator.llamacloud.sim import OPERATION_EVENTS, UNKNOWN_CREDIT_EVENT, UNPRICED_MODE
from exporters.simulator.world import Scale

NOW = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)
HALF_CENT = 0.005


@pytest.fixture
async def sim():  # type: ignore[no-untyped-def]
    # Every credit event type, the unpublished mode and the unknown event included (`unpriced-usage`).
    simulator = Simulator(World(seed=3, scale=Scale(llamacloud_projects=3, history_days=25), start=NOW, frozen=True,
                                incidents=frozenset({"unpriced-usage"})))
    await simulator.start()
    yield simulator
    await simulator.stop()


def gauge(reader, name: str, **attrs: str) -> float:  # type: ignore[no-untyped-def]
    return sum(p.value for p in metric_points(reader, name) if all(p.attributes.get(k) == v for k, v in attrs.items()))


@pytest.mark.parametrize("plan", ["pay_as_you_go", "starter"])
async def test_a_month_of_every_credit_event_type_matches_the_invoice(sim: Simulator, plan: str) -> None:
    llama = sim.providers["llamacloud"]
    llama.plan = plan
    overrides = {"providers": {"llamacloud": {"plan": plan, "history_days": 25}}}
    async with running(make_runtime(sim, only="llamacloud", overrides=overrides)) as (runtime, reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        truth = llama.ground_truth()
        summary = runtime.ledger.summary(NOW)
        assert summary.month_to_date_by_provider["llamacloud"] == pytest.approx(truth["month_to_date_usd"],
                                                                               abs=HALF_CENT)
        assert summary.today_by_provider["llamacloud"] == pytest.approx(truth["today_usd"], abs=HALF_CENT)
        # Every operation's credits were read and counted under its own label.
        for operation in ("extract", "index", "classify", "split"):
            assert counter_value(reader, "llamacloud.credits", mode=operation) > 0, operation
        assert len(OPERATION_EVENTS) == 4
        # The invoice = what stackwatch prices + what it cannot (nothing is pending for LlamaCloud).
        assert truth["invoice"]["month_to_date_usd"] == pytest.approx(
            truth["month_to_date_usd"] + truth["unpriced"]["month_to_date_usd"], abs=1e-9)
        # Both unpriced items are counted and their usage reported, never priced at $0.
        for item in (f"mode:{UNPRICED_MODE}", f"event:{UNKNOWN_CREDIT_EVENT}"):
            assert counter_value(reader, "stackwatch.cost.unpriced_items", provider="llamacloud", item=item) == 1
            assert gauge(reader, "stackwatch.cost.unpriced.usage", provider="llamacloud", item=item) > 0
        if plan == "pay_as_you_go":  # no allowance: an unknown event's amount is its credits at the rate
            item = f"event:{UNKNOWN_CREDIT_EVENT}"
            assert truth["unpriced"]["items"][item] > 0
            assert gauge(reader, "stackwatch.cost.unpriced.month_to_date_usd", provider="llamacloud",
                         item=item) == pytest.approx(truth["unpriced"]["items"][item], abs=1e-9)
            # The unpublished mode has no amount in stackwatch: absent from the amounts, present in usage.
            assert gauge(reader, "stackwatch.cost.unpriced.month_to_date_usd", provider="llamacloud",
                         item=f"mode:{UNPRICED_MODE}") == 0
