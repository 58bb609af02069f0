"""Report analytics and each recommendation against figures worked out by hand in the test."""

from __future__ import annotations

import json
from datetime import date

import pytest

from exporters.ops.report import plans
from exporters.ops.report.analytics import analyse
from exporters.ops.report.build import build
from exporters.ops.report.collect import window_coverage
from exporters.ops.report.model import Inputs, OpenAIModel, RenderService, SpendRow, SupabaseProject, Usage, VercelCache
from exporters.ops.report.recommend import (
    llamaparse_modes,
    openai_batch,
    openai_prompt_cache,
    render_idle,
    render_rightsizing,
    supabase_compute,
    unbudgeted,
    vercel_cache,
)
from exporters.ops.report.render import RENDERERS

from .fakeprom import FakePrometheus

# Published list prices (docs/providers/render.md): Render Starter $7 (0.5 CPU, 512 MB), Standard $25 (1 CPU, 2 GB),
# Pro $85; Supabase compute Small $0.0206/h, Medium $0.0822/h; LlamaParse $1.25 per 1,000 credits.
RENDER_SPECS = {"starter": (0.5, 512e6), "standard": (1.0, 2e9), "pro": (2.0, 4e9)}
RENDER_PRICES = {"starter": 7.0, "standard": 25.0, "pro": 85.0}


def service(**kw) -> RenderService:
    base = dict(name="api", plan="pro", instances=2, cpu_p995=0.20, memory_p99=0.10, requests=1e6, days_observed=14)
    return RenderService(**{**base, **kw})


def test_render_rightsizing_moves_to_the_cheapest_plan_that_fits_peak_plus_20_percent():
    # 0.20 × 2 CPU × 1.2 = 0.48 CPU ≤ 0.5; 0.10 × 4 GB × 1.2 = 0.48 GB ≤ 0.512 GB: Starter. (85 − 7) × 2 = 156.
    rec = render_rightsizing(service(), RENDER_SPECS, RENDER_PRICES, 14)
    assert rec is not None and rec.action.endswith("to starter") and rec.monthly_savings_usd == 156.0
    assert rec.confidence == "high" and "0.48 CPU" in rec.evidence
    # Memory 0.20 × 4 GB × 1.2 = 0.96 GB needs Standard: (85 − 25) × 2 = 120.
    rec = render_rightsizing(service(memory_p99=0.20), RENDER_SPECS, RENDER_PRICES, 14)
    assert rec.action.endswith("to standard") and rec.monthly_savings_usd == 120.0
    # Busy Starter: nothing cheaper fits.
    assert render_rightsizing(service(plan="starter", cpu_p995=0.9, memory_p99=0.9), RENDER_SPECS, RENDER_PRICES, 14) is None
    # Only 2 days of samples: low confidence.
    assert render_rightsizing(service(days_observed=2), RENDER_SPECS, RENDER_PRICES, 14).confidence == "low"


def test_idle_render_service_saves_its_whole_plan_and_a_busy_one_is_not_idle():
    rec = render_idle(service(plan="standard", instances=1, requests=0), RENDER_PRICES, 14)
    assert rec is not None and rec.monthly_savings_usd == 25.0
    assert render_idle(service(requests=10), RENDER_PRICES, 14) is None
    assert render_idle(service(requests=None), RENDER_PRICES, 14) is None  # not measured is not idle


def test_supabase_compute_downsizes_to_the_smallest_size_with_memory_and_connections():
    specs = {"ci_small": (2e9, 90), "ci_medium": (4e9, 120)}
    monthly = {"ci_small": 0.0206 * 730, "ci_medium": 0.0822 * 730}
    # 1.5 GB × 1.2 = 1.8 GB ≤ 2 GB; 50 × 1.2 = 60 ≤ 90: Small. (0.0822 − 0.0206) × 730 = 44.968.
    rec = supabase_compute(SupabaseProject("db", "ci_medium", 1.5e9, 50, 14), specs, monthly, 14)
    assert rec is not None and rec.monthly_savings_usd == 44.97 and "ci_small" in rec.action
    # 100 connections × 1.2 = 120 > 90: stays Medium.
    assert supabase_compute(SupabaseProject("db", "ci_medium", 1.5e9, 100, 14), specs, monthly, 14) is None


def test_openai_batch_and_prompt_cache_savings():
    model = OpenAIModel("gpt-4o", monthly_cost_usd=100, batch_requests=200, other_requests=800,
                        input_tokens=10e6, cached_input_tokens=1e6)
    # $100 × 800/1000 synchronous = $80 × 25 % eligible × 50 % = $10.
    assert openai_batch(model, 30).monthly_savings_usd == 10.0
    # 10 M input tokens in 30 d, 10 % cached → 50 %: 10 M × 0.4 × ($2.50 − $1.25) / 1 M = $5.
    assert openai_prompt_cache(model, 2.50, 1.25, 30).monthly_savings_usd == 5.0
    cached = OpenAIModel("gpt-4o", 100, 0, 1000, 10e6, 6e6)
    assert openai_prompt_cache(cached, 2.50, 1.25, 30) is None  # already 60 % cached
    assert openai_batch(OpenAIModel("m", 100, 1000, 0, 0, 0), 30) is None  # all batch already


