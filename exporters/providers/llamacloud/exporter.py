"""LlamaCloud's (LlamaParse) exporter: usage metrics (pages and credits) as estimated cost.

One stream, `usage`; credits beyond the plan's allowance at the pay-as-you-go rate plus the plan
fee, per UTC day (`estimated_costs`); what is unpriced and why, and every fact relied on with its
source: docs/providers/llamacloud.md. Repeated parses are repeats.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from exporters.core.catalogue import Kind, MetricSpec, Series
from exporters.core.http import ProviderError, ProviderHTTP
from exporters.core.timeutil import days
from exporters.costs.billing import Cycle, cycle_of
from exporters.costs.forecast import USAGE_LOOKBACK_DAYS, PlanRules, forecast_usage_cost
from exporters.costs.records import CostRecord, InvalidAmount, check_amount, day_start, month_seconds, utc_day
from exporters.costs.unpriced import UnpricedUsage
from exporters.poll.access import Access, NotVisible, read
from exporters.poll.collector import PollContext, Stream
from exporters.providers.llamacloud.config import LlamaCloudConfig
from exporters.providers.llamacloud.repeats import DocumentMemory, Parse, RepeatTotals

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("llamacloud.pages", Kind.COUNTER, "{page}", "Pages parsed, by project and parse mode.",
               ("project", "mode"),
               series=Series("LlamaCloud project", 6, "parse modes seen: 4 priced and a few others")),
    MetricSpec("llamacloud.credits", Kind.COUNTER, "{credit}",
               "Credits consumed, by project and parse mode (parsing) or operation (extract, index, classify, "
               "split).", ("project", "mode"),
               series=Series("LlamaCloud project", 10, "4 priced parse modes, 4 operations, a few others")),
    MetricSpec("llamacloud.repeat_parses", Kind.COUNTER, "{parse}",
               "Parses of a document the project already parsed earlier in the billing cycle (same "
               "`event_aggregation_key`), by project; the document is not a label.", ("project",),
               series=Series("LlamaCloud project", 1, "only after a repeated parse")),
    MetricSpec("llamacloud.repeat_parse_credits", Kind.COUNTER, "{credit}",
               "Credits those repeated parses consumed, by project: what caching parsed results saves.",
               ("project",), series=Series("LlamaCloud project", 1, "only after a repeated parse")),
)

SERVICE_NAME = "LlamaParse"
SERVICE_CATEGORY = "AI and Machine Learning"
USAGE_PATH = "/api/v1/beta/usage-metrics"
# What a 401 or 403 means for a LlamaCloud key (docs/getting-started.md, LlamaCloud).
TOKEN_HINTS = {
    401: "the key is invalid or revoked: create one under API Key at cloud.llamaindex.ai",
    403: "the key cannot read this organization's usage: create the key as a member of the organization "
         "in providers.llamacloud.organization_id",
}
EVENT_TYPE = "pages_parsed"
# Event types LlamaCloud bills in credits, and the operation each is labelled with (parsing: by mode).
CREDIT_EVENTS: dict[str, str | None] = {
    "pages_parsed": None, "extraction_num_pages": "extract", "extraction_num_pages_parsed": "extract",
    "pages_indexed": "index", "pages_embedded": "index", "pages_classified": "classify", "pages_split": "split",
}
OPERATIONS = frozenset(op for op in CREDIT_EVENTS.values() if op is not None)
# The OpenAPI document declares no maximum for page_size; 1000 is the largest page we ask for.
PAGE_SIZE = 1000
MODE_PROPERTIES = ("mode", "parse_mode", "tier")  # where an item's parse mode may be named


@dataclass(frozen=True, slots=True)
class UsageKey:
    day: date
    project: str
    mode: str


@dataclass(frozen=True, slots=True)
class Totals:
    pages: int = 0
    credits: float = 0.0  # priced credits only (known from the item or from the mode)

    def plus(self, pages: int, credits: float) -> "Totals":
        return Totals(self.pages + pages, self.credits + credits)


@dataclass(frozen=True)
class Plan:
    name: str
    usd_per_month: float
    included_credits: float
    usd_per_1000_credits: float


# --- the cost rule (pure) ---

def billable_credits(credits_by_day: Mapping[date, Mapping[UsageKey, float]],
                     included_credits: float, anchor: int = 1) -> dict[date, dict[UsageKey, float]]:
    """Credits beyond the allowance, per day and (project, mode); the allowance resets on each
    billing cycle (anchor day; 1 = calendar month); see the module docstring."""
    billable: dict[date, dict[UsageKey, float]] = {}
    used: dict[date, float] = defaultdict(float)  # cycle start → credits on earlier days
    for day in sorted(credits_by_day):
        rows = credits_by_day[day]
        total = sum(rows.values())
        cycle = cycle_of(day, anchor).start
        before = used[cycle]
        over = max(0.0, before + total - included_credits) - max(0.0, before - included_credits)
        used[cycle] = before + total
        billable[day] = {k: over * v / total for k, v in rows.items()} if total > 0 else {}
    return billable


def fee_usd(plan: Plan, start: datetime, end: datetime) -> float:
    """The plan's monthly fee prorated per second over [start, end) (within one month)."""
    return plan.usd_per_month * (end - start).total_seconds() / month_seconds(start)


