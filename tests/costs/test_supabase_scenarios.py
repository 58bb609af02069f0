"""Supabase on the simulator with a frozen clock, against its invoice (own price fixtures): a compute
resize, a PITR add-on, a pause and a resume, a restart in the middle (in months of 28, 29, 30 and 31
days), and a 15th-day billing anchor."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from calendars import CalendarMonth
from month import Month

CENT = 0.005
STEP = 3 * 3600.0


async def test_resize_pitr_pause_resume_and_a_restart_match_the_invoice_to_the_cent(
        tmp_path, calendar_month: CalendarMonth):
    cal = calendar_month
    at = lambda day, hour: cal.at(day, hour).timestamp()  # noqa: E731
    async with Month(str(tmp_path), cal.start, "supabase", step_s=STEP) as month:
        supabase = month.sim.providers["supabase"]
        supabase.schedule("production", at(4, 9), compute="ci_medium")
        supabase.schedule("staging", at(6, 15), pitr=True)
        supabase.schedule("production", at(8, 0), paused=True)
        supabase.schedule("production", at(9, 12), paused=False)

        await month.run_until(cal.start + timedelta(days=6, hours=12))
        before = month.mtd()
        await month.restart()
        await month.poll()
        assert month.mtd() == pytest.approx(before, abs=1e-9), "month-to-date moved across a restart"

        await month.run_until(cal.start + timedelta(days=11))
        truth = month.truth()
        assert month.mtd() == pytest.approx(truth["month_to_date_usd"], abs=CENT)
        mine = month.mtd_by_project()
        for name, usd in truth["month_to_date_by_project"].items():
            assert mine.get(name, 0.0) == pytest.approx(usd, abs=CENT), name
        # The changes are in the invoice: PITR ($100/month) on staging from the 6th, 15:00.
        assert truth["month_to_date_by_project"]["staging"] > 100 * (4 * 24 + 9) / (cal.days * 24)
        # The credit was used once: -$10 in the cycle, no more.
        credits = [r.billed_cost for r in month.runtime.ledger.records()
                   if r.provider == "supabase" and r.charge_category == "Credit" and r.day >= cal.first]
        assert sum(credits) == pytest.approx(-10.0)

        invoice = sum(x.usd for x in supabase.invoice_lines(cal.first, cal.end.timestamp()))
        assert month.summary().forecast_by_provider["supabase"] == pytest.approx(invoice, abs=CENT)


async def test_a_15th_day_anchor_restarts_month_to_date_and_the_credit_on_the_15th(tmp_path):
    nov_12 = datetime(2026, 11, 12, tzinfo=timezone.utc)
    async with Month(str(tmp_path), nov_12, "supabase", step_s=STEP,
                     provider_config={"billing_anchor_day": 15}) as month:
        supabase = month.sim.providers["supabase"]
        supabase.billing_anchor_day = 15
        await month.run_until(datetime(2026, 11, 17, 6, tzinfo=timezone.utc))
        truth = month.truth()
        assert month.mtd() == pytest.approx(truth["month_to_date_usd"], abs=CENT)
        credits = {r.day.day: r.billed_cost for r in month.runtime.ledger.records()
                   if r.provider == "supabase" and r.charge_category == "Credit" and r.day >= nov_12.date()}
        assert min(credits) == 12 and 15 in credits, credits  # a fresh credit from the 15th
        # Month-to-date is the cost from the 15th on; the 12th to the 14th belong to the previous cycle.
        records = [r for r in month.runtime.ledger.records() if r.provider == "supabase"]
        nov_15 = nov_12.date() + timedelta(days=3)
        assert any(nov_12.date() <= r.day < nov_15 and r.billed_cost > 0 for r in records)
        assert month.mtd() == pytest.approx(sum(r.billed_cost for r in records if r.day >= nov_15), abs=1e-9)
