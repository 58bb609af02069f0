"""Scenario: a LlamaCloud month with every credit-carrying event type (parse, extract, index,
classify, split), an unpublished parse mode and an event type stackwatch does not know, on a
frozen clock (in months of each length, on the 1st, on a leap day, across a month's end), against
the simulator's independent invoice (its own price fixtures): Starter's monthly fee accrues per
second of the month it is in."""

from __future__ import annotations

import pytest
from calendars import Moment
from simhelpers import counter_value, make_runtime, metric_points, running

from exporters.simulator import Simulator, World
from exporters.simulator.llamacloud.sim import OPERATION_EVENTS, UNKNOWN_CREDIT_EVENT, UNPRICED_MODE
from exporters.simulator.world import Scale

HALF_CENT = 0.005
# The month so far (up to 31 days) and the 7 days before it, which the forecast reads.
HISTORY_DAYS = 38


@pytest.fixture
async def sim(moment: Moment):  # type: ignore[no-untyped-def]
    # Every credit event type, the unpublished mode and the unknown event included (`unpriced-usage`).
    simulator = Simulator(World(seed=3, scale=Scale(llamacloud_projects=3, history_days=HISTORY_DAYS), start=moment.now,
                                frozen=True, incidents=frozenset({"unpriced-usage"})))
    await simulator.start()
    yield simulator
    await simulator.stop()


def gauge(reader, name: str, **attrs: str) -> float:  # type: ignore[no-untyped-def]
    return sum(p.value for p in metric_points(reader, name) if all(p.attributes.get(k) == v for k, v in attrs.items()))


@pytest.mark.parametrize("plan", ["pay_as_you_go", "starter"])
async def test_a_month_of_every_credit_event_type_matches_the_invoice(sim: Simulator, plan: str,
                                                                      moment: Moment) -> None:
    llama = sim.providers["llamacloud"]
    llama.plan = plan
    overrides = {"providers": {"llamacloud": {"plan": plan, "history_days": HISTORY_DAYS}}}
    async with running(make_runtime(sim, only="llamacloud", overrides=overrides)) as (runtime, reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        truth = llama.ground_truth()
        summary = runtime.ledger.summary(moment.now)
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
        # Both unpriced items are in the month's invoice (on the 1st, not yet: the month's first
        # day is not reported yet). Each one invoiced is counted and its usage reported, never
        # priced at $0; one not invoiced yet has no usage this month.
        both = {f"mode:{UNPRICED_MODE}", f"event:{UNKNOWN_CREDIT_EVENT}"}
        invoiced = set(truth["unpriced"]["items"])
        assert invoiced == (both if moment.today.day > 1 else set())
        for item in both:
            usage = gauge(reader, "stackwatch.cost.unpriced.usage", provider="llamacloud", item=item)
            if item in invoiced:
                assert counter_value(reader, "stackwatch.cost.unpriced_items", provider="llamacloud", item=item) == 1
                assert usage > 0
            else:
                assert usage == 0
        if plan == "pay_as_you_go" and invoiced:  # no allowance: an unknown event's amount is its credits at the rate
            item = f"event:{UNKNOWN_CREDIT_EVENT}"
            assert truth["unpriced"]["items"][item] > 0
            assert gauge(reader, "stackwatch.cost.unpriced.month_to_date_usd", provider="llamacloud",
                         item=item) == pytest.approx(truth["unpriced"]["items"][item], abs=1e-9)
            # The unpublished mode has no amount in stackwatch: absent from the amounts, present in usage.
            assert gauge(reader, "stackwatch.cost.unpriced.month_to_date_usd", provider="llamacloud",
                         item=f"mode:{UNPRICED_MODE}") == 0
