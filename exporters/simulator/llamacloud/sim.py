"""Simulated LlamaCloud: `GET /api/v1/beta/usage-metrics` and `GET /api/v1/organizations`.

In detail: exporters/simulator/README.md, "LlamaCloud (`/llamacloud`)".
"""

from __future__ import annotations

import base64
import binascii
import bisect
import calendar
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

from aiohttp import web

from exporters.simulator import price_fixtures as fixtures
from exporters.simulator.invoice import InvoiceLine, ground_truth
from exporters.simulator.llamacloud.api import Invalid, body_matches, filters_item_bodies, parse_usage_query
from exporters.simulator.world import World

PREFIX = "/llamacloud"
# The simulated organisation (the demo config's providers.llamacloud.organization_id).
ORGANIZATION_ID = "00000000-0000-4000-8000-0000000000aa"
MODES = ("fast", "cost_effective", "agentic", "agentic_plus")
UNPRICED_MODE = "legacy_premium"  # no credits per page published, and its items carry no credits
MAX_PAGE_SIZE = 1000  # the simulator's cap on page_size (the OpenAPI document declares none)
DEFAULT_PAGE_SIZE = 50
PARSED = "pages_parsed"
INDEXED = "pages_indexed"
# Billed operations besides parsing: each item carries its credits (pages × the fixture's rate).
OPERATION_EVENTS = ("extraction_num_pages", INDEXED, "pages_classified", "pages_split")
UNKNOWN_CREDIT_EVENT = "pages_verified"  # carries credits; stackwatch does not know its billing
UNBILLED_EVENT = "stored_file_count"  # a count without credits: not billed
REPEAT_SHARE = 0.12  # of parse jobs in priced modes: a re-parse of a file parsed today or yesterday


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
    document: str = ""  # parse items: the file's id, served as event_aggregation_key

    def true_credits(self, per_page: dict[str, float]) -> float | None:
        """What stackwatch can know the job consumed: the served credits, else pages × the mode's
        published rate (`per_page`); None when unknowable."""
        if self.credits is not None:
            return self.credits
        rate = per_page.get(self.mode)
        return None if rate is None or self.event_type != PARSED else self.pages * float(rate)

    def billed_credits(self) -> float:
        """What LlamaCloud bills for it (it knows every rate, published or not)."""
        if self.credits is not None:
            return self.credits
        if self.event_type == PARSED:
            return self.pages * fixtures.LLAMACLOUD_CREDITS_PER_PAGE[self.mode].usd
        return 0.0

    def json(self, organization: str, spike: int) -> dict:
        credits = None if self.credits is None else self.credits * spike
        return {"id": self.item_id, "user_id": "user_sim_llamacloud", "event_type": self.event_type,
                "project_id": self.project, "organization_id": organization, "value": self.pages * spike,
                "properties": {"mode": self.mode} if self.event_type == PARSED else {},
                "day": self.day.isoformat(), "event_aggregation_key": self.document or self.job_id,
                "event_aggregation_type": "pdf", "credits": credits, "usage_tags": None}


def _unpriced(metric: "Metric") -> bool:
    return metric.mode == UNPRICED_MODE or metric.event_type == UNKNOWN_CREDIT_EVENT


