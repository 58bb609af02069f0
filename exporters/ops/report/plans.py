"""Plan sizes (published specs) and the prices of exporters/costs/price_tables/ that the advice compares."""

from __future__ import annotations

from datetime import date

from exporters.costs.prices import PriceBook

# Render instance types (render.com/pricing): CPUs and memory in bytes. Starter and Standard are
# in docs/providers/render.md (M); the Pro family is read from render.com/pricing (L), as are their prices.
RENDER_SPECS: dict[str, tuple[float, float]] = {
    "starter": (0.5, 512e6), "standard": (1.0, 2e9), "pro": (2.0, 4e9), "pro_plus": (4.0, 8e9),
    "pro_max": (4.0, 16e9), "pro_ultra": (8.0, 32e9),
}
# Supabase compute add-ons (supabase.com/docs/guides/platform/compute-add-ons): memory in bytes
# and direct max_connections.
SUPABASE_SPECS: dict[str, tuple[float, int]] = {
    "ci_micro": (1e9, 60), "ci_small": (2e9, 90), "ci_medium": (4e9, 120), "ci_large": (8e9, 160),
    "ci_xlarge": (16e9, 240), "ci_2xlarge": (32e9, 380), "ci_4xlarge": (64e9, 480),
}
HOURS_PER_MONTH = 730  # Supabase bills compute per hour; 8,760 h / 12


def render_prices(on: date | None = None) -> dict[str, float]:
    table = PriceBook.load().table("render", on or date.today())
    return {plan: float(usd) for plan, usd in table["usd_per_month"].items()}


def supabase_monthly(on: date | None = None) -> dict[str, float]:
    table = PriceBook.load().table("supabase", on or date.today())
    return {size: float(usd) * HOURS_PER_MONTH for size, usd in table["compute_usd_per_hour"].items()}


def llamacloud_rates(on: date | None = None) -> tuple[dict[str, float], float]:
    """Credits per page by parse mode, and USD per credit at the pay-as-you-go rate."""
    table = PriceBook.load().table("llamacloud", on or date.today())
    return ({m: float(c) for m, c in table["credits_per_page"].items()}, float(table["usd_per_1000_credits"]) / 1000)


def openai_input_prices(on: date | None = None) -> dict[str, tuple[float, float]]:
    """Model (snapshot or alias) -> (input, cached input) USD per 1M tokens; models without a
    cached price bill cached tokens as input, so they get no prompt-cache advice."""
    table = PriceBook.load().table("openai", on or date.today())
    models = table.get("usd_per_million_tokens") or {}
    out = {m: (float(p["input"]), float(p.get("cached_input", p["input"])))
           for m, p in models.items() if isinstance(p, dict) and "input" in p}
    for alias, target in (table.get("aliases") or {}).items():
        if target in out:
            out[alias] = out[target]
    return out
