"""The Vercel drain receiver: log drains and Speed Insights drains.

Vercel POSTs batches (a JSON array, or NDJSON: one event per line) to
`/drains/vercel/logs` and `/drains/vercel/speed-insights`, signed with
`x-vercel-signature` = hex HMAC-SHA1 of the raw body keyed with the drain secret.

What each delivery gets back, in the order checked:

| status | when | counted as `stackwatch.drain.rejected{reason}` |
|---|---|---|
| 503 | no drain secret configured | `unconfigured` |
| 413 | body larger than `max_body_bytes` (read incrementally) | `oversize` |
| 401 | signature missing or wrong (constant-time compare) | `bad_signature` |
| 400 | body empty or not a JSON array / NDJSON, or no event in it is valid | `malformed` |
| 200 | at least one valid event, or an empty array `[]` | `invalid_event`, once per invalid event |
| 500 | an unexpected error in the receiver itself (a bug): logged | `internal` |

`invalid_event` and `internal` are reasons beyond the four the catalogue's
description names (it is shared text; the lead may extend it). A batch with
some invalid events is accepted (200): the valid ones are
recorded and each invalid one is counted as `invalid_event`. Answering 4xx
would make Vercel re-send the whole batch and count the valid events twice.

Log events count in `vercel.requests` only when they describe a request, i.e.
carry a status code (`proxy.statusCode`, else `statusCode`); build logs and
other messages count only as drain events. `statusCode` −1 (a crashed
function) also counts in `vercel.function.crashes`; its request is counted as
5xx, since Vercel answers a crashed invocation with 500. Sources and cache
states outside Vercel's documented sets become `other`, so a drain cannot
create unbounded series. Speed Insights events are labelled by project and
metric only, never by path or route: a project's routes grow with its app
(6 series a project: 5 timings and CLS, instead of 6 per route). The
`project` label is the project's name when the event or the optional
`project_name` lookup knows it, else its id.

Vercel's endpoint-verification handshake is not answered here: PROVIDERS.md
does not document it, and a guessed answer is worse than none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from .catalogue import Kind, MetricSpec, Series
from .metrics import MetricStore

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("vercel.requests", Kind.COUNTER, "{request}",
               "Requests seen in log drains, by project, source (edge, lambda, static, …), "
               "HTTP status class (2xx … 5xx) and cache status (HIT, MISS, …; `none` when absent).",
               ("project", "source", "status_class", "cache"),
               series=Series("Vercel project", 360, "8 sources × 5 status classes × 9 cache states; ~35 seen")),
    MetricSpec("vercel.function.crashes", Kind.COUNTER, "{crash}",
               "Function invocations that crashed (log drain statusCode -1).", ("project",),
               series=Series("Vercel project", 1)),
    MetricSpec("vercel.web_vital.duration", Kind.HISTOGRAM, "s",
               "Speed Insights timings (LCP, FCP, TTFB, INP, FID) by project and metric (not by route: "
               "unbounded); p75 via histogram_quantile(0.75, …).", ("project", "metric"),
               series=Series("Vercel project", 5, "LCP, FCP, TTFB, INP, FID")),
    MetricSpec("vercel.web_vital.cls", Kind.HISTOGRAM, "1",
               "Speed Insights cumulative layout shift by project.", ("project",),
               series=Series("Vercel project", 1)),
    MetricSpec("stackwatch.drain.events", Kind.COUNTER, "{event}",
               "Drain events accepted, by drain (log, speed_insights).", ("drain",),
               series=Series("stackwatch", 2, "log, speed_insights")),
    MetricSpec("stackwatch.drain.rejected", Kind.COUNTER, "{request}",
               "Drain deliveries rejected, by drain and reason (bad_signature, oversize, malformed, "
               "unconfigured).",
               ("drain", "reason"), series=Series("stackwatch", 12, "2 drains × 6 reasons")),
)

log = structlog.get_logger("stackwatch.drains")

LOG_DRAIN = "log"
SPEED_INSIGHTS_DRAIN = "speed_insights"
SIGNATURE_HEADER = "x-vercel-signature"
SPEED_INSIGHTS_SCHEMA = "vercel.speed_insights.v1"
READ_CHUNK_BYTES = 64 * 1024

LOG_SOURCES = frozenset({"build", "edge", "lambda", "static", "external", "firewall", "redirect"})
CACHE_STATES = frozenset({"MISS", "HIT", "STALE", "REVALIDATED", "PRERENDER", "BYPASS", "ERROR"})
DURATION_VITALS = frozenset({"LCP", "FCP", "TTFB", "INP", "FID"})
CRASH_STATUS = -1


class InvalidEvent(ValueError):
    pass


class Rejected(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RequestEvent:
    project: str
    source: str
    status_class: str | None  # None: not a request (build log, plain message)
    cache: str
    crashed: bool


@dataclass(frozen=True, slots=True)
class VitalEvent:
    project: str
    metric: str
    value: float  # seconds for timings, unitless for CLS


# --- parsing and validation ---

def parse_batch(body: bytes) -> list[Any]:
    """A JSON array, or NDJSON (one JSON value per line). Raises InvalidEvent when neither."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent("body is not UTF-8") from None
    stripped = text.strip()
    if not stripped:
        raise InvalidEvent("empty body")
    if stripped.startswith("["):
        try:
            events = json.loads(stripped)
        except ValueError:
            raise InvalidEvent("body is not a JSON array") from None
        if not isinstance(events, list):
            raise InvalidEvent("body is not a JSON array")
        return events
    events = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except ValueError:
            raise InvalidEvent(f"NDJSON line {number} is not JSON") from None
    return events


