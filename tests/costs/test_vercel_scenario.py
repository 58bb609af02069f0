"""Scenario: Vercel charges on Pacific billing days, with the Pro seats (Purchase) and usage credit
(Credit) lines, EffectiveCost and ListCost kept, on a frozen clock (in months of each length, on the
1st, on a leap day, across a month's end, on both clock changes), against the simulator's invoice."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from calendars import Moment
from simhelpers import make_runtime, metric_points, running

from exporters.costs.records import CostRecord
from exporters.costs.state.ledger import record_to_row, row_to_record
from exporters.ops.export import write_focus
from exporters.simulator import Simulator, World
from exporters.simulator.vercel.sim import SEATS, SERVICES, TEAM, billing_day_start
from exporters.simulator.world import Scale

HALF_CENT = 0.005


async def poll(now: datetime):  # type: ignore[no-untyped-def]
    """One full cycle of the Vercel exporter against a simulator frozen at `now`: (sim, runtime, reader)."""
    sim = Simulator(World(seed=9, scale=Scale(vercel_projects=4, history_days=40), start=now, frozen=True))
    await sim.start()
    built = make_runtime(sim, only="vercel", overrides={"providers": {"vercel": {"history_days": 40}}})
    return sim, built


def vercel(runtime) -> list[CostRecord]:  # type: ignore[no-untyped-def]
    return [r for r in runtime.ledger.records() if r.provider == "vercel"]


async def test_vercel_charges_count_on_pacific_billing_days_with_seat_and_credit_lines(moment: Moment) -> None:
    # Vercel bills by Pacific day (America/Los_Angeles): 08:00Z to 08:00Z in winter, 07:00Z to
    # 07:00Z in summer, 23 h when the clocks go forward and 25 h when they go back. At 03:00Z on
    # 1 January it is still 31 December there: December's bill, not January's.
    now = moment.now
    sim, built = await poll(now)
    try:
        async with running(built) as (runtime, reader):
            outcomes = await runtime.collector.run_cycle(force=True)
            assert all(o.ok for o in outcomes), outcomes
            vsim = sim.providers["vercel"]
            assert vsim.today() == moment.pacific_day
            truth = vsim.ground_truth()
            summary = runtime.ledger.summary(now)
            assert summary.today_by_provider["vercel"] == pytest.approx(truth["today_usd"], abs=HALF_CENT)
            assert summary.month_to_date_by_provider["vercel"] == pytest.approx(truth["month_to_date_usd"],
                                                                               abs=HALF_CENT)
            assert truth["invoice"]["month_to_date_usd"] == pytest.approx(truth["month_to_date_usd"], abs=1e-9)
            # Month-to-date is the Pacific month's: only the billing days from its 1st to today.
            this_month = [r for r in vercel(runtime) if r.day.replace(day=1) == moment.pacific_day.replace(day=1)]
            assert summary.month_to_date_by_provider["vercel"] == pytest.approx(
                sum(r.billed_cost for r in this_month if r.day <= moment.pacific_day), abs=1e-9)
            # Seats and the usage credit: their own lines, on the month's first billing day, whole.
            month_start = moment.pacific_day.replace(day=1)
            plan = {r.charge_category: r for r in vercel(runtime) if r.day == month_start and r.resource_name == TEAM}
            assert plan["Purchase"].billed_cost == pytest.approx(SEATS * 20.00)  # $20 a seat (Pro, published)
            assert plan["Credit"].billed_cost == pytest.approx(-20.00)  # the $20 Pro usage credit
            assert plan["Purchase"].period_start == billing_day_start(month_start)
            # Every usage record lies on one Pacific day: 08:00Z (07:00Z in summer) to the next.
            for r in vercel(runtime):
                if r.charge_category == "Usage":
                    assert r.period_start >= billing_day_start(r.day)
                    assert r.period_end <= billing_day_start(r.day + timedelta(days=1))
            # Today's (Pacific) usage is read, and lies within today's billing day as the calendar
            # has it (written by hand in tests/calendars.py, not the simulator's or stackwatch's).
            today_records = [r for r in vercel(runtime) if r.day == moment.pacific_day and r.charge_category == "Usage"]
            assert today_records, "today's (Pacific) usage is read"
            day_end = moment.pacific_day_start + timedelta(hours=moment.pacific_day_hours)
            assert all(moment.pacific_day_start <= r.period_start < r.period_end <= day_end for r in today_records)
            assert min(r.period_start for r in today_records) == moment.pacific_day_start
    finally:
        await sim.stop()


async def test_effective_and_list_cost_are_kept_exported_and_summed_beside_billed_cost() -> None:
    now = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)
    sim, built = await poll(now)
    try:
        async with running(built) as (runtime, reader):
            await runtime.collector.run_cycle(force=True)
            vsim = sim.providers["vercel"]
            # The simulator's own figures for the month (Pacific days 1..18): billed, effective, list.
            billed = effective = listed = 0.0
            for day in (date(2026, 11, d) for d in range(1, 19)):
                for _service, _category, micro, _q, _u in vsim.plan_lines(day):
                    billed += micro / 1e6
                    effective += micro / 1e6
                    listed += micro / 1e6 if micro > 0 else 0.0
                for p in range(len(vsim.projects)):
                    for s, service in enumerate(SERVICES):
                        b, e, lst = vsim._costs(service, vsim._charge_micro(day, p, s, int(now.timestamp() * 1000)))  # noqa: SLF001
                        billed, effective, listed = billed + b / 1e6, effective + e / 1e6, listed + lst / 1e6
            assert effective < billed < listed  # the discounts are real, so the figures can be told apart

            def gauge(name: str) -> float:
                return sum(p.value for p in metric_points(reader, name) if p.attributes.get("provider") == "vercel")
            assert gauge("stackwatch.cost.month_to_date_usd") == pytest.approx(billed, abs=HALF_CENT)
            assert gauge("stackwatch.cost.focus.month_to_date_effective_usd") == pytest.approx(effective, abs=HALF_CENT)
            assert gauge("stackwatch.cost.focus.month_to_date_list_usd") == pytest.approx(listed, abs=HALF_CENT)
            out = io.StringIO()
            write_focus(vercel(runtime), "jsonl", out)
            rows = [json.loads(line) for line in out.getvalue().splitlines()]
            fdt = [row for row in rows if row["ServiceName"] == "Fast Data Transfer"]
            assert fdt and all(row["ListCost"] > row["BilledCost"] == row["EffectiveCost"] for row in fdt)
            credit = [row for row in rows if row["ChargeCategory"] == "Credit"]
            assert credit and credit[0]["BilledCost"] == -20.0 and credit[0]["ListCost"] == 0.0
    finally:
        await sim.stop()


def test_a_record_on_a_pacific_billing_day_survives_the_state_file_round_trip() -> None:
    record = CostRecord(provider="vercel", service_name="Edge Requests", service_category="Networking",
                        resource_id="prj_1", resource_name="web",
                        period_start=datetime(2026, 11, 18, 8, tzinfo=timezone.utc),
                        period_end=datetime(2026, 11, 19, 8, tzinfo=timezone.utc), billed_cost=1.5, source="billed",
                        effective_cost=1.4, list_cost=1.6, billing_day=date(2026, 11, 18))
    again = row_to_record(json.loads(json.dumps(record_to_row(record))))
    assert again == record and again.day == date(2026, 11, 18)


def test_a_seat_purchase_and_credit_count_once_in_the_forecast_not_in_its_daily_rate() -> None:
    from exporters.costs.ledger import CostLedger  # noqa: PLC0415
    from exporters.providers.registry import billing_zones  # noqa: PLC0415

    def line(day: int, usd: float, category: str = "Usage") -> CostRecord:
        start = billing_day_start(date(2026, 11, day))
        return CostRecord(provider="vercel", service_name="Edge Requests" if category == "Usage" else "Vercel Pro",
                          service_category="Networking", resource_id="p", resource_name="p", period_start=start,
                          period_end=start + timedelta(hours=24), billed_cost=usd, source="billed",
                          charge_category=category, billing_day=date(2026, 11, day))
    ledger = CostLedger(zones=billing_zones())  # Vercel bills Pacific days
    ledger.upsert([line(d, 10.0) for d in range(1, 5)] + [line(1, 60.0, "Purchase"), line(1, -20.0, "Credit")])
    ledger.covers_from("vercel", date(2026, 11, 1))
    now = datetime(2026, 11, 5, 20, tzinfo=timezone.utc)  # 12:00 PST on the 5th; nothing billed today yet
    # $10 a day of usage: 4 complete days (40) + seats and credit once (+40) + today at the rate (10)
    # + 25 days left × 10 = 340. (With the purchase in the rate it would be 80 + 20 + 25 × 20 = 600.)
    assert ledger.summary(now).forecast_by_provider["vercel"] == pytest.approx(340.0)
    assert ledger.summary(now).month_to_date_by_provider["vercel"] == pytest.approx(80.0)
