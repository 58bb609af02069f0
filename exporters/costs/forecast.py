"""Cycle-end forecasts from usage and plan rules, not from cost rates.

Cost rates mislead at a cycle's start: the allowance has just reset, so last
cycle's days (all overage) say nothing about this cycle's first days (all
included). A forecast therefore projects *usage* (credits, hours, tokens,
pages) to the cycle's end and prices the projected quantity once with the
plan's rules: fixed fee once, allowance once, overage on what is left.

State-priced resources (Render services, Supabase compute) are projected from
the rate of the state observed last: the cost so far plus that rate over the
seconds left in the cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from exporters.costs.billing import Cycle

USAGE_LOOKBACK_DAYS = 7


@dataclass(frozen=True)
class PlanRules:
    """How a quantity of usage is priced over one cycle."""

    fixed_fee_usd: float = 0.0  # charged once per cycle
    allowance: float = 0.0  # units included per cycle
    overage_usd_per_unit: float = 0.0


def cycle_cost(quantity: float, rules: PlanRules) -> float:
    """Cost of `quantity` units over one whole cycle."""
    return rules.fixed_fee_usd + max(0.0, quantity - rules.allowance) * rules.overage_usd_per_unit


def daily_usage_rate(usage_by_day: Mapping[date, float], today: date, first_day: date | None) -> float | None:
    """Mean units per complete day over the last 7 complete days (across cycles: usage, unlike
    cost, does not change meaning when the allowance resets). None when no complete day is known."""
    days = [today - timedelta(days=i) for i in range(1, USAGE_LOOKBACK_DAYS + 1)]
    if first_day is not None:
        days = [d for d in days if d >= first_day]
    if not days:
        return None
    return sum(usage_by_day.get(d, 0.0) for d in days) / len(days)


def project_usage(usage_by_day: Mapping[date, float], cycle: Cycle, today: date, today_fraction: float,
                  first_day: date | None) -> float:
    """This cycle's usage so far plus the projected usage of the rest of the cycle.

    `today_fraction` is the share of today already elapsed (0..1). With no complete
    day known, today's usage so far is extrapolated over today's elapsed fraction.
    """
    so_far = sum(v for d, v in usage_by_day.items() if cycle.start <= d <= today)
    today_so_far = usage_by_day.get(today, 0.0)
    rate = daily_usage_rate(usage_by_day, today, first_day)
    if rate is None:
        rate = today_so_far / today_fraction if today_fraction > 0 else 0.0
    days_after_today = (cycle.end - today).days - 1
    rest_of_today = max(0.0, rate * (1.0 - today_fraction))
    return so_far + rest_of_today + rate * days_after_today


def forecast_usage_cost(usage_by_day: Mapping[date, float], cycle: Cycle, today: date, today_fraction: float,
                        rules: PlanRules, first_day: date | None = None) -> float:
    return cycle_cost(project_usage(usage_by_day, cycle, today, today_fraction, first_day), rules)


def forecast_from_rate(cost_so_far: float, usd_per_second_now: float, seconds_left: float) -> float:
    """State-priced resources: what has accrued plus the current state's rate to the cycle's end."""
    return cost_so_far + usd_per_second_now * max(0.0, seconds_left)
