"""Simulated OpenAI organisation API: the Costs API and the completions and embeddings Usage API.

Answers as `openai.openapi.json` documents: the page envelope
`{object: "page", data: [bucket…], has_more, next_page}`, buckets
`{object: "bucket", start_time, end_time, results}`, results with their `object`
discriminators, `group_by` honoured (ungrouped fields are null), `project_ids` /
`models` filters, `limit` buckets per page and an opaque `next_page` cursor.

The world: `Scale.openai_projects` projects, each using a deterministic subset of
`Scale.openai_models` priced models (gpt-4o, gpt-4o-mini, text-embedding-3-small/large
and dated snapshots of the chat models, which normalise to the priced names) plus
exactly one model absent from the price table (`UNPRICED_MODEL`). Usage exists
from `world.history_start()`; complete days are final, today's usage grows by
whole minutes (so a poll and the ground truth read a moment later agree).
Billing lags a day: costs exist for complete days only, at list price × usage ×
(1 + a deterministic adjustment of +1.5 % on some days) — so billed figures
differ from the usage estimate and tests can tell which one counts.

Ground truth is computed here, from this module's own usage and price reading,
independently of the exporter's cost code.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources

import yaml
from aiohttp import web

from .openai_api import OpenAIApi
from .world import World

PREFIX = "/openai/v1"
UNPRICED_MODEL = "gpt-sim-experimental"  # deliberately absent from price_tables/openai.yaml
# What OpenAI bills for UNPRICED_MODEL (USD per 1M tokens): known to the provider, not to stackwatch.
UNPRICED_MODEL_TRUE_PRICE = {"input": 5.00, "cached_input": 2.50, "output": 20.00}
BILLING_ADJUSTMENT = 0.015  # billed = list × (1 + this) on some days
COSTS_MAX_LIMIT, COSTS_DEFAULT_LIMIT = 180, 7
USAGE_MAX_LIMIT, USAGE_DEFAULT_LIMIT = 31, 7  # bucket_width=1d
MINUTES_PER_DAY = 1440

# Named snapshots first; more dated snapshots are generated when the scale asks for more models.
BASE_MODELS = ("gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "text-embedding-3-small",
               "text-embedding-3-large", "gpt-4o-2024-11-20", "gpt-4o-mini", "gpt-4o", "gpt-4o-2024-05-13")
SPIKE_MODEL = BASE_MODELS[0]  # cost-spike: this model's usage today ×10

COSTS_OBJECT = "organization.costs.result"
COMPLETIONS_OBJECT = "organization.usage.completions.result"
EMBEDDINGS_OBJECT = "organization.usage.embeddings.result"


def _price_versions() -> list[dict]:
    text = resources.files("exporters").joinpath("price_tables/openai.yaml").read_text(encoding="utf-8")
    return sorted(yaml.safe_load(text)["versions"], key=lambda v: v["effective_from"])


def _strip_snapshot_date(model: str) -> str:
    return re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model)


def _is_embedding(model: str) -> bool:
    return model.startswith("text-embedding")


@dataclass(frozen=True)
class Usage:
    """One (project, model, batch) on one day: input includes cached."""

    project: str
    model: str
    batch: bool
    input: int
    cached: int
    output: int
    requests: int

    def scaled(self, numerator: int, denominator: int) -> "Usage":
        def part(v: int) -> int:
            return v * numerator // denominator
        return Usage(self.project, self.model, self.batch, part(self.input), part(self.cached),
                     part(self.output), part(self.requests))


@dataclass(frozen=True)
class Profile:
    """A (project, model, batch) that is in use, with its typical day."""

    project: str
    model: str
    batch: bool
    input: int
    cached_share: float
    output_share: float
    tokens_per_request: int


class OpenAISim:
    name = "openai"
    prefix = PREFIX

    def __init__(self, world: World):
        self.world = world
        self._prices = _price_versions()
        self.projects = [f"proj_sim{world.rng('openai', 'project', i).getrandbits(40):010x}"
                         for i in range(world.scale.openai_projects)]
        self.models = self._model_names(world.scale.openai_models) + [UNPRICED_MODEL]
        self._profiles = self._build_profiles()
        self._day_cache: dict[date, list[Usage]] = {}
        self._costs_cache: dict[date, list[tuple[str, str, float, int]]] = {}
        self.api = OpenAIApi(self, PREFIX)

    # --- the world ---

    @staticmethod
    def _model_names(count: int) -> list[str]:
        names = list(BASE_MODELS[:max(4, count)])
        serial = 0
        while len(names) < count:
            family = "gpt-4o" if serial % 2 == 0 else "gpt-4o-mini"
            day = date(2025, 1, 1) + timedelta(days=7 * serial)
            names.append(f"{family}-{day.isoformat()}")
            serial += 1
        return names

    def _build_profiles(self) -> list[Profile]:
        """Every project uses the first chat and embedding models and the unpriced one, plus 2-5 others
        (bounded, so a large organisation's daily cost listing stays a few hundred rows)."""
        core = [BASE_MODELS[0], BASE_MODELS[2], UNPRICED_MODEL]
        others = [m for m in self.models if m not in core]
        profiles = []
        for project in self.projects:
            pick = self.world.rng("openai", "models", project)
            used = set(core) | set(pick.sample(others, min(len(others), 2 + pick.randint(0, 3))))
            for model in (m for m in self.models if m in used):
                rng = self.world.rng("openai", "profile", project, model)
                for batch in ((False,) if _is_embedding(model) else (False, True)):
                    if batch and rng.random() > 0.3:
                        continue
                    embedding = _is_embedding(model)
                    profiles.append(Profile(
                        project, model, batch,
                        input=rng.randint(200_000, 3_000_000) if embedding else rng.randint(20_000, 500_000),
                        cached_share=0.0 if embedding else rng.uniform(0.0, 0.5),
                        output_share=0.0 if embedding else rng.uniform(0.05, 0.4),
                        tokens_per_request=rng.randint(300, 4000)))
        return profiles

    def _full_day(self, day: date) -> list[Usage]:
        """The usage of a whole day (cached: a day's usage never changes)."""
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        factor = self.world.rng("openai", "day", day.isoformat()).uniform(0.6, 1.4)
        rows = []
        for p in self._profiles:
            jitter = self.world.rng("openai", "usage", day.isoformat(), p.project, p.model, p.batch).uniform(0.8, 1.2)
            total = int(p.input * factor * jitter)
            rows.append(Usage(p.project, p.model, p.batch, total, int(total * p.cached_share),
                              int(total * p.output_share), max(1, total // p.tokens_per_request)))
        self._day_cache[day] = rows
        return rows

    def usage_on(self, day: date) -> list[Usage]:
        """What the Usage API reports for `day` now: complete days whole, today by elapsed minutes."""
        now = self.world.now()
        today = now.date()
        if day > today or day < self.world.history_start().date():
            return []
        rows = self._full_day(day)
        if day < today:
            return rows
        minutes = (now.hour * 60 + now.minute)
        partial = [r.scaled(minutes, MINUTES_PER_DAY) for r in rows]
        if self.world.scenario_applies("cost-spike", self.name):
            partial = [r.scaled(10, 1) if r.model == SPIKE_MODEL else r for r in partial]
        return partial

    # --- prices (this module's own reading of price_tables/openai.yaml) ---

    def _table(self, day: date) -> dict:
        current = self._prices[0]
        for version in self._prices:
            if version["effective_from"] <= day:
                current = version
        return current["table"]

    def list_price(self, model: str, day: date) -> dict[str, float] | None:
        return self._table(day)["usd_per_million_tokens"].get(_strip_snapshot_date(model))

    def line_items(self, usage: Usage, day: date, *, billed: bool) -> list[tuple[str, float, int]]:
        """(line item, usd, tokens) for one usage row; `billed` uses what OpenAI charges (incl. unpriced)."""
        price = self.list_price(usage.model, day)
        if price is None:
            if not billed:
                return []
            price = UNPRICED_MODEL_TRUE_PRICE
        multiplier = float(self._table(day)["batch_multiplier"]) if usage.batch else 1.0
        label = "batch " if usage.batch else ""
        cached_price = price.get("cached_input", price["input"])
        parts = [("input", usage.input - usage.cached, price["input"]),
                 ("cached input", usage.cached, cached_price),
                 ("output", usage.output, price.get("output", 0.0))]
        adjust = (1 + self.adjustment(day)) if billed else 1.0
        return [(f"{usage.model}, {label}{kind}", tokens * per_million / 1e6 * multiplier * adjust, tokens)
                for kind, tokens, per_million in parts if tokens > 0]

    def adjustment(self, day: date) -> float:
        return BILLING_ADJUSTMENT if self.world.rng("openai", "adjust", day.isoformat()).random() < 0.4 else 0.0

    def costs_on(self, day: date) -> list[tuple[str, str, float, int]]:
        """(project, line item, usd, tokens) billed for `day`; empty until the day is complete."""
        if day >= self.world.today():
            return []
        cached = self._costs_cache.get(day)
        if cached is not None:
            return cached
        rows = []
        for usage in self.usage_on(day):
            for line_item, usd, tokens in self.line_items(usage, day, billed=True):
                rows.append((usage.project, line_item, usd, tokens))
        self._costs_cache[day] = rows  # a complete day's bill is final
        return rows

    # --- HTTP (request handling lives in openai_api.py) ---

    def routes(self) -> list[web.RouteDef]:
        return self.api.routes()

    # --- ground truth, minimum requests, rate limits ---

    def ground_truth(self) -> dict:
        now = self.world.now()
        today = now.date()
        month_start = today.replace(day=1)
        first_day = max(month_start, self.world.history_start().date())
        today_by_project: dict[str, float] = {p: 0.0 for p in self.projects}
        mtd_by_project: dict[str, float] = {p: 0.0 for p in self.projects}
        for usage in self.usage_on(today):
            for _item, usd, _tokens in self.line_items(usage, today, billed=False):
                today_by_project[usage.project] += usd
        day = first_day
        while day < today:
            for project, _item, usd, _tokens in self.costs_on(day):
                mtd_by_project[project] += usd
            day += timedelta(days=1)
        for project, usd in today_by_project.items():
            mtd_by_project[project] += usd
        return {"today_usd": sum(today_by_project.values()), "month_to_date_usd": sum(mtd_by_project.values()),
                "month_to_date_by_project": mtd_by_project}

    def minimum_requests(self, page_sizes: dict[str, int] | None = None) -> dict[str, int]:
        """One listing per endpoint over every day with data (history start .. today), at max page sizes."""
        sizes = {"costs": COSTS_MAX_LIMIT, "usage": USAGE_MAX_LIMIT, **(page_sizes or {})}
        days = (self.world.today() - self.world.history_start().date()).days + 1
        return {"costs": math.ceil(days / sizes["costs"]), "usage": 2 * math.ceil(days / sizes["usage"])}

    def rate_limit_headers(self, limit: int, remaining: int, reset_in_s: float) -> dict[str, str]:
        headers = {"x-ratelimit-limit-requests": str(limit), "x-ratelimit-remaining-requests": str(remaining),
                   "x-ratelimit-reset-requests": _duration(reset_in_s)}
        if remaining <= 0:
            headers["Retry-After"] = str(max(1, math.ceil(reset_in_s)))
        return headers


# --- response helpers ---

def _duration(seconds: float) -> str:
    """OpenAI's reset form: "1s", "6m0s", "20ms"."""
    if seconds < 1:
        return f"{max(1, int(seconds * 1000))}ms"
    whole = int(math.ceil(seconds))
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
