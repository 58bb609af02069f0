"""The simulated Vercel API: projects, deployments and FOCUS 1.3 billing charges.

In detail: exporters/simulator/README.md, "Vercel (`/vercel`)".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import json
import math
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from aiohttp import web

from exporters.simulator import price_fixtures as fixtures
from exporters.simulator.invoice import InvoiceLine, ground_truth
from exporters.simulator.vercel import api as vercel_api
from exporters.simulator.world import World

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MAX_PAGE_SIZE = 100
DEFAULT_PROJECTS_LIMIT = 20
DEFAULT_DEPLOYMENTS_LIMIT = 20
MAX_CHARGES_WINDOW = timedelta(days=366)

TEAM_ACCOUNT_ID = "team_sim0000000000000000"
TEAM_SLUG = "acme"

_PROJECT_BASES = (
    "storefront", "marketing-site", "docs", "dashboard", "api-gateway", "blog", "admin-console",
    "landing", "checkout", "status-page", "design-system", "help-center", "partner-portal",
    "careers", "changelog", "playground", "mobile-web", "analytics-ui", "auth-portal", "search",
)

FINAL_STATES = ("READY", "ERROR", "CANCELED")
# The `deploy-failure` incident (world.CONDITIONS): as a standing condition, 10 % of the
# history's deployments end in ERROR (one of them in progress at the world's start); as a
# scenario, a production deployment of the first project fails when it starts and a fixing
# one becomes READY when it ends. The steady world's deployments never fail.
INCIDENT_PROJECT_INDEX = 0
INCIDENT_QUEUE_MS, INCIDENT_BUILD_MS = 2_000, 4_000


@dataclass(frozen=True, slots=True)
class SimProject:
    index: int
    id: str
    name: str
    created_ms: int
    size: float  # scales this project's usage (and so its cost)


@dataclass(frozen=True, slots=True)
class SimDeployment:
    uid: str
    project: int  # index into the project list
    created_ms: int
    queue_ms: int  # created -> buildingAt
    build_ms: int  # buildingAt -> ready (or the cancel time)
    outcome: str  # READY | ERROR | CANCELED
    production: bool

    @property
    def building_at_ms(self) -> int:
        return self.created_ms + self.queue_ms

    @property
    def final_at_ms(self) -> int:
        return self.building_at_ms + self.build_ms

    def state_at(self, now_ms: int) -> str:
        if now_ms >= self.final_at_ms:
            return self.outcome
        if now_ms >= self.building_at_ms:
            return "BUILDING"
        # The last few seconds before the build starts: the build container initialises.
        if now_ms >= self.building_at_ms - min(5_000, self.queue_ms // 2):
            return "INITIALIZING"
        return "QUEUED"


@dataclass(frozen=True)
class SimService:
    name: str
    category: str
    unit: str  # ConsumedUnit
    unit_price_usd: float  # only to derive a plausible ConsumedQuantity from the cost
    hourly_micro_usd: int  # typical hourly cost of a size-1 project, micro-USD
    project_tag_has_name: bool = True


SERVICES = (  # unit prices: the simulator's fixtures (per 1M invocations/requests, per GB, per minute)
    SimService("Function Invocations", "Compute", "Invocations",
               fixtures.VERCEL_USAGE["Function Invocations"].usd / 1_000_000, 4_000),
    SimService("Edge Requests", "Networking", "Requests", fixtures.VERCEL_USAGE["Edge Requests"].usd / 1_000_000,
               2_500),
    SimService("Fast Data Transfer", "Networking", "GB", fixtures.VERCEL_USAGE["Fast Data Transfer"].usd, 6_000),
    SimService("Build Minutes", "Developer Tools", "Minutes", fixtures.VERCEL_USAGE["Build Minutes"].usd, 1_500,
               project_tag_has_name=False),
)
BILLING_ZONE = ZoneInfo("America/Los_Angeles")  # Vercel's billing days are Pacific days
LIST_MARKUP = {"Fast Data Transfer": (10, 9)}  # ListCost = BilledCost × 10 / 9: billed 10 % under list
EFFECTIVE_SHARE = {"Function Invocations": (95, 100)}  # EffectiveCost = BilledCost × 95 %
SEATS = 3  # Pro seats of the simulated team
TEAM = "(team)"  # how stackwatch names charges without a project
# The service whose cost jumps in the cost-spike scenario (a runaway function).
SPIKE_SERVICE = "Function Invocations"
SPIKE_FACTOR = 6


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def billing_day_start(day: date) -> datetime:
    """When Vercel's billing day `day` starts, in UTC (Pacific midnight)."""
    return datetime(day.year, day.month, day.day, tzinfo=BILLING_ZONE).astimezone(timezone.utc)