class LlamaCloudSim:
    name = "llamacloud"
    prefix = PREFIX
    # What the demo config (simulator_config) sets for it: its ids and its monthly budget.
    demo_settings = {"organization_id": ORGANIZATION_ID}
    demo_budget_usd = 150

    def __init__(self, world: World, *, plan: str = "pay_as_you_go"):
        self.world = world
        self.plan = plan
        self.billing_anchor_day = 1  # tests set it with the exporter's config: the allowance's cycle
        self.organization_id = ORGANIZATION_ID
        self.usage_metrics_enabled = True  # False: the 400 some organisations get
        self.projects = [str(uuid.UUID(int=world.rng("llamacloud", "project", i).getrandbits(128), version=4))
                         for i in range(world.scale.llamacloud_projects)]
        self._day_cache: dict[date, tuple[list[float], list[Metric]]] = {}
        # The published rates (what stackwatch can know); UNPRICED_MODE's rate is not published.
        self._credits_per_page = {k: p.usd for k, p in fixtures.LLAMACLOUD_CREDITS_PER_PAGE.items()
                                  if p.source is fixtures.LLAMACLOUD_PRICING}

    # --- the world ---

    def _day(self, day: date) -> tuple[list[float], list[Metric]]:
        """All items of a day sorted by visibility, and their visibility times (for bisect)."""
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
        items: list[Metric] = []
        for p_index, project in enumerate(self.projects):
            items.extend(self._with_documents(day, p_index, project))
            for event in OPERATION_EVENTS + (UNKNOWN_CREDIT_EVENT, UNBILLED_EVENT):
                rng = self.world.rng("llamacloud", "event", event, day.isoformat(), project)
                if event == UNKNOWN_CREDIT_EVENT and (p_index != 0 or rng.random() < 0.5):
                    continue  # only the first project, about every other day
                pages = rng.randint(1, 500) if event == INDEXED else rng.randint(1, 40)
                rate = fixtures.LLAMACLOUD_CREDITS_PER_EVENT_UNIT.get(event)
                items.append(Metric(midnight + (rng.randrange(1440) + 1) * 60, day, project, event, "", pages,
                                    None if rate is None else pages * rate.usd,
                                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                    f"{event[:5]}-{rng.getrandbits(48):012x}"))
        items.sort(key=lambda m: (m.visible_at, m.item_id))
        entry = ([m.visible_at for m in items], items)
        self._day_cache[day] = entry
        return entry

    def _parse_jobs(self, day: date, p_index: int, project: str) -> list[Metric]:
        """A project's parse jobs of a day, before documents are assigned."""
        midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
        items: list[Metric] = []
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
        return items

    def _drawn(self, day: date, p_index: int, project: str) -> list[tuple[Metric, bool, float]]:
        """Each parse job in serving order with a new file id, whether it re-parses an earlier
        file, and which (0-1); from the day's own random stream only, so no day needs another."""
        rng = self.world.rng("llamacloud", "documents", day.isoformat(), project)
        out = []
        for job in sorted(self._parse_jobs(day, p_index, project), key=lambda m: (m.visible_at, m.item_id)):
            document = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            repeat = job.mode in self._credits_per_page and rng.random() < REPEAT_SHARE
            out.append((replace(job, document=document), repeat, rng.random()))
        return out

    def _new_files(self, day: date, p_index: int, project: str) -> list[Metric]:
        """The day's jobs that parse a new file in a priced mode: what later jobs may re-parse."""
        return [job for job, repeat, _ in self._drawn(day, p_index, project)
                if not repeat and job.mode in self._credits_per_page]

    def _with_documents(self, day: date, p_index: int, project: str) -> list[Metric]:
        """The day's parse items: new files, and re-parses of a file parsed yesterday or earlier today."""
        earlier = self._new_files(day - timedelta(days=1), p_index, project)
        out = []
        for job, repeat, pick in self._drawn(day, p_index, project):
            if repeat and earlier:
                original = earlier[int(pick * len(earlier))]
                credits = None if job.credits is None else original.pages * self._credits_per_page[job.mode]
                job = replace(job, pages=original.pages, credits=credits, document=original.document)
            elif not repeat and job.mode in self._credits_per_page:
                earlier.append(job)
            out.append(job)
        return out

    def visible(self, first: date, last: date) -> list[Metric]:
        """Items of days first..last that exist now, in a stable order (new items only append)."""
        now = self.world.now_ts()
        today = self.world.today()
        start = max(first, self.world.history_start().date())
        items: list[Metric] = []
        day = start
        while day <= min(last, today):
            times, day_items = self._day(day)
            seen = day_items[:bisect.bisect_right(times, now)]
            items.extend(seen if self.uses_unpriced(day) else [m for m in seen if not _unpriced(m)])
            day += timedelta(days=1)
        return items

    def uses_unpriced(self, day: date) -> bool:
        """Whether `day`'s items include the unpriced ones (the `unpriced-usage` incident)."""
        return "unpriced-usage" in self.world.incidents or (
            day == self.world.today() and self.world.scenario_applies("unpriced-usage", self.name))

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
        try:  # every documented parameter (llamacloud/api.py); FastAPI's 422 for what it cannot parse
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

    def _month_credits(self) -> dict[date, dict[tuple[str, str | None], float]]:
        """Billed credits per day and (project, unpriced item or None), month start .. now."""
        today = self.world.today()
        by_day: dict[date, dict[tuple[str, str | None], float]] = {}
        for metric in self.visible(self.cycle_start(), today):
            credits = metric.billed_credits()
            if not credits:
                continue
            known = metric.event_type in (PARSED, *OPERATION_EVENTS) and \
                metric.true_credits(self._credits_per_page) is not None
            item = None if known else (f"mode:{metric.mode}" if metric.event_type == PARSED
                                       else f"event:{metric.event_type}")
            row = by_day.setdefault(metric.day, {})
            row[(metric.project, item)] = row.get((metric.project, item), 0.0) + credits * self.spike(metric)
        return by_day

    def invoice_lines(self) -> list[InvoiceLine]:
        """LlamaCloud's invoice for this month so far: usage beyond the allowance, and the fee."""
        now = self.world.now()
        today = now.date()
        plan = fixtures.LLAMACLOUD_PLANS[self.plan]
        rate = fixtures.LLAMACLOUD_USD_PER_1000_CREDITS.usd / 1000
        included = float(plan.included_credits)
        lines: list[InvoiceLine] = []
        used_all = used_known = 0.0  # the invoice counts every credit; stackwatch only those it knows

        def beyond(used: float, day_total: float) -> float:
            return max(0.0, used + day_total - included) - max(0.0, used - included)
        for day, credits in sorted(self._month_credits().items()):
            known = {project: c for (project, item), c in credits.items() if item is None}
            known_total, all_total = sum(known.values()), sum(credits.values())
            billable_known = beyond(used_known, known_total)
            billable_all = beyond(used_all, all_total)
            used_known += known_total
            used_all += all_total
            for project, c in known.items():
                lines.append(InvoiceLine(day, project, "credits", billable_known * c / known_total * rate))
            # The rest of the day's invoice is what stackwatch cannot price, by unpriced item.
            unknown = defaultdict(float)
            for (_project, item), c in credits.items():
                if item is not None:
                    unknown[(_project, item)] += c
            unknown_total = sum(unknown.values())
            rest = (billable_all - billable_known) * rate
            for (project, item), c in unknown.items():
                lines.append(InvoiceLine(day, project, item, rest * c / unknown_total, "unpriced"))
        month_s = calendar.monthrange(today.year, today.month)[1] * 86400
        fee_per_s = plan.fee.usd / month_s
        if fee_per_s:
            midnight = datetime(today.year, today.month, today.day, tzinfo=timezone.utc)
            day = self.cycle_start()
            while day < today:  # each day at its own month's per-second rate (a cycle may span two)
                day_month_s = calendar.monthrange(day.year, day.month)[1] * 86400
                lines.append(InvoiceLine(day, self.organization_id, f"plan:{self.plan}",
                                         plan.fee.usd / day_month_s * 86400, category="Purchase"))
                day += timedelta(days=1)
            lines.append(InvoiceLine(today, self.organization_id, f"plan:{self.plan}",
                                     fee_per_s * (now - midnight).total_seconds(), category="Purchase"))
        return lines

    def repeat_parses(self, first_day: date, from_day: date | None = None) -> dict[str, tuple[int, float]]:
        """Ground truth of what stackwatch can count, per project: parse items served for days
        `from_day` (default `first_day`) .. today whose file the project's items already showed
        earlier in the same billing cycle, on or after `first_day`; and their credits as served
        (derived from pages when omitted)."""
        first_parse: dict[tuple[str, str], date] = {}  # (project, file) → the day of its first parse seen
        out: dict[str, tuple[int, float]] = {}
        for m in self.visible(first_day, self.world.today()):
            if m.event_type != PARSED or not m.document:
                continue
            seen = first_parse.get((m.project, m.document))
            if seen is None or seen < self.cycle_start_of(m.day):
                first_parse[(m.project, m.document)] = m.day
                continue
            if from_day is None or m.day >= from_day:
                count, credits = out.get(m.project, (0, 0.0))
                out[m.project] = (count + 1,
                                  credits + (m.true_credits(self._credits_per_page) or 0.0) * self.spike(m))
        return out

    def cycle_start_of(self, day: date) -> date:
        """The first day of the billing cycle containing `day`."""
        this = day.replace(day=min(self.billing_anchor_day, calendar.monthrange(day.year, day.month)[1]))
        if day >= this:
            return this
        back = day.replace(day=1) - timedelta(days=1)
        return back.replace(day=min(self.billing_anchor_day, calendar.monthrange(back.year, back.month)[1]))

    def cycle_start(self) -> date:
        """The first day of the billing cycle containing today (anchor day; 1 = the calendar month)."""
        today = self.world.today()
        month_back = (today.replace(day=1) - timedelta(days=1))
        this = today.replace(day=min(self.billing_anchor_day, calendar.monthrange(today.year, today.month)[1]))
        if today >= this:
            return this
        return month_back.replace(day=min(self.billing_anchor_day,
                                          calendar.monthrange(month_back.year, month_back.month)[1]))

    def ground_truth(self) -> dict:
        return ground_truth(self.invoice_lines(), self.world.today(), month_start=self.cycle_start(),
                            projects=self.projects)

    def minimum_requests(self, page_sizes: dict[str, int] | None = None) -> dict[str, int]:
        """Every item since the world's history start, at the largest page size.

        All event types count: the exporter does not send `event_types` (see exporters/providers/llamacloud/exporter.py).
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
