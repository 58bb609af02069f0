"""LlamaCloud Starter with a 15th-day billing anchor on the simulator (frozen clock), against its
invoice: the allowance resets on the 15th, not the 1st, runs out mid-cycle, and a restart in the
middle changes nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from month import Month

CENT = 0.005
NOV_12 = datetime(2026, 11, 12, tzinfo=timezone.utc)


def usage_cost_by_day(month: Month) -> dict[date, float]:
    out: dict[date, float] = {}
    for r in month.runtime.ledger.records():
        if r.provider == "llamacloud" and r.sku.startswith("credits:") and r.day >= NOV_12.date():
            out[r.day] = out.get(r.day, 0.0) + r.billed_cost
    return out


async def test_starter_allowance_resets_on_the_15th_and_runs_out_mid_cycle(tmp_path):
    async with Month(str(tmp_path), NOV_12, "llamacloud", step_s=6 * 3600,
                     provider_config={"billing_anchor_day": 15, "plan": "starter"}) as month:
        sim = month.sim.providers["llamacloud"]
        sim.plan, sim.billing_anchor_day = "starter", 15

        await month.run_until(datetime(2026, 11, 16, 6, tzinfo=timezone.utc))
        early_forecast = month.summary().forecast_by_provider["llamacloud"]
        await month.run_until(datetime(2026, 11, 20, tzinfo=timezone.utc))
        before = month.mtd()
        await month.restart()
        await month.poll()
        assert month.mtd() == pytest.approx(before, abs=1e-9), "month-to-date moved across a restart"
        await month.run_until(datetime(2026, 11, 29, 6, tzinfo=timezone.utc))

        truth = month.truth()
        assert month.mtd() == pytest.approx(truth["month_to_date_usd"], abs=CENT)
        usage = usage_cost_by_day(month)
        # The previous cycle (Oct 15 .. Nov 14) was past its 40,000 credits: the 12th-14th pay overage.
        assert all(usage.get(NOV_12.date() + timedelta(days=i), 0.0) > 0 for i in range(3))
        # From the 15th the allowance is fresh: no overage until it runs out, then overage every day.
        cycle_days = [date(2026, 11, 15) + timedelta(days=i) for i in range(15)]
        paid = [usage.get(d, 0.0) > 0 for d in cycle_days]
        first_paid = paid.index(True)
        assert first_paid >= 3 and all(paid[first_paid:]) and not any(paid[:first_paid]), paid

        # Days 1-2 of the cycle: the forecast projects usage against the fresh allowance, within 10 %
        # of the cycle's whole invoice (Nov 15 .. Dec 14), not last cycle's all-overage rate.
        month.world.advance(datetime(2026, 12, 15, tzinfo=timezone.utc).timestamp() - month.world.now_ts() - 1)
        cycle_invoice = month.truth()["invoice"]["month_to_date_usd"]
        assert early_forecast == pytest.approx(cycle_invoice, rel=0.10)