def _integer(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(f"`{key}` must be an integer")
    return value


def _project(event: dict, project_name: Callable[[str], str | None] | None) -> str:
    name, project_id = event.get("projectName"), event.get("projectId")
    if isinstance(name, str) and name:
        return name
    if isinstance(project_id, str) and project_id:
        return (project_name(project_id) if project_name else None) or project_id
    raise InvalidEvent("neither `projectName` nor `projectId` is a non-empty string")


def status_class(code: int) -> str:
    if code == CRASH_STATUS:
        return "5xx"  # Vercel answers a crashed invocation with 500 (FUNCTION_INVOCATION_FAILED)
    return f"{code // 100}xx" if 100 <= code <= 599 else "other"


def parse_log_event(event: Any, project_name: Callable[[str], str | None] | None = None) -> RequestEvent:
    if not isinstance(event, dict):
        raise InvalidEvent("event is not an object")
    source = event.get("source")
    if not isinstance(source, str) or not source:
        raise InvalidEvent("`source` must be a non-empty string")
    timestamp = event.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
        raise InvalidEvent("`timestamp` must be a number (ms)")
    proxy = event.get("proxy")
    if proxy is not None and not isinstance(proxy, dict):
        raise InvalidEvent("`proxy` must be an object")
    proxy = proxy or {}
    status = _integer(event.get("statusCode"), "statusCode")
    proxy_status = _integer(proxy.get("statusCode"), "proxy.statusCode")
    cache = proxy.get("vercelCache")
    if cache is not None and not isinstance(cache, str):
        raise InvalidEvent("`proxy.vercelCache` must be a string")
    code = proxy_status if proxy_status is not None else status
    return RequestEvent(
        project=_project(event, project_name),
        source=source if source in LOG_SOURCES else "other",
        status_class=None if code is None else status_class(code),
        cache="none" if not cache else (cache.upper() if cache.upper() in CACHE_STATES else "other"),
        crashed=status == CRASH_STATUS)


def parse_vital_event(event: Any, project_name: Callable[[str], str | None] | None = None) -> VitalEvent:
    if not isinstance(event, dict):
        raise InvalidEvent("event is not an object")
    if event.get("schema") != SPEED_INSIGHTS_SCHEMA:
        raise InvalidEvent(f"`schema` is not {SPEED_INSIGHTS_SCHEMA}")
    metric = event.get("metricType")
    if not isinstance(metric, str) or (metric != "CLS" and metric not in DURATION_VITALS):
        raise InvalidEvent("`metricType` is not one of CLS, LCP, FID, FCP, TTFB, INP")
    value = event.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidEvent("`value` must be a finite number >= 0")
    return VitalEvent(project=_project(event, project_name), metric=metric,
                      value=float(value) if metric == "CLS" else value / 1000.0)


# --- the receiver ---

class DrainReceiver:
    def __init__(self, store: MetricStore, secret: str | None, max_body_bytes: int, *,
                 project_name: Callable[[str], str | None] | None = None):
        """`project_name`: optional project id → name lookup (e.g. `VercelProvider.project_name`)."""
        self._store = store
        self._secret = secret.encode() if secret else None
        self._max_body_bytes = max_body_bytes
        self._project_name = project_name

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/drains/vercel/logs", self.handle_logs),
                web.post("/drains/vercel/speed-insights", self.handle_speed_insights)]

    async def handle_logs(self, request: web.Request) -> web.Response:
        return await self._handle(request, LOG_DRAIN, self._record_logs)

    async def handle_speed_insights(self, request: web.Request) -> web.Response:
        return await self._handle(request, SPEED_INSIGHTS_DRAIN, self._record_vitals)

    async def _handle(self, request: web.Request, drain: str,
                      record: Callable[[list[Any]], tuple[int, int]]) -> web.Response:
        try:
            body = await self._verified_body(request)
            try:
                events = parse_batch(body)
            except InvalidEvent as exc:
                raise Rejected(400, "malformed", str(exc)) from None
            accepted, invalid = record(events)
            if events and not accepted:
                raise Rejected(400, "malformed", f"none of the {invalid} events is valid")
        except Rejected as exc:
            self._reject(drain, exc.reason)
            return _answer(exc.status, {"error": exc.reason, "message": str(exc)})
        except Exception:  # a bug here must not take the service down; the sender gets a 500
            log.exception("drain delivery failed unexpectedly", drain=drain)
            self._reject(drain, "internal")
            return _answer(500, {"error": "internal"})
        if invalid:
            self._store.add("stackwatch.drain.rejected", invalid, {"drain": drain, "reason": "invalid_event"})
        self._store.add("stackwatch.drain.events", accepted, {"drain": drain})
        return _answer(200, {"accepted": accepted, "invalid": invalid})

    async def _verified_body(self, request: web.Request) -> bytes:
        if self._secret is None:
            raise Rejected(503, "unconfigured", "no drain secret is configured")
        declared = request.content_length
        if declared is not None and declared > self._max_body_bytes:
            raise Rejected(413, "oversize", f"body larger than {self._max_body_bytes} bytes")
        chunks, size = [], 0
        while True:  # read incrementally: Content-Length may be absent (chunked) or wrong
            chunk = await request.content.read(READ_CHUNK_BYTES)
            if not chunk:
                break
            size += len(chunk)
            if size > self._max_body_bytes:
                raise Rejected(413, "oversize", f"body larger than {self._max_body_bytes} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        given = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
        expected = hmac.new(self._secret, body, hashlib.sha1).hexdigest()
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise Rejected(401, "bad_signature", f"missing or wrong {SIGNATURE_HEADER}")
        return body

    def _reject(self, drain: str, reason: str) -> None:
        self._store.add("stackwatch.drain.rejected", 1, {"drain": drain, "reason": reason})

    def _record_logs(self, events: list[Any]) -> tuple[int, int]:
        parsed, invalid = [], 0
        for event in events:
            try:
                parsed.append(parse_log_event(event, self._project_name))
            except InvalidEvent:
                invalid += 1
        for event in parsed:  # all validated first: a batch is recorded whole or not at all
            if event.status_class is not None:
                self._store.add("vercel.requests", 1, {"project": event.project, "source": event.source,
                                                       "status_class": event.status_class, "cache": event.cache})
            if event.crashed:
                self._store.add("vercel.function.crashes", 1, {"project": event.project})
        return len(parsed), invalid

    def _record_vitals(self, events: list[Any]) -> tuple[int, int]:
        parsed, invalid = [], 0
        for event in events:
            try:
                parsed.append(parse_vital_event(event, self._project_name))
            except InvalidEvent:
                invalid += 1
        for vital in parsed:
            if vital.metric == "CLS":
                self._store.record("vercel.web_vital.cls", vital.value, {"project": vital.project})
            else:
                self._store.record("vercel.web_vital.duration", vital.value,
                                   {"project": vital.project, "metric": vital.metric})
        return len(parsed), invalid


def _answer(status: int, body: dict) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
