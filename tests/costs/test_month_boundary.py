"""Across a month's end, on the simulator's frozen clock, against its invoice (own price fixtures):
Render and Supabase, estimated from the state stackwatch observes, over the last days of months of
28, 29 (to a leap day), 30 and 31 days and into the next. Each day is priced at the per-second
rate of its own month, month-to-date starts afresh on the 1st (Supabase's compute credit too), and
a restart on the 1st changes nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from calendars import CalendarMonth
from month import Month

CENT = 0.005
STEP_S = 3 * 3600.0


def stackwatch_by_day(month: Month, since: date) -> dict[date, float]:
    out: dict[date, float] = defaultdict(float)
    for r in month.runtime.ledger.records():
        if r.provider == month.only and r.day >= since:
            out[r.day] += r.billed_cost
    return dict(out)


def invoice_by_day(month: Month, since: date) -> dict[date, float]:
    """What the provider invoices for each day from `since` to now (what stackwatch can price)."""
    out: dict[date, float] = defaultdict(float)
    for line in month.sim.providers[month.only].invoice_lines(since, month.world.now_ts()):
        if line.status == "priced":
            out[line.day] += line.usd
    return dict(out)


@pytest.mark.parametrize("provider", ["render", "supabase"])
async def test_each_day_is_priced_at_its_own_months_rate_and_the_1st_starts_month_to_date_afresh(
        tmp_path, calendar_month: CalendarMonth, provider: str) -> None:
    cal = calendar_month
    first_seen = cal.at(cal.days - 2)  # from the 26th (27th, 28th, 29th) of the month, 00:00
    async with Month(str(tmp_path), first_seen, provider, step_s=STEP_S) as month:
        await month.run_until(cal.at(cal.days, 21))  # the month's last day, 21:00
        old_month = invoice_by_day(month, first_seen.date())
        assert sorted(old_month) == [first_seen.date() + timedelta(days=i) for i in range(3)]
        assert stackwatch_by_day(month, first_seen.date()) == pytest.approx(old_month, abs=CENT)

        await month.run_until(cal.end + timedelta(hours=3))  # the 1st, 03:00
        truth = month.truth()
        assert month.mtd() == pytest.approx(truth["month_to_date_usd"], abs=CENT)
        assert month.mtd() == pytest.approx(invoice_by_day(month, cal.next_first)[cal.next_first], abs=CENT)
        await month.restart()  # a new process on the 1st: the new month's figures come from the state file
        await month.poll()
        assert month.mtd() == pytest.approx(month.truth()["month_to_date_usd"], abs=CENT)

        await month.run_until(cal.end + timedelta(days=1, hours=12))  # the 2nd, 12:00
        assert month.mtd() == pytest.approx(month.truth()["month_to_date_usd"], abs=CENT)
        # Every day seen, the old month's last ones included, still equals the invoice's day.
        assert stackwatch_by_day(month, first_seen.date()) == pytest.approx(
            invoice_by_day(month, first_seen.date()), abs=CENT)
