"""The simulated OpenAI organisation API's request handling: what OpenAI accepts and how it answers.

In detail: exporters/simulator/README.md, "OpenAI (`/openai/v1`)".
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from exporters.simulator.openai.usage import SPIKE_MODEL, Organisation, Usage
from exporters.simulator.params import array_param, parse_bool, parse_int, scalar_param, unknown_values

MINUTES_PER_DAY = 1440
DAY_S = 86400


@dataclass(frozen=True)
class Width:
    name: str
    seconds: int
    default_limit: int
    max_limit: int


# Documented limits (OpenAI API reference, SDK docstrings; docs/providers/openai.md).
USAGE_WIDTHS = {w.name: w for w in (Width("1m", 60, 60, 1440), Width("1h", 3600, 24, 168),
                                    Width("1d", DAY_S, 7, 31))}
COSTS_WIDTHS = {"1d": Width("1d", DAY_S, 7, 180)}
LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT = 20, 100  # /organization/projects and api_keys

# Filter parameter -> the dimension it filters.
FILTERS = {"project_ids": "project_id", "user_ids": "user_id", "api_key_ids": "api_key_id", "models": "model",
           "sources": "source", "sizes": "size", "line_items": "line_item", "vector_store_ids": "vector_store_id",
           "context_levels": "context_level"}
CONTEXT_LEVELS = ("low", "medium", "high")
UNLABELED = "unlabeled"  # api_source of activity not attributed to the Agents API (all simulated usage)
IMAGE_SOURCES = ("image.generation", "image.edit", "image.variation")
IMAGE_SIZES = ("256x256", "512x512", "1024x1024", "1792x1792", "1024x1792")


@dataclass(frozen=True)
class Endpoint:
    """One usage (or costs) endpoint: its result object, groupings, filters and metric fields."""

    path: str
    object: str
    groups: tuple[str, ...]
    filters: tuple[str, ...]
    metrics: tuple[str, ...]
    widths: dict[str, Width] = field(default_factory=lambda: USAGE_WIDTHS)
    # Result fields that exist in this object besides its metrics (null unless grouped by them).
    dims: tuple[str, ...] = ("project_id", "user_id", "api_key_id", "model")


_PEOPLE = ("project_id", "user_id", "api_key_id", "model")
_PEOPLE_FILTERS = ("project_ids", "user_ids", "api_key_ids", "models")
ENDPOINTS: dict[str, Endpoint] = {e.path: e for e in (
    Endpoint("usage/completions", "organization.usage.completions.result",
             _PEOPLE + ("batch", "service_tier", "api_source"), _PEOPLE_FILTERS,
             ("input_tokens", "input_cached_tokens", "output_tokens", "num_model_requests"),
             dims=_PEOPLE + ("batch", "service_tier", "api_source")),
    Endpoint("usage/embeddings", "organization.usage.embeddings.result", _PEOPLE, _PEOPLE_FILTERS,
             ("input_tokens", "num_model_requests")),
    Endpoint("usage/moderations", "organization.usage.moderations.result", _PEOPLE, _PEOPLE_FILTERS,
             ("input_tokens", "num_model_requests")),
    Endpoint("usage/images", "organization.usage.images.result", _PEOPLE + ("size", "source"),
             _PEOPLE_FILTERS + ("sources", "sizes"), ("images", "num_model_requests"),
             dims=_PEOPLE + ("size", "source")),
    Endpoint("usage/audio_speeches", "organization.usage.audio_speeches.result", _PEOPLE, _PEOPLE_FILTERS,
             ("characters", "num_model_requests")),
    Endpoint("usage/audio_transcriptions", "organization.usage.audio_transcriptions.result", _PEOPLE,
             _PEOPLE_FILTERS, ("seconds", "num_model_requests")),
    Endpoint("usage/vector_stores", "organization.usage.vector_stores.result", ("project_id",),
             ("project_ids",), ("usage_bytes",), dims=("project_id",)),
    Endpoint("usage/code_interpreter_sessions", "organization.usage.code_interpreter_sessions.result",
             ("project_id",), ("project_ids",), ("num_sessions",), dims=("project_id",)),
    Endpoint("usage/file_search_calls", "organization.usage.file_searches.result",
             ("project_id", "user_id", "api_key_id", "vector_store_id"),
             ("project_ids", "user_ids", "api_key_ids", "vector_store_ids"), ("num_requests",),
             dims=("project_id", "user_id", "api_key_id", "vector_store_id")),
    Endpoint("usage/web_search_calls", "organization.usage.web_searches.result",
             _PEOPLE + ("context_level", "api_source"), _PEOPLE_FILTERS + ("context_levels",),
             ("num_requests", "num_model_requests"), dims=_PEOPLE + ("context_level", "api_source")),
    # user_id and api_source groupings: SDK 3.x documents them for costs (the vendored 2.3.0 document does not).
    Endpoint("costs", "organization.costs.result", ("project_id", "line_item", "api_key_id", "user_id", "api_source"),
             ("project_ids", "api_key_ids", "line_items"), ("amount", "quantity"), widths=COSTS_WIDTHS,
             dims=("project_id", "line_item", "api_key_id", "user_id", "api_source")),
)}

# The extra (uncosted) usage kinds each project has every day: (endpoint, model, daily range of the metric).
EXTRA_USAGE = {
    "usage/moderations": ("omni-moderation-latest", "input_tokens", (20_000, 400_000), 500),
    "usage/images": ("gpt-image-1", "images", (5, 120), 1),
    "usage/audio_speeches": ("tts-1", "characters", (10_000, 300_000), 800),
    "usage/audio_transcriptions": ("whisper-1", "seconds", (600, 20_000), 90),
    "usage/code_interpreter_sessions": (None, "num_sessions", (1, 40), 1),
    "usage/file_search_calls": (None, "num_requests", (5, 400), 1),
    "usage/web_search_calls": ("gpt-4o-search-preview", "num_requests", (2, 200), 1),
}


def error(status: int, message: str, *, param: str | None = None, code: str | None = None,
          type_: str = "invalid_request_error") -> web.Response:
    """OpenAI's error object."""
    return web.json_response({"error": {"message": message, "type": type_, "param": param, "code": code}},
                             status=status)


