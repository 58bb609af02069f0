"""OpenAI's exporter: the Costs API (billed, daily) and the Usage API (completions, embeddings).

Streams `costs` and `usage`; today's cost is estimated from usage × the price table (per exact
model snapshot) until billed figures replace it. What each reads and every fact relied on with
its source: docs/providers/openai.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from exporters.core import timeutil
from exporters.core.catalogue import Kind, MetricSpec, Series
from exporters.core.http import ProviderError, ProviderHTTP, all_or_none
from exporters.costs.records import CostRecord, InvalidAmount, check_amount, day_start, utc_day
from exporters.costs.unpriced import UnpricedUsage
from exporters.poll.access import Access, read
from exporters.poll.collector import PollContext, Stream
from exporters.providers.openai.config import OpenAIConfig

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("gen_ai.client.token.usage", Kind.HISTOGRAM, "{token}",
               "Tokens used (OTel GenAI convention), one observation per new usage per model, project "
               "and token type each poll; histogram_sum() is the exact token total. Input includes cached tokens.",
               ("gen_ai.provider.name", "gen_ai.operation.name", "gen_ai.token.type",
                "gen_ai.request.model", "project"),
               series=Series("OpenAI project × model", 2, "token types input, output; a model has one operation")),
    MetricSpec("openai.usage.cached_input_tokens", Kind.COUNTER, "{token}",
               "Input tokens served from the prompt cache.", ("model", "project"),
               series=Series("OpenAI project × model", 1)),
    MetricSpec("openai.usage.requests", Kind.COUNTER, "{request}",
               "Model requests, by operation (chat, embeddings) and whether sent through the Batch API.",
               ("model", "project", "operation", "batch"),
               series=Series("OpenAI project × model", 2, "batch or not")),
)

SERVICE_NAME = "OpenAI API"
SERVICE_CATEGORY = "AI and Machine Learning"
COSTS_PAGE_LIMIT = 180  # the Costs API's maximum buckets per page
USAGE_PAGE_LIMIT = 31  # the Usage API's maximum buckets per page at bucket_width=1d
COSTS_REREAD_DAYS = 2  # later cycles re-read at least this many days before today (billing lag, revisions)
UNPRICED_RATE_DAYS = 7  # an unpriced model's own billed rate is taken over its last this many billed days

NO_PROJECT = "(no project)"  # costs and usage whose project_id is null (organisation-level)


def model_prices(table: dict, model: str) -> dict[str, float] | None:
    """The prices of exactly this snapshot, or of the snapshot an explicit alias names; None: unpriced."""
    prices = table["usd_per_million_tokens"]
    found = prices.get(model)
    if found is None:
        target = table.get("aliases", {}).get(model)
        found = prices.get(target) if target is not None else None
    return found


def model_from_line_item(line_item: str) -> str:
    """"gpt-4o-2024-08-06, input" → "gpt-4o-2024-08-06" (the text before the last comma)."""
    return line_item.rsplit(",", 1)[0].strip() if "," in line_item else line_item.strip()


# --- usage rows ---

@dataclass(frozen=True, slots=True)
class UsageKey:
    day: date
    operation: str  # "chat" | "embeddings"
    model: str
    project: str
    batch: bool


@dataclass(frozen=True, slots=True)
class Tokens:
    """Cumulative usage of one key on one day, as the Usage API reports it."""

    input: int = 0  # includes cached input
    cached: int = 0
    output: int = 0
    requests: int = 0

    def minus(self, earlier: "Tokens") -> "Tokens":
        """Growth since `earlier`; a shrink (provider revision) counts as no growth, never negative."""
        return Tokens(max(0, self.input - earlier.input), max(0, self.cached - earlier.cached),
                      max(0, self.output - earlier.output), max(0, self.requests - earlier.requests))

    def plus(self, other: "Tokens") -> "Tokens":
        return Tokens(self.input + other.input, self.cached + other.cached, self.output + other.output,
                      self.requests + other.requests)

    @property
    def is_zero(self) -> bool:
        return not (self.input or self.cached or self.output or self.requests)


@dataclass(frozen=True)
class UsageEndpoint:
    operation: str  # gen_ai.operation.name
    path: str
    group_by: tuple[str, ...]
    result_object: str


# What a 401 or 403 means for an OpenAI key (docs/getting-started.md, OpenAI).
TOKEN_HINTS = {
    401: "the key is invalid or revoked, or not an admin key: an organization Owner creates admin keys "
         "(sk-admin-…) under Organization settings, Admin keys; project keys cannot read usage or costs",
    403: "the key cannot read organization usage or costs: use an admin key (sk-admin-…) created by an "
         "organization Owner",
}

USAGE_ENDPOINTS = (
    UsageEndpoint("chat", "/organization/usage/completions", ("model", "project_id", "batch"),
                  "organization.usage.completions.result"),
    UsageEndpoint("embeddings", "/organization/usage/embeddings", ("model", "project_id"),
                  "organization.usage.embeddings.result"),
)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_usage_result(result: Any, endpoint: UsageEndpoint, day: date) -> tuple[UsageKey, Tokens] | str:
    """One usage result as (key, tokens), or a description of what is wrong with it."""
    if not isinstance(result, dict):
        return "result is not an object"
    model, project = result.get("model"), result.get("project_id")
    if not isinstance(model, str) or not model:
        return "result without a model"
    if project is None:
        project = NO_PROJECT
    if not isinstance(project, str) or not project:
        return "result with a project_id that is not a string"
    needed = ("input_tokens", "num_model_requests") + (("output_tokens",) if endpoint.operation == "chat" else ())
    for name in needed:
        if not _is_int(result.get(name)):
            return f"{name} is not a non-negative integer"
    cached = result.get("input_cached_tokens") or 0
    if not _is_int(cached):
        return "input_cached_tokens is not a non-negative integer"
    batch = result.get("batch")
    if batch is not None and not isinstance(batch, bool):
        return "batch is not a boolean"
    key = UsageKey(day, endpoint.operation, model, project, bool(batch))
    return key, Tokens(result["input_tokens"], cached, result.get("output_tokens") or 0,
                       result["num_model_requests"])


# --- pricing ---

def estimate_usd(tokens: Tokens, prices: dict[str, float], batch_multiplier: float, batch: bool) -> float:
    """List-price cost of a usage total: uncached input, cached input and output at their own prices.

    Prices are USD per 1M tokens; a model without a cached-input price bills cached
    tokens as ordinary input; Batch API usage costs `batch_multiplier` of the list price.
    """
    input_price = prices.get("input", 0.0)
    cached_price = prices.get("cached_input", input_price)
    uncached = tokens.input - tokens.cached
    usd = (uncached * input_price + tokens.cached * cached_price + tokens.output * prices.get("output", 0.0)) / 1e6
    return usd * batch_multiplier if batch else usd


def _day_of_bucket(bucket: dict) -> date | None:
    start = bucket.get("start_time")
    if not isinstance(start, int) or isinstance(start, bool):
        return None
    return utc_day(datetime.fromtimestamp(start, tz=timezone.utc))


def _unix(day: date) -> int:
    return int(day_start(day).timestamp())


class OpenAIProvider:
    name = "openai"

    def __init__(self, config: OpenAIConfig, http: ProviderHTTP):
        self.config = config
        self.http = http
        self._costs_read_once = False
        self._usage_from: date | None = None  # the day still incomplete at the last usage poll
        self._usage_seen: dict[UsageKey, Tokens] = {}  # last totals of the days >= _usage_from
        # model → line-item kind ("input", "batch output", …) → USD per token, from what OpenAI billed
        # for a model the price table does not list (see `_unpriced_rates`).
        self._billed_rates: dict[str, dict[str, float]] = {}

    def stages(self) -> list[list[Stream]]:
        return [[Stream("costs", self.poll_costs, slow=True), Stream("usage", self.poll_usage)]]

    async def aclose(self) -> None:
        await self.http.aclose()

    async def probe(self, now: datetime) -> list[Access]:
        """`check-config --probe`: a day of costs, a day of usage per endpoint, the configured projects."""
        def buckets(body: Any) -> str:
            if not isinstance(body.get("data"), list):
                raise ValueError("no data list")
            return "readable"

        since = [("start_time", _unix(utc_day(now) - timedelta(days=1))), ("bucket_width", "1d"), ("limit", 1)]
        accesses = [(await read("openai", "costs", self.http.get_json("/organization/costs", since, operation="costs"),
                                buckets, TOKEN_HINTS))[0]]
        for endpoint in USAGE_ENDPOINTS:
            accesses.append((await read("openai", f"usage ({endpoint.path.rsplit('/', 1)[-1]})", self.http.get_json(
                endpoint.path, since, operation=f"usage-{endpoint.operation}"), buckets, TOKEN_HINTS))[0])
        for project in self.config.project_ids[:10]:
            accesses.append((await read("openai", f"project {project}", self.http.get_json(
                f"/organization/projects/{project}", operation="project"),
                lambda body: f"readable ({body.get('name') or 'unnamed'}, {body.get('status', '?')})",
                {**TOKEN_HINTS, 404: "no such project in this organization: check providers.openai.project_ids"}))[0])
        return accesses

    # --- paging ---

    async def _buckets(self, path: str, params: list[tuple[str, Any]], operation: str) -> AsyncIterator[dict]:
        """Every time bucket of a listing, page by page (`next_page` → `page` while `has_more`)."""
        cursor: str | None = None
        pages = self.http.pages(operation)  # ends a repeated cursor or an endless listing
        while True:
            page_params = params + ([("page", cursor)] if cursor else [])
            body = await self.http.get_json(path, page_params, operation=operation)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise ProviderError("malformed", f"openai {operation}: response has no data list")
            for bucket in body["data"]:
                yield bucket
            next_page = body.get("next_page")
            if not body.get("has_more") or not next_page:
                return
            pages.follow(next_page)
            cursor = next_page

    def _filters(self) -> list[tuple[str, Any]]:
        return [("project_ids", p) for p in self.config.project_ids]

    # --- costs (billed) ---

    async def poll_costs(self, ctx: PollContext) -> None:
        today = utc_day(ctx.now())
        if self._costs_read_once:  # the whole current month, so a revision of any of its days lands
            first_day = min(today.replace(day=1), today - timedelta(days=COSTS_REREAD_DAYS))
        else:
            first_day = today - timedelta(days=self.config.history_days)
        params: list[tuple[str, Any]] = [
            ("start_time", _unix(first_day)), ("bucket_width", "1d"), ("limit", COSTS_PAGE_LIMIT),
            ("group_by", "project_id"), ("group_by", "line_item"), *self._filters()]
        billed: dict[date, list[CostRecord]] = {}
        async for bucket in self._buckets("/organization/costs", params, "costs"):
            day = _day_of_bucket(bucket) if isinstance(bucket, dict) else None
            if day is None or not isinstance(bucket.get("results"), list):
                ctx.invalid_item("costs bucket without start_time or results")
                continue
            billed[day] = self._billed_records(ctx, day, bucket["results"])
            ctx.replace_cost_day("billed", day, billed[day])
        if not self._costs_read_once:
            ctx.cost_history_from(first_day)
        rates = _unpriced_rates(ctx, self.name, billed)
        ctx.on_commit(lambda: self._mark_costs_read(rates))

    def _mark_costs_read(self, rates: dict[str, dict[str, float]]) -> None:
        self._costs_read_once = True
        self._billed_rates.update(rates)  # a model not billed in this read keeps its last known rate

    def _billed_records(self, ctx: PollContext, day: date, results: list) -> list[CostRecord]:
        records: dict[tuple, CostRecord] = {}
        start = day_start(day)
        for result in results:
            parsed = _billed_line(result)
            if isinstance(parsed, str):
                ctx.invalid_item(f"costs result on {day}: {parsed}")
                continue
            project, line_item, usd, quantity, unit = parsed
            record = CostRecord(
                provider=self.name, service_name=SERVICE_NAME, service_category=SERVICE_CATEGORY,
                resource_id=project, resource_name=project, period_start=start,
                period_end=start + timedelta(days=1), billed_cost=usd, source="billed",
                consumed_quantity=quantity, consumed_unit=unit,
                model=model_from_line_item(line_item) if line_item else None, sku=line_item or "")
            earlier = records.get(record.key)
            # The same key twice (e.g. an api_key_id split we did not ask for): add them up.
            records[record.key] = record if earlier is None else replace(
                earlier, billed_cost=earlier.billed_cost + usd,
                consumed_quantity=_add_optional(earlier.consumed_quantity, quantity))
        return list(records.values())

    # --- usage (and estimated cost) ---

    async def poll_usage(self, ctx: PollContext) -> None:
        now = ctx.now()
        today = utc_day(now)
        first_day = self._usage_from or today - timedelta(days=self.config.history_days)
        # Completions and embeddings are read concurrently; their keys never collide (operation differs).
        parts: list[dict[UsageKey, Tokens]] = [{} for _ in USAGE_ENDPOINTS]
        await all_or_none(*(self._read_usage(ctx, endpoint, first_day, part)
                            for endpoint, part in zip(USAGE_ENDPOINTS, parts, strict=True)))
        totals = {k: v for part in parts for k, v in part.items()}
        seen = {k: v for k, v in self._usage_seen.items() if k.day >= first_day}
        self._emit_deltas(ctx, totals, seen)
        for day, records in self._estimates(ctx, totals, first_day, today, now).items():
            ctx.replace_cost_day("estimated", day, records)
        if self._usage_from is None:
            ctx.cost_history_from(first_day)
        seen.update(totals)  # a key missing from this read (an invalid row) keeps its last totals

        def advance() -> None:
            self._usage_from = today
            self._usage_seen = {k: v for k, v in seen.items() if k.day >= today}
        ctx.on_commit(advance)

    async def _read_usage(self, ctx: PollContext, endpoint: UsageEndpoint, first_day: date,
                          totals: dict[UsageKey, Tokens]) -> None:
        params: list[tuple[str, Any]] = [
            ("start_time", _unix(first_day)), ("bucket_width", "1d"), ("limit", USAGE_PAGE_LIMIT),
            *(("group_by", g) for g in endpoint.group_by), *self._filters()]
        operation = f"usage.{endpoint.path.rsplit('/', 1)[-1]}"
        async for bucket in self._buckets(endpoint.path, params, operation):
            day = _day_of_bucket(bucket) if isinstance(bucket, dict) else None
            if day is None or not isinstance(bucket.get("results"), list):
                ctx.invalid_item(f"{operation} bucket without start_time or results")
                continue
            for result in bucket["results"]:
                parsed = parse_usage_result(result, endpoint, day)
                if isinstance(parsed, str):
                    ctx.invalid_item(f"{operation} result on {day}: {parsed}")
                    continue
                key, tokens = parsed
                earlier = totals.get(key)
                totals[key] = tokens if earlier is None else earlier.plus(tokens)

    def _emit_deltas(self, ctx: PollContext, totals: dict[UsageKey, Tokens], seen: dict[UsageKey, Tokens]) -> None:
        """The growth since the last poll, summed over days: one observation per series per poll."""
        growth: dict[tuple[str, str, str, bool], Tokens] = {}
        for key, tokens in totals.items():
            delta = tokens.minus(seen.get(key, Tokens()))
            if not delta.is_zero:
                series = (key.operation, key.model, key.project, key.batch)
                growth[series] = delta.plus(growth.get(series, Tokens()))
        tokens_by_model: dict[tuple[str, str, str], Tokens] = {}  # the histogram has no batch attribute
        for (operation, model, project, batch), delta in growth.items():
            if delta.requests:
                ctx.add("openai.usage.requests", delta.requests, model=model, project=project,
                        operation=operation, batch=str(batch).lower())
            tokens_by_model[(operation, model, project)] = delta.plus(
                tokens_by_model.get((operation, model, project), Tokens()))
        for (operation, model, project), delta in tokens_by_model.items():
            common = {"gen_ai.provider.name": "openai", "gen_ai.operation.name": operation,
                      "gen_ai.request.model": model, "project": project}
            if delta.input:
                ctx.record("gen_ai.client.token.usage", delta.input, **common, **{"gen_ai.token.type": "input"})
            if delta.output:
                ctx.record("gen_ai.client.token.usage", delta.output, **common, **{"gen_ai.token.type": "output"})
            if delta.cached:
                ctx.add("openai.usage.cached_input_tokens", delta.cached, model=model, project=project)

    def _estimates(self, ctx: PollContext, totals: dict[UsageKey, Tokens], first_day: date, today: date,
                   now: datetime) -> dict[date, list[CostRecord]]:
        """Estimated cost records of every re-read day (an empty list clears a day's old estimate)."""
        usd: dict[tuple[date, str, str], float] = defaultdict(float)
        quantity: dict[tuple[date, str, str], int] = defaultdict(int)
        unpriced: set[str] = set()
        unpriced_tokens: dict[str, int] = defaultdict(int)
        unpriced_usd: dict[str, float | None] = {}
        for key, tokens in totals.items():
            table = ctx.prices.table(self.name, key.day)
            prices = model_prices(table, key.model)
            if prices is None:
                unpriced.add(key.model)
                if key.day == today:  # until OpenAI bills the day (a day later), its cost is not in the ledger
                    unpriced_tokens[key.model] += tokens.input + tokens.output
                    amount = _at_billed_rates(tokens, key.batch, self._billed_rates.get(key.model, {}))
                    known = unpriced_usd.get(key.model, 0.0)
                    unpriced_usd[key.model] = None if amount is None or known is None else known + amount
                continue
            group = (key.day, key.project, key.model)
            usd[group] += estimate_usd(tokens, prices, float(table.get("batch_multiplier", 1.0)), key.batch)
            quantity[group] += tokens.input + tokens.output
        for model in sorted(unpriced):
            ctx.unpriced(model)
        ctx.unpriced_usage(first_day, today, [UnpricedUsage(today, model, "tokens", float(count), unpriced_usd[model])
                                              for model, count in sorted(unpriced_tokens.items())])
        records: dict[date, list[CostRecord]] = {d: [] for d in timeutil.days(first_day, today)}
        for (day, project, model), cost in usd.items():
            start = day_start(day)
            end = min(start + timedelta(days=1), now) if day == today else start + timedelta(days=1)
            if end <= start:
                continue
            records.setdefault(day, []).append(CostRecord(
                provider=self.name, service_name=SERVICE_NAME, service_category=SERVICE_CATEGORY,
                resource_id=project, resource_name=project, period_start=start, period_end=end,
                billed_cost=cost, source="estimated", consumed_quantity=float(quantity[(day, project, model)]),
                consumed_unit="tokens", model=model, sku=f"{model}, estimated"))
        return records


def _unpriced_rates(ctx: PollContext, provider: str,
                    billed: dict[date, list[CostRecord]]) -> dict[str, dict[str, float]]:
    """USD per token of each line-item kind of every model the price table does not list, over the
    last UNPRICED_RATE_DAYS days on which OpenAI billed it: OpenAI's own figures, not a guess.

    Today's usage of such a model is then reported as an unpriced *amount* (tokens × that
    rate) beside its token count, never as cost: it stays out of the ledger until OpenAI bills
    the day. The rate includes whatever adjustments OpenAI made on those days."""
    sums: dict[str, dict[date, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(dict))
    for day, records in billed.items():
        table = ctx.prices.table(provider, day)
        for r in records:
            if r.model is None or "," not in r.sku or not r.consumed_quantity:
                continue
            if model_prices(table, r.model) is not None:
                continue
            kind = r.sku.rsplit(",", 1)[1].strip()
            pair = sums[r.model][day].setdefault(kind, [0.0, 0.0])
            pair[0] += r.billed_cost
            pair[1] += r.consumed_quantity
    rates: dict[str, dict[str, float]] = {}
    for model, days in sums.items():
        usd: dict[str, float] = defaultdict(float)
        quantity: dict[str, float] = defaultdict(float)
        for day in sorted(days)[-UNPRICED_RATE_DAYS:]:
            for kind, (u, q) in days[day].items():
                usd[kind] += u
                quantity[kind] += q
        rates[model] = {kind: usd[kind] / quantity[kind] for kind in usd if quantity[kind] > 0}
    return rates


def _at_billed_rates(tokens: Tokens, batch: bool, rates: dict[str, float]) -> float | None:
    """Usage priced at a model's own billed rates; None when a kind it used has no billed rate yet."""
    prefix = "batch " if batch else ""
    parts = ((f"{prefix}input", tokens.input - tokens.cached), (f"{prefix}cached input", tokens.cached),
             (f"{prefix}output", tokens.output))
    usd = 0.0
    for kind, count in parts:
        if count <= 0:
            continue
        rate = rates.get(kind)
        if rate is None:
            return None
        usd += count * rate
    return usd


def _add_optional(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


def _billed_line(result: Any) -> tuple[str, str | None, float, float | None, str | None] | str:
    """(project, line item, usd, quantity, unit) of one costs result, or what is wrong with it."""
    if not isinstance(result, dict):
        return "result is not an object"
    amount = result.get("amount")
    if not isinstance(amount, dict):
        return "result without an amount"
    try:  # a JSON number or a decimal string (what the real API sends); never NaN or absurd
        value = check_amount(amount.get("value"), "amount.value")
    except InvalidAmount as exc:
        return str(exc)
    currency = amount.get("currency", "usd")
    if not isinstance(currency, str) or currency.lower() != "usd":
        return f"amount in {currency!r}, not usd"
    project = result.get("project_id")
    if project is None:  # organisation-level charges: kept, under their own name
        project = NO_PROJECT
    if not isinstance(project, str) or not project:
        return "result with a project_id that is not a string"
    line_item = result.get("line_item")
    if line_item is not None and not isinstance(line_item, str):
        return "line_item is not a string"
    quantity = result.get("quantity")
    if isinstance(quantity, str):
        try:
            quantity = float(quantity)
        except ValueError:
            return "quantity is not a number"
    if quantity is not None and (not isinstance(quantity, (int, float)) or isinstance(quantity, bool)
                                 or not math.isfinite(quantity)):
        return "quantity is not a finite number"
    unit = result.get("quantity_unit")
    return project, line_item, value, (float(quantity) if quantity is not None else None), \
        (unit if isinstance(unit, str) else None)
