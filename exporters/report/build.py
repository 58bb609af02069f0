"""Assembles a report from its inputs: analytics plus recommendations (pure, given the price tables)."""

from __future__ import annotations

from dataclasses import dataclass

from . import plans
from .analytics import analyse
from .model import Analytics, Inputs, Recommendation
from .recommend import recommend


@dataclass(frozen=True)
class Report:
    days: int
    generated_at: str
    days_with_data: int
    analytics: Analytics
    recommendations: list[Recommendation]

    @property
    def total_savings_usd(self) -> float:
        return round(sum(r.monthly_savings_usd for r in self.recommendations), 2)


def build(inputs: Inputs, generated_at: str) -> Report:
    analytics = analyse(inputs.spend, inputs.usage)
    credits_per_page, usd_per_credit = plans.llamacloud_rates()
    recs = recommend(inputs, render_specs=plans.RENDER_SPECS, render_prices=plans.render_prices(),
                     supabase_specs=plans.SUPABASE_SPECS, supabase_monthly=plans.supabase_monthly(),
                     openai_prices=plans.openai_input_prices(), credits_per_page=credits_per_page,
                     usd_per_credit=usd_per_credit, spend_by_provider=analytics.by_provider)
    return Report(inputs.days, generated_at, len(analytics.by_day), analytics, recs)
