"""Assembles a report from its inputs: analytics plus recommendations (pure, given the price tables)."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporters.ops.report import plans
from exporters.ops.report.analytics import analyse
from exporters.ops.report.model import Analytics, Inputs, Recommendation
from exporters.ops.report.recommend import recommend

# A recommendation rests on its provider's data over at least this share of the window (--min-coverage):
# minutes of data are no evidence that a service is idle or oversized.
DEFAULT_MIN_COVERAGE = 0.8


@dataclass(frozen=True)
class Report:
    days: int
    generated_at: str
    days_with_data: int
    analytics: Analytics
    recommendations: list[Recommendation]
    coverage: dict[str, float] = field(default_factory=dict)  # provider -> share of the window with data
    min_coverage: float = DEFAULT_MIN_COVERAGE
    withheld: dict[str, int] = field(default_factory=dict)  # provider -> recommendations held back

    @property
    def total_savings_usd(self) -> float:
        return round(sum(r.monthly_savings_usd for r in self.recommendations), 2)


def build(inputs: Inputs, generated_at: str, min_coverage: float = DEFAULT_MIN_COVERAGE) -> Report:
    analytics = analyse(inputs.spend, inputs.usage)
    credits_per_page, usd_per_credit = plans.llamacloud_rates()
    recs = recommend(inputs, render_specs=plans.RENDER_SPECS, render_prices=plans.render_prices(),
                     supabase_specs=plans.SUPABASE_SPECS, supabase_monthly=plans.supabase_monthly(),
                     openai_prices=plans.openai_input_prices(), credits_per_page=credits_per_page,
                     usd_per_credit=usd_per_credit, spend_by_provider=analytics.by_provider)
    kept = [r for r in recs if inputs.coverage.get(r.provider, 0.0) >= min_coverage]
    withheld: dict[str, int] = {}
    for r in recs:
        if r not in kept:
            withheld[r.provider] = withheld.get(r.provider, 0) + 1
    return Report(inputs.days, generated_at, len(analytics.by_day), analytics, kept, dict(inputs.coverage),
                  min_coverage, withheld)