# --- items ---

@dataclass(frozen=True, slots=True)
class Item:
    key: UsageKey  # mode: the parse mode, the operation (extract, index, …) or `event:<type>` if unknown
    pages: int  # the item's value: pages (parsing and most operations) or the event's own unit
    credits: float | None  # None: unknown (missing and the mode has no price)
    event_type: str = EVENT_TYPE
    document: str = ""  # parse items: event_aggregation_key ("job_id or file_id")
    item_id: str = ""

    @property
    def known(self) -> bool:
        """An event type stackwatch knows the billing of."""
        return self.event_type in CREDIT_EVENTS


def parse_item(raw: Any, credits_per_page: Mapping[str, float]) -> Item | str:
    """One usage metric as an Item, or what is wrong with it."""
    if not isinstance(raw, dict):
        return "item is not an object"
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        return "item without an event_type"
    project, day_text, pages = raw.get("project_id"), raw.get("day"), raw.get("value")
    if not isinstance(project, str) or not project:
        return "item without a project_id"
    if not isinstance(pages, int) or isinstance(pages, bool) or pages < 0:
        return "value is not a non-negative integer"
    try:
        day = date.fromisoformat(day_text) if isinstance(day_text, str) else None
    except ValueError:
        day = None
    if day is None:
        return f"day {day_text!r} is not YYYY-MM-DD"
    credits = raw.get("credits")
    if credits is not None:
        try:  # a number or a decimal string; never NaN, infinite, negative or absurd
            credits = check_amount(credits, "credits")
        except InvalidAmount as exc:
            return str(exc)
        if credits < 0:
            return "credits is negative"
    if event_type != EVENT_TYPE:
        operation = CREDIT_EVENTS.get(event_type)
        mode = operation if operation is not None else f"event:{event_type}"
        return Item(UsageKey(day, project, mode), pages, credits, event_type)
    properties = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    mode = next((str(properties[p]) for p in MODE_PROPERTIES if properties.get(p)), "unknown")
    if credits is None and mode in credits_per_page:
        credits = pages * float(credits_per_page[mode])
    document, item_id = raw.get("event_aggregation_key"), raw.get("id")
    return Item(UsageKey(day, project, mode), pages, credits, event_type,
                document if isinstance(document, str) else "", item_id if isinstance(item_id, str) else "")


