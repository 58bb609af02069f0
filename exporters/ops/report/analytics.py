"""Spend by provider, service, model and day; trends; unit economics; top drivers (pure)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from exporters.ops.report.model import Analytics, SpendRow, Usage


def _sum_by(rows: list[SpendRow], key) -> dict:
    totals: dict = defaultdict(float)
    for row in rows:
        totals[key(row)] += row.usd
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def trend(rows: list[SpendRow], provider: str, days: list[date]) -> float | None:
    """Relative change of the mean daily spend, second half of the days vs the first half."""
    if len(days) < 2:
        return None
    half = len(days) // 2
    first, second = set(days[:half]), set(days[half:])
    a = sum(r.usd for r in rows if r.provider == provider and r.day in first) / len(first)
    b = sum(r.usd for r in rows if r.provider == provider and r.day in second) / len(second)
    return None if a == 0 else (b - a) / a


def _per(amount: float, quantity: float, scale: float) -> float | None:
    return None if quantity <= 0 else amount / quantity * scale


def analyse(rows: list[SpendRow], usage: Usage, top: int = 5) -> Analytics:
    by_provider = _sum_by(rows, lambda r: r.provider)
    by_day = dict(sorted(_sum_by(rows, lambda r: r.day).items()))
    days = sorted(by_day)
    lines = _sum_by(rows, lambda r: f"{r.provider}/{r.service}" + (f"/{r.model}" if r.model else ""))
    # Unit economics divide each provider's spend by what that provider serves.
    request_spend = by_provider.get("vercel", 0.0) + by_provider.get("render", 0.0) + by_provider.get("supabase", 0.0)
    return Analytics(
        total_usd=sum(by_provider.values()),
        by_provider=by_provider,
        by_service=_sum_by(rows, lambda r: f"{r.provider}/{r.service}"),
        by_model=_sum_by([r for r in rows if r.model], lambda r: r.model),
        by_day=by_day,
        trend={p: trend(rows, p, days) for p in by_provider},
        per_1k_requests=_per(request_spend, usage.requests, 1000),
        per_page=_per(by_provider.get("llamacloud", 0.0), usage.pages, 1),
        per_1m_tokens=_per(by_provider.get("openai", 0.0), usage.tokens, 1e6),
        top_drivers=list(lines.items())[:top],
    )
