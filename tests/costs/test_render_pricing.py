"""Render's prices applied to observed states, worked out by hand from render.com's list prices,
in months of 28, 29, 30 and 31 days (a monthly price accrues per second of the month it is in)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from calendars import CalendarMonth

from exporters.costs.prices import PriceBook
from exporters.costs.state.history import Interval, canonical
from exporters.providers.render.cost import RenderPricer, day_pieces, records_of

NOV_10 = datetime(2026, 11, 10, tzinfo=timezone.utc)  # November: 30 days


def pricer(plan: str = "hobby", seats: int = 0) -> RenderPricer:
    return RenderPricer(PriceBook.load().table("render", date(2026, 11, 10)), plan, seats)


def service(hours: float, start: datetime = NOV_10, **state) -> Interval:
    base = {"kind": "service", "type": "web_service", "name": "api", "region": "oregon", "plan": "standard",
            "instances": 1, "suspended": False, "disk_gb": None}
    return Interval(start.timestamp(), start.timestamp() + hours * 3600, canonical({**base, **state}))


def test_standard_service_with_two_instances_for_36_hours_is_priced_per_hour_of_its_month(calendar_month):
    # $25 x 2 instances x 36 h / (24 h x the month's days), split by day: in a 30-day month
    # $2.50 = 1.6667 + 0.8333; in February 2027 $2.6786 = 1.7857 + 0.8929.
    start = calendar_month.at(10)
    intervals = {"srv-x": [service(36, start, instances=2)]}
    now = start + timedelta(hours=36)
    month_hours = 24 * calendar_month.days
    days = [records_of(day_pieces(pricer(), intervals, start.date() + timedelta(days=i), now)) for i in range(2)]
    assert [sum(r.billed_cost for r in d) for d in days] == pytest.approx([25 * 2 * 24 / month_hours,
                                                                          25 * 2 * 12 / month_hours])
    assert {r.service_name for d in days for r in d} == {"Web Service"}
    if calendar_month.days == 30:
        assert [round(sum(r.billed_cost for r in d), 4) for d in days] == [1.6667, 0.8333]


def test_across_a_months_end_each_day_is_priced_by_its_own_months_length(calendar_month):
    # A Pro service ($85) from the month's last day, 00:00, to the 2nd of the next, 00:00: its last
    # day costs 85 / (days of this month), the 1st 85 / (days of the next).
    last_day = calendar_month.at(calendar_month.days)
    intervals = {"srv-x": [service(48, last_day, plan="pro")]}
    now = last_day + timedelta(hours=48)
    costs = [sum(r.billed_cost for r in records_of(day_pieces(pricer(), intervals, day, now)))
             for day in (last_day.date(), calendar_month.next_first)]
    assert costs == pytest.approx([85 / calendar_month.days, 85 / calendar_month.next_days])


def test_a_day_of_each_monthly_price_is_that_price_over_the_months_days(calendar_month: CalendarMonth):
    # One whole day on the 10th of each: a Standard service $25, a basic_1gb Postgres $19 with 10 GB
    # at $0.30, a Key Value Starter $10, 3 Professional seats at $19 (render.com/pricing).
    day = calendar_month.at(10)
    p = pricer("professional", 3)
    postgres = canonical({"kind": "postgres", "name": "db", "plan": "basic_1gb", "disk_gb": 10, "suspended": False})
    key_value = canonical({"kind": "key_value", "name": "cache", "plan": "starter"})
    day_s = day.timestamp()
    priced = {
        "service": sum(x.usd for x in p.pieces("srv", service(24, day))),
        "postgres": sum(x.usd for x in p.pieces("dpg", Interval(day_s, day_s + 86400, postgres))),
        "key_value": sum(x.usd for x in p.pieces("red", Interval(day_s, day_s + 86400, key_value))),
        "seats": p.workspace(day, day + timedelta(days=1)).usd,  # type: ignore[union-attr]
    }
    days = calendar_month.days
    assert priced == pytest.approx({"service": 25 / days, "postgres": (19 + 10 * 0.30) / days,
                                    "key_value": 10 / days, "seats": 3 * 19 / days})


def test_free_plan_is_a_real_zero_and_an_unknown_plan_is_unpriced():
    p = pricer()
    assert [x.usd for x in p.pieces("a", service(5, plan="free"))] == [0.0]
    assert list(p.pieces("b", service(5, plan="pro_galactic"))) == [] and p.unpriced == {"plan:pro_galactic"}


def test_a_suspended_service_pays_for_its_disk_only():
    # 20 GB x $0.25 / GB-month for 72 h of 720 h = $0.50; no compute while suspended.
    pieces = list(pricer().pieces("a", service(72, suspended=True, disk_gb=20)))
    assert [(x.sku, round(x.usd, 6)) for x in pieces] == [("disk", 0.5)]


def test_a_cron_job_is_unpriced_never_always_on():
    p = pricer()
    assert list(p.pieces("c", service(24, type="cron_job", plan="starter"))) == []
    assert p.unpriced == {"cron_job:run_duration"}


def test_an_autoscaled_service_without_an_observed_count_is_unpriced():
    p = pricer()
    assert list(p.pieces("a", service(1, instances=None))) == [] and p.unpriced == {"instances:unknown"}


def test_postgres_pays_plan_and_storage():
    # basic_1gb $19 + 50 GB x $0.30 = $15 a month; 36 h of 720 h = 1/20 -> 0.95 + 0.75
    state = canonical({"kind": "postgres", "name": "db", "plan": "basic_1gb", "disk_gb": 50, "suspended": False})
    pieces = list(pricer().pieces("dpg", Interval(NOV_10.timestamp(), NOV_10.timestamp() + 36 * 3600, state)))
    assert {x.sku: round(x.usd, 6) for x in pieces} == {"basic_1gb": 0.95, "storage": 0.75}


def test_workspace_seats_are_billed_per_member_month():
    # Professional $19 x 3 seats for one day of 30 = $1.90
    fee = pricer("professional", 3).workspace(NOV_10, NOV_10 + timedelta(days=1))
    assert fee is not None and fee.usd == pytest.approx(1.90) and fee.charge_category == "Purchase"
    assert pricer("hobby", 0).workspace(NOV_10, NOV_10 + timedelta(days=1)) is None


def test_a_plan_change_within_a_day_gives_one_record_per_plan():
    start = NOV_10.timestamp()
    intervals = {"srv-x": [Interval(start, start + 6 * 3600, service(0).state),
                           Interval(start + 6 * 3600, start + 12 * 3600, service(0, plan="pro").state)]}
    records = records_of(day_pieces(pricer(), intervals, NOV_10.date(), NOV_10 + timedelta(hours=12)))
    # standard $25 x 6/720 = 0.208333; pro $85 x 6/720 = 0.708333
    assert {r.sku: round(r.billed_cost, 6) for r in records} == {"standard": 0.208333, "pro": 0.708333}


def key_value(hours: float, plan: str) -> Interval:
    start = NOV_10.timestamp()
    return Interval(start, start + hours * 3600, canonical({"kind": "key_value", "name": "cache", "plan": plan}))


def test_a_key_value_instance_costs_its_plans_monthly_price_per_second():
    # render.com/pricing, Key Value Standard (1 GB): $32 a month; 30 h of a 720 h month = $1.3333.
    pieces = list(pricer().pieces("red-x", key_value(30, "standard")))
    assert [(p.service_name, p.sku) for p in pieces] == [("Key Value", "key_value_standard")]
    assert pieces[0].usd == pytest.approx(32 * 30 / 720)
    # Starter (256 MB) $10 and Pro (5 GB) $135, a full day each.
    assert sum(p.usd for p in pricer().pieces("red-y", key_value(24, "starter"))) == pytest.approx(10 / 30)
    assert sum(p.usd for p in pricer().pieces("red-z", key_value(24, "pro"))) == pytest.approx(135 / 30)


def test_a_key_value_plan_without_a_list_price_is_unpriced_not_zero():
    p = pricer()
    assert list(p.pieces("red-c", key_value(24, "custom"))) == [] and p.unpriced == {"key_value:custom"}
