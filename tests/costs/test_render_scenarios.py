"""Render over half a month on the simulator with a frozen clock, against its invoice (own price fixtures):
a plan change, an autoscaler's instance changes, a suspend and a resume, and a restart in the middle;
in months of 28, 29, 30 and 31 days, and across a month's end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from calendars import CalendarMonth
from month import Month
from simhelpers import metric_points

CENT = 0.005


async def test_plan_change_instance_changes_suspend_resume_and_a_restart_match_the_invoice_to_the_cent(
        tmp_path, calendar_month: CalendarMonth):
    cal = calendar_month
    at = lambda *when: cal.at(*when).timestamp()  # noqa: E731
    async with Month(str(tmp_path), cal.start, "render", step_s=10800) as month:
        render = month.sim.providers["render"]
        render.schedule("api", at(5, 10, 17), plan="pro")  # between polls: updatedAt dates it
        render.schedule("worker", at(7, 6), instances=4)  # autoscaler: seen at the next poll
        render.schedule("worker", at(8, 18), instances=2)
        render.schedule("search", at(9, 3, 30), suspended=True)
        render.schedule("search", at(11, 12, 45), suspended=False)

        await month.run_until(cal.start + timedelta(days=9, hours=12))
        before = month.mtd()
        await month.restart()
        await month.poll()
        assert month.mtd() == pytest.approx(before, abs=1e-9), "month-to-date moved across a restart"

        await month.run_until(cal.start + timedelta(days=14))
        truth = month.truth()
        assert truth["month_to_date_usd"] == pytest.approx(truth["invoice"]["month_to_date_usd"])
        assert month.mtd() == pytest.approx(truth["month_to_date_usd"], abs=CENT)
        mine = month.mtd_by_project()
        for name, usd in truth["month_to_date_by_project"].items():
            assert mine.get(name, 0.0) == pytest.approx(usd, abs=CENT), name
        # The changes happened: the plan change and the extra instances cost something.
        assert truth["month_to_date_by_project"]["api"] > 25 * 2 * 13 / cal.days

        # Nothing changes after this (the 15th, 00:00). The forecast is the invoice at the month's end,
        # except that the autoscaled worker is projected at its mean over the last 7 days (from the 8th,
        # 00:00), which held 2 extra pro instances for 18 of 168 hours: + $85 x (2 x 18 / 168) for each
        # of the month's days left (14 to 17) over its days (28 to 31).
        month_end = render.invoice_lines(cal.first, cal.end.timestamp())
        autoscaler_mean_extra = 85 * (2 * 18 / 168) * (cal.days - 14) / cal.days
        assert month.summary().forecast_by_provider["render"] == pytest.approx(
            sum(x.usd for x in month_end) + autoscaler_mean_extra, abs=CENT)


async def test_a_long_outage_is_a_gap_for_an_autoscaled_service_and_bridged_for_a_manual_one(
        tmp_path, calendar_month: CalendarMonth):
    cal = calendar_month
    async with Month(str(tmp_path), cal.start, "render") as month:
        await month.run_until(cal.start + timedelta(days=2))
        await month.restart()
        month.world.advance(10 * 3600)  # ten hours down: longer than the 2-hour gap limit
        await month.run_until(cal.start + timedelta(days=3))
        truth = month.truth()["month_to_date_by_project"]
        mine = month.mtd_by_project()
        assert mine["api"] == pytest.approx(truth["api"], abs=CENT)  # updatedAt proves it unchanged
        # worker (autoscaled, 2 pro instances): the 10 h are unobserved, not priced.
        gap_usd = 85 * 2 * 10 * 3600 / (cal.days * 86400)
        assert mine["worker"] == pytest.approx(truth["worker"] - gap_usd, abs=CENT)
        unobserved = {p.attributes["resource"]: p.value for p in metric_points(month.reader, "render.cost.unobserved")}
        assert unobserved["worker"] == pytest.approx(10 * 3600)
        assert unobserved["api"] == 0.0
