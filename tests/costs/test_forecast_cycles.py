"""Billing cycles from an anchor day, and cycle-end forecasts from usage and plan rules.

Every expectation is worked out by hand in the test from the plan's published terms.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from exporters.costs.billing import cycle_of
from exporters.costs.forecast import PlanRules, cycle_cost, daily_usage_rate, forecast_from_rate, forecast_usage_cost
from exporters.costs.ledger import CostLedger
from exporters.costs.records import CostRecord

# LlamaCloud Starter: $50 a month for 40,000 credits, then $1.25 per 1,000 (docs/providers/llamacloud.md).
STARTER = PlanRules(fixed_fee_usd=50.0, allowance=40_000, overage_usd_per_unit=1.25 / 1000)


@pytest.mark.parametrize(("day", "anchor", "start", "end"), [
    (date(2026, 11, 18), 1, date(2026, 11, 1), date(2026, 12, 1)),
    (date(2026, 11, 14), 15, date(2026, 10, 15), date(2026, 11, 15)),
    (date(2026, 11, 15), 15, date(2026, 11, 15), date(2026, 12, 15)),
    (date(2027, 2, 28), 31, date(2027, 2, 28), date(2027, 3, 31)),  # Feb has no 31st: its last day
    (date(2027, 2, 27), 31, date(2027, 1, 31), date(2027, 2, 28)),
    (date(2026, 12, 31), 1, date(2026, 12, 1), date(2027, 1, 1)),
    (date(2028, 2, 29), 1, date(2028, 2, 1), date(2028, 3, 1)),  # a leap day
    (date(2028, 2, 29), 31, date(2028, 2, 29), date(2028, 3, 31)),  # a leap February's last day
    (date(2028, 2, 28), 31, date(2028, 1, 31), date(2028, 2, 29)),
    (date(2028, 2, 29), 30, date(2028, 2, 29), date(2028, 3, 30)),
    (date(2027, 3, 1), 29, date(2027, 2, 28), date(2027, 3, 29)),  # no 29 Feb in 2027
])
def test_the_cycle_runs_from_the_anchor_day(day, anchor, start, end):
    cycle = cycle_of(day, anchor)
    assert (cycle.start, cycle.end) == (start, end)


@pytest.mark.parametrize("anchor", [0, 32, -1])
def test_an_anchor_day_outside_1_to_31_is_refused_naming_it(anchor):
    with pytest.raises(ValueError, match=rf"billing anchor day must be 1\.\.31, got {anchor}"):
        cycle_of(date(2026, 11, 18), anchor)


def test_a_steady_usage_forecast_covers_exactly_the_days_of_28_29_30_and_31_day_months(calendar_month):
    cycle = cycle_of(calendar_month.at(10).date())
    assert (cycle.start, cycle.end) == (calendar_month.first, calendar_month.next_first)
    usage = {cycle.start + timedelta(days=i): 2000.0 for i in range(9)}  # 2,000 credits a day, 9 days so far
    today = cycle.start + timedelta(days=9)  # the 10th, nothing yet today
    projected = 2000.0 * calendar_month.days
    expected = 50 + max(0.0, projected - 40_000) * 1.25 / 1000
    assert forecast_usage_cost(usage, cycle, today, 0.0, STARTER) == pytest.approx(expected)
    assert expected == pytest.approx({28: 50 + 16_000 * 0.00125, 29: 50 + 18_000 * 0.00125,
                                      30: 50 + 20_000 * 0.00125, 31: 50 + 22_000 * 0.00125}[calendar_month.days])


def test_a_cost_rate_forecast_covers_exactly_the_months_days(moment):
    # A provider billed $7 every day: the month-end forecast is 7 × the month's days (a ledger of
    # daily records, read on the frozen day).
    ledger = CostLedger()
    first = moment.today.replace(day=1)
    for i in range(-7, moment.today.day):
        start = datetime.combine(first + timedelta(days=i), datetime.min.time(), timezone.utc)
        ledger.upsert([CostRecord(provider="openai", service_name="OpenAI API", service_category="AI",
                                  resource_id="p", resource_name="p", period_start=start,
                                  period_end=start + timedelta(days=1), billed_cost=7.0, source="billed")])
    ledger.covers_from("openai", first - timedelta(days=7))
    summary = ledger.summary(moment.now)
    assert summary.forecast_by_provider["openai"] == pytest.approx(7.0 * moment.month_days)
    assert summary.month_to_date_by_provider["openai"] == pytest.approx(7.0 * moment.today.day)


@pytest.mark.parametrize("day_of_cycle", [1, 2, 3])
def test_days_1_to_3_do_not_inherit_last_cycles_overage_rate(day_of_cycle):
    """2,000 credits a day, every day. Last cycle's last days were all overage: $2.50 a day on top of
    the fee, so a cost-rate forecast says 30 x (2.50 + 50/30) = $125. By the plan's rules the cycle
    costs 50 + (60,000 - 40,000) x 1.25/1000 = $75, and that is the forecast on days 1, 2 and 3."""
    cycle = cycle_of(date(2026, 11, 15), 15)  # Nov 15 .. Dec 15: 30 days
    usage = {cycle.start - timedelta(days=i): 2000.0 for i in range(1, 31)}
    for i in range(day_of_cycle - 1):
        usage[cycle.start + timedelta(days=i)] = 2000.0
    today = cycle.start + timedelta(days=day_of_cycle - 1)
    usage[today] = 2000.0 * 0.25  # a quarter of today gone
    assert forecast_usage_cost(usage, cycle, today, 0.25, STARTER) == pytest.approx(75.0)


def test_allowance_exhaustion_mid_cycle_prices_only_the_excess_once():
    # 2,500 credits a day for 20 complete days = 50,000 (10,000 over); 10 days left at the same rate.
    cycle = cycle_of(date(2026, 11, 20), 15)
    usage = {cycle.start + timedelta(days=i): 2500.0 for i in range(20)}
    today = cycle.start + timedelta(days=20)
    assert forecast_usage_cost(usage, cycle, today, 0.0, STARTER) == pytest.approx(50 + (75_000 - 40_000) * 0.00125)
    assert cycle_cost(39_999, STARTER) == 50.0  # within the allowance: the fee alone, once


def test_a_state_priced_forecast_adds_the_current_rate_to_the_cycle_end():
    # A Standard service ($25/month) moved to Pro ($85) with 10 days of a 30-day cycle left.
    rate = 85.0 / (30 * 86400)
    assert forecast_from_rate(20.0, rate, 10 * 86400) == pytest.approx(20.0 + 85.0 / 3)


def test_month_to_date_follows_the_providers_anchor_day():
    ledger = CostLedger({"llamacloud": 15})
    for day in (date(2026, 11, 14), date(2026, 11, 15), date(2026, 11, 16)):
        start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        ledger.upsert([CostRecord(provider="llamacloud", service_name="LlamaParse", service_category="AI",
                                  resource_id="p", resource_name="p", period_start=start,
                                  period_end=start + timedelta(hours=1), billed_cost=1.0, source="estimated")])
    summary = ledger.summary(datetime(2026, 11, 16, 12, tzinfo=timezone.utc))
    assert summary.month_to_date_by_provider["llamacloud"] == 2.0  # the 14th belongs to the previous cycle


def test_a_published_forecast_is_used_only_during_its_cycle():
    ledger = CostLedger()
    ledger.covers_from("render", date(2026, 10, 1))
    ledger.set_forecast("render", date(2026, 11, 1), 123.0)
    assert ledger.summary(datetime(2026, 11, 30, tzinfo=timezone.utc)).forecast_by_provider["render"] == 123.0
    assert ledger.summary(datetime(2026, 12, 1, tzinfo=timezone.utc)).forecast_by_provider["render"] == 0.0


# Found by mutation testing (docs/testing.md): which days the usage rate reads, and the projection's edges.

TODAY = date(2026, 11, 18)
UNIT = PlanRules(overage_usd_per_unit=1.0)  # cost = projected units, to read the projection itself


def test_the_usage_rate_is_the_mean_of_the_seven_complete_days_before_today_a_missing_one_counting_zero():
    usage = {TODAY - timedelta(days=i): 100.0 for i in range(1, 7)}  # day -7 missing: no usage
    usage[TODAY - timedelta(days=8)] = 10_000.0  # outside the seven days
    usage[TODAY] = 5_000.0  # today is not complete
    assert daily_usage_rate(usage, TODAY, None) == pytest.approx(600 / 7)


def test_the_usage_rate_reads_no_day_before_the_first_day_observed_and_that_day_itself():
    usage = {TODAY - timedelta(days=1): 100.0, TODAY - timedelta(days=2): 100.0, TODAY - timedelta(days=3): 400.0,
             TODAY - timedelta(days=4): 9_000.0}
    assert daily_usage_rate(usage, TODAY, TODAY - timedelta(days=3)) == pytest.approx(200.0)
    assert daily_usage_rate(usage, TODAY, TODAY) is None


def test_with_no_complete_day_today_is_extrapolated_from_its_elapsed_share():
    cycle = cycle_of(TODAY)  # Nov 1 .. Dec 1: 12 days after the 18th
    # 30 units in the first quarter of today: 120 a day, 90 more today, 120 on each of the 12 days left
    assert forecast_usage_cost({TODAY: 30.0}, cycle, TODAY, 0.25, UNIT, TODAY) == pytest.approx(30 + 90 + 120 * 12)


def test_at_the_very_start_of_the_first_day_nothing_is_extrapolated():
    cycle = cycle_of(TODAY)
    assert forecast_usage_cost({TODAY: 5.0}, cycle, TODAY, 0.0, UNIT, TODAY) == pytest.approx(5.0)
    assert forecast_usage_cost({}, cycle, TODAY, 0.5, UNIT, TODAY) == 0.0


def test_a_state_priced_forecast_adds_nothing_once_the_cycle_has_ended():
    assert forecast_from_rate(20.0, 0.5, 0.0) == 20.0
    assert forecast_from_rate(20.0, 0.5, -100.0) == 20.0