class BadParam(Exception):
    def __init__(self, param: str, message: str, code: str | None = None):
        super().__init__(message)
        self.param, self.message, self.code = param, message, code


# --- the organisation's directory: projects, users, API keys ---

@dataclass(frozen=True)
class ApiKey:
    id: str
    project: str
    name: str
    owner_type: str  # "user" | "service_account"
    owner_id: str
    owner_name: str
    created_at: int


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    created_at: int
    archived_at: int | None


class Directory:
    """Deterministic projects, users and keys: every usage row belongs to one key of its project."""

    def __init__(self, sim: Organisation):
        world = sim.world
        origin = int(world.history_start().timestamp()) - 30 * DAY_S
        self.projects = [Project(pid, f"Simulated project {i + 1}", origin + i * 3600, None)
                         for i, pid in enumerate(sim.projects)]
        archived_id = f"proj_simarch{world.rng('openai', 'archived').getrandbits(32):08x}"
        self.projects.append(Project(archived_id, "Archived project", origin - DAY_S, origin + DAY_S))
        self.keys: dict[str, list[ApiKey]] = {}
        for project in self.projects:
            rng = world.rng("openai", "keys", project.id)
            keys = []
            for n in range(1 + rng.randint(0, 2)):
                service = n == 2
                owner = f"user-sim{rng.getrandbits(40):010x}" if not service else f"svc_acct_sim{rng.getrandbits(40):010x}"
                keys.append(ApiKey(f"key_sim{rng.getrandbits(48):012x}", project.id,
                                   f"{'ci' if service else 'dev'}-key-{n + 1}",
                                   "service_account" if service else "user", owner,
                                   f"Service account {n + 1}" if service else f"Simulated user {n + 1}",
                                   project.created_at + n * 60))
            self.keys[project.id] = keys
        self._world = world
        self._key_for: dict[tuple[str, str | None], ApiKey] = {}

    def active_projects(self) -> list[Project]:
        return [p for p in self.projects if p.archived_at is None]

    def key_for(self, project: str, model: str | None) -> ApiKey:
        """The key a project uses for a model (stable, so usage and costs agree per key)."""
        cached = self._key_for.get((project, model))
        if cached is None:  # memoised: a seeded RNG per row and bucket cost ~15 % of a 1,440-bucket page
            keys = self.keys[project]
            cached = keys[self._world.rng("openai", "key-for", project, model or "").randrange(len(keys))]
            self._key_for[(project, model)] = cached
        return cached

    def user_of(self, key: ApiKey) -> str:
        """The user a key's usage is attributed to: its owner (a service account's id for its keys)."""
        return key.owner_id


# --- parsed queries ---