def billing_day_of(moment: datetime) -> date:
    return moment.astimezone(BILLING_ZONE).date()


def _usd(micro: int) -> str:
    sign, micro = ("-", -micro) if micro < 0 else ("", micro)
    return f"{sign}{micro // 1_000_000}.{micro % 1_000_000:06d}"


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def _ident(rng, prefix: str, length: int) -> str:  # type: ignore[no-untyped-def]
    """A Vercel-looking id: one random draw, written in base 56 (fast at scale)."""
    number, digits = rng.getrandbits(6 * length), []
    for _ in range(length):
        number, digit = divmod(number, len(_ID_ALPHABET))
        digits.append(_ID_ALPHABET[digit])
    return prefix + "".join(digits)


def _poisson(rng, mean: float) -> int:  # type: ignore[no-untyped-def]
    # Knuth's method: fine for the small daily means used here.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def project_list(world: World) -> list[SimProject]:
    """The team's projects (also used by the drain sender)."""
    epoch_ms = _ms(world.epoch())
    projects = []
    for i in range(world.scale.vercel_projects):
        rng = world.rng("vercel", "project", i)
        base = _PROJECT_BASES[i % len(_PROJECT_BASES)]
        name = base if i < len(_PROJECT_BASES) else f"{base}-{i // len(_PROJECT_BASES) + 1}"
        projects.append(SimProject(index=i, id=_ident(rng, "prj_", 28), name=name,
                                   created_ms=epoch_ms - rng.randint(30, 400) * DAY_MS,
                                   size=round(rng.uniform(0.3, 3.0), 3)))
    return projects