def test_llamaparse_mode_savings_per_mode_above_cost_effective():
    credits = {"fast": 1, "cost_effective": 3, "agentic": 10}
    recs = llamaparse_modes({"agentic": 1000, "fast": 5000, "cost_effective": 10}, credits, 1.25 / 1000, 30)
    # 1,000 pages × (10 − 3) credits × $0.00125 = $8.75; fast and cost_effective are not above it.
    assert [(r.resource, r.monthly_savings_usd) for r in recs] == [("agentic", 8.75)]


def test_vercel_cache_hit_ratio_saving_and_no_advice_above_target():
    # $60/month over 2 projects = $30; hit 40 % → 80 % avoids (0.8 − 0.4) / 0.6 = 2/3 of misses: $20.
    rec = vercel_cache(VercelCache("web", 40, 100), 60.0, 2, 30)
    assert rec is not None and rec.monthly_savings_usd == 20.0
    assert vercel_cache(VercelCache("web", 90, 100), 60.0, 2, 30) is None


def test_providers_without_a_budget_are_named_with_no_claimed_saving():
    recs = unbudgeted({"openai": 5.0, "render": 3.0, "vercel": 0.0}, {"openai": 100.0, "render": None}, 30)
    assert [(r.provider, r.monthly_savings_usd) for r in recs] == [("render", 0.0)]


def test_analytics_by_provider_day_trend_and_unit_economics():
    d1, d2 = date(2026, 11, 1), date(2026, 11, 2)
    rows = [SpendRow(d1, "vercel", "functions", "", 2.0), SpendRow(d2, "vercel", "functions", "", 4.0),
            SpendRow(d1, "openai", "api", "gpt-4o", 1.0), SpendRow(d2, "openai", "api", "gpt-4o", 1.0),
            SpendRow(d2, "llamacloud", "parse", "", 3.0)]
    result = analyse(rows, Usage(requests=3000, pages=600, tokens=4e6))
    assert result.total_usd == 11.0
    assert result.by_provider == {"vercel": 6.0, "llamacloud": 3.0, "openai": 2.0}
    assert result.by_day == {d1: 3.0, d2: 8.0}
    assert result.trend["vercel"] == 1.0 and result.trend["openai"] == 0.0 and result.trend["llamacloud"] is None
    assert result.per_1k_requests == 2.0  # $6 / 3,000 requests × 1,000
    assert result.per_page == 0.005  # $3 / 600 pages
    assert result.per_1m_tokens == 0.5  # $2 / 4 M tokens × 1 M
    assert result.top_drivers[0] == ("vercel/functions", 6.0)
    assert result.by_model == {"gpt-4o": 2.0}


def test_shipped_price_tables_feed_the_advice_with_published_figures():
    render = plans.render_prices()
    assert (render["starter"], render["standard"]) == (7.0, 25.0)  # docs/providers/render.md
    supabase = plans.supabase_monthly()
    assert supabase["ci_small"] == pytest.approx(0.0206 * 730)
    credits, usd_per_credit = plans.llamacloud_rates()
    assert credits["agentic"] == 10 and usd_per_credit == pytest.approx(0.00125)


def test_a_service_is_called_idle_only_after_a_week_without_a_request():
    """Issue 16: a fresh report proposed deleting `api` from three samples, minutes old."""
    assert render_idle(service(requests=0, days_observed=0.002), RENDER_PRICES, 7) is None
    assert render_idle(service(requests=0, days_observed=6.9), RENDER_PRICES, 7) is None
    assert render_idle(service(requests=0, days_observed=7.0), RENDER_PRICES, 7) is not None


def test_recommendations_wait_until_their_provider_covers_the_window_and_the_coverage_is_printed():
    inputs = Inputs(days=7, render=[service(requests=0, days_observed=14, cpu_p995=0.9, memory_p99=0.9)],
                    llamacloud_pages={"agentic": 7000.0}, coverage={"render": 0.004, "llamacloud": 0.9})
    report = build(inputs, "2026-11-18T00:00:00+00:00")
    # Render's data covers 0.4 % of the week: its idle advice is held back; LlamaCloud's 90 % is enough.
    assert {r.provider for r in report.recommendations} == {"llamacloud"}
    assert report.withheld == {"render": 1} and report.min_coverage == 0.8
    header = RENDERERS["table"](report).splitlines()[1]
    assert header == ("coverage of the 7-day window: llamacloud 90%, render 0%; recommendations need 80% of the "
                      "window and are withheld (1 for render): wait for more data, or use a shorter --days")
    data = json.loads(RENDERERS["json"](report))
    assert data["coverage"] == {"render": 0.004, "llamacloud": 0.9} and data["recommendations_withheld"] == {"render": 1}
    assert build(inputs, "x", min_coverage=0.0).withheld == {}  # --min-coverage 0: everything, at the reader's risk


def test_coverage_is_the_share_of_the_windows_hours_with_stackwatch_data():
    prom = FakePrometheus().answer("count_over_time((max by (provider) (stackwatch_provider_up))[7d:1h])",
                                   ({"provider": "render"}, 84.0), ({"provider": "openai"}, 169.0))
    prom.answer("max by (provider) (stackwatch_provider_up)", ({"provider": "render"}, 1.0),
                ({"provider": "vercel"}, 1.0))
    # 84 of 168 hours; a 169th step caps at 1; a provider minutes old has no hourly step yet: 0.
    assert window_coverage(prom, 7) == {"render": 0.5, "openai": 1.0, "vercel": 0.0}
