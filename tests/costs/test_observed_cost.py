"""The estimate from observed state (exporters/costs/observed.py) at a day's edge, against the invoice.

Render and Supabase once re-priced different days after a poll: Render from the earliest day the
poll's observation changed, Supabase from the day before at the latest. They differ when the
polls stop before midnight and resume after a gap: the fees the config prices (Render's workspace
seats, Supabase's plan) accrue through the unobserved time, so the day before must be priced again
to its end. The simulator's invoice (its own fixtures) says which rule is right.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from month import Month

NOV_1 = datetime(2026, 11, 1, tzinfo=timezone.utc)
CENT = 0.005
HOUR = 3600.0


def invoiced_fee(month: Month, day: date) -> float:
    """The config-priced fee of `day` on the simulator's invoice (a Purchase line)."""
    lines = month.sim.providers[month.only].invoice_lines(NOV_1.date(), month.world.now_ts())
    return sum(line.usd for line in lines if line.category == "Purchase" and line.day == day)


def estimated_fee(month: Month, day: date) -> float:
    return sum(r.billed_cost for r in month.runtime.ledger.records()
               if r.provider == month.only and r.charge_category == "Purchase" and r.day == day)


async def last_poll_before_midnight_then_a_gap(month: Month) -> date:
    """Polls hourly to 23:00 on the 2nd, then none until 02:00 on the 3rd (longer than the 2 h gap limit)."""
    await month.run_until(NOV_1 + timedelta(days=1, hours=23))
    month.world.advance(3 * HOUR)
    await month.poll()
    return date(2026, 11, 2)


async def test_render_workspace_seats_of_the_day_before_a_gap_across_midnight_are_invoiced_whole(tmp_path):
    # A workspace with paid seats whose services are all in another workspace's view (no resource is
    # observed, so no observation dates the day before): only the seats are priced.
    seats = {"workspace_plan": "professional", "workspace_seats": 3, "owner_id": "tea-elsewhere"}
    async with Month(str(tmp_path), NOV_1, "render", provider_config=seats, incidents=frozenset()) as month:
        render = month.sim.providers["render"]
        render.workspace_plan, render.workspace_seats = seats["workspace_plan"], seats["workspace_seats"]
        day = await last_poll_before_midnight_then_a_gap(month)
        # Professional: $19 a seat-month (render.com/pricing); 3 seats for one day of November's 30.
        assert invoiced_fee(month, day) == pytest.approx(19 * 3 / 30)
        assert estimated_fee(month, day) == pytest.approx(invoiced_fee(month, day), abs=CENT)


async def test_supabase_plan_fee_of_the_day_before_a_gap_across_midnight_is_invoiced_whole(tmp_path):
    async with Month(str(tmp_path), NOV_1, "supabase", incidents=frozenset()) as month:
        day = await last_poll_before_midnight_then_a_gap(month)
        # Pro: $25 a month (supabase.com/pricing), one day of November's 30 (the compute credit apart).
        assert invoiced_fee(month, day) == pytest.approx(25 / 30)
        assert estimated_fee(month, day) == pytest.approx(invoiced_fee(month, day), abs=CENT)