class VercelSim:
    name = "vercel"
    prefix = "/vercel"
    # What the demo config (simulator_config) sets for it: its ids and its monthly budget.
    demo_settings = {"team_id": TEAM_ACCOUNT_ID}
    demo_budget_usd = 200

    def __init__(self, world: World):
        self.world = world
        self.projects = project_list(world)
        self._epoch = world.epoch()
        self._epoch_day = self._epoch.date()
        self._anchor_ms = _ms(self._anchor())
        # Deployments of the generated days, sorted by created (unique ms); grown day by day.
        self._deployments: list[SimDeployment] = []
        self._created: list[int] = []
        self._days_generated = 0
        self._incident_uids: set[str] = set()
        # Hourly micro-USD cost by day index: one row per project, one column per service.
        self._hourly: dict[int, list[list[int]]] = {}
        self._line_prefixes = [[self._line_prefix(p, s) for s in SERVICES] for p in self.projects]

    def _anchor(self) -> datetime:
        """The world's start (what `World.epoch` counts from)."""
        if self.world.start is not None:
            return self.world.start
        return datetime.fromtimestamp(self.world._wall_at_start, tz=timezone.utc)  # noqa: SLF001

    # --- routes ---

    def routes(self) -> list[web.RouteDef]:
        return [  # every call checks the team scope (`teamId` or `slug`), as Vercel does
            web.get(f"{self.prefix}/v10/projects", vercel_api.scoped(self._projects, TEAM_ACCOUNT_ID, TEAM_SLUG)),
            web.get(f"{self.prefix}/v6/deployments",
                    vercel_api.scoped(self._deployments_route, TEAM_ACCOUNT_ID, TEAM_SLUG)),
            web.get(f"{self.prefix}/v1/billing/charges", vercel_api.scoped(self._charges, TEAM_ACCOUNT_ID, TEAM_SLUG)),
            web.get(f"{self.prefix}/v1/drains", vercel_api.scoped(self._drains, TEAM_ACCOUNT_ID, TEAM_SLUG)),
        ]

    async def _drains(self, request: web.Request) -> web.Response:
        created = min((p.created_ms for p in self.projects), default=0)
        return vercel_api.drains(request.query, TEAM_ACCOUNT_ID, [p.id for p in self.projects], created)

    def rate_limit_headers(self, limit: int, remaining: int, reset_in_s: float) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(int(math.ceil(self.world.now_ts() + reset_in_s)))}

    # --- projects ---

    async def _projects(self, request: web.Request) -> web.Response:
        try:
            limit = _limit(request.query.get("limit"), DEFAULT_PROJECTS_LIMIT)
            offset = _decode_token(request.query.get("from"))
            search = vercel_api.project_search(request.query)
        except ValueError as exc:
            return _bad_request(str(exc))
        projects = [p for p in self.projects if search is None or search in p.name.lower()]
        page = projects[offset:offset + limit]
        more = offset + limit < len(projects)
        body = {"projects": [self._project_json(p) for p in page],
                "pagination": {"count": len(page), "next": _encode_token(offset + limit) if more else None}}
        return web.json_response(body)

    def _project_json(self, project: SimProject) -> dict:
        regions = {"functionDefaultRegions": ["iad1"]}
        return {"accountId": TEAM_ACCOUNT_ID, "directoryListing": False, "id": project.id,
                "name": project.name, "nodeVersion": "22.x", "resourceConfig": dict(regions),
                "defaultResourceConfig": dict(regions), "createdAt": project.created_ms,
                "updatedAt": project.created_ms + DAY_MS}

    # --- deployments ---

    def _generate_until(self, now_ms: int) -> None:
        """Generate whole days of deployments up to the day containing `now_ms`."""
        epoch_ms = _ms(self._epoch)
        last_day = (now_ms - epoch_ms) // DAY_MS
        while self._days_generated <= last_day:
            day = self._days_generated
            batch = self._day_deployments(day, epoch_ms + day * DAY_MS)
            for deployment in batch:
                self._deployments.append(deployment)
                self._created.append(deployment.created_ms)
            self._days_generated += 1
        self._add_incident_deployments(epoch_ms + self._days_generated * DAY_MS)

    def _add_incident_deployments(self, generated_to_ms: int) -> None:
        """Add the deployments of every `deploy-failure` run so far (in generated days) to the first
        project: failing production attempts while it runs, a fixing one when it ends."""
        if not self.projects:
            return
        for at, failed in self.world.incident_deploys("vercel"):
            outcome = "ERROR" if failed else "READY"
            uid = _ident(self.world.rng("vercel", "incident-deployment", at, outcome), "dpl_", 28)
            created = int(at * 1000)
            if uid in self._incident_uids or created >= generated_to_ms:
                continue
            position = bisect.bisect_left(self._created, created)
            while position < len(self._created) and self._created[position] == created:
                created += 1  # unique created ms, as generated ones (`until` paging never skips a tie)
                position += 1
            self._created.insert(position, created)
            self._deployments.insert(position, SimDeployment(
                uid, INCIDENT_PROJECT_INDEX, created, INCIDENT_QUEUE_MS, INCIDENT_BUILD_MS, outcome, True))
            self._incident_uids.add(uid)

    def _day_deployments(self, day: int, day_ms: int) -> list[SimDeployment]:
        mean = self.world.scale.vercel_deployments_per_project_per_day
        drafts: list[tuple[int, int, int, int, str, bool, str]] = []
        for project in self.projects:
            rng = self.world.rng("vercel", "deployments", project.index, day)
            for _ in range(_poisson(rng, mean)):
                offset = rng.randrange(1_000, DAY_MS - 1_000)
                roll = rng.random()
                outcome = "READY" if roll < 0.85 else ("ERROR" if roll < 0.95 else "CANCELED")
                if outcome == "ERROR" and "deploy-failure" not in self.world.incidents:
                    outcome = "READY"  # the same schedule, healthy
                drafts.append((day_ms + offset, project.index, rng.randint(2_000, 60_000),
                               rng.randint(20_000, 420_000), outcome, rng.random() < 0.6,
                               _ident(rng, "dpl_", 28)))
        drafts += [d for d in self._anchored() if day_ms <= d[0] < day_ms + DAY_MS]
        if "deploy-failure" not in self.world.incidents:  # the anchored failing one builds fine
            drafts = [(*d[:4], "READY" if d[4] == "ERROR" else d[4], *d[5:]) for d in drafts]
        drafts.sort()
        deployments, last = [], -1
        for created, project, queue, build, outcome, production, uid in drafts:
            created = max(created, last + 1)  # unique created ms, so `until` paging never skips a tie
            last = created
            deployments.append(SimDeployment(uid, project, created, queue, build, outcome, production))
        return deployments

    def _anchored(self) -> list[tuple[int, int, int, int, str, bool, str]]:
        """Deployments in progress at the world's start, final a few minutes later."""
        if not self.projects:
            return []
        a, n = self._anchor_ms, len(self.projects)
        return [
            (a - 10_000, 0 % n, 45_000, 150_000, "READY", True, "dpl_simAnchoredQueued000000000"),
            (a - 100_000, 1 % n, 15_000, 200_000, "READY", False, "dpl_simAnchoredBuilding00000000"),
            (a - 200_000, 2 % n, 20_000, 300_000, "ERROR", True, "dpl_simAnchoredFailing000000000"),
        ]

    def visible_deployments(self, now_ms: int | None = None) -> list[SimDeployment]:
        now_ms = _ms(self.world.now()) if now_ms is None else now_ms
        self._generate_until(now_ms)
        return self._deployments[:bisect.bisect_right(self._created, now_ms)]

    async def _deployments_route(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            limit = _limit(query.get("limit"), DEFAULT_DEPLOYMENTS_LIMIT)
            since_raw, until_raw = vercel_api.since_until(query)
            since = _number(since_raw)
            until = _number(until_raw)
            now_ms = _ms(self.world.now())
            filters = self._filters(query, now_ms)
        except ValueError as exc:
            return _bad_request(str(exc))
        self._generate_until(now_ms)
        hi = bisect.bisect_right(self._created, now_ms)
        if until is not None:
            hi = min(hi, bisect.bisect_left(self._created, math.ceil(until)))
        lo = 0 if since is None else bisect.bisect_right(self._created, math.floor(since))
        page: list[SimDeployment] = []
        more = False
        for i in range(hi - 1, lo - 1, -1):  # newest first
            deployment = self._deployments[i]
            if not all(f(deployment) for f in filters):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(deployment)
        body = {"pagination": {"count": len(page),
                               "next": page[-1].created_ms if more and page else None,
                               "prev": page[0].created_ms if page else None},
                "deployments": [self._deployment_json(d, now_ms) for d in page]}
        return web.json_response(body)

    def _filters(self, query, now_ms: int) -> list:  # type: ignore[no-untyped-def]
        """The documented filters present in `query` (vercel/api.py); ValueError for invalid ones."""
        filters = []
        if (projects := vercel_api.project_filter(query)) is not None:
            ids = {p.index for p in self.projects if {p.id, p.name} & projects}
            filters.append(lambda d: d.project in ids)
        if app := query.get("app"):
            filters.append(lambda d: self.projects[d.project].name == app)
        if target := query.get("target"):
            filters.append(lambda d: ("production" if d.production else "preview") == target)
        if (wanted := vercel_api.deployment_states(query)) is not None:
            filters.append(lambda d: d.state_at(now_ms) in wanted)
        return filters

    def _deployment_json(self, deployment: SimDeployment, now_ms: int) -> dict:
        project = self.projects[deployment.project]
        state = deployment.state_at(now_ms)
        body: dict = {
            "uid": deployment.uid, "name": project.name, "projectId": project.id,
            "url": f"{project.name}-{deployment.uid[4:13].lower()}-{TEAM_SLUG}.vercel.app",
            "created": deployment.created_ms, "createdAt": deployment.created_ms,
            "type": "LAMBDAS", "state": state, "readyState": state,
            "creator": {"uid": "usr_sim0000000000000000000", "username": "deploy-bot"},
            "inspectorUrl": f"https://vercel.com/{TEAM_SLUG}/{project.name}/{deployment.uid[4:]}",
        }
        if deployment.production:
            # A preview deployment has no target. Vercel sends null, but the published schema's
            # enum (production, staging) rejects null, so the simulator leaves the key out.
            body["target"] = "production"
        if now_ms >= deployment.building_at_ms:
            body["buildingAt"] = deployment.building_at_ms
        if state in ("READY", "ERROR"):
            body["ready"] = deployment.final_at_ms
        if state == "ERROR":
            body["errorCode"] = "BUILD_FAILED"
        return body

    # --- billing charges ---

    def _hourly_costs(self, day_index: int) -> list[list[int]]:
        """Hourly micro-USD cost of each project × service on one day (cached)."""
        rows = self._hourly.get(day_index)
        if rows is None:
            rows = []
            for project in self.projects:
                rng = self.world.rng("vercel", "charges", project.index, day_index)
                rows.append([max(1, int(s.hourly_micro_usd * project.size * rng.uniform(0.6, 1.4)))
                             for s in SERVICES])
            self._hourly[day_index] = rows
        return rows

    def _charge_micro(self, day: date, project: int, service: int, now_ms: int) -> int:
        """Micro-USD charged for one project, service and billing day, through the completed hours."""
        day_ms = _ms(billing_day_start(day))
        day_hours = (_ms(billing_day_start(day + timedelta(days=1))) - day_ms) // HOUR_MS  # 23, 24 or 25
        hours = max(0, min(day_hours, (now_ms - day_ms) // HOUR_MS))
        hourly = self._hourly_costs((day - self._epoch_day).days)[project][service]
        if SERVICES[service].name != SPIKE_SERVICE or not self.world.scenario_applies("cost-spike", "vercel"):
            return hourly * hours
        spike_from_ms = self.world.since("cost-spike") * 1000
        total = 0
        for hour in range(hours):
            hour_end = day_ms + (hour + 1) * HOUR_MS
            total += hourly * (SPIKE_FACTOR if hour_end > spike_from_ms else 1)
        return total

    def _charge_days(self, start: datetime, end: datetime, now_ms: int) -> list[date]:
        """The billing (Pacific) days whose period overlaps [start, end) and has begun by now."""
        today = billing_day_of(datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc))
        first = max(billing_day_of(start), self._epoch_day)
        days, day = [], first
        while day <= today and billing_day_start(day) < end:
            if billing_day_start(day + timedelta(days=1)) > start:
                days.append(day)
            day += timedelta(days=1)
        return days

    @staticmethod
    def _costs(service: SimService, micro: int) -> tuple[int, int, int]:
        """(billed, effective, list) micro-USD of a usage line."""
        num, den = EFFECTIVE_SHARE.get(service.name, (1, 1))
        list_num, list_den = LIST_MARKUP.get(service.name, (1, 1))
        return micro, micro * num // den, micro * list_num // list_den

    def plan_lines(self, day: date) -> list[tuple[str, str, int, int, str]]:
        """(ServiceName, ChargeCategory, billed micro-USD, quantity, unit) of the month's seats and credit,
        on the first billing day of each month."""
        if day.day != 1:
            return []
        seat = round(fixtures.VERCEL_SEAT.usd * 1_000_000)
        credit = round(fixtures.VERCEL_USAGE_CREDIT.usd * 1_000_000)
        return [("Vercel Pro", "Purchase", SEATS * seat, SEATS, "Seats"),
                ("Vercel Pro", "Credit", -credit, 1, "Credits")]

    def _plan_json(self, day: date) -> list[str]:
        month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        lines = []
        for service, category, micro, quantity, unit in self.plan_lines(day):
            list_cost = "0.000000" if category == "Credit" else _usd(micro)
            line = {"BillingCurrency": "USD", "ChargeCategory": category, "ChargeFrequency": "Recurring",
                    "ServiceName": service, "ServiceCategory": "Developer Tools", "ServiceProviderName": "Vercel",
                    "HostProviderName": "Vercel", "InvoiceIssuerName": "Vercel", "PricingUnit": unit,
                    "ConsumedUnit": unit, "ChargeDescription": "Pro seats" if category == "Purchase"
                    else "Pro usage credit", "Tags": {},
                    "ChargePeriodStart": _iso(billing_day_start(day)),
                    "ChargePeriodEnd": _iso(billing_day_start(month_end))}
            text = json.dumps(line, separators=(",", ":"))[:-1]
            lines.append(f'{text},"BilledCost":{_usd(micro)},"EffectiveCost":{_usd(micro)},"ListCost":{list_cost}'
                         f',"ConsumedQuantity":{quantity},"PricingQuantity":{quantity}}}\n')
        return lines

    def _line_prefix(self, project: SimProject, service: SimService) -> str:
        tags = {"ProjectId": project.id}
        if service.project_tag_has_name:
            tags["ProjectName"] = project.name
        fixed = {"BillingCurrency": "USD", "ChargeCategory": "Usage", "ChargeClass": None,
                 "PricingCategory": "Standard", "PricingUnit": service.unit, "ConsumedUnit": service.unit,
                 "ServiceName": service.name, "ServiceCategory": service.category,
                 "ServiceProviderName": "Vercel", "HostProviderName": "Vercel", "InvoiceIssuerName": "Vercel",
                 "RegionId": "iad1", "RegionName": "Washington, D.C., USA", "ResourceType": "Project",
                 "Tags": tags}
        return json.dumps(fixed, separators=(",", ":"))[:-1]  # open object: per-day fields follow

    def charge_lines(self, start: datetime, end: datetime, now_ms: int):  # type: ignore[no-untyped-def]
        """JSONL lines (with newlines), day by day, for charges in [start, end)."""
        for day in self._charge_days(start, end, now_ms):
            period = (f',"ChargePeriodStart":"{_iso(billing_day_start(day))}"'
                      f',"ChargePeriodEnd":"{_iso(billing_day_start(day + timedelta(days=1)))}"')
            chunk = self._plan_json(day)
            for p in range(len(self.projects)):
                for s, service in enumerate(SERVICES):
                    micro = self._charge_micro(day, p, s, now_ms)
                    if micro <= 0:
                        continue
                    billed, effective, listed = self._costs(service, micro)
                    quantity = round(listed / 1_000_000 / service.unit_price_usd, 3)
                    chunk.append(f'{self._line_prefixes[p][s]},"BilledCost":{_usd(billed)}'
                                 f',"EffectiveCost":{_usd(effective)},"ListCost":{_usd(listed)}'
                                 f',"ConsumedQuantity":{quantity},"PricingQuantity":{quantity}{period}}}\n')
            if chunk:
                yield "".join(chunk)

    async def _charges(self, request: web.Request) -> web.Response:
        try:
            start = _parse_iso(request.query.get("from"), "from")
            end = _parse_iso(request.query.get("to"), "to")
        except ValueError as exc:
            return _bad_request(str(exc))
        if end <= start:
            return _bad_request("`to` must be after `from`")
        if end - start > MAX_CHARGES_WINDOW:
            return _bad_request("the range between `from` and `to` must not exceed one year")
        now_ms = _ms(self.world.now())
        gzip_ok = "gzip" in request.headers.get("Accept-Encoding", "").lower()
        # Compress day by day so only the compressed body is ever held (tens of MB raw at scale).
        compressor = zlib.compressobj(3, zlib.DEFLATED, 31) if gzip_ok else None
        parts: list[bytes] = []
        for chunk in self.charge_lines(start, end, now_ms):
            data = chunk.encode()
            parts.append(compressor.compress(data) if compressor else data)
            # A day at a time, then let other requests through: Vercel's API serves
            # concurrent calls concurrently, and a benchmark must not measure our loop.
            await asyncio.sleep(0)
        if compressor:
            parts.append(compressor.flush())
        headers = {"Content-Encoding": "gzip"} if gzip_ok else {}
        return web.Response(body=b"".join(parts), headers=headers, content_type="application/jsonl")

    # --- ground truth and minimum requests ---

    def today(self) -> date:
        """The current billing (Pacific) day."""
        return billing_day_of(self.world.now())

    def invoice_lines(self) -> list[InvoiceLine]:
        """Vercel's invoice for the current (Pacific) month so far, by billing day: all billed, all priced."""
        now_ms = _ms(self.world.now())
        today = self.today()
        month_start = today.replace(day=1)
        lines = []
        for day in self._charge_days(billing_day_start(month_start), billing_day_start(today + timedelta(days=1)),
                                     now_ms):
            for service, category, micro, _quantity, _unit in self.plan_lines(day):
                lines.append(InvoiceLine(day, TEAM, f"{service} {category}", micro / 1e6, category=category))
            for p, project in enumerate(self.projects):
                for s, service in enumerate(SERVICES):
                    micro = self._charge_micro(day, p, s, now_ms)
                    if micro > 0:
                        lines.append(InvoiceLine(day, project.name, service.name, micro / 1e6))
        return lines

    def ground_truth(self) -> dict:
        return ground_truth(self.invoice_lines(), self.today(), projects=[p.name for p in self.projects])

    def minimum_requests(self, page_sizes: dict[str, int] | None = None) -> dict[str, int]:
        sizes = {"projects": MAX_PAGE_SIZE, "deployments": MAX_PAGE_SIZE, **(page_sizes or {})}
        history_from = _ms(self.world.history_start())
        in_history = sum(1 for d in self.visible_deployments() if d.created_ms > history_from)
        return {"projects": max(1, math.ceil(len(self.projects) / sizes["projects"])),
                "deployments": max(1, math.ceil(in_history / sizes["deployments"])),
                "billing": 1}


# --- query parsing ---

def _bad_request(message: str) -> web.Response:
    return web.json_response({"error": {"code": "bad_request", "message": message}}, status=400)


def _limit(raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise ValueError("`limit` must be a number") from None
    if value < 1:
        raise ValueError("`limit` must be at least 1")
    return min(value, MAX_PAGE_SIZE)


def _number(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a millisecond timestamp, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"expected a millisecond timestamp, got {raw!r}")
    return value


def _encode_token(offset: int) -> str:
    return base64.b32encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.b32decode(token + "=" * (-len(token) % 8)).decode()
        kind, _, number = text.partition(":")
        if kind != "offset":
            raise ValueError
        return max(0, int(number))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("`from` is not a valid continuation token") from None


def _parse_iso(raw: str | None, name: str) -> datetime:
    if not raw:
        raise ValueError(f"`{name}` is required (ISO-8601 UTC)")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"`{name}` must be an ISO-8601 date-time") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
