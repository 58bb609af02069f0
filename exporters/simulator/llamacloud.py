"""Simulated LlamaCloud: `GET /api/v1/beta/usage-metrics` and `GET /api/v1/organizations`.

Answers as `llamacloud.openapi.json` documents: `{items: [UsageMetric…],
next_page_token, total_size}`, filtered by organisation, project, event types
and day range, paged by `page_size` and an opaque `page_token`.

The world: `Scale.llamacloud_projects` projects in one organisation. Every day
since `world.history_start()` each project runs parse jobs in the modes fast,
cost_effective, agentic and agentic_plus (1-6 small jobs per mode a day, so even the
default world's history spans two pages of 1000); a job is one `pages_parsed`
item that appears at its minute of the day (so today's usage grows by whole minutes).
Credits are pages × the mode's credits per page from `price_tables/llamacloud.yaml`;
some items omit `credits` (the reader derives them), and one project sometimes
uses a mode that has no published price and no credits (`UNPRICED_MODE`).
`pages_indexed` items also exist, to prove the reader keeps only parsed pages.
The `cost-spike` scenario multiplies today's pages of the first project ×10.

Ground truth applies LlamaCloud's billing as this module reads it: the plan's
monthly allowance is used up day by day, the rest costs the pay-as-you-go rate,
and the monthly fee accrues per second. `plan` says which plan the organisation
is on (tests set it together with the exporter's config).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import calendar
import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import resources

import yaml
from aiohttp import web

from . import LLAMACLOUD_ORGANIZATION_ID
from .llamacloud_api import Invalid, body_matches, filters_item_bodies, parse_usage_query
from .world import World

PREFIX = "/llamacloud"
MODES = ("fast", "cost_effective", "agentic", "agentic_plus")
UNPRICED_MODE = "legacy_premium"  # no credits per page published, and its items carry no credits
MAX_PAGE_SIZE = 1000  # the simulator's cap on page_size (the OpenAPI document declares none)
DEFAULT_PAGE_SIZE = 50
PARSED = "pages_parsed"
INDEXED = "pages_indexed"


def _price_table(day: date) -> dict:
    text = resources.files("exporters").joinpath("price_tables/llamacloud.yaml").read_text(encoding="utf-8")
    versions = sorted(yaml.safe_load(text)["versions"], key=lambda v: v["effective_from"])
    current = versions[0]
    for version in versions:
        if version["effective_from"] <= day:
            current = version
    return current["table"]


@dataclass(frozen=True)
class Metric:
    """One usage metric item, as served (plus when it becomes visible)."""

    visible_at: float  # Unix time from which the item exists
    day: date
    project: str
    event_type: str
    mode: str
    pages: int
    credits: float | None  # as served (None: omitted)
    item_id: str
    job_id: str

    def true_credits(self, per_page: dict[str, float]) -> float | None:
        """What the job consumed: the served credits, else pages × the mode's rate; None when unknowable."""
        if self.credits is not None:
            return self.credits
        rate = per_page.get(self.mode)
        return None if rate is None else self.pages * float(rate)

    def json(self, organization: str, spike: int) -> dict:
        credits = None if self.credits is None else self.credits * spike
        return {"id": self.item_id, "user_id": "user_sim_llamacloud", "event_type": self.event_type,
                "project_id": self.project, "organization_id": organization, "value": self.pages * spike,
                "properties": {"mode": self.mode} if self.event_type == PARSED else {},
                "day": self.day.isoformat(), "event_aggregation_key": self.job_id,
                "event_aggregation_type": "pdf", "credits": credits, "usage_tags": None}


