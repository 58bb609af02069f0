"""Render's prices applied to observed states, worked out by hand from render.com's list prices."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from exporters.costs.prices import PriceBook
from exporters.costs.state.history import Interval, canonical
from exporters.providers.render.cost import RenderPricer, day_pieces, records_of

NOV_10 = datetime(2026, 11, 10, tzinfo=timezone.utc)  # November: 30 days


def pricer(plan: str = "hobby", seats: int = 0) -> RenderPricer:
    return RenderPricer(PriceBook.load().table("render", date(2026, 11, 10)), plan, seats)


def service(hours: float, **state) -> Interval:
    base = {"kind": "service", "type": "web_service", "name": "api", "region": "oregon", "plan": "standard",
            "instances": 1, "suspended": False, "disk_gb": None}
    start = NOV_10.timestamp()
    return Interval(start, start + hours * 3600, canonical({**base, **state}))


def test_standard_service_with_two_instances_for_36_hours_costs_2_50_split_by_day():
    # $25 x 2 instances x 36 h / 720 h = $2.50: 24 h -> 1.6667, 12 h -> 0.8333
    intervals = {"srv-x": [service(36, instances=2)]}
    now = NOV_10 + timedelta(hours=36)
    days = [records_of(day_pieces(pricer(), intervals, NOV_10.date() + timedelta(days=i), now)) for i in range(2)]
    assert [round(sum(r.billed_cost for r in d), 4) for d in days] == [1.6667, 0.8333]
    assert {r.service_name for d in days for r in d} == {"Web Service"}


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