@dataclass(frozen=True)
class UsageQuery:
    start: int
    end: int | None
    width: Width
    limit: int
    group_by: tuple[str, ...]
    filters: dict[str, frozenset[str]]
    batch: bool | None
    cursor: int | None

    @classmethod
    def parse(cls, q: MultiMapping[str], endpoint: Endpoint) -> UsageQuery:
        if "start_time" not in q:  # OpenAI's wording for a missing query parameter (its code is null)
            raise BadParam("start_time", "Missing query parameter 'start_time'")
        start = parse_int(scalar_param(q, "start_time"))
        if start is None or start < 0:
            raise BadParam("start_time", "start_time must be a Unix timestamp in seconds")
        end = None
        if "end_time" in q:
            end = parse_int(scalar_param(q, "end_time"))
            if end is None or end <= start:
                raise BadParam("end_time", "end_time must be a Unix timestamp in seconds after start_time")
        width_name = scalar_param(q, "bucket_width") or "1d"
        width = endpoint.widths.get(width_name)
        if width is None:
            raise BadParam("bucket_width", f"Invalid bucket_width {width_name!r}: expected one of "
                           + ", ".join(endpoint.widths))
        limit = width.default_limit
        if "limit" in q:
            parsed = parse_int(scalar_param(q, "limit"))
            if parsed is None or not 1 <= parsed <= width.max_limit:
                raise BadParam("limit", f"limit must be an integer between 1 and {width.max_limit} "
                               f"for bucket_width={width.name}")
            limit = parsed
        group_by = tuple(array_param(q, "group_by"))
        if bad := unknown_values(group_by, endpoint.groups):
            raise BadParam("group_by", f"Invalid group_by {bad[0]!r}: expected any of " + ", ".join(endpoint.groups))
        filters = {name: frozenset(values) for name in endpoint.filters if (values := array_param(q, name))}
        for name, allowed in (("sources", IMAGE_SOURCES), ("sizes", IMAGE_SIZES), ("context_levels", CONTEXT_LEVELS)):
            if name in filters and (bad := unknown_values(filters[name], allowed)):
                raise BadParam(name, f"Invalid {name[:-1]} {bad[0]!r}: expected one of " + ", ".join(allowed))
        batch = None
        if "batch" in endpoint.groups and "batch" in q:
            try:
                batch = parse_bool(scalar_param(q, "batch"))
            except ValueError as exc:
                raise BadParam("batch", f"batch must be true or false: {exc}") from None
        cursor = None
        if "page" in q:
            cursor = decode_cursor(scalar_param(q, "page") or "")
            if cursor is None:
                raise BadParam("page", "Invalid page cursor")
        return cls(start, end, width, limit, group_by, filters, batch, cursor)


def encode_cursor(start: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"bucket:{start}".encode()).decode()