class LlamaCloudSim:
    name = "llamacloud"
    prefix = PREFIX

    def __init__(self, world: World, *, plan: str = "pay_as_you_go"):
        self.world = world
        self.plan = plan
        self.organization_id = LLAMACLOUD_ORGANIZATION_ID
        self.usage_metrics_enabled = True  # False: the 400 some organisations get
        self.projects = [str(uuid.UUID(int=world.rng("llamacloud", "project", i).getrandbits(128), version=4))
                         for i in range(world.scale.llamacloud_projects)]
        self._day_cache: dict[date, tuple[list[float], list[Metric]]] = {}
        self._credits_per_page = {k: float(v) for k, v in _price_table(world.today())["credits_per_page"].items()}

    # --- the world ---

    def _day(self, day: date) -> tuple[list[float], list[Metric]]:
        """All items of a day sorted by visibility, and their visibility times (for bisect)."""
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
        items: list[Metric] = []
        for p_index, project in enumerate(self.projects):
            modes = MODES + ((UNPRICED_MODE,) if p_index == 0 else ())
            for mode in modes:
                rng = self.world.rng("llamacloud", "jobs", day.isoformat(), project, mode)
                jobs = (1 if rng.random() < 0.25 else 0) if mode == UNPRICED_MODE else rng.randint(1, 6)
                for _ in range(jobs):
                    pages = rng.randint(1, 12)
                    minute = rng.randrange(1440)
                    omit_credits = mode == UNPRICED_MODE or rng.random() < 0.1
                    credits = None if omit_credits else pages * self._credits_per_page[mode]
                    items.append(Metric(midnight + (minute + 1) * 60, day, project, PARSED, mode, pages,
                                        credits, str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                        f"job-{rng.getrandbits(48):012x}"))
            rng = self.world.rng("llamacloud", "indexed", day.isoformat(), project)
            items.append(Metric(midnight + (rng.randrange(1440) + 1) * 60, day, project, INDEXED, "", rng.randint(1, 500),
                                None, str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                f"index-{rng.getrandbits(48):012x}"))
        items.sort(key=lambda m: (m.visible_at, m.item_id))
        entry = ([m.visible_at for m in items], items)
        self._day_cache[day] = entry
        return entry

    def visible(self, first: date, last: date) -> list[Metric]:
        """Items of days first..last that exist now, in a stable order (new items only append)."""
        now = self.world.now_ts()
        today = self.world.today()
        start = max(first, self.world.history_start().date())
        items: list[Metric] = []
        day = start
        while day <= min(last, today):
            times, day_items = self._day(day)
            items.extend(day_items[:bisect.bisect_right(times, now)])
            day += timedelta(days=1)
        return items

    def spike(self, metric: Metric) -> int:
        first_project = self.projects[0] if self.projects else None
        if metric.project == first_project and metric.day == self.world.today() \
                and self.world.scenario_applies("cost-spike", self.name):
            return 10
        return 1

    # --- HTTP ---

    def routes(self) -> list[web.RouteDef]:
        return [web.get(f"{PREFIX}/api/v1/beta/usage-metrics", self._usage_metrics),
                web.get(f"{PREFIX}/api/v1/organizations", self._organizations),
                web.get(f"{PREFIX}/api/v2/organizations", self._organizations_v2)]

    async def _organizations(self, _request: web.Request) -> web.Response:
        return web.json_response([{"id": self.organization_id, "name": "Simulated organisation",
                                   "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
                                   "parse_plan_level": "DEFAULT", "stripe_customer_id": None,
                                   "feature_flags": {}}])

    async def _organizations_v2(self, request: web.Request) -> web.Response:
        """The paged v2 listing (`name`, `page_size`, `page_token`): one organisation."""
        name = request.query.get("name")
        orgs = [{"id": self.organization_id, "name": "Simulated organisation", "created_at": "2025-01-01T00:00:00Z",
                 "updated_at": "2025-01-01T00:00:00Z", "metadata": {}}]
        if "page_size" in request.query and (_int(request.query["page_size"]) or 0) < 1:
            return _validation_error("page_size", "Input should be a valid positive integer", "int_parsing")
        return web.json_response({"items": [o for o in orgs if not name or o["name"] == name], "next_page_token": None})

    async def _usage_metrics(self, request: web.Request) -> web.Response:
        try:  # every documented parameter (llamacloud_api.py); FastAPI's 422 for what it cannot parse
            query = parse_usage_query(request.query, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        except Invalid as exc:
            return exc.response
        if query.organization_id != self.organization_id or not self.usage_metrics_enabled:
            return web.json_response({"detail": "Usage metrics are not enabled for this organization"}, status=400)
        page_size = query.page_size
        offset = _decode_token(query.offset_token) if query.offset_token else 0
        if offset is None:
            return _validation_error("page_token", "Invalid page token", "value_error")
        matching = [m for m in self.visible(query.first, query.last)
                    if (not query.event_types or m.event_type in query.event_types)
                    and (not query.project_id or m.project == query.project_id)
                    and (not query.days or m.day.isoformat() in query.days)]
        if filters_item_bodies(query):
            matching = [m for m in matching
                        if body_matches(query, m.json(self.organization_id, self.spike(m)))]
        page = matching[offset:offset + page_size]
        body: dict = {"items": [m.json(self.organization_id, self.spike(m)) for m in page]}
        if offset + page_size < len(matching):
            body["next_page_token"] = _encode_token(offset + page_size)
        if query.include_total:
            body["total_size"] = len(matching)
        return web.json_response(body)

    # --- ground truth, minimum requests, rate limits ---

    def _month_credits(self) -> dict[date, dict[str, float]]:
        """Credits (the priced ones) per day and project, month start .. now."""
        today = self.world.today()
        by_day: dict[date, dict[str, float]] = {}
        for metric in self.visible(today.replace(day=1), today):
            if metric.event_type != PARSED:
                continue
            credits = metric.true_credits(self._credits_per_page)
            if credits is None:
                continue
            row = by_day.setdefault(metric.day, {})
            row[metric.project] = row.get(metric.project, 0.0) + credits * self.spike(metric)
        return by_day

    def ground_truth(self) -> dict:
        now = self.world.now()
        today = now.date()
        table = _price_table(today)
        plan = table["plans"][self.plan]
        rate = float(table["usd_per_1000_credits"]) / 1000
        included = float(plan["included_credits"])
        by_project: dict[str, float] = {p: 0.0 for p in self.projects}
        today_usd = 0.0
        used = 0.0
        for day, credits in sorted(self._month_credits().items()):
            day_total = sum(credits.values())
            billable = max(0.0, used + day_total - included) - max(0.0, used - included)
            used += day_total
            for project, c in credits.items():
                share = billable * c / day_total * rate
                by_project[project] += share
                if day == today:
                    today_usd += share
        month_s = calendar.monthrange(today.year, today.month)[1] * 86400
        midnight = datetime(today.year, today.month, today.day, tzinfo=timezone.utc)
        fee_per_s = float(plan["usd_per_month"]) / month_s
        if fee_per_s:
            since_month_start = (now - midnight.replace(day=1)).total_seconds()
            by_project[self.organization_id] = fee_per_s * since_month_start
            today_usd += fee_per_s * (now - midnight).total_seconds()
        return {"today_usd": today_usd, "month_to_date_usd": sum(by_project.values()),
                "month_to_date_by_project": by_project}

    def minimum_requests(self, page_sizes: dict[str, int] | None = None) -> dict[str, int]:
        """Every item since the world's history start, at the largest page size.

        All event types count: the exporter does not send `event_types` (see exporters/llamacloud.py).
        """
        size = (page_sizes or {}).get("usage", MAX_PAGE_SIZE)
        items = len(self.visible(self.world.history_start().date(), self.world.today()))
        return {"usage": max(1, math.ceil(items / size))}

    def rate_limit_headers(self, limit: int, remaining: int, reset_in_s: float) -> dict[str, str]:
        # LlamaCloud documents only the 429 itself; say when to come back.
        return {"Retry-After": str(max(1, math.ceil(reset_in_s)))} if remaining <= 0 else {}


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, _, value = text.partition(":")
    return int(value) if kind == "offset" and value.isdigit() else None


def _validation_error(field: str, message: str, kind: str) -> web.Response:
    return web.json_response({"detail": [{"loc": ["query", field], "msg": message, "type": kind}]}, status=422)
