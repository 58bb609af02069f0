"""LlamaCloud Starter with a 15th-day billing anchor on the simulator (frozen clock), against its
invoice: the allowance resets on the 15th, not the 1st, runs out mid-cycle, and a restart in the
middle changes nothing; in cycles that start in months of 28, 29, 30 and 31 days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from calendars import CalendarMonth
from month import Month

CENT = 0.005


def usage_cost_by_day(month: Month, since: date) -> dict[date, float]:
    out: dict[date, float] = {}
    for r in month.runtime.ledger.records():
        if r.provider == "llamacloud" and r.sku.startswith("credits:") and r.day >= since:
            out[r.day] = out.get(r.day, 0.0) + r.billed_cost
    return out


async def test_starter_allowance_resets_on_the_15th_and_runs_out_mid_cycle(tmp_path, calendar_month: CalendarMonth):
    cal = calendar_month
    start = cal.at(12)
    async with Month(str(tmp_path), start, "llamacloud", step_s=6 * 3600,
                     provider_config={"billing_anchor_day": 15, "plan": "starter"}) as month:
        sim = month.sim.providers["llamacloud"]
        sim.plan, sim.billing_anchor_day = "starter", 15

        await month.run_until(cal.at(16, 6))
        early_forecast = month.summary().forecast_by_provider["llamacloud"]
        await month.run_until(cal.at(20))
        before = month.mtd()
        await month.restart()
        await month.poll()
        assert month.mtd() == pytest.approx(before, abs=1e-9), "month-to-date moved across a restart"
        await month.run_until(cal.at(28, 6))

        truth = month.truth()
        assert month.mtd() == pytest.approx(truth["month_to_date_usd"], abs=CENT)
        usage = usage_cost_by_day(month, start.date())
        # The previous cycle (the 15th of last month .. the 14th) was past its 40,000 credits: the
        # 12th-14th pay overage.
        assert all(usage.get(start.date() + timedelta(days=i), 0.0) > 0 for i in range(3))
        # From the 15th the allowance is fresh: no overage until it runs out, then overage every day.
        cycle_days = [cal.at(15).date() + timedelta(days=i) for i in range(14)]
        paid = [usage.get(d, 0.0) > 0 for d in cycle_days]
        first_paid = paid.index(True)
        assert first_paid >= 3 and all(paid[first_paid:]) and not any(paid[:first_paid]), paid

        # Days 1-2 of the cycle: the forecast projects usage against the fresh allowance, within 15 %
        # of the cycle's whole invoice (the 15th .. the next month's 14th), not last cycle's
        # all-overage rate (about 40 % over). The simulated usage swings ±40 % from day to day, so
        # a forecast from the first day and a quarter lands −13 % to +4 % in these four cycles.
        next_15th = cal.end + timedelta(days=14)
        month.world.advance(next_15th.timestamp() - month.world.now_ts() - 1)
        cycle_invoice = month.truth()["invoice"]["month_to_date_usd"]
        assert early_forecast == pytest.approx(cycle_invoice, rel=0.15)
