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

import base64
import binascii
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources

import yaml
from aiohttp import web

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

    # --- HTTP ---

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"{PREFIX}/organization/costs", self._costs),
                web.get(f"{PREFIX}/organization/usage/completions", self._completions),
                web.get(f"{PREFIX}/organization/usage/embeddings", self._embeddings)]

    async def _costs(self, request: web.Request) -> web.Response:
        query = _Query.parse(request, max_limit=COSTS_MAX_LIMIT, default_limit=COSTS_DEFAULT_LIMIT,
                             widths=("1d",), groups=("project_id", "line_item", "api_key_id"))
        if isinstance(query, web.Response):
            return query

        def results(day: date) -> list[dict]:
            grouped: dict[tuple, list[float]] = {}
            for project, line_item, usd, tokens in self.costs_on(day):
                if query.project_ids and project not in query.project_ids:
                    continue
                key = (project if "project_id" in query.group_by else None,
                       line_item if "line_item" in query.group_by else None)
                totals = grouped.setdefault(key, [0.0, 0])
                totals[0] += usd
                totals[1] += tokens
            return [{"object": COSTS_OBJECT, "amount": {"value": usd, "currency": "usd"},
                     "line_item": line_item, "project_id": project, "api_key_id": None,
                     "quantity": tokens if line_item is not None else None,
                     "quantity_unit": "tokens" if line_item is not None else None}
                    for (project, line_item), (usd, tokens) in sorted(grouped.items(), key=_sort_key)]
        return web.json_response(self._page(query, results))

    async def _completions(self, request: web.Request) -> web.Response:
        return self._usage(request, embeddings=False)

    async def _embeddings(self, request: web.Request) -> web.Response:
        return self._usage(request, embeddings=True)

    def _usage(self, request: web.Request, *, embeddings: bool) -> web.Response:
        groups = ("project_id", "user_id", "api_key_id", "model") + (() if embeddings else ("batch", "service_tier"))
        query = _Query.parse(request, max_limit=USAGE_MAX_LIMIT, default_limit=USAGE_DEFAULT_LIMIT,
                             widths=("1d",), groups=groups)
        if isinstance(query, web.Response):
            return query
        only_batch = _parse_bool(request.query.get("batch")) if not embeddings else None

        def results(day: date) -> list[dict]:
            grouped: dict[tuple, list[int]] = {}
            for u in self.usage_on(day):
                if _is_embedding(u.model) != embeddings:
                    continue
                if (query.project_ids and u.project not in query.project_ids) or \
                        (query.models and u.model not in query.models) or \
                        (only_batch is not None and u.batch != only_batch):
                    continue
                key = (u.project if "project_id" in query.group_by else None,
                       u.model if "model" in query.group_by else None,
                       u.batch if "batch" in query.group_by else None)
                totals = grouped.setdefault(key, [0, 0, 0, 0])
                for i, value in enumerate((u.input, u.cached, u.output, u.requests)):
                    totals[i] += value
            return [_usage_result(embeddings, key, totals) for key, totals in sorted(grouped.items(), key=_sort_key)]
        return web.json_response(self._page(query, results))

    def _page(self, query: "_Query", results) -> dict:  # type: ignore[no-untyped-def]
        """Daily buckets from the query's start (or cursor) up to the one containing now."""
        now = self.world.now()
        end = min(query.end_time, now.timestamp()) if query.end_time is not None else now.timestamp()
        start = query.cursor if query.cursor is not None else _midnight(query.start_time)
        starts = []
        bucket_start = start
        while bucket_start < end and len(starts) < query.limit + 1:
            starts.append(bucket_start)
            bucket_start += 86400
        has_more = len(starts) > query.limit
        data = [{"object": "bucket", "start_time": s, "end_time": s + 86400,
                 "results": results(datetime.fromtimestamp(s, tz=timezone.utc).date())}
                for s in starts[:query.limit]]
        return {"object": "page", "data": data, "has_more": has_more,
                "next_page": _encode_cursor(starts[query.limit]) if has_more else None}

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


# --- request parsing and response helpers ---

@dataclass
class _Query:
    start_time: int
    end_time: int | None
    limit: int
    group_by: tuple[str, ...]
    project_ids: frozenset[str]
    models: frozenset[str]
    cursor: int | None

    @classmethod
    def parse(cls, request: web.Request, *, max_limit: int, default_limit: int, widths: tuple[str, ...],
              groups: tuple[str, ...]) -> "_Query | web.Response":
        q = request.query
        start = _parse_int(q.get("start_time"))
        if start is None:
            return _invalid("start_time", "start_time is required and must be an integer (Unix seconds)")
        end = _parse_int(q.get("end_time")) if "end_time" in q else None
        if "end_time" in q and end is None:
            return _invalid("end_time", "end_time must be an integer (Unix seconds)")
        width = q.get("bucket_width", "1d")
        if width not in widths:
            return _invalid("bucket_width", f"bucket_width {width!r} is not supported here (1d)")
        limit = _parse_int(q.get("limit")) if "limit" in q else default_limit
        if limit is None or not 1 <= limit <= max_limit:
            return _invalid("limit", f"limit must be between 1 and {max_limit} for bucket_width=1d")
        group_by = tuple(q.getall("group_by", []))
        unknown = [g for g in group_by if g not in groups]
        if unknown:
            return _invalid("group_by", f"unsupported group_by {unknown[0]!r}")
        cursor = None
        if "page" in q:
            cursor = _decode_cursor(q["page"])
            if cursor is None:
                return _invalid("page", "invalid page cursor")
        return cls(start, end, limit, group_by, frozenset(q.getall("project_ids", [])),
                   frozenset(q.getall("models", [])), cursor)


def _usage_result(embeddings: bool, key: tuple, totals: list[int]) -> dict:
    project, model, batch = key
    input_tokens, cached, output, requests = totals
    if embeddings:
        return {"object": EMBEDDINGS_OBJECT, "input_tokens": input_tokens, "num_model_requests": requests,
                "project_id": project, "user_id": None, "api_key_id": None, "model": model}
    return {"object": COMPLETIONS_OBJECT, "input_tokens": input_tokens, "input_cached_tokens": cached,
            "input_uncached_tokens": input_tokens - cached, "output_tokens": output,
            "num_model_requests": requests, "project_id": project, "user_id": None, "api_key_id": None,
            "model": model, "batch": batch, "service_tier": None}


def _sort_key(item: tuple) -> tuple:
    return tuple("" if v is None else str(v) for v in item[0])


def _midnight(unix: int) -> int:
    return unix - unix % 86400


@lru_cache(maxsize=4096)
def _encode_cursor(start: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"bucket:{start}".encode()).decode()


def _decode_cursor(cursor: str) -> int | None:
    if not cursor.startswith("page_"):
        return None
    try:
        text = base64.urlsafe_b64decode(cursor[5:].encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, _, value = text.partition(":")
    return int(value) if kind == "bucket" and value.isdigit() else None


def _parse_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _parse_bool(value: str | None) -> bool | None:
    return None if value is None else value.lower() == "true"


def _duration(seconds: float) -> str:
    """OpenAI's reset form: "1s", "6m0s", "20ms"."""
    if seconds < 1:
        return f"{max(1, int(seconds * 1000))}ms"
    whole = int(math.ceil(seconds))
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _invalid(param: str, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error",
                                        "param": param, "code": None}}, status=400)
