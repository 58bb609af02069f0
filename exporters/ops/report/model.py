"""Plain data between the layers: what Prometheus said, and what the report concludes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class SpendRow:
    """One cost line's spend on one day (the day's last stackwatch_cost_today_usd value)."""

    day: date
    provider: str
    service: str
    model: str  # "" for non-AI lines
    usd: float


@dataclass(frozen=True)
class Usage:
    requests: float = 0.0  # Vercel + Render HTTP requests in the window
    pages: float = 0.0  # LlamaParse pages parsed
    tokens: float = 0.0  # OpenAI tokens (input + output)


@dataclass(frozen=True)
class RenderService:
    name: str
    plan: str
    instances: float
    cpu_p995: float | None  # utilisation of the current plan's CPU, 0–1, over the window
    memory_p99: float | None  # utilisation of the current plan's memory, 0–1
    requests: float | None  # HTTP requests served in the window (None: not measured)
    days_observed: float
    suspended: bool = False
    autoscaled: bool = False


@dataclass(frozen=True)
class SupabaseProject:
    name: str
    compute: str  # ci_micro, ci_small, …
    memory_used_p99_bytes: float | None
    connections_peak: float | None
    days_observed: float


@dataclass(frozen=True)
class OpenAIModel:
    model: str
    monthly_cost_usd: float  # projected to a 30-day month from the window
    batch_requests: float
    other_requests: float
    input_tokens: float
    cached_input_tokens: float


@dataclass(frozen=True)
class LlamaRepeats:
    """A LlamaCloud project's parses of documents it had already parsed in the billing cycle."""

    project: str
    parses: float  # repeated parses in the window
    credits: float  # the credits they consumed
    days_observed: float


@dataclass(frozen=True)
class VercelCache:
    project: str
    hits: float
    total: float


@dataclass
class Inputs:
    days: int
    spend: list[SpendRow] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    render: list[RenderService] = field(default_factory=list)
    supabase: list[SupabaseProject] = field(default_factory=list)
    openai: list[OpenAIModel] = field(default_factory=list)
    llamacloud_pages: dict[str, float] = field(default_factory=dict)  # parse mode -> pages in the window
    llamacloud_repeats: list[LlamaRepeats] = field(default_factory=list)
    vercel: list[VercelCache] = field(default_factory=list)
    vercel_monthly_usd: float = 0.0
    budgets: dict[str, float | None] = field(default_factory=dict)  # provider -> monthly budget
    # provider -> share (0–1) of the window's hours in which Prometheus holds stackwatch's data for it
    coverage: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Recommendation:
    kind: str
    provider: str
    resource: str
    monthly_savings_usd: float
    action: str
    evidence: str  # the figures the saving is worked out from
    series: str  # the Prometheus series read
    window: str
    confidence: str  # high | medium | low


@dataclass(frozen=True)
class Analytics:
    total_usd: float
    by_provider: dict[str, float]
    by_service: dict[str, float]  # "provider/service"
    by_model: dict[str, float]
    by_day: dict[date, float]
    trend: dict[str, float | None]  # provider -> change of the daily mean, second half vs first half
    per_1k_requests: float | None
    per_page: float | None
    per_1m_tokens: float | None
    top_drivers: list[tuple[str, float]]  # the largest cost lines
