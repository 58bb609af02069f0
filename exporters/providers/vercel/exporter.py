"""Vercel's exporter: projects, deployments and the FOCUS billing charges (billed cost).

Streams `projects` → (`deployments`, `billing`); what each reads, how billing days (Pacific)
and project attribution work, and every fact relied on with its source:
docs/providers/vercel.md. The drains are drains.py.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from exporters.core.catalogue import Kind, MetricSpec, Series
from exporters.core.http import ProviderError, ProviderHTTP
from exporters.costs.records import CostRecord, InvalidAmount, check_amount, day_start, local_day, utc_day
from exporters.poll.access import Access, count_of, read
from exporters.poll.collector import PollContext, Stream
from exporters.providers.vercel.config import VercelConfig

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("vercel.projects", Kind.GAUGE, "{project}", "Projects in the team.", (),
               series=Series("stackwatch", 1)),
    MetricSpec("vercel.deployments", Kind.COUNTER, "{deployment}",
               "Deployments that reached a final state (READY, ERROR, CANCELED), counted once each.",
               ("project", "target", "state"), series=Series("Vercel project", 6, "2 targets × 3 final states")),
    MetricSpec("vercel.deployments.in_progress", Kind.GAUGE, "{deployment}",
               "Deployments not yet final (QUEUED, INITIALIZING, BUILDING), as of the latest poll.",
               ("project", "target", "state"),
               series=Series("Vercel project", 6, "2 targets × QUEUED, INITIALIZING, BUILDING")),
    MetricSpec("vercel.deployment.build.duration", Kind.HISTOGRAM, "s",
               "Build time of final deployments: ready - buildingAt, by final state (not by target: "
               "production and preview builds are the same build).", ("project", "state"),
               series=Series("Vercel project", 3, "final states READY, ERROR, CANCELED")),
    MetricSpec("vercel.deployment.queue.duration", Kind.HISTOGRAM, "s",
               "Queue time of final deployments: buildingAt - createdAt.", ("project",),
               series=Series("Vercel project", 1)),
)

PAGE_SIZE = 100
FINAL_STATES = frozenset({"READY", "ERROR", "CANCELED"})
IN_PROGRESS_STATES = frozenset({"QUEUED", "INITIALIZING", "BUILDING"})
# Re-read this much before the newest deployment seen, for deployments that show up late.
OVERLAP_MS = 2 * 60 * 1000
# A deployment "in progress" for longer than this is stuck; it no longer holds the watermark back.
MAX_IN_PROGRESS_AGE_MS = 6 * 3600 * 1000
# Charges of the last days still change (today accrues, yesterday settles).
BILLING_REFETCH_DAYS = 2
MAX_CHARGES_WINDOW_DAYS = 365  # the API accepts at most one year per request
TEAM_RESOURCE = "(team)"
ONE_DAY = timedelta(days=1)
# What a 401 or 403 means for a Vercel token (docs/getting-started.md, Vercel).
TOKEN_HINTS = {
    401: "the token is invalid, expired or revoked: create one at vercel.com/account/tokens",
    403: "the token cannot act for this team: create it with the team as its scope (not a project), and "
         "check providers.vercel.team_id",
}
BILLING_HINTS = {
    **TOKEN_HINTS,
    403: "billing charges are served only to the team's Owner, Member, Developer, Security, Billing and "
         "Enterprise Viewer roles: create the token as such a member (and check providers.vercel.team_id)",
}
# Vercel's billing days are Pacific days: daily charges run 08:00Z to 08:00Z (07:00Z in summer)
# (docs/providers/vercel.md, "Billing"); "today" and the month follow this zone.
BILLING_ZONE = ZoneInfo("America/Los_Angeles")
YIELD_EVERY_LINES = 2000  # let other providers' requests progress while a long body is parsed

_PROJECT_ID_TAGS = ("ProjectId", "projectId", "project_id", "x_ProjectId")
_PROJECT_NAME_TAGS = ("ProjectName", "projectName", "project_name", "x_ProjectName")


class InvalidItem(ValueError):
    """An item of a provider response that fails validation (skipped and counted)."""


# --- deployments ---

@dataclass(frozen=True, slots=True)
class Deployment:
    uid: str
    project_id: str
    name: str  # the deployment's `name`: its project's name
    state: str
    target: str
    created_ms: float
    building_at_ms: float | None
    ready_ms: float | None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def in_progress(self) -> bool:
        return self.state in IN_PROGRESS_STATES


def _text(item: dict, key: str, *, required: bool = True) -> str | None:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidItem(f"`{key}` must be a non-empty string, got {type(value).__name__}")
    return value


def _timestamp(item: dict, *keys: str, required: bool = False) -> float | None:
    for key in keys:
        value = item.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidItem(f"`{key}` must be a millisecond timestamp, got {value!r}"[:200])
        return float(value)
    if required:
        raise InvalidItem(f"`{keys[0]}` is missing")
    return None


def parse_deployment(item: Any) -> Deployment:
    if not isinstance(item, dict):
        raise InvalidItem(f"deployment is a {type(item).__name__}, not an object")
    state = item.get("state") or item.get("readyState")
    if not isinstance(state, str):
        raise InvalidItem("`state`/`readyState` is missing")
    target = item.get("target")
    if target is not None and not isinstance(target, str):
        raise InvalidItem(f"`target` must be a string or null, got {type(target).__name__}")
    return Deployment(
        uid=_text(item, "uid") or "", project_id=_text(item, "projectId") or "",
        name=_text(item, "name", required=False) or "", state=state.upper(),
        target=target or "preview",  # Vercel's null target is a preview deployment
        created_ms=_timestamp(item, "created", "createdAt", required=True) or 0.0,
        building_at_ms=_timestamp(item, "buildingAt"), ready_ms=_timestamp(item, "ready"))


@dataclass
class DeploymentWatermark:
    """Where the next poll starts, and the final deployments already counted at or after it."""

    since_ms: float
    counted: dict[str, float] = field(default_factory=dict)  # uid -> created, inside the overlap only


@dataclass
class DeploymentScan:
    """What one poll learnt that moves the watermark (no deployment is kept whole)."""

    newest_ms: float | None = None
    oldest_pending_ms: float | None = None  # the oldest deployment still in progress
    counted: dict[str, float] = field(default_factory=dict)  # uid -> created, counted by this poll

    def saw(self, deployment: Deployment, now_ms: float) -> None:
        created = deployment.created_ms
        self.newest_ms = created if self.newest_ms is None else max(self.newest_ms, created)
        if deployment.in_progress and now_ms - created < MAX_IN_PROGRESS_AGE_MS:
            self.oldest_pending_ms = created if self.oldest_pending_ms is None \
                else min(self.oldest_pending_ms, created)


def next_watermark(previous: DeploymentWatermark, scan: DeploymentScan) -> DeploymentWatermark:
    """The watermark after a poll: re-read anything still in progress and a short overlap."""
    if scan.newest_ms is None:
        return DeploymentWatermark(previous.since_ms, dict(previous.counted))
    since = max(previous.since_ms, scan.newest_ms - OVERLAP_MS)
    if scan.oldest_pending_ms is not None:
        since = min(since, scan.oldest_pending_ms - 1)
    counted = {uid: created for uid, created in {**previous.counted, **scan.counted}.items() if created >= since}
    return DeploymentWatermark(since, counted)


def billing_day_of(moment: datetime) -> date:
    """The Vercel billing (Pacific) day a moment falls on."""
    return moment.astimezone(BILLING_ZONE).date()


def billing_day_start(day: date) -> datetime:
    """When billing day `day` starts, in UTC (Pacific midnight: 08:00Z, or 07:00Z in summer)."""
    return datetime(day.year, day.month, day.day, tzinfo=BILLING_ZONE).astimezone(timezone.utc)


def split_by_billing_day(start: datetime, end: datetime) -> list[tuple[date, datetime, datetime]]:
    """[start, end) cut at Pacific midnights: (billing day, piece start, piece end)."""
    pieces, cursor = [], start
    while cursor < end:
        day = billing_day_of(cursor)
        piece_end = min(end, billing_day_start(day + ONE_DAY))
        pieces.append((day, cursor, piece_end))
        cursor = piece_end
    return pieces


# --- billing ---

@dataclass(frozen=True, slots=True)
class ChargePiece:
    """The part of one FOCUS charge line that falls on one billing (Pacific) day."""

    day: date
    project_id: str | None
    project_name: str | None
    service_name: str
    service_category: str
    charge_category: str
    cost: float
    quantity: float | None
    unit: str | None
    effective: float = 0.0
    list_cost: float = 0.0
    period_start: datetime | None = None
    period_end: datetime | None = None


def _number(value: Any, key: str, *, required: bool) -> float | None:
    if value is None:
        if required:
            raise InvalidItem(f"`{key}` is missing")
        return None
    if isinstance(value, bool):
        raise InvalidItem(f"`{key}` must be a number, got a boolean")
    if isinstance(value, str):  # decimal columns are sometimes exported as strings
        try:
            value = float(value)
        except ValueError:
            raise InvalidItem(f"`{key}` must be a number, got {value[:40]!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidItem(f"`{key}` must be a finite number, got {type(value).__name__}")
    return float(value)


def _amount(line: dict, key: str, *, default: float | None = None) -> float:
    """A cost column: a number or a decimal string; never NaN, infinite or absurd."""
    value = line.get(key)
    if value is None:
        if default is None:
            raise InvalidItem(f"`{key}` is missing")
        return default
    try:
        return check_amount(value, key)
    except InvalidAmount as exc:
        raise InvalidItem(str(exc)) from None


@lru_cache(maxsize=4096)  # the same few period bounds repeat on thousands of lines
def _parse_moment(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _moment(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidItem(f"`{key}` must be an ISO-8601 date-time")
    moment = _parse_moment(value)
    if moment is None:
        raise InvalidItem(f"`{key}` is not ISO-8601: {value[:40]!r}")
    return moment


def _first_text(mapping: dict, keys: Iterable[str]) -> str | None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _project_of(line: dict) -> tuple[str | None, str | None]:
    tags = line.get("Tags")
    if isinstance(tags, str):  # some FOCUS exports serialise Tags as a JSON string
        try:
            tags = json.loads(tags)
        except ValueError:
            tags = None
    tags = tags if isinstance(tags, dict) else {}
    project_id = _first_text(tags, _PROJECT_ID_TAGS) or _first_text(line, ("ResourceId",))
    project_name = _first_text(tags, _PROJECT_NAME_TAGS) or _first_text(line, ("ResourceName",))
    return project_id, project_name


def parse_charge(line: Any) -> list[ChargePiece]:
    """One FOCUS 1.3 charge line on its billing (Pacific) day(s).

    A usage line longer than one billing day is split at Pacific midnights, its
    costs and quantity shared in proportion to time; any other charge category
    (Purchase, Credit, Tax, Adjustment) counts whole on the billing day its period
    starts on, with its own period.
    """
    if not isinstance(line, dict):
        raise InvalidItem(f"charge is a {type(line).__name__}, not an object")
    currency = line.get("BillingCurrency", "USD")
    if currency != "USD":
        raise InvalidItem(f"BillingCurrency {str(currency)[:10]!r} is not USD (no conversion)")
    cost = _amount(line, "BilledCost")
    effective = _amount(line, "EffectiveCost", default=cost)
    list_cost = _amount(line, "ListCost", default=cost)
    quantity = _number(line.get("ConsumedQuantity"), "ConsumedQuantity", required=False)
    start = _moment(line.get("ChargePeriodStart"), "ChargePeriodStart")
    end = _moment(line.get("ChargePeriodEnd"), "ChargePeriodEnd")
    if end <= start:
        raise InvalidItem("ChargePeriodEnd is not after ChargePeriodStart")
    service = _text(line, "ServiceName") or ""
    category = _text(line, "ServiceCategory", required=False) or "Other"
    charge_category = _text(line, "ChargeCategory", required=False) or "Usage"
    unit = line.get("ConsumedUnit") if isinstance(line.get("ConsumedUnit"), str) else None
    project_id, project_name = _project_of(line)
    first_day = billing_day_of(start)
    if charge_category != "Usage" or end <= billing_day_start(first_day + ONE_DAY):
        # Within one billing day, or a purchase or credit: whole, on the day its period starts.
        return [ChargePiece(first_day, project_id, project_name, service, category, charge_category,
                            cost, quantity, unit, effective, list_cost, start, end)]
    total_s = (end - start).total_seconds()
    pieces = []
    for day, piece_start, piece_end in split_by_billing_day(start, end):
        share = (piece_end - piece_start).total_seconds() / total_s
        pieces.append(ChargePiece(day, project_id, project_name, service, category, charge_category,
                                  cost * share, None if quantity is None else quantity * share, unit,
                                  effective * share, list_cost * share, piece_start, piece_end))
    return pieces


class ChargeTotals:
    """Charges summed per day × project × service × charge category (only sums are kept)."""

    def __init__(self, project_name: Callable[[str], str | None]):
        self._project_name = project_name
        self._totals: dict[tuple[date, str, str, str, str], list] = {}
        self._names: dict[str, str] = {}
        self._strings: dict[str, str] = {}  # one copy of each repeated string

    def _intern(self, text: str) -> str:
        return self._strings.setdefault(text, text)

    def add(self, piece: ChargePiece) -> None:
        project_id, name = piece.project_id, piece.project_name
        if project_id is None and name is None:
            project_id = name = TEAM_RESOURCE
        elif project_id is None:
            project_id = name
        assert project_id is not None
        project_id = self._intern(project_id)
        if project_id not in self._names:
            self._names[project_id] = self._intern(name or self._project_name(project_id) or project_id)
        key = (piece.day, project_id, self._intern(piece.service_name), self._intern(piece.service_category),
               self._intern(piece.charge_category))
        total = self._totals.get(key)
        if total is None:
            self._totals[key] = [piece.cost, piece.quantity, piece.unit, piece.effective, piece.list_cost,
                                 piece.period_start, piece.period_end]
            return
        total[0] += piece.cost
        if total[1] is not None and piece.quantity is not None and total[2] == piece.unit:
            total[1] += piece.quantity
        else:  # quantities in different units do not add up
            total[1] = None
        total[3] += piece.effective
        total[4] += piece.list_cost
        if piece.period_start is not None and (total[5] is None or piece.period_start < total[5]):
            total[5] = piece.period_start
        if piece.period_end is not None and (total[6] is None or piece.period_end > total[6]):
            total[6] = piece.period_end

    def keys_by_day(self) -> dict[date, list[tuple]]:
        by_day: dict[date, list[tuple]] = {}
        for key in self._totals:
            by_day.setdefault(key[0], []).append(key)
        return by_day

    def records(self, keys: Iterable[tuple]) -> list[CostRecord]:
        records = []
        for key in keys:
            day, project_id, service, category, charge_category = key
            cost, quantity, unit, effective, list_cost, start, end = self._totals[key]
            records.append(CostRecord(
                provider="vercel", service_name=service, service_category=category, resource_id=project_id,
                resource_name=self._names[project_id], period_start=start or billing_day_start(day),
                period_end=end or billing_day_start(day + ONE_DAY), billed_cost=cost, source="billed",
                consumed_quantity=quantity, consumed_unit=unit if quantity is not None else None,
                charge_category=charge_category, effective_cost=effective, list_cost=list_cost,
                billing_day=day))
        return records


def charge_windows(first: date, end: date) -> list[tuple[date, date]]:
    """[first, end) in requests of at most one year each."""
    windows, cursor = [], first
    while cursor < end:
        upper = min(end, cursor + timedelta(days=MAX_CHARGES_WINDOW_DAYS))
        windows.append((cursor, upper))
        cursor = upper
    return windows


def _iso_day(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


# --- the provider ---

class VercelProvider:
    name = "vercel"

    def __init__(self, config: VercelConfig, http: ProviderHTTP):
        self.config = config
        self.http = http
        self._project_names: dict[str, str] = {}
        self._deployments: DeploymentWatermark | None = None
        self._billing_refetch_from: date | None = None  # None: the first poll reads the whole history

    def stages(self) -> list[list[Stream]]:
        return [[Stream("projects", self.poll_projects, slow=True)],
                [Stream("deployments", self.poll_deployments), Stream("billing", self.poll_billing, slow=True)]]

    async def aclose(self) -> None:
        await self.http.aclose()

    async def probe(self, now: datetime) -> list[Access]:
        """`check-config --probe`: one small read per kind of data the streams poll."""
        def charges_seen(lines: int) -> str:
            return f"readable ({lines}+ charge lines for yesterday)" if lines else "readable (no charge for yesterday)"

        day = utc_day(now)
        reads = [await read("vercel", "projects", self.http.get_json(
                     "/v10/projects", self._params(limit=1), operation="projects"),
                     lambda body: count_of(body["projects"], "projects"), TOKEN_HINTS),
                 await read("vercel", "deployments", self.http.get_json(
                     "/v6/deployments", self._params(limit=1), operation="deployments"),
                     lambda body: count_of(body["deployments"], "deployments"), TOKEN_HINTS),
                 await read("vercel", "billing charges (FOCUS)", self._first_charge_lines(day - ONE_DAY, day),
                            charges_seen, BILLING_HINTS)]
        return [access for access, _ in reads]

    async def _first_charge_lines(self, first: date, end: date, at_most: int = 3) -> int:
        params = self._params(**{"from": _iso_day(first), "to": _iso_day(end)})
        count = 0
        async with self.http.stream_lines("/v1/billing/charges", params, operation="billing_charges",
                                          headers={"Accept-Encoding": "gzip"}) as lines:
            async for _line in lines:
                count += 1
                if count >= at_most:
                    break
        return count

    def project_name(self, project_id: str) -> str | None:
        """The project's name from the latest project list (the drain receiver uses it too)."""
        return self._project_names.get(project_id)

    def _params(self, **params: object) -> dict[str, object]:
        scope = {"teamId": self.config.team_id} if self.config.team_id else {}
        return {**scope, **{k: v for k, v in params.items() if v is not None}}

    def _project_label(self, deployment: Deployment) -> str:
        return self._project_names.get(deployment.project_id) or deployment.name or deployment.project_id

    # --- projects ---

    async def poll_projects(self, ctx: PollContext) -> None:
        names: dict[str, str] = {}
        token: str | None = None
        pages = self.http.pages("projects")
        while True:
            page = await self.http.get_json("/v10/projects", self._params(limit=PAGE_SIZE, **{"from": token}),
                                            operation="projects")
            items, token = _projects_page(page)
            for item in items:
                try:
                    names[_text(item, "id") or ""] = _text(item, "name") or ""
                except InvalidItem as exc:
                    ctx.invalid_item(f"project: {exc}")
                except AttributeError:
                    ctx.invalid_item(f"project is a {type(item).__name__}, not an object")
            if not token:
                break
            pages.follow(token)
        ctx.gauge("vercel.projects", len(names))
        ctx.on_commit(lambda: setattr(self, "_project_names", names))

    # --- deployments ---

    async def poll_deployments(self, ctx: PollContext) -> None:
        now_ms = ctx.now().timestamp() * 1000
        watermark = self._deployments or DeploymentWatermark(
            day_start(utc_day(ctx.now()) - timedelta(days=self.config.history_days)).timestamp() * 1000)
        scan = DeploymentScan()
        in_progress: dict[tuple[str, str, str], int] = {}
        finals: dict[tuple[str, str, str], int] = {}
        # Pages are fetched one ahead: the next request is in flight while this page is
        # processed, so a long history costs about one round trip per page, not two steps.
        until: float | None = None
        pages = self.http.pages("deployments")
        pending = asyncio.create_task(self._deployments_page(watermark.since_ms, until))
        try:
            while True:
                items, next_until = await pending
                last_page = (next_until is None or not items or (until is not None and next_until >= until)
                             or next_until <= watermark.since_ms)  # a cursor that does not move back ends it
                if not last_page:
                    pages.follow(next_until)
                    pending = asyncio.create_task(self._deployments_page(watermark.since_ms, next_until))
                for item in items:
                    try:
                        deployment = parse_deployment(item)
                    except InvalidItem as exc:
                        ctx.invalid_item(f"deployment: {exc}")
                        continue
                    scan.saw(deployment, now_ms)
                    key = (self._project_label(deployment), deployment.target, deployment.state)
                    if deployment.in_progress:
                        in_progress[key] = in_progress.get(key, 0) + 1
                    elif deployment.is_final and deployment.uid not in watermark.counted \
                            and deployment.uid not in scan.counted:
                        scan.counted[deployment.uid] = deployment.created_ms
                        finals[key] = finals.get(key, 0) + 1
                        self._record_durations(ctx, deployment, key)
                if last_page:
                    break
                until = next_until
        finally:
            if not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
        # A production failure series per known project, at 0 before its first failure (the
        # DeployFailed alert reads increase(); a series born at 1 would hide that first failure).
        # Failures counted in this same poll (the history read at start) are its birth value.
        for project in sorted(set(self._project_names.values())):
            ctx.start_counter("vercel.deployments", project=project, target="production", state="ERROR")
        for (project, target, state), count in finals.items():
            ctx.add("vercel.deployments", count, project=project, target=target, state=state)
        ctx.clear_gauge("vercel.deployments.in_progress")
        for (project, target, state), count in in_progress.items():
            ctx.gauge("vercel.deployments.in_progress", count, project=project, target=target, state=state)
        updated = next_watermark(watermark, scan)
        ctx.on_commit(lambda: setattr(self, "_deployments", updated))

    async def _deployments_page(self, since_ms: float, until: float | None) -> tuple[list, float | None]:
        page = await self.http.get_json(
            "/v6/deployments", self._params(limit=PAGE_SIZE, since=_ms_param(since_ms), until=_ms_param(until)),
            operation="deployments")
        return _deployments_page(page)

    @staticmethod
    def _record_durations(ctx: PollContext, deployment: Deployment, key: tuple[str, str, str]) -> None:
        project, target, state = key
        built, created, ready = deployment.building_at_ms, deployment.created_ms, deployment.ready_ms
        if built is not None and ready is not None and ready >= built:
            ctx.record("vercel.deployment.build.duration", (ready - built) / 1000, project=project, state=state)
        if built is not None and built >= created:
            ctx.record("vercel.deployment.queue.duration", (built - created) / 1000, project=project)

    # --- billing ---

    async def poll_billing(self, ctx: PollContext) -> None:
        today = local_day(ctx.now(), BILLING_ZONE)
        recent = today - timedelta(days=BILLING_REFETCH_DAYS - 1)
        # After the first poll: the last days, and any day since the last success (after an outage).
        first = (today - timedelta(days=self.config.history_days) if self._billing_refetch_from is None
                 else min(self._billing_refetch_from, recent))
        end = today + timedelta(days=1)
        totals = ChargeTotals(self.project_name)
        # The API's windows are whole UTC days; a Pacific billing day ends on the next UTC day.
        for window_start, window_end in charge_windows(first, end + timedelta(days=1)):
            await self._read_charges(ctx, window_start, window_end, totals, first, end)
        keys_by_day = totals.keys_by_day()
        day = first
        while day < end:  # every fetched day is replaced, also by nothing when it has no charges
            ctx.replace_cost_day("billed", day, totals.records(keys_by_day.get(day, ())))
            day += ONE_DAY
            await asyncio.sleep(0)
        ctx.cost_history_from(first)
        ctx.on_commit(lambda: setattr(self, "_billing_refetch_from", recent))

    async def _read_charges(self, ctx: PollContext, window_start: date, window_end: date, totals: ChargeTotals,
                            first: date, end: date) -> None:
        """Charges of the UTC-day window [window_start, window_end), kept for billing days first..end-1."""
        params = self._params(**{"from": _iso_day(window_start), "to": _iso_day(window_end)})
        window_from, window_to = day_start(window_start), day_start(window_end)
        last_line_unreadable, count = False, 0
        async with self.http.stream_lines("/v1/billing/charges", params, operation="billing_charges",
                                          headers={"Accept-Encoding": "gzip"}) as lines:
            async for line in lines:
                count += 1
                if count % YIELD_EVERY_LINES == 0:
                    await asyncio.sleep(0)
                try:
                    parsed = json.loads(line)
                except ValueError:
                    last_line_unreadable = True
                    ctx.invalid_item(f"charge line is not JSON: {line[:80]!r}")
                    continue
                last_line_unreadable = False
                try:
                    pieces = parse_charge(parsed)
                except InvalidItem as exc:
                    ctx.invalid_item(f"charge: {exc}")
                    continue
                line_start = pieces[0].period_start if pieces else None
                if line_start is not None and not window_from <= line_start < window_to:
                    continue  # the neighbouring window's line (windows overlap by a day)
                for piece in pieces:
                    if first <= piece.day < end:
                        totals.add(piece)
        if last_line_unreadable:
            # A body cut off mid-line: the charges after it are missing, so no day may be replaced.
            raise ProviderError("malformed", "vercel billing_charges: body ends in an unreadable line")


def _ms_param(value: float | None) -> int | None:
    return None if value is None else int(value)


def _projects_page(page: Any) -> tuple[list, str | None]:
    if not isinstance(page, dict) or not isinstance(page.get("projects"), list):
        raise ProviderError("malformed", "vercel projects: response has no `projects` list")
    pagination = page.get("pagination")
    token = pagination.get("next") if isinstance(pagination, dict) else None
    if token is not None and not isinstance(token, (str, int, float)):
        raise ProviderError("malformed", "vercel projects: `pagination.next` is not a token")
    return page["projects"], (str(token) if token is not None else None)


def _deployments_page(page: Any) -> tuple[list, float | None]:
    if not isinstance(page, dict) or not isinstance(page.get("deployments"), list):
        raise ProviderError("malformed", "vercel deployments: response has no `deployments` list")
    pagination = page.get("pagination")
    next_until = pagination.get("next") if isinstance(pagination, dict) else None
    if next_until is not None and (isinstance(next_until, bool) or not isinstance(next_until, (int, float))):
        raise ProviderError("malformed", "vercel deployments: `pagination.next` is not a timestamp")
    return page["deployments"], (float(next_until) if next_until is not None else None)
