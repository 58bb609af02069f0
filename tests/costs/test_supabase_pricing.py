"""Supabase's prices applied to observed states, worked out by hand from supabase.com's list prices."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from exporters.costs.prices import PriceBook
from exporters.costs.state.history import Interval, canonical
from exporters.providers.supabase.cost import SupabasePricer, day_cost

NOV_10 = datetime(2026, 11, 10, tzinfo=timezone.utc)  # November: 30 days


def state(**overrides) -> str:
    base = {"kind": "project", "name": "production", "paused": False, "compute": "ci_small",
            "compute_usd_per_hour": None, "compute_usd_per_month": None, "addons": [], "disk_gb": 8.0}
    return canonical({**base, **overrides})


def at(hour: float) -> float:
    return NOV_10.timestamp() + hour * 3600


def pricer() -> SupabasePricer:
    return SupabasePricer(PriceBook.load().table("supabase", date(2026, 11, 10)))


def test_compute_is_billed_per_started_clock_hour_and_a_resize_bills_both_sizes_that_hour():
    # ci_small 10:30-12:20, ci_medium 12:20-14:00: small for hours 10, 11, 12; medium for 12, 13.
    intervals = {"ref": [Interval(at(10.5), at(12 + 1 / 3), state()),
                         Interval(at(12 + 1 / 3), at(14), state(compute="ci_medium"))]}
    cost = day_cost(pricer(), intervals, NOV_10.date(), datetime.fromtimestamp(at(14), tz=timezone.utc))
    assert cost.compute_usd == pytest.approx(3 * 0.0206 + 2 * 0.0822)
    by_sku = {sku: e["usd"] for (_r, sku, _c), e in cost.records.items()}
    assert by_sku == pytest.approx({"ci_small": 3 * 0.0206, "ci_medium": 2 * 0.0822})


def test_paused_projects_pay_no_compute_add_ons_or_disk():
    intervals = {"ref": [Interval(at(0), at(24), state(paused=True, addons=[["pitr_7", None]], disk_gb=40.0))]}
    cost = day_cost(pricer(), intervals, NOV_10.date(), datetime.fromtimestamp(at(24), tz=timezone.utc))
    assert cost.records == {} and cost.compute_usd == 0.0


def test_add_ons_and_disk_beyond_8_gb_accrue_per_second_and_a_quoted_price_wins():
    # One day of 30: IPv4 $4/30, custom domain $10/30, PITR 14 days quoted $200/30,
    # disk 24 GB: 16 GB beyond the 8 included x $0.125 / 30.
    addons = [["cd_default", None], ["ipv4_default", None], ["pitr_14", 200.0]]
    intervals = {"ref": [Interval(at(0), at(24), state(compute=None, addons=addons, disk_gb=24.0))]}
    cost = day_cost(pricer(), intervals, NOV_10.date(), datetime.fromtimestamp(at(24), tz=timezone.utc))
    by_sku = {sku: round(e["usd"], 6) for (_r, sku, _c), e in cost.records.items()}
    assert by_sku == {"cd_default": round(10 / 30, 6), "ipv4_default": round(4 / 30, 6),
                      "pitr_14": round(200 / 30, 6), "disk_extra_gb": round(16 * 0.125 / 30, 6)}


def test_add_ons_and_disk_accrue_per_second_of_a_month_of_28_29_30_or_31_days(calendar_month):
    # One whole day of each: IPv4 $4, custom domain $10, PITR 7 days $100, 16 GB of disk beyond the
    # 8 included at $0.125, each over the month's days; compute is per clock hour whatever the
    # month: 24 x ci_small's $0.0206 (supabase.com/pricing).
    day = calendar_month.at(10)
    addons = [["cd_default", None], ["ipv4_default", None], ["pitr_7", None]]
    start, end = day.timestamp(), day.timestamp() + 86400
    intervals = {"ref": [Interval(start, end, state(addons=addons, disk_gb=24.0))]}
    cost = day_cost(pricer(), intervals, day.date(), day + timedelta(days=1))
    by_sku = {sku: e["usd"] for (_r, sku, _c), e in cost.records.items()}
    days = calendar_month.days
    assert by_sku == pytest.approx({"cd_default": 10 / days, "ipv4_default": 4 / days, "pitr_7": 100 / days,
                                    "disk_extra_gb": 16 * 0.125 / days, "ci_small": 24 * 0.0206})


def test_an_unknown_add_on_is_unpriced_not_zero():
    p = pricer()
    intervals = {"ref": [Interval(at(0), at(1), state(compute=None, addons=[["log_drain_x", None]]))]}
    cost = day_cost(p, intervals, NOV_10.date(), datetime.fromtimestamp(at(1), tz=timezone.utc))
    assert cost.records == {} and p.unpriced == {"addon:log_drain_x"}
