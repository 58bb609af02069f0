"""The simulator's own price fixtures: what each provider charges, written out literally.

The simulator bills from these figures, never from `exporters/costs/price_tables/`
(the exporter's data). Each figure is a literal copied from the provider's
published pricing, with where it was read, when, and how sure we are (H/M/L as
in docs/providers/<name>.md). A figure the provider does not publish but the simulated
provider still charges (an unannounced model, an unpublished parse mode) is a
`Price` too, with a source that says so: it is the "truth" stackwatch cannot
know, so the ground truth can hold it against stackwatch's unpriced usage.

Because the two copies are independent, a wrong price in `price_tables/` makes
the exporter disagree with the simulator's invoice, and a test fails.

Use: `OPENAI_MODELS["gpt-4o-2024-08-06"].input.usd`, `usd(RENDER_PLANS["starter"])`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Source:
    where: str  # the page or document the figure was read from
    as_of: date  # when it was read
    confidence: str  # H read in an official page/spec, M consistent secondary sources, L unverified/assumed


@dataclass(frozen=True)
class Price:
    usd: float
    per: str  # what one `usd` buys: "1M tokens", "month", "hour", "1000 credits", "seat-month", …
    source: Source


def usd(price: Price) -> float:
    return price.usd


# --- sources ---

OPENAI_PRICING = Source("openai.com/api/pricing (docs/providers/openai.md: mid-2026 copies for gpt-4o, gpt-4o-mini, "
                        "embeddings; other snapshots from the same page's model table)", date(2026, 6, 1), "M")
OPENAI_LEGACY_PRICING = Source("platform.openai.com/docs/pricing, legacy/other models table", date(2026, 6, 1), "M")
OPENAI_SIMULATED = Source("not published: the simulated organisation's private model; OpenAI bills it, "
                          "stackwatch has no price for it", date(2026, 11, 1), "L")
LLAMACLOUD_PRICING = Source("llamaindex.ai/pricing and docs.cloud.llamaindex.ai credit tables (docs/providers/llamacloud.md, H; "
                            "cost-effective tier M)", date(2026, 1, 1), "H")
LLAMACLOUD_ASSUMED = Source("simulation assumption: LlamaCloud reports these events' credits itself; "
                            "the rate only shapes simulated usage", date(2026, 11, 1), "L")
VERCEL_PRICING = Source("vercel.com/pricing, Pro plan (docs/providers/vercel.md: $20/seat/month with a $20 usage credit, M; "
                        "on-demand rates from the pricing page)", date(2026, 6, 1), "M")
RENDER_PRICING = Source("render.com/pricing (docs/providers/render.md: starter, standard M; pro and above L)",
                        date(2026, 1, 1), "M")
SUPABASE_PRICING = Source("supabase.com/pricing and docs/guides/platform/compute-add-ons (docs/providers/supabase.md, H)",
                          date(2026, 1, 1), "H")


# --- OpenAI: USD per 1M tokens, by exact snapshot ---

@dataclass(frozen=True)
class ModelPrice:
    input: Price
    output: Price | None = None  # embeddings have no output tokens
    cached_input: Price | None = None  # None: cached tokens are billed as ordinary input


def _tokens(input_usd: float, cached_usd: float | None, output_usd: float | None,
            source: Source = OPENAI_PRICING) -> ModelPrice:
    per = "1M tokens"
    return ModelPrice(Price(input_usd, per, source),
                      None if output_usd is None else Price(output_usd, per, source),
                      None if cached_usd is None else Price(cached_usd, per, source))


OPENAI_MODELS: dict[str, ModelPrice] = {
    "gpt-4o-2024-08-06": _tokens(2.50, 1.25, 10.00),
    "gpt-4o-2024-11-20": _tokens(2.50, 1.25, 10.00),
    "gpt-4o-2024-05-13": _tokens(5.00, None, 15.00, OPENAI_LEGACY_PRICING),  # the first gpt-4o: dearer, no cache
    "gpt-4o-mini-2024-07-18": _tokens(0.15, 0.075, 0.60),
    "gpt-4.1-2025-04-14": _tokens(2.00, 0.50, 8.00),
    "gpt-4.1-mini-2025-04-14": _tokens(0.40, 0.10, 1.60),
    "gpt-4.1-nano-2025-04-14": _tokens(0.10, 0.025, 0.40),
    "o3-2025-04-16": _tokens(2.00, 0.50, 8.00),
    "o4-mini-2025-04-16": _tokens(1.10, 0.275, 4.40),
    "o3-mini-2025-01-31": _tokens(1.10, 0.55, 4.40),
    "o1-2024-12-17": _tokens(15.00, 7.50, 60.00),
    "gpt-5-2025-08-07": _tokens(1.25, 0.125, 10.00),
    "gpt-5-mini-2025-08-07": _tokens(0.25, 0.025, 2.00),
    "gpt-5-nano-2025-08-07": _tokens(0.05, 0.005, 0.40),
    "gpt-3.5-turbo-0125": _tokens(0.50, None, 1.50, OPENAI_LEGACY_PRICING),
    "text-embedding-3-small": _tokens(0.02, None, None),
    "text-embedding-3-large": _tokens(0.13, None, None),
    "text-embedding-ada-002": _tokens(0.10, None, None, OPENAI_LEGACY_PRICING),
    # Billed by OpenAI, published nowhere: stackwatch must report its usage as unpriced.
    "gpt-sim-experimental": _tokens(5.00, 2.50, 20.00, OPENAI_SIMULATED),
}
# A model name without a date bills as the snapshot it points to (the models page, same date).
OPENAI_ALIASES: dict[str, str] = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "o3": "o3-2025-04-16",
    "o4-mini": "o4-mini-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o1": "o1-2024-12-17",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
}
OPENAI_BATCH_MULTIPLIER = Price(0.5, "fraction of list price (Batch API)", OPENAI_PRICING)
# File search storage: billed to the organisation, with no project (project_id null in the Costs API).
OPENAI_FILE_SEARCH_STORAGE = Price(0.10, "GB-day", OPENAI_PRICING)


def openai_model_price(model: str) -> ModelPrice | None:
    return OPENAI_MODELS.get(OPENAI_ALIASES.get(model, model))


# --- LlamaCloud ---

LLAMACLOUD_USD_PER_1000_CREDITS = Price(1.25, "1000 credits (pay-as-you-go)", LLAMACLOUD_PRICING)


@dataclass(frozen=True)
class CreditPlan:
    fee: Price  # per month
    included_credits: int


LLAMACLOUD_PLANS: dict[str, CreditPlan] = {
    "free": CreditPlan(Price(0.0, "month", LLAMACLOUD_PRICING), 10_000),
    "starter": CreditPlan(Price(50.0, "month", LLAMACLOUD_PRICING), 40_000),
    "pro": CreditPlan(Price(500.0, "month", LLAMACLOUD_PRICING), 400_000),
    "pay_as_you_go": CreditPlan(Price(0.0, "month", LLAMACLOUD_PRICING), 0),
}
# Credits per parsed page, by parse mode (published); `legacy_premium` is charged but not published.
LLAMACLOUD_CREDITS_PER_PAGE: dict[str, Price] = {
    "fast": Price(1, "credits per page", LLAMACLOUD_PRICING),
    "cost_effective": Price(3, "credits per page", LLAMACLOUD_PRICING),
    "agentic": Price(10, "credits per page", LLAMACLOUD_PRICING),
    "agentic_plus": Price(45, "credits per page", LLAMACLOUD_PRICING),
    "legacy_premium": Price(20, "credits per page", LLAMACLOUD_ASSUMED),
}
# Credits per unit of the other credit-carrying events (LlamaCloud reports their credits itself).
LLAMACLOUD_CREDITS_PER_EVENT_UNIT: dict[str, Price] = {
    "extraction_num_pages": Price(5, "credits per page extracted", LLAMACLOUD_ASSUMED),
    "pages_indexed": Price(1, "credits per page indexed", LLAMACLOUD_ASSUMED),
    "pages_classified": Price(1, "credits per page classified", LLAMACLOUD_ASSUMED),
    "pages_split": Price(1, "credits per page split", LLAMACLOUD_ASSUMED),
    # An event type stackwatch does not know: it carries credits, so it is billed.
    "pages_verified": Price(2, "credits per page verified", LLAMACLOUD_ASSUMED),
}


# --- Vercel (Pro) ---

VERCEL_SEAT = Price(20.0, "seat-month", VERCEL_PRICING)
VERCEL_USAGE_CREDIT = Price(20.0, "month (usage credit included in Pro)", VERCEL_PRICING)
VERCEL_USAGE: dict[str, Price] = {
    "Function Invocations": Price(0.60, "1M invocations", VERCEL_PRICING),
    "Edge Requests": Price(2.00, "1M requests", VERCEL_PRICING),
    "Fast Data Transfer": Price(0.15, "GB", VERCEL_PRICING),
    "Build Minutes": Price(0.014, "minute", VERCEL_PRICING),
}


# --- Render: USD per month, prorated per second ---

RENDER_PLANS: dict[str, Price] = {
    "free": Price(0.0, "month", RENDER_PRICING),
    "starter": Price(7.0, "month", RENDER_PRICING),
    "standard": Price(25.0, "month", RENDER_PRICING),
    "pro": Price(85.0, "month", RENDER_PRICING),
    "pro_plus": Price(175.0, "month", RENDER_PRICING),
    "pro_max": Price(225.0, "month", RENDER_PRICING),
    "pro_ultra": Price(450.0, "month", RENDER_PRICING),
}

RENDER_PRICING_OTHER = Source("render.com/pricing: Postgres, disks, workspaces (read once, docs/providers/render.md; "
                              "unverified here)", date(2026, 1, 1), "L")
RENDER_POSTGRES_PLANS: dict[str, Price] = {
    "free": Price(0.0, "month", RENDER_PRICING_OTHER),
    "basic_256mb": Price(6.0, "month", RENDER_PRICING_OTHER),
    "basic_1gb": Price(19.0, "month", RENDER_PRICING_OTHER),
    "basic_4gb": Price(75.0, "month", RENDER_PRICING_OTHER),
    "pro_4gb": Price(55.0, "month", RENDER_PRICING_OTHER),
    "pro_8gb": Price(100.0, "month", RENDER_PRICING_OTHER),
}
RENDER_POSTGRES_STORAGE = Price(0.30, "GB-month", RENDER_PRICING_OTHER)
RENDER_KEY_VALUE_PRICING = Source("render.com/pricing, Key Value instances (starter 256 MB, standard 1 GB, "
                                  "pro 5 GB, pro_plus 10 GB; read once, unverified here)",
                                  date(2026, 1, 1), "L")
RENDER_KEY_VALUE_PLANS: dict[str, Price] = {
    "free": Price(0.0, "month", RENDER_KEY_VALUE_PRICING),
    "starter": Price(10.0, "month", RENDER_KEY_VALUE_PRICING),
    "standard": Price(32.0, "month", RENDER_KEY_VALUE_PRICING),
    "pro": Price(135.0, "month", RENDER_KEY_VALUE_PRICING),
    "pro_plus": Price(250.0, "month", RENDER_KEY_VALUE_PRICING),
}
RENDER_DISK = Price(0.25, "GB-month", RENDER_PRICING_OTHER)
RENDER_WORKSPACE_SEAT: dict[str, Price] = {
    "hobby": Price(0.0, "seat-month", RENDER_PRICING_OTHER),
    "professional": Price(19.0, "seat-month", RENDER_PRICING_OTHER),
    "organization": Price(29.0, "seat-month", RENDER_PRICING_OTHER),
}


# --- Supabase ---

SUPABASE_PLANS: dict[str, Price] = {
    "free": Price(0.0, "month", SUPABASE_PRICING),
    "pro": Price(25.0, "month", SUPABASE_PRICING),
    "team": Price(599.0, "month", SUPABASE_PRICING),
}
SUPABASE_COMPUTE_CREDIT: dict[str, Price] = {
    "free": Price(0.0, "month", SUPABASE_PRICING),
    "pro": Price(10.0, "month", SUPABASE_PRICING),
    "team": Price(10.0, "month", SUPABASE_PRICING),
}
SUPABASE_COMPUTE_PER_HOUR: dict[str, Price] = {
    "ci_nano": Price(0.0, "hour", SUPABASE_PRICING),
    "ci_micro": Price(0.01344, "hour", SUPABASE_PRICING),
    "ci_small": Price(0.0206, "hour", SUPABASE_PRICING),
    "ci_medium": Price(0.0822, "hour", SUPABASE_PRICING),
    "ci_large": Price(0.1517, "hour", SUPABASE_PRICING),
    "ci_xlarge": Price(0.2877, "hour", SUPABASE_PRICING),
    "ci_2xlarge": Price(0.562, "hour", SUPABASE_PRICING),
    "ci_4xlarge": Price(1.32, "hour", SUPABASE_PRICING),
}

SUPABASE_ADDONS_DOCS = Source("supabase.com/docs/guides/platform/manage-your-usage (IPv4, custom domain; "
                              "read once: docs/providers/supabase.md)", date(2026, 1, 1), "L")
SUPABASE_ADDONS: dict[str, Price] = {  # by variant id, per month
    "pitr_7": Price(100.0, "month", SUPABASE_PRICING),
    "pitr_14": Price(200.0, "month", SUPABASE_PRICING),
    "pitr_28": Price(400.0, "month", SUPABASE_PRICING),
    "ipv4_default": Price(4.0, "month", SUPABASE_ADDONS_DOCS),
    "cd_default": Price(10.0, "month", SUPABASE_ADDONS_DOCS),
}
SUPABASE_DISK_INCLUDED_GB = Price(8.0, "GB included per project", SUPABASE_PRICING)
SUPABASE_DISK = Price(0.125, "GB-month beyond the included size", SUPABASE_PRICING)



def all_prices() -> dict[str, Price]:
    """Every fixture by a dotted name (for listing and for the test that each has a source)."""
    out: dict[str, Price] = {}
    for model, mp in OPENAI_MODELS.items():
        for kind in ("input", "cached_input", "output"):
            price = getattr(mp, kind)
            if price is not None:
                out[f"openai.{model}.{kind}"] = price
    out["openai.batch_multiplier"] = OPENAI_BATCH_MULTIPLIER
    out["openai.file_search_storage"] = OPENAI_FILE_SEARCH_STORAGE
    out["llamacloud.usd_per_1000_credits"] = LLAMACLOUD_USD_PER_1000_CREDITS
    for name, plan in LLAMACLOUD_PLANS.items():
        out[f"llamacloud.plans.{name}.fee"] = plan.fee
    out.update({f"llamacloud.credits_per_page.{k}": v for k, v in LLAMACLOUD_CREDITS_PER_PAGE.items()})
    out.update({f"llamacloud.credits_per_unit.{k}": v for k, v in LLAMACLOUD_CREDITS_PER_EVENT_UNIT.items()})
    out["vercel.seat"] = VERCEL_SEAT
    out["vercel.usage_credit"] = VERCEL_USAGE_CREDIT
    out.update({f"vercel.usage.{k}": v for k, v in VERCEL_USAGE.items()})
    out.update({f"render.plans.{k}": v for k, v in RENDER_PLANS.items()})
    out.update({f"supabase.plans.{k}": v for k, v in SUPABASE_PLANS.items()})
    out.update({f"supabase.compute_credit.{k}": v for k, v in SUPABASE_COMPUTE_CREDIT.items()})
    out.update({f"supabase.compute_per_hour.{k}": v for k, v in SUPABASE_COMPUTE_PER_HOUR.items()})
    out.update({f"render.postgres.{k}": v for k, v in RENDER_POSTGRES_PLANS.items()})
    out["render.postgres_storage"] = RENDER_POSTGRES_STORAGE
    out.update({f"render.key_value.{k}": v for k, v in RENDER_KEY_VALUE_PLANS.items()})
    out["render.disk"] = RENDER_DISK
    out.update({f"render.workspace_seat.{k}": v for k, v in RENDER_WORKSPACE_SEAT.items()})
    out.update({f"supabase.addons.{k}": v for k, v in SUPABASE_ADDONS.items()})
    out["supabase.disk_included_gb"] = SUPABASE_DISK_INCLUDED_GB
    out["supabase.disk"] = SUPABASE_DISK
    return out