def decode_cursor(cursor: str) -> int | None:
    if not cursor.startswith("page_"):
        return None
    try:
        text = base64.urlsafe_b64decode(cursor[5:].encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, _, value = text.partition(":")
    return int(value) if kind == "bucket" and value.isdigit() else None


# --- records: one row of usage or cost, before grouping ---

Record = tuple[dict[str, Any], dict[str, float]]  # (dimensions, metrics)


class OpenAIApi:
    def __init__(self, sim: Organisation, prefix: str):
        self.sim = sim
        self.prefix = prefix
        self.directory = Directory(sim)
        # Whether /organization/costs includes the current, partial day (OpenAI's does; off by
        # default because stackwatch's ground truth counts today at the usage estimate).
        self.costs_include_today = False

    def routes(self) -> list[web.RouteDef]:
        p = self.prefix
        routes = [web.get(f"{p}/organization/{path}", self._handler(endpoint)) for path, endpoint in ENDPOINTS.items()]
        routes += [web.get(f"{p}/organization/projects", self._projects),
                   web.get(f"{p}/organization/projects/{{project_id}}", self._project),
                   web.get(f"{p}/organization/projects/{{project_id}}/api_keys", self._api_keys),
                   web.get(f"{p}/organization/projects/{{project_id}}/api_keys/{{key_id}}", self._api_key)]
        return routes

    # --- usage and costs ---

    def _handler(self, endpoint: Endpoint) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            try:
                query = UsageQuery.parse(request.query, endpoint)
            except BadParam as exc:
                return error(400, exc.message, param=exc.param, code=exc.code)
            starts, has_more = self._bucket_starts(query)
            step = query.width.seconds
            data = []
            for start in starts:
                data.append(self._bucket(endpoint, query, start, step))
                await asyncio.sleep(0)  # a 1,440-bucket or 180-day page must not stall other requests
            return web.json_response(self._envelope(data, starts, has_more, step))
        return handle

    def page(self, endpoint: Endpoint, query: UsageQuery) -> dict:
        """Buckets from the query's start (or cursor) up to the one containing now (or end_time)."""
        starts, has_more = self._bucket_starts(query)
        step = query.width.seconds
        return self._envelope([self._bucket(endpoint, query, s, step) for s in starts], starts, has_more, step)

    def _bucket_starts(self, query: UsageQuery) -> tuple[list[int], bool]:
        """This page's bucket starts, and whether another page follows."""
        step = query.width.seconds
        now = self.sim.world.now().timestamp()
        end = min(query.end, now) if query.end is not None else now
        bucket = query.cursor if query.cursor is not None else query.start - query.start % step
        starts = []
        while bucket < end and len(starts) < query.limit + 1:
            starts.append(bucket)
            bucket += step
        return starts[:query.limit], len(starts) > query.limit

    def _bucket(self, endpoint: Endpoint, query: UsageQuery, start: int, step: int) -> dict:
        return {"object": "bucket", "start_time": start, "end_time": start + step,
                "results": self.results(endpoint, query, start, start + step)}

    @staticmethod
    def _envelope(data: list[dict], starts: list[int], has_more: bool, step: int) -> dict:
        return {"object": "page", "data": data, "has_more": has_more,
                "next_page": encode_cursor(starts[-1] + step) if has_more else None}

    def results(self, endpoint: Endpoint, query: UsageQuery, start: int, end: int) -> list[dict]:
        records = self.records(endpoint, start, end)
        grouped: dict[tuple, dict[str, float]] = {}
        for dims, metrics in records:
            if any(dims.get(FILTERS[name]) not in allowed for name, allowed in query.filters.items()):
                continue
            if query.batch is not None and dims.get("batch") != query.batch:
                continue
            key = tuple(dims.get(d) if d in query.group_by else None for d in endpoint.dims)
            totals = grouped.setdefault(key, {})
            for name, value in metrics.items():
                totals[name] = totals.get(name, 0) + value
        out = [self._result(endpoint, dict(zip(endpoint.dims, key, strict=True)), totals)
               for key, totals in sorted(grouped.items(), key=lambda kv: tuple("" if v is None else str(v)
                                                                                for v in kv[0]))]
        if endpoint.path == "costs" and getattr(self.sim, "amounts_as_strings", False):
            for result in out:  # as the real API sends it: "0.1739150000000000000000000000" (D1, issue #9)
                result["amount"]["value"] = f"{Decimal(repr(result['amount']['value'])):.28f}"
        return out

    def _result(self, endpoint: Endpoint, dims: dict[str, Any], totals: dict[str, float]) -> dict:
        out: dict[str, Any] = {"object": endpoint.object}
        if endpoint.path == "costs":
            line = dims["line_item"]
            usd = totals.get("amount", 0.0)
            # Model line items read "<model>, <kind>" and count tokens; other lines (storage) have no single unit.
            unit = "tokens" if line is not None and "," in line else None
            out.update({"amount": {"value": usd, "currency": "usd"}, **dims,
                        "quantity": totals.get("quantity") if line is not None else None,
                        "quantity_unit": unit})
            return out
        for name in endpoint.metrics:
            out[name] = int(totals.get(name, 0))
        if endpoint.path == "usage/completions":
            out["input_uncached_tokens"] = out["input_tokens"] - out["input_cached_tokens"]
            out["input_audio_tokens"] = 0
            out["output_audio_tokens"] = 0
        out.update(dims)
        return out

    def records(self, endpoint: Endpoint, start: int, end: int) -> list[Record]:
        day = datetime.fromtimestamp(start, tz=timezone.utc).date()
        if endpoint.path == "costs":
            return self._cost_records(day)
        if endpoint.path in ("usage/completions", "usage/embeddings"):
            embeddings = endpoint.path == "usage/embeddings"
            return [self._model_record(u) for u in self._usage_rows(day, start, end)
                    if _is_embedding(u.model) == embeddings]
        if endpoint.path == "usage/vector_stores":
            return self._vector_store_records(day)
        return self._extra_records(endpoint, day, start, end)

    def _minute_window(self, day: date, start: int, end: int) -> tuple[int, int]:
        """The bucket's [first, last) minutes of `day`, clipped to what has happened by now."""
        midnight = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
        now = self.sim.world.now()
        elapsed = MINUTES_PER_DAY if day < now.date() else (now.hour * 60 + now.minute if day == now.date() else 0)
        first = min((start - midnight) // 60, elapsed)
        last = min((end - midnight) // 60, elapsed, MINUTES_PER_DAY)
        return first, max(first, last)

    def _usage_rows(self, day: date, start: int, end: int) -> list[Usage]:
        if end - start >= DAY_S:
            return self.sim.usage_on(day)  # daily buckets read the world exactly as its ground truth does
        if day < self.sim.world.history_start().date():
            return []
        first, last = self._minute_window(day, start, end)
        if last <= first:
            return []
        spike = day == self.sim.world.today() and self.sim.world.scenario_applies("cost-spike", self.sim.name)
        def share(value: int, factor: int) -> int:
            """The bucket's part of a day's `value`: cumulative minutes, so the buckets add up to the day."""
            return (value * last // MINUTES_PER_DAY - value * first // MINUTES_PER_DAY) * factor
        rows = []
        for r in self.sim.full_day(day):
            k = 10 if spike and r.model == SPIKE_MODEL else 1  # as usage_on scales today's spike model
            rows.append(Usage(r.project, r.model, r.batch, share(r.input, k), share(r.cached, k), share(r.output, k),
                              share(r.requests, k)))
        return rows

    def _model_record(self, u: Usage) -> Record:
        key = self.directory.key_for(u.project, u.model)
        dims = {"project_id": u.project, "user_id": self.directory.user_of(key), "api_key_id": key.id,
                "model": u.model, "batch": u.batch, "service_tier": "batch" if u.batch else "default",
                "api_source": UNLABELED}
        return dims, {"input_tokens": u.input, "input_cached_tokens": u.cached, "output_tokens": u.output,
                      "num_model_requests": u.requests}

    def _cost_records(self, day: date) -> list[Record]:
        if day >= self.sim.world.today():
            rows = self._today_costs() if self.costs_include_today and day == self.sim.world.today() else []
        else:
            rows = self.sim.costs_on(day)
        out = []
        for project, line_item, usd, quantity in rows:
            # Organisation-level lines (file-search storage) have no project and no key (D1, issue #9).
            key = self.directory.key_for(project, line_item.split(",")[0]) if project is not None else None
            out.append(({"project_id": project, "line_item": line_item, "api_key_id": key.id if key else None,
                         "user_id": self.directory.user_of(key) if key else None, "api_source": UNLABELED},
                        {"amount": usd, "quantity": quantity}))
        return out

    def _today_costs(self) -> list[tuple[str, str, float, int]]:
        """What OpenAI has billed so far today: the day's usage so far at the billed price."""
        today = self.sim.world.today()
        return [(u.project, item, usd, tokens) for u in self.sim.usage_on(today)
                for item, usd, tokens in self.sim.line_items(u, today, billed=True)]

    def _daily_extra(self, path: str, project: str, day: date) -> int:
        _model, _metric, (low, high), _per_request = EXTRA_USAGE[path]
        return self.sim.world.rng("openai", "extra", path, project, day.isoformat()).randint(low, high)

    def _extra_records(self, endpoint: Endpoint, day: date, start: int, end: int) -> list[Record]:
        if day < self.sim.world.history_start().date():
            return []
        first, last = self._minute_window(day, start, end)
        if last <= first:
            return []
        model, metric, _range, per_request = EXTRA_USAGE[endpoint.path]
        out = []
        for project in self.directory.active_projects():
            total = self._daily_extra(endpoint.path, project.id, day)
            amount = total * last // MINUTES_PER_DAY - total * first // MINUTES_PER_DAY
            if amount <= 0:
                continue
            dims: dict[str, Any] = {"project_id": project.id}
            metrics: dict[str, float] = {metric: amount}
            if "api_key_id" in endpoint.dims:
                key = self.directory.key_for(project.id, model or endpoint.path)
                dims.update({"user_id": self.directory.user_of(key), "api_key_id": key.id})
            if model is not None:
                dims["model"] = model
                metrics["num_model_requests"] = max(1, amount // per_request)
            if endpoint.path == "usage/file_search_calls":
                dims["vector_store_id"] = f"vs_sim{project.id[-10:]}"
            if endpoint.path == "usage/web_search_calls":
                dims["context_level"] = CONTEXT_LEVELS[self.sim.world.rng("openai", "context", project.id).randrange(3)]
                dims["api_source"] = UNLABELED
            if endpoint.path == "usage/images":
                rng = self.sim.world.rng("openai", "image-kind", project.id)
                dims.update({"source": IMAGE_SOURCES[rng.randrange(2)], "size": "1024x1024"})
            out.append((dims, metrics))
        return out

    def _vector_store_records(self, day: date) -> list[Record]:
        """Bytes stored (a level, so every bucket of a day reports the day's figure)."""
        if day < self.sim.world.history_start().date() or day > self.sim.world.today():
            return []
        out = []
        for project in self.directory.active_projects():
            base = self.sim.world.rng("openai", "vector-bytes", project.id).randint(10, 500) * 1_048_576
            growth = (day - self.sim.world.history_start().date()).days * 65_536
            out.append(({"project_id": project.id}, {"usage_bytes": base + growth}))
        return out

    # --- projects and API keys ---

    async def _projects(self, request: web.Request) -> web.Response:
        try:
            include_archived = parse_bool(scalar_param(request.query, "include_archived")) or False
        except ValueError as exc:
            return error(400, f"include_archived must be true or false: {exc}", param="include_archived")
        projects = self.directory.projects if include_archived else self.directory.active_projects()
        return _list(request, [(p.id, _project_json(p)) for p in projects])

    def _find_project(self, request: web.Request) -> Project | None:
        wanted = request.match_info["project_id"]
        return next((p for p in self.directory.projects if p.id == wanted), None)

    async def _project(self, request: web.Request) -> web.Response:
        project = self._find_project(request)
        if project is None:
            return _no_project(request)
        return web.json_response(_project_json(project))

    async def _api_keys(self, request: web.Request) -> web.Response:
        project = self._find_project(request)
        if project is None:
            return _no_project(request)
        return _list(request, [(k.id, _key_json(k)) for k in self.directory.keys[project.id]])

    async def _api_key(self, request: web.Request) -> web.Response:
        project = self._find_project(request)
        if project is None:
            return _no_project(request)
        key = next((k for k in self.directory.keys[project.id] if k.id == request.match_info["key_id"]), None)
        if key is None:
            return error(404, f"No such API key: {request.match_info['key_id']}", param="key_id")
        return web.json_response(_key_json(key))


def _list(request: web.Request, items: Sequence[tuple[str, dict]]) -> web.Response:
    """OpenAI's cursor list: `limit` 1-100 (default 20), `after` = the last id seen."""
    q = request.query
    limit = LIST_DEFAULT_LIMIT
    if "limit" in q:
        parsed = parse_int(scalar_param(q, "limit"))
        if parsed is None or not 1 <= parsed <= LIST_MAX_LIMIT:
            return error(400, f"limit must be an integer between 1 and {LIST_MAX_LIMIT}", param="limit")
        limit = parsed
    start = 0
    if after := scalar_param(q, "after"):
        ids = [item_id for item_id, _ in items]
        if after not in ids:
            return error(400, f"Invalid 'after': no object with id {after!r}", param="after")
        start = ids.index(after) + 1
    page = [body for _, body in items[start:start + limit]]
    return web.json_response({"object": "list", "data": page,
                              "first_id": page[0]["id"] if page else None,
                              "last_id": page[-1]["id"] if page else None,
                              "has_more": start + limit < len(items)})


def _no_project(request: web.Request) -> web.Response:
    return error(404, f"No such project: {request.match_info['project_id']}", param="project_id")


def _project_json(p: Project) -> dict:
    return {"id": p.id, "object": "organization.project", "name": p.name, "created_at": p.created_at,
            "archived_at": p.archived_at, "status": "archived" if p.archived_at else "active"}


def _key_json(k: ApiKey) -> dict:
    owner: dict[str, Any] = {"type": k.owner_type}
    person = {"id": k.owner_id, "name": k.owner_name, "created_at": k.created_at, "role": "owner"
              if k.owner_type == "user" else "member"}
    if k.owner_type == "user":
        owner["user"] = {**person, "object": "organization.project.user",
                         "email": f"{k.owner_id}@example.com", "added_at": k.created_at}
    else:
        owner["service_account"] = {**person, "object": "organization.project.service_account"}
    return {"object": "organization.project.api_key", "id": k.id, "name": k.name,
            "redacted_value": f"sk-proj-****{k.id[-4:]}", "created_at": k.created_at,
            "last_used_at": None, "owner": owner, "owner_project_access": "active"}


def _is_embedding(model: str) -> bool:
    return model.startswith("text-embedding")
