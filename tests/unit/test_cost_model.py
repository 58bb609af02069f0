"""The cost model, against hand-computed figures."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from calendars import Moment

from exporters.costs.ledger import CostLedger, month_end_forecast
from exporters.costs.records import CostRecord, split_by_day
from exporters.ops.export import write_focus

UTC = timezone.utc


def rec(provider: str, day: date, cost: float, source: str = "estimated", *, service: str = "svc",
        project: str = "p1", model: str | None = None, sku: str = "") -> CostRecord:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return CostRecord(provider=provider, service_name=service, service_category="Compute",
                      resource_id=project, resource_name=project, period_start=start,
                      period_end=start + timedelta(days=1), billed_cost=cost, source=source,  # type: ignore[arg-type]
                      model=model, sku=sku)


def test_forecast_formula_by_hand() -> None:
    # November (30 days), today the 18th. Complete days 1..17 cost 10 each = 170.
    # The last 7 complete days (11..17) average 10; today so far 4 (< rate, so the rate counts).
    # forecast = 170 + max(4, 10) + 10 × (30 − 18) = 170 + 10 + 120 = 300.
    today = date(2026, 11, 18)
    daily = {date(2026, 11, d): 10.0 for d in range(1, 18)}
    daily[today] = 4.0
    assert month_end_forecast(daily, today, date(2026, 10, 1)) == pytest.approx(300.0)


def test_a_steady_months_forecast_is_its_daily_cost_times_its_days(moment: Moment) -> None:
    # $10 every day, this month and the last; today so far $4 (under the rate, so the rate counts):
    # complete days (d − 1) × 10 + 10 for today + 10 × (days − d) = 10 × the month's days,
    # whatever the day: 280, 290, 300 or 310.
    today = moment.today
    daily = {today - timedelta(days=i): 10.0 for i in range(1, today.day + 7)}
    daily[today] = 4.0
    forecast = month_end_forecast(daily, today, today - timedelta(days=today.day + 7))
    assert forecast == pytest.approx(10.0 * moment.month_days)


def test_month_to_date_starts_on_the_1st_whatever_the_months_length(moment: Moment) -> None:
    # $100 on each of the previous month's last 3 days; $1 on every day of this month so far.
    today = moment.today
    first = today.replace(day=1)
    ledger = CostLedger()
    ledger.upsert([rec("render", first - timedelta(days=i), 100.0) for i in (1, 2, 3)])
    ledger.upsert([rec("render", first + timedelta(days=i), 1.0) for i in range(today.day)])
    summary = ledger.summary(moment.now)
    assert summary.month_to_date_by_provider["render"] == pytest.approx(float(today.day))
    assert summary.today_by_provider["render"] == 1.0


def test_forecast_uses_today_when_it_already_exceeds_the_rate() -> None:
    # 2 complete days at 5 (rate over the 2 known days = 5), today already 40, 28 days left after the 2nd...
    # February 2026 has 28 days; today is the 3rd: forecast = 10 + 40 + 5 × 25 = 175.
    today = date(2026, 2, 3)
    daily = {date(2026, 2, 1): 5.0, date(2026, 2, 2): 5.0, today: 40.0}
    assert month_end_forecast(daily, today, date(2026, 2, 1)) == pytest.approx(175.0)


def test_forecast_rate_includes_last_days_of_previous_month() -> None:
    # Today is the 2nd of a 31-day month; day 1 cost 7; previous 6 days cost 14 each.
    # rate = (7 + 6 × 14) / 7 = 13; forecast = 7 + max(0, 13) + 13 × 29 = 397.
    today = date(2026, 12, 2)
    daily = {date(2026, 12, 1): 7.0}
    daily.update({date(2026, 11, 30) - timedelta(days=i): 14.0 for i in range(6)})
    assert month_end_forecast(daily, today, date(2026, 10, 1)) == pytest.approx(397.0)


def test_forecast_days_without_records_count_as_zero_within_known_history() -> None:
    # History known from Nov 11; only Nov 17 had cost (70): rate = 70 / 7 = 10.
    today = date(2026, 11, 18)
    assert month_end_forecast({date(2026, 11, 17): 70.0}, today, date(2026, 11, 11)) == pytest.approx(70 + 10 + 120)


def test_billed_supersedes_estimated_for_the_same_provider_and_day() -> None:
    ledger = CostLedger()
    day1, day2 = date(2026, 11, 16), date(2026, 11, 17)
    ledger.upsert([rec("openai", day1, 3.00, model="gpt-4o"), rec("openai", day2, 2.00, model="gpt-4o"),
                   rec("openai", day1, 3.10, "billed", model="gpt-4o", sku="gpt-4o, input")])
    now = datetime(2026, 11, 17, 12, tzinfo=UTC)
    summary = ledger.summary(now)
    # day 1 billed 3.10 (estimate 3.00 dropped) + day 2 estimated 2.00
    assert summary.month_to_date_by_provider["openai"] == pytest.approx(5.10)
    assert summary.today_by_provider["openai"] == pytest.approx(2.00)
    sources = {(r.day, r.source) for r in ledger.effective()}
    assert sources == {(day1, "billed"), (day2, "estimated")}


def test_billed_records_of_one_provider_do_not_hide_another_providers_estimates() -> None:
    ledger = CostLedger()
    day = date(2026, 11, 17)
    ledger.upsert([rec("vercel", day, 1.0, "billed"), rec("render", day, 2.0)])
    summary = ledger.summary(datetime(2026, 11, 17, 20, tzinfo=UTC))
    assert summary.today_by_provider == {"vercel": 1.0, "render": 2.0}


def test_upsert_replaces_the_same_record_instead_of_adding() -> None:
    ledger = CostLedger()
    day = date(2026, 11, 17)
    ledger.upsert([rec("render", day, 1.0)])
    ledger.upsert([rec("render", day, 1.5)])
    assert len(ledger) == 1
    assert ledger.summary(datetime(2026, 11, 17, 23, tzinfo=UTC)).today_by_provider["render"] == 1.5


def test_replace_day_drops_records_that_disappeared() -> None:
    ledger = CostLedger()
    day = date(2026, 11, 17)
    ledger.upsert([rec("vercel", day, 1.0, "billed", service="A"), rec("vercel", day, 2.0, "billed", service="B")])
    ledger.replace_day("vercel", "billed", day, [rec("vercel", day, 2.5, "billed", service="B")])
    assert [(r.service_name, r.billed_cost) for r in ledger.effective()] == [("B", 2.5)]


def test_month_to_date_excludes_last_month_and_today_is_only_today() -> None:
    ledger = CostLedger()
    ledger.upsert([rec("render", date(2026, 10, 31), 100.0), rec("render", date(2026, 11, 1), 1.0),
                   rec("render", date(2026, 11, 2), 2.0)])
    summary = ledger.summary(datetime(2026, 11, 2, 8, tzinfo=UTC))
    assert summary.month_to_date_by_provider["render"] == 3.0
    assert summary.today_by_provider["render"] == 2.0


def test_a_fetched_empty_billing_day_reads_zero_for_yesterdays_series_and_an_unfetched_one_reads_nothing() -> None:
    # Vercel's billing day is Pacific: at 08:20 UTC on Nov 26 it is 00:20 on Nov 26 there, and the
    # day has no charge line yet. Yesterday (Nov 25) billed services A and B.
    yesterday, today = date(2026, 11, 25), date(2026, 11, 26)
    now = datetime(2026, 11, 26, 8, 20, tzinfo=UTC)
    ledger = CostLedger()
    ledger.upsert([rec("vercel", yesterday, 1.0, "billed", service="A"),
                   rec("vercel", yesterday, 2.0, "billed", service="B", project="p2")])
    assert "vercel" not in ledger.summary(now).today_by_provider  # today not fetched yet: unknown
    ledger.replace_day("vercel", "billed", yesterday, [rec("vercel", yesterday, 1.0, "billed", service="A"),
                                                       rec("vercel", yesterday, 2.0, "billed", service="B",
                                                           project="p2")])
    ledger.replace_day("vercel", "billed", today, [])  # a successful poll: today has no charges yet
    summary = ledger.summary(now)
    assert summary.today == {("vercel", "A", "p1", "", "billed"): 0.0, ("vercel", "B", "p2", "", "billed"): 0.0}
    assert summary.today_by_provider == {"vercel": 0.0}
    assert summary.month_to_date_by_provider == {"vercel": 3.0}
    # Once the day has a charge line, today's series are that day's lines, as on any other day.
    ledger.replace_day("vercel", "billed", today, [rec("vercel", today, 0.4, "billed", service="A")])
    summary = ledger.summary(now)
    assert summary.today == {("vercel", "A", "p1", "", "billed"): 0.4}
    assert summary.today_by_provider == {"vercel": 0.4}


def test_an_empty_day_that_is_not_today_adds_no_zeros() -> None:
    ledger = CostLedger()
    day = date(2026, 11, 17)
    ledger.upsert([rec("openai", day - timedelta(days=1), 5.0, "billed")])
    ledger.replace_day("openai", "billed", day, [])
    assert ledger.summary(datetime(2026, 11, 18, 9, tzinfo=UTC)).today == {}


def test_breakdown_keys_carry_service_project_model_and_source() -> None:
    ledger = CostLedger()
    day = date(2026, 11, 17)
    ledger.upsert([rec("openai", day, 1.25, project="proj_a", service="OpenAI API", model="gpt-4o"),
                   rec("openai", day - timedelta(days=1), 2.0, project="proj_a", service="OpenAI API", model="gpt-4o")])
    summary = ledger.summary(datetime(2026, 11, 17, 9, tzinfo=UTC))
    assert summary.today == {("openai", "OpenAI API", "proj_a", "gpt-4o", "estimated"): 1.25}
    assert summary.month_to_date == {("openai", "OpenAI API", "proj_a", "gpt-4o", "estimated"): 3.25}


def test_record_longer_than_a_day_is_refused() -> None:
    start = datetime(2026, 11, 17, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="at most one UTC day"):
        CostRecord("render", "s", "Compute", "r", "r", start, start + timedelta(hours=13), 1.0, "estimated")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CostRecord("render", "s", "Compute", "r", "r", datetime(2026, 1, 1), datetime(2026, 1, 2), 1.0, "estimated")


def test_split_by_day_cuts_at_utc_midnight() -> None:
    start = datetime(2026, 11, 16, 18, tzinfo=UTC)
    end = datetime(2026, 11, 18, 6, tzinfo=UTC)
    pieces = list(split_by_day(start, end))
    assert [(a.isoformat(), b.isoformat()) for a, b in pieces] == [
        ("2026-11-16T18:00:00+00:00", "2026-11-17T00:00:00+00:00"),
        ("2026-11-17T00:00:00+00:00", "2026-11-18T00:00:00+00:00"),
        ("2026-11-18T00:00:00+00:00", "2026-11-18T06:00:00+00:00"),
    ]


def test_focus_jsonl_and_csv_carry_the_focus_columns() -> None:
    records = [rec("openai", date(2026, 11, 17), 1.5, "billed", model="gpt-4o", sku="gpt-4o, output")]
    out = io.StringIO()
    assert write_focus(records, "jsonl", out) == 1
    row = json.loads(out.getvalue())
    assert row["BilledCost"] == 1.5 and row["BillingCurrency"] == "USD"
    assert row["ServiceProviderName"] == "OpenAI" and row["x_CostSource"] == "billed"
    assert row["ChargePeriodStart"] == "2026-11-17T00:00:00Z" and row["ChargePeriodEnd"] == "2026-11-18T00:00:00Z"
    csv_out = io.StringIO()
    write_focus(records, "csv", csv_out)
    header, line = csv_out.getvalue().splitlines()
    assert header.startswith("BilledCost,EffectiveCost,ListCost,BillingCurrency,ChargeCategory,ChargePeriodStart")
    assert row["EffectiveCost"] == row["ListCost"] == 1.5  # an estimate or a bill without its own figures
    assert "gpt-4o" in line


# --- found by mutation testing (docs/testing.md) ---

PACIFIC = ZoneInfo("America/Los_Angeles")
# 03:00 UTC on 1 December 2026 is still 30 November (19:00) on Vercel's Pacific billing day.
UTC_1ST_PACIFIC_30TH = datetime(2026, 12, 1, 3, tzinfo=UTC)
NOV_18_NOON = datetime(2026, 11, 18, 12, tzinfo=UTC)


def test_a_provider_billing_in_pacific_time_counts_today_month_and_forecast_on_its_own_day() -> None:
    ledger = CostLedger(zones={"vercel": PACIFIC})
    ledger.covers_from("vercel", date(2026, 11, 29))
    ledger.upsert([rec("vercel", date(2026, 11, 29), 3.0), rec("vercel", date(2026, 11, 30), 5.0),
                   rec("render", date(2026, 11, 30), 7.0), rec("render", date(2026, 12, 1), 2.0)])
    assert ledger.billing_today("vercel", UTC_1ST_PACIFIC_30TH) == date(2026, 11, 30)
    assert ledger.billing_today("render", UTC_1ST_PACIFIC_30TH) == date(2026, 12, 1)
    summary = ledger.summary(UTC_1ST_PACIFIC_30TH)
    assert summary.today_by_provider == {"vercel": 5.0, "render": 2.0}
    assert summary.month_to_date_by_provider == {"vercel": 8.0, "render": 2.0}
    # November's last day: 3 complete + max(5 today, rate 3 over the one known day) + 0 days left
    assert summary.forecast_by_provider["vercel"] == pytest.approx(8.0)
    ledger.set_forecast("vercel", date(2026, 11, 1), 99.0)  # the provider's own, for its current cycle
    assert ledger.summary(UTC_1ST_PACIFIC_30TH).forecast_by_provider["vercel"] == 99.0


def test_an_empty_pacific_billing_day_zeroes_yesterdays_series_on_that_day_not_the_utc_one() -> None:
    ledger = CostLedger(zones={"vercel": PACIFIC})
    ledger.upsert([rec("vercel", date(2026, 11, 29), 3.0, service="A")])
    ledger.replace_day("vercel", "estimated", date(2026, 11, 30), [])
    summary = ledger.summary(UTC_1ST_PACIFIC_30TH)
    assert summary.today == {("vercel", "A", "p1", "", "estimated"): 0.0}


def test_every_empty_day_is_looked_at_not_only_those_before_one_that_is_not_today() -> None:
    ledger = CostLedger()
    ledger.upsert([rec("openai", date(2026, 11, 17), 4.0, service="chat")])
    ledger.replace_day("render", "estimated", date(2026, 11, 10), [])  # long past: adds nothing
    ledger.replace_day("openai", "estimated", date(2026, 11, 18), [])
    ledger.replace_day("supabase", "estimated", date(2026, 11, 18), [])  # no series yesterday: nothing
    summary = ledger.summary(NOV_18_NOON)
    assert summary.today == {("openai", "chat", "p1", "", "estimated"): 0.0}


def test_a_cycle_anchored_on_the_15th_sets_month_to_date_and_the_forecast() -> None:
    ledger = CostLedger(anchors={"llamacloud": 15})
    ledger.covers_from("llamacloud", date(2026, 11, 1))
    ledger.upsert([rec("llamacloud", date(2026, 11, 14), 100.0)]
                  + [rec("llamacloud", date(2026, 11, d), 2.0) for d in range(15, 20)]
                  + [rec("llamacloud", date(2026, 11, 20), 1.0)])
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    summary = ledger.summary(now)
    assert summary.month_to_date_by_provider["llamacloud"] == pytest.approx(11.0)
    # Nov 15 .. Dec 15: 10 complete + max(1, rate (100 + 5 × 2) / 7) + rate × 24 days after today
    rate = 110.0 / 7
    assert summary.forecast_by_provider["llamacloud"] == pytest.approx(10.0 + rate + rate * 24)
    ledger.set_forecast("llamacloud", date(2026, 11, 15), 77.0)
    assert ledger.summary(now).forecast_by_provider["llamacloud"] == 77.0


def test_the_forecast_follows_the_anchor_days_cycle() -> None:
    # Nov 15 .. Dec 15, today the 20th, known from the 15th: 10 complete + max(1, 2) + 2 × 24 = 60
    daily = {date(2026, 11, d): 2.0 for d in range(15, 20)}
    daily[date(2026, 11, 20)] = 1.0
    assert month_end_forecast(daily, date(2026, 11, 20), date(2026, 11, 15), anchor=15) == pytest.approx(60.0)


def test_with_no_cost_known_the_forecast_is_zero_and_with_no_complete_day_today_is_the_rate() -> None:
    today = date(2026, 11, 18)
    assert month_end_forecast({}, today, today - timedelta(days=7)) == 0.0
    # history starts today: today's 4 so far stands for the rate of today and the 12 days after it
    assert month_end_forecast({today: 4.0}, today, today) == pytest.approx(4.0 + 4.0 * 12)


def test_purchases_count_once_in_the_forecast_taxes_and_usage_in_the_daily_rate() -> None:
    ledger = CostLedger()
    ledger.covers_from("vercel", date(2026, 11, 1))
    nov = lambda d: date(2026, 11, d)  # noqa: E731
    purchase = {"charge_category": "Purchase"}
    records = [rec("vercel", nov(d), 10.0, "billed", sku="usage") for d in range(11, 18)]
    records += [rec("vercel", nov(17), 1.0, "billed", sku="tax"), rec("vercel", nov(18), 2.0, "billed", sku="a"),
                rec("vercel", nov(18), 3.0, "billed", sku="b")]
    records += [replace(rec("vercel", nov(1), 60.0, "billed", sku="seat"), **purchase),
                replace(rec("vercel", nov(18), 6.0, "billed", sku="credit"), **purchase)]
    records[7] = replace(records[7], charge_category="Tax")
    ledger.upsert(records)
    summary = ledger.summary(NOV_18_NOON)
    # complete days: 70 usage + 1 tax = 71; rate 71 / 7; today 5 (< rate); 12 days after today;
    # plus the two purchases of the cycle (the 1st and today) once: 66
    rate = 71.0 / 7
    assert summary.forecast_by_provider["vercel"] == pytest.approx(71.0 + rate + rate * 12 + 66.0)
    assert summary.today_by_provider["vercel"] == pytest.approx(11.0)
    assert summary.month_to_date_by_provider["vercel"] == pytest.approx(71.0 + 5.0 + 66.0)


def test_the_forecasts_rate_reads_only_days_from_the_earliest_one_declared_covered() -> None:
    ledger = CostLedger()
    ledger.covers_from("render", date(2026, 11, 16))
    ledger.covers_from("render", date(2026, 11, 17))  # a later declaration does not shorten the history
    assert ledger.first_day("render") == date(2026, 11, 16)
    ledger.upsert([rec("render", date(2026, 11, 16), 7.0), rec("render", date(2026, 11, 17), 7.0)])
    # 14 complete + rate 7 (two known days) for today + 7 × 12
    assert ledger.summary(NOV_18_NOON).forecast_by_provider["render"] == pytest.approx(14.0 + 7.0 + 7.0 * 12)


def test_a_replacement_with_a_record_of_another_day_is_refused_naming_both() -> None:
    ledger = CostLedger()
    with pytest.raises(ValueError, match="record for render/estimated/2026-11-17 in a replacement of "
                                         "render/estimated/2026-11-18"):
        ledger.replace_day("render", "estimated", date(2026, 11, 18), [rec("render", date(2026, 11, 17), 1.0)])


def test_replacing_a_day_with_nothing_removes_its_records() -> None:
    ledger = CostLedger()
    ledger.upsert([rec("render", date(2026, 11, 18), 1.0)])
    ledger.replace_day("render", "estimated", date(2026, 11, 18), [])
    assert ledger.records() == []
    assert ledger.summary(NOV_18_NOON).month_to_date_by_provider == {}


def test_records_are_listed_by_provider_period_service_resource_model_and_sku() -> None:
    day = date(2026, 11, 17)
    b = rec("openai", day, 1.0, model="b", sku="1")
    a = rec("openai", day, 1.0, model="a", sku="2")
    unnamed = rec("openai", day, 1.0, model=None, sku="3")
    named = rec("openai", day, 1.0, model="WWW", sku="0")
    earlier = rec("openai", day - timedelta(days=1), 1.0, model="z")
    render = rec("render", day - timedelta(days=5), 1.0)
    ledger = CostLedger()
    ledger.upsert([render, b, named, a, earlier, unnamed])
    assert ledger.records() == [earlier, unnamed, named, a, b, render]


def test_an_unchanged_ledger_answers_from_its_cached_summary() -> None:
    ledger = CostLedger()
    ledger.upsert([rec("render", date(2026, 11, 18), 1.0)])
    assert ledger.summary(NOV_18_NOON) is ledger.summary(NOV_18_NOON)


def _changes(ledger: CostLedger) -> dict:
    """Each way of changing a ledger, as a function of it."""
    today = date(2026, 11, 18)
    return {
        "upsert": lambda: ledger.upsert([rec("render", today, 1.0, sku="more")]),
        "replace_day": lambda: ledger.replace_day("supabase", "estimated", today, [rec("supabase", today, 9.0)]),
        "covers_from": lambda: ledger.covers_from("openai", today),
        "set_forecast": lambda: ledger.set_forecast("render", date(2026, 11, 1), 123.0),
    }


def _fresh_summary(*names: str):
    ledger = CostLedger()
    ledger.upsert([rec("render", date(2026, 11, 18), 5.0)])
    for name in names:
        _changes(ledger)[name]()
    return ledger.summary(NOV_18_NOON)


CHANGES = ("upsert", "replace_day", "covers_from", "set_forecast")


@pytest.mark.parametrize(("first", "second"), [(a, b) for a in CHANGES for b in CHANGES if a != b])
def test_every_change_shows_in_the_next_summary_alone_or_followed_by_another(first: str, second: str) -> None:
    for names in ((first,), (first, second)):
        ledger = CostLedger()
        ledger.upsert([rec("render", date(2026, 11, 18), 5.0)])
        ledger.summary(NOV_18_NOON)  # cached before the changes
        for name in names:
            _changes(ledger)[name]()
        assert ledger.summary(NOV_18_NOON) == _fresh_summary(*names), names
