"""Simulated OpenAI organisation API: the Costs API and the completions and embeddings Usage API.

In detail: exporters/simulator/README.md, "OpenAI (`/openai/v1`)".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from aiohttp import web

from exporters.simulator import price_fixtures as fixtures
from exporters.simulator.invoice import InvoiceLine, ground_truth
from exporters.simulator.openai.api import OpenAIApi
from exporters.simulator.openai.usage import BASE_MODELS, MODELS, SPIKE_MODEL, Usage
from exporters.simulator.world import World

PREFIX = "/openai/v1"
UNPRICED_MODEL = "gpt-sim-experimental"  # billed by OpenAI, price published nowhere (see price_fixtures)
# Every project uses UNPRICED_MODEL only under the `unpriced-usage` incident (world.CONDITIONS):
# as a standing condition on every day of the history, as a scenario today while it runs.
# The steady world uses only models whose price is published.
NO_PROJECT = "(no project)"  # how stackwatch names costs whose project_id is null
STORAGE_LINE_ITEM = "file search storage"
BILLING_ADJUSTMENT = 0.015  # billed = list × (1 + this) on some days
COSTS_MAX_LIMIT, COSTS_DEFAULT_LIMIT = 180, 7
USAGE_MAX_LIMIT, USAGE_DEFAULT_LIMIT = 31, 7  # bucket_width=1d
MINUTES_PER_DAY = 1440

# runaway-spend: from the switch on, SPIKE_MODEL's usage accrues this many times faster (daily buckets).
RUNAWAY_FACTOR = 40

COSTS_OBJECT = "organization.costs.result"
COMPLETIONS_OBJECT = "organization.usage.completions.result"
EMBEDDINGS_OBJECT = "organization.usage.embeddings.result"


def _is_embedding(model: str) -> bool:
    return model.startswith("text-embedding")


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
    # What the demo config (simulator_config) sets for it: its ids and its monthly budget.
    demo_settings: dict[str, str] = {}
    demo_budget_usd = 700

    def __init__(self, world: World):
        self.world = world
        self.amounts_as_strings = False  # True: amount.value as a decimal string, as the real API sends it
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
        """The first `count` real models (at least 4; at most every model in MODELS)."""
        return list(MODELS[:max(4, count)])

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

    def uses_unpriced_model(self, day: date) -> bool:
        """Whether `day`'s usage includes UNPRICED_MODEL (the `unpriced-usage` incident)."""
        return "unpriced-usage" in self.world.incidents or (
            day == self.world.today() and self.world.scenario_applies("unpriced-usage", self.name))

    def full_day(self, day: date) -> list[Usage]:
        """The usage of a whole day (the unpriced model's only under its incident)."""
        rows = self._all_of_day(day)
        return rows if self.uses_unpriced_model(day) else [r for r in rows if r.model != UNPRICED_MODEL]

    def _all_of_day(self, day: date) -> list[Usage]:
        """Every profile's usage of a whole day (cached: it never changes)."""
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
        rows = self.full_day(day)
        if day < today:
            return rows
        minutes = (now.hour * 60 + now.minute)
        partial = [r.scaled(minutes, MINUTES_PER_DAY) for r in rows]
        if self.world.scenario_applies("cost-spike", self.name):
            partial = [r.scaled(10, 1) if r.model == SPIKE_MODEL else r for r in partial]
        # runaway-spend: each second of it today is RUNAWAY_FACTOR extra seconds of the model's usual
        # rate; the usage stays when it ends (it was used).
        midnight = datetime(today.year, today.month, today.day, tzinfo=timezone.utc).timestamp()
        now_ts = self.world.now_ts()
        runaway_s = sum(max(0.0, min(now_ts, e.until if e.until is not None else now_ts) - max(e.since, midnight))
                        for e in self.world.episodes_of("runaway-spend", self.name))
        if runaway_s > 0:
            extra_s = int(RUNAWAY_FACTOR * runaway_s)
            partial = [p.plus(full.scaled(extra_s, MINUTES_PER_DAY * 60)) if p.model == SPIKE_MODEL else p
                       for p, full in zip(partial, rows, strict=True)]
        return partial

    # --- prices (the simulator's own fixtures, never price_tables/) ---

    @staticmethod
    def published(model: str) -> bool:
        """Whether OpenAI publishes this model's price (so stackwatch can know it)."""
        price = fixtures.openai_model_price(model)
        return price is not None and price.input.source is not fixtures.OPENAI_SIMULATED

    def line_items(self, usage: Usage, day: date, *, billed: bool) -> list[tuple[str, float, int]]:
        """(line item, usd, tokens) for one usage row at what OpenAI charges; `billed` adds the day's adjustment."""
        price = fixtures.openai_model_price(usage.model)
        if price is None:
            raise KeyError(f"no price fixture for simulated model {usage.model}")
        multiplier = fixtures.OPENAI_BATCH_MULTIPLIER.usd if usage.batch else 1.0
        label = "batch " if usage.batch else ""
        cached = price.cached_input or price.input
        parts = [("input", usage.input - usage.cached, price.input.usd),
                 ("cached input", usage.cached, cached.usd),
                 ("output", usage.output, price.output.usd if price.output else 0.0)]
        adjust = (1 + self.adjustment(day)) if billed else 1.0
        return [(f"{usage.model}, {label}{kind}", tokens * per_million / 1e6 * multiplier * adjust, tokens)
                for kind, tokens, per_million in parts if tokens > 0]

    def adjustment(self, day: date) -> float:
        return BILLING_ADJUSTMENT if self.world.rng("openai", "adjust", day.isoformat()).random() < 0.4 else 0.0

    def storage_gb(self, day: date) -> int:
        """File-search storage the organisation held on `day` (billed per GB-day, to no project)."""
        return self.world.rng("openai", "storage", day.isoformat()).randint(2, 40)

    def storage_usd(self, day: date) -> float:
        return self.storage_gb(day) * fixtures.OPENAI_FILE_SEARCH_STORAGE.usd

    def costs_on(self, day: date) -> list[tuple[str | None, str, float, int]]:
        """(project or None, line item, usd, quantity) billed for `day`; empty until the day is complete."""
        if day >= self.world.today():
            return []
        cached = self._costs_cache.get(day)
        if cached is not None:
            return cached
        rows: list[tuple[str | None, str, float, int]] = []
        for usage in self.usage_on(day):
            for line_item, usd, tokens in self.line_items(usage, day, billed=True):
                rows.append((usage.project, line_item, usd, tokens))
        if day >= self.world.history_start().date():
            rows.append((None, STORAGE_LINE_ITEM, self.storage_usd(day), self.storage_gb(day)))
        self._costs_cache[day] = rows  # a complete day's bill is final
        return rows

    # --- HTTP (request handling lives in openai/api.py) ---

    def routes(self) -> list[web.RouteDef]:
        return self.api.routes()

    # --- ground truth, minimum requests, rate limits ---

    def invoice_lines(self) -> list[InvoiceLine]:
        """OpenAI's invoice for this month so far (see the module docstring for the statuses)."""
        now = self.world.now()
        today = now.date()
        lines: list[InvoiceLine] = []
        day = max(today.replace(day=1), self.world.history_start().date())
        while day < today:  # complete days: billed, and the Costs API serves every line
            lines += [InvoiceLine(day, project or NO_PROJECT, item, usd)
                      for project, item, usd, _q in self.costs_on(day)]
            day += timedelta(days=1)
        adjustment = self.adjustment(today)
        for usage in self.usage_on(today):
            status = "priced" if self.published(usage.model) else "unpriced"
            for item, usd, _tokens in self.line_items(usage, today, billed=False):
                lines.append(InvoiceLine(today, usage.project, usage.model if status == "unpriced" else item,
                                         usd, status))
                if adjustment:
                    lines.append(InvoiceLine(today, usage.project, "adjustment", usd * adjustment, "pending"))
        elapsed = (now.hour * 60 + now.minute) / MINUTES_PER_DAY
        lines.append(InvoiceLine(today, NO_PROJECT, STORAGE_LINE_ITEM, self.storage_usd(today) * elapsed, "pending"))
        return lines

    def ground_truth(self) -> dict:
        return ground_truth(self.invoice_lines(), self.world.today(), projects=self.projects)

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