class LlamaCloudProvider:
    name = "llamacloud"

    def __init__(self, config: LlamaCloudConfig, http: ProviderHTTP):
        self.config = config
        self.http = http
        self._usage_from: date | None = None  # the day still incomplete at the last poll
        self._seen: dict[UsageKey, Totals] = {}  # this month's (and re-read days') totals
        self._documents = DocumentMemory(config.billing_anchor_day)  # first parses of the cycle
        self._repeats: dict[tuple[date, str], RepeatTotals] = {}  # (day, project) → repeated parses
        self._untracked_logged = False

    def stages(self) -> list[list[Stream]]:
        return [[Stream("usage", self.poll_usage)]]

    async def aclose(self) -> None:
        await self.http.aclose()

    async def probe(self, now: datetime) -> list[Access]:
        """`check-config --probe`: the key's organizations (the configured one among them), a day of usage."""
        organization = self.config.organization_id

        def has_organization(body: Any) -> str:
            ids = [o.get("id") for o in body if isinstance(o, dict)]
            if organization not in ids:
                raise NotVisible(f"the key sees {len(ids)} organization(s), not {organization} (check "
                                 "providers.llamacloud.organization_id, or create the key in that organization)")
            return f"readable ({len(ids)} organization(s), {organization} among them)"

        listed, _ = await read("llamacloud", "organizations", self.http.get_json(
            "/api/v1/organizations", operation="organizations"), has_organization, TOKEN_HINTS)
        params: list[tuple[str, Any]] = [("organization_id", organization)]
        if self.config.project_id:
            params.append(("project_id", self.config.project_id))
        params += [("day_on_or_after", (utc_day(now) - timedelta(days=1)).isoformat()), ("page_size", 1)]
        usage, _ = await read("llamacloud", "usage metrics", self._get(params),
                              lambda body: "readable" if isinstance(body.get("items"), list) else _no_items(),
                              TOKEN_HINTS)
        return [listed, usage]

    async def poll_usage(self, ctx: PollContext) -> None:
        now = ctx.now()
        today = utc_day(now)
        first_day = self._usage_from or today - timedelta(days=self.config.history_days)
        table = ctx.prices.table(self.name, today)
        credits_per_page = table.get("credits_per_page", {})
        totals: dict[UsageKey, Totals] = {}
        unpriced: list[UnpricedUsage] = []
        parses: list[Parse] = []
        rate = float(table["usd_per_1000_credits"]) / 1000
        async for raw in self._items(first_day, today):
            item = parse_item(raw, credits_per_page)
            if isinstance(item, str):
                ctx.invalid_item(f"usage metric: {item}")
                continue
            if not item.known:  # an event type we do not know the billing of
                if item.credits:  # it carries credits, so LlamaCloud bills it: unpriced, with its amount
                    unpriced.append(UnpricedUsage(item.key.day, item.key.mode, "credits", item.credits,
                                                  item.credits * rate))
                continue  # no credits: a count or a snapshot, not billed
            if item.credits is None:  # billed, but neither the item nor the price table says how much
                what = f"mode:{item.key.mode}" if item.event_type == EVENT_TYPE else f"event:{item.event_type}"
                unpriced.append(UnpricedUsage(item.key.day, what, "pages", float(item.pages)))
            totals[item.key] = totals.get(item.key, Totals()).plus(item.pages, item.credits or 0.0)
            if item.event_type == EVENT_TYPE and item.document and item.item_id:
                parses.append(Parse(item.key.day, item.key.project, item.document, item.item_id, item.credits or 0.0))
        for what in sorted({u.item for u in unpriced}):
            ctx.unpriced(what)
        ctx.unpriced_usage(first_day, today, unpriced)
        self._emit_deltas(ctx, totals)
        repeats = self._documents.classify(parses)
        merged_repeats = self._emit_repeats(ctx, repeats.totals)
        if repeats.untracked and not self._untracked_logged:
            self._untracked_logged = True
            ctx.log.warning("llamacloud: too many documents parsed this cycle to track repeats of them all",
                            limit=self._documents.limit, untracked=repeats.untracked)
        merged = dict(self._seen)
        merged.update(totals)  # a key missing from this read (an invalid item) keeps its last totals
        for day, records in self.estimated_costs(ctx, merged, first_day, now).items():
            ctx.replace_cost_day("estimated", day, records)
        if self._usage_from is None:
            ctx.cost_history_from(first_day)
        cycle = cycle_of(today, self.config.billing_anchor_day)
        self._forecast(ctx, merged, cycle, now, today - timedelta(days=self.config.history_days))
        # The cycle's days (the allowance) and the last week's (the forecast's usage rate).
        keep_from = min(cycle.start, today - timedelta(days=USAGE_LOOKBACK_DAYS))

        def advance() -> None:
            self._usage_from = today
            self._seen = {k: v for k, v in merged.items() if k.day >= keep_from}
            self._documents.remember(repeats.first_parses, today)
            self._repeats = {k: v for k, v in merged_repeats.items() if k[0] >= keep_from}
        ctx.on_commit(advance)

    async def _items(self, first_day: date, last_day: date) -> AsyncIterator[Any]:
        params: list[tuple[str, Any]] = [("organization_id", self.config.organization_id)]
        if self.config.project_id:
            params.append(("project_id", self.config.project_id))
        params += [("day_on_or_after", first_day.isoformat()),
                   ("day_on_or_before", last_day.isoformat()), ("page_size", PAGE_SIZE)]
        token: str | None = None
        pages = self.http.pages("usage-metrics")  # ends a repeated token or an endless listing
        while True:
            body = await self._get(params + ([("page_token", token)] if token else []))
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise ProviderError("malformed", "llamacloud usage-metrics: response has no items list")
            for raw in body["items"]:
                yield raw
            next_token = body.get("next_page_token")
            if not next_token:
                return
            pages.follow(next_token)
            token = next_token

    async def _get(self, params: list[tuple[str, Any]]) -> Any:
        try:
            return await self.http.get_json(USAGE_PATH, params, operation="usage-metrics")
        except ProviderError as exc:
            if exc.status == 400:
                raise ProviderError(
                    "client_error", "llamacloud usage-metrics: HTTP 400, usage metrics are not enabled for "
                    f"organization {self.config.organization_id} (ask LlamaIndex to enable the beta "
                    "usage-metrics API, or disable providers.llamacloud)", status=400) from None
            raise

    def _emit_deltas(self, ctx: PollContext, totals: Mapping[UsageKey, Totals]) -> None:
        """The growth since the last poll, summed over days: one increment per series per poll."""
        growth: dict[tuple[str, str], Totals] = {}
        for key, now_totals in totals.items():
            before = self._seen.get(key, Totals())
            # A shrink (provider revision) is no growth, never a negative count.
            pages = max(0, now_totals.pages - before.pages)
            credits = max(0.0, now_totals.credits - before.credits)
            growth[(key.project, key.mode)] = growth.get((key.project, key.mode), Totals()).plus(pages, credits)
        for (project, mode), delta in growth.items():
            if delta.pages > 0 and mode not in OPERATIONS:  # pages parsed only; operations count in credits
                ctx.add("llamacloud.pages", delta.pages, project=project, mode=mode)
            if delta.credits > 1e-9:
                ctx.add("llamacloud.credits", delta.credits, project=project, mode=mode)

    def _emit_repeats(self, ctx: PollContext, totals: Mapping[tuple[date, str], RepeatTotals]
                      ) -> dict[tuple[date, str], RepeatTotals]:
        """Repeated parses' growth since the last poll, per project; returns the merged totals."""
        growth: dict[str, RepeatTotals] = {}
        for (day, project), now_totals in totals.items():
            before = self._repeats.get((day, project), RepeatTotals())
            delta = RepeatTotals(max(0, now_totals.parses - before.parses),
                                 max(0.0, now_totals.credits - before.credits))
            growth[project] = growth.get(project, RepeatTotals()).plus(delta.parses, delta.credits)
        for project, delta in sorted(growth.items()):
            if delta.parses > 0:
                ctx.add("llamacloud.repeat_parses", delta.parses, project=project)
            if delta.credits > 1e-9:
                ctx.add("llamacloud.repeat_parse_credits", delta.credits, project=project)
        merged = dict(self._repeats)
        merged.update(totals)
        return merged

    # --- cost ---

    def _forecast(self, ctx: PollContext, totals: Mapping[UsageKey, Totals], cycle: Cycle, now: datetime,
                  first_day: date) -> None:
        """Credits projected to the cycle's end, priced once with the plan's fee, allowance and rate."""
        plan = self.plan(ctx, utc_day(now))
        if plan is None:
            return
        usage: dict[date, float] = defaultdict(float)
        for key, t in totals.items():
            usage[key.day] += t.credits
        rules = PlanRules(plan.usd_per_month, plan.included_credits, plan.usd_per_1000_credits / 1000)
        today = utc_day(now)
        fraction = (now - day_start(today)).total_seconds() / 86400
        ctx.forecast(cycle.start, forecast_usage_cost(usage, cycle, today, fraction, rules, first_day))

    def plan(self, ctx: PollContext, day: date) -> Plan | None:
        table = ctx.prices.table(self.name, day)
        plan = table.get("plans", {}).get(self.config.plan)
        if plan is None:
            return None
        return Plan(self.config.plan, float(plan["usd_per_month"]), float(plan["included_credits"]),
                    float(table["usd_per_1000_credits"]))

    def estimated_costs(self, ctx: PollContext, totals: Mapping[UsageKey, Totals], first_day: date,
                        now: datetime) -> dict[date, list[CostRecord]]:
        """Records of every day from `first_day` to today (an empty list clears a day's old estimate)."""
        today = utc_day(now)
        by_day: dict[date, dict[UsageKey, float]] = defaultdict(dict)
        for key, t in totals.items():
            by_day[key.day][key] = t.credits
        plan = self.plan(ctx, today)
        if plan is None:
            ctx.unpriced(f"plan:{self.config.plan}")
            return {}
        billable = billable_credits(by_day, plan.included_credits, self.config.billing_anchor_day)
        records: dict[date, list[CostRecord]] = {}
        for day in days(first_day, today):
            start = day_start(day)
            end = now if day == today else start + timedelta(days=1)
            if end <= start:
                records[day] = []
                continue
            records[day] = [self._usage_record(k, credits, by_day[day][k], plan, start, end)
                            for k, credits in sorted(billable.get(day, {}).items(), key=lambda kv: _order(kv[0]))
                            if credits > 0]
            if plan.usd_per_month > 0:
                records[day].append(self._fee_record(plan, start, end))
        return records

    def _usage_record(self, key: UsageKey, billable: float, consumed: float, plan: Plan,
                      start: datetime, end: datetime) -> CostRecord:
        return CostRecord(
            provider=self.name, service_name=SERVICE_NAME, service_category=SERVICE_CATEGORY,
            resource_id=key.project, resource_name=key.project, period_start=start, period_end=end,
            billed_cost=billable * plan.usd_per_1000_credits / 1000, source="estimated",
            consumed_quantity=consumed, consumed_unit="credits", sku=f"credits:{key.mode}")

    def _fee_record(self, plan: Plan, start: datetime, end: datetime) -> CostRecord:
        organization = self.config.organization_id or "organization"
        return CostRecord(
            provider=self.name, service_name=SERVICE_NAME, service_category=SERVICE_CATEGORY,
            resource_id=organization, resource_name=organization, period_start=start, period_end=end,
            billed_cost=fee_usd(plan, start, end), source="estimated", charge_category="Purchase",
            sku=f"plan:{plan.name}")


def _order(key: UsageKey) -> tuple[str, str]:
    return key.project, key.mode


def _no_items() -> str:
    raise ValueError("no items list")
