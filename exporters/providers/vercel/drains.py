"""The Vercel drain receiver: log drains, Speed Insights drains and trace drains.

Vercel POSTs signed batches (a JSON array or NDJSON) to `/drains/vercel/logs` and
`/drains/vercel/speed-insights`, and OTLP/HTTP trace exports (JSON or protobuf) to
`/drains/vercel/traces`; the signature is checked over the bytes as received, before
any Content-Encoding is decoded. What each delivery gets back and why, what counts as a
request, and the facts relied on: docs/providers/vercel.md, "What the drain receiver accepts";
the bounds (body size and time, concurrency, replays): docs/operations.md, "Bounds".
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from exporters.core.catalogue import Kind, MetricSpec, Series
from exporters.core.decoding import BoundedDecoder, TooLarge
from exporters.core.metrics import MetricStore

# Distinct routes per project kept as a `route` label value (then `other`): a project's routes grow with
# its app, the series may not.
ROUTES_PER_PROJECT = 8
MAX_ROUTE_CHARS = 128

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("vercel.requests", Kind.COUNTER, "{request}",
               "Requests seen in log drains, by project and HTTP status class (1xx … 5xx, `other`).",
               ("project", "status_class"), series=Series("Vercel project", 6, "status classes")),
    MetricSpec("vercel.cache.requests", Kind.COUNTER, "{request}",
               "The same requests by Vercel cache state (HIT, MISS, STALE, …; `none` when absent, `other` "
               "when undocumented): the cache hit ratio per project.",
               ("project", "cache"), series=Series("Vercel project", 9, "7 cache states, none, other")),
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
    MetricSpec("vercel.function.duration", Kind.HISTOGRAM, "s",
               "Function execution time (a trace drain's server span: end − start) by project and route; the "
               f"first {ROUTES_PER_PROJECT} routes seen per project keep their name, later ones count as "
               "`other`. p95 via histogram_quantile(0.95, …).", ("project", "route"),
               series=Series("Vercel project", ROUTES_PER_PROJECT + 1, f"{ROUTES_PER_PROJECT} routes + other")),
    MetricSpec("stackwatch.drain.events", Kind.COUNTER, "{event}",
               "Drain events accepted, by drain (log, speed_insights, trace: spans).", ("drain",),
               series=Series("stackwatch", 3, "log, speed_insights, trace")),
    MetricSpec("stackwatch.drain.rejected", Kind.COUNTER, "{request}",
               "Drain deliveries rejected, by drain (log, speed_insights, trace; `any` for connection-level "
               "refusals) and reason (bad_signature, oversize, malformed, unconfigured, busy, timeout, "
               "duplicate, invalid_event, internal; connections, header_timeout).",
               ("drain", "reason"), series=Series("stackwatch", 29, "3 drains × 9 reasons + 2 connection-level (drain=any)")),
)

log = structlog.get_logger("stackwatch.drains")

# The secret Vercel signs drain deliveries with comes from this variable (never from the config).
DRAIN_SECRET_ENV = "VERCEL_DRAIN_SECRET"
# The simulator signs its drains with this fixed secret: accepted only with `simulator: true`.
DEMO_DRAIN_SECRET = "sim-drain-secret"
LOG_DRAIN = "log"
SPEED_INSIGHTS_DRAIN = "speed_insights"
TRACE_DRAIN = "trace"
PROTOBUF = "application/x-protobuf"
SERVER_KINDS = (2, "SPAN_KIND_SERVER", "server")  # OTLP's enum as number or name; Vercel's docs write "server"
OTHER_ROUTE = "other"
SIGNATURE_HEADER = "x-vercel-signature"
SPEED_INSIGHTS_SCHEMA = "vercel.speed_insights.v1"
READ_CHUNK_BYTES = 64 * 1024
BUSY_RETRY_AFTER_S = 5

LOG_SOURCES = frozenset({"build", "edge", "lambda", "static", "external", "firewall", "redirect"})
CACHE_STATES = frozenset({"MISS", "HIT", "STALE", "REVALIDATED", "PRERENDER", "BYPASS", "ERROR"})
DURATION_VITALS = frozenset({"LCP", "FCP", "TTFB", "INP", "FID"})
CRASH_STATUS = -1


class InvalidEvent(ValueError):
    pass


class Rejected(Exception):
    def __init__(self, status: int, reason: str, message: str, *, close: bool = False,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.close = close  # close the connection after answering (the body was not read to its end)
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class RequestEvent:
    project: str
    source: str
    status_class: str | None  # None: not a request (build log, plain message)
    cache: str
    crashed: bool


@dataclass(frozen=True, slots=True)
class FunctionSpan:
    project: str
    route: str  # as sent; bounded per project when recorded
    seconds: float | None  # None: a span that is not a function invocation (not a server span)


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
        except RecursionError:  # 1,000+ levels of nesting: no Vercel event is shaped like that
            raise InvalidEvent("body is nested too deeply") from None
        return events  # JSON text that starts with "[" and parses is an array
    events = []
    for number, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except ValueError:
            raise InvalidEvent(f"NDJSON line {number} is not JSON") from None
        except RecursionError:
            raise InvalidEvent(f"NDJSON line {number} is nested too deeply") from None
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


def parse_trace_export(body: bytes, content_type: str) -> list[Any]:
    """An OTLP/HTTP trace export (protobuf, else JSON) as a list of (resource attributes, span) pairs,
    spans as OTLP's JSON mapping. Raises InvalidEvent when the body is neither."""
    if content_type.split(";")[0].strip().lower() == PROTOBUF:
        from google.protobuf.json_format import MessageToDict
        from google.protobuf.message import DecodeError
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
        try:
            export: Any = MessageToDict(ExportTraceServiceRequest.FromString(body))
        except (DecodeError, RecursionError):
            raise InvalidEvent("body is not an OTLP protobuf trace export") from None
    else:
        try:
            export = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise InvalidEvent("body is not an OTLP JSON trace export") from None
    if not isinstance(export, dict) or not isinstance(export.get("resourceSpans", []), list):
        raise InvalidEvent("body has no `resourceSpans` list")
    out: list[Any] = []
    for resource_spans in export.get("resourceSpans", []):
        if not isinstance(resource_spans, dict):
            out.append((None, None))  # counted as one invalid event
            continue
        resource = resource_spans.get("resource") or {}
        attributes = _attributes(resource.get("attributes") if isinstance(resource, dict) else None)
        for scope_spans in resource_spans.get("scopeSpans") or []:
            spans = scope_spans.get("spans") if isinstance(scope_spans, dict) else None
            for span in spans if isinstance(spans, list) else [None]:
                out.append((attributes, span))
    return out


def _attributes(items: Any) -> dict[str, Any] | None:
    """OTLP's [{key, value: {stringValue | intValue | …}}] as {key: value}; None when malformed."""
    if items is None:
        return {}
    if not isinstance(items, list):
        return None
    out = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not isinstance(item.get("value"), dict):
            return None
        value = item["value"]
        out[item["key"]] = next(iter(value.values()), None) if len(value) == 1 else None
    return out


def _nanos(value: Any, key: str) -> int:
    """OTLP JSON writes 64-bit integers as strings (numbers accepted too)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidEvent(f"`{key}` must be an integer (ns)")
    try:
        return int(value)
    except ValueError:
        raise InvalidEvent(f"`{key}` must be an integer (ns)") from None


def parse_trace_span(item: Any, project_name: Callable[[str], str | None] | None = None) -> FunctionSpan:
    resource, span = item if isinstance(item, tuple) and len(item) == 2 else (None, None)
    if resource is None:
        raise InvalidEvent("resource attributes are malformed")
    if not isinstance(span, dict):
        raise InvalidEvent("span is not an object")
    project_id = resource.get("vercel.projectId")
    if not isinstance(project_id, str) or not project_id:
        raise InvalidEvent("resource attribute `vercel.projectId` is missing")
    project = (project_name(project_id) if project_name else None) or project_id
    start, end = _nanos(span.get("startTimeUnixNano"), "startTimeUnixNano"), _nanos(
        span.get("endTimeUnixNano"), "endTimeUnixNano")
    if end < start:
        raise InvalidEvent("span ends before it starts")
    attributes = _attributes(span.get("attributes"))
    if attributes is None:
        raise InvalidEvent("span attributes are malformed")
    route = attributes.get("http.route")
    if not isinstance(route, str) or not route:
        name = span.get("name")
        parts = name.split(" ", 1) if isinstance(name, str) else []
        route = parts[1] if len(parts) == 2 and parts[1].startswith("/") else OTHER_ROUTE
    if len(route) > MAX_ROUTE_CHARS:
        route = OTHER_ROUTE
    return FunctionSpan(project, route, (end - start) / 1e9 if span.get("kind") in SERVER_KINDS else None)


# --- the receiver ---

@dataclass(frozen=True)
class DrainLimits:
    """Bounds on deliveries (connection-level bounds live in server_limits.py)."""

    max_concurrent_bodies: int = 16  # bodies being read at once; one more gets 503 + Retry-After
    body_timeout_s: float = 30.0  # the whole body must arrive within this (else 408)
    replay_window_s: float = 600.0  # a signed body seen again within this is not counted again
    max_replay_entries: int = 10_000  # digests kept for the replay window (~1.5 MB at most)
    parse_off_loop_bytes: int = 256 * 1024  # larger bodies are parsed on a worker thread


class ReplayWindow:
    """Digests of accepted deliveries for `window_s`, at most `max_entries` (oldest dropped)."""

    def __init__(self, window_s: float, max_entries: int, clock: Callable[[], float]):
        self._window_s = window_s
        self._max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # digest -> when accepted, oldest first

    def seen(self, digest: bytes) -> bool:
        self._expire()
        return digest in self._seen

    def add(self, digest: bytes) -> None:
        if self._window_s <= 0:
            return
        self._seen[digest] = self._clock()
        self._seen.move_to_end(digest)
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self) -> None:
        horizon = self._clock() - self._window_s
        while self._seen:
            digest, at = next(iter(self._seen.items()))
            if at > horizon:
                break
            del self._seen[digest]


class DrainReceiver:
    def __init__(self, store: MetricStore, secret: str | None, max_body_bytes: int, *,
                 project_name: Callable[[str], str | None] | None = None,
                 limits: DrainLimits | None = None, clock: Callable[[], float] = time.monotonic):
        """`project_name`: optional project id → name lookup (e.g. `VercelProvider.project_name`)."""
        self._store = store
        self._secret = secret.encode() if secret else None
        self._max_body_bytes = max_body_bytes
        self._project_name = project_name
        self._limits = limits or DrainLimits()
        self._bodies_in_flight = 0
        self._replays = ReplayWindow(self._limits.replay_window_s, self._limits.max_replay_entries, clock)
        self._routes: dict[str, set[str]] = {}  # project -> the routes it keeps (at most ROUTES_PER_PROJECT)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/drains/vercel/logs", self.handle_logs),
                web.post("/drains/vercel/speed-insights", self.handle_speed_insights),
                web.post("/drains/vercel/traces", self.handle_traces)]

    async def handle_logs(self, request: web.Request) -> web.Response:
        return await self._handle(request, LOG_DRAIN, self._record_logs)

    async def handle_speed_insights(self, request: web.Request) -> web.Response:
        return await self._handle(request, SPEED_INSIGHTS_DRAIN, self._record_vitals)

    async def handle_traces(self, request: web.Request) -> web.Response:
        content_type = request.headers.get("Content-Type", "")
        return await self._handle(request, TRACE_DRAIN, self._record_spans,
                                  lambda body: parse_trace_export(body, content_type))

    async def _handle(self, request: web.Request, drain: str, record: Callable[[list[Any]], tuple[int, int]],
                      parse: Callable[[bytes], list[Any]] = parse_batch) -> web.Response:
        try:
            body, digest = await self._verified_body(request)
            if self._replays.seen(digest):
                # Vercel re-sends a delivery it thinks failed; counting it again would double the figures.
                self._reject(drain, "duplicate")
                return _answer(200, {"accepted": 0, "invalid": 0, "duplicate": True})
            try:
                if len(body) > self._limits.parse_off_loop_bytes:
                    events = await asyncio.to_thread(parse, body)  # keeps /healthz responsive
                else:
                    events = parse(body)
            except InvalidEvent as exc:
                raise Rejected(400, "malformed", str(exc)) from None
            accepted, invalid = record(events)
            if events and not accepted:
                raise Rejected(400, "malformed", f"none of the {invalid} events is valid")
            self._replays.add(digest)
        except Rejected as exc:
            self._reject(drain, exc.reason)
            response = _answer(exc.status, {"error": exc.reason, "message": str(exc)}, exc.headers)
            if exc.close:
                response.force_close()  # the rest of the body is not read
            return response
        except Exception:  # a bug here must not take the service down; the sender gets a 500
            log.exception("drain delivery failed unexpectedly", drain=drain)
            self._reject(drain, "internal")
            return _answer(500, {"error": "internal"})
        if invalid:
            self._store.add("stackwatch.drain.rejected", invalid, {"drain": drain, "reason": "invalid_event"})
        self._store.add("stackwatch.drain.events", accepted, {"drain": drain})
        return _answer(200, {"accepted": accepted, "invalid": invalid})

    async def _verified_body(self, request: web.Request) -> tuple[bytes, bytes]:
        """The decoded body and its signature digest. Cheap checks first: nothing is read for a
        request without a well-formed signature, over the declared size or over the body cap."""
        if self._secret is None:
            raise Rejected(503, "unconfigured", "no drain secret is configured")
        given = _signature(request.headers.get(SIGNATURE_HEADER))
        if given is None:
            raise Rejected(401, "bad_signature", f"missing or malformed {SIGNATURE_HEADER}", close=True)
        declared = request.content_length
        if declared is not None and declared > self._max_body_bytes:
            raise Rejected(413, "oversize", f"body larger than {self._max_body_bytes} bytes", close=True)
        try:
            decoder = BoundedDecoder(request.headers.get("Content-Encoding", ""), self._max_body_bytes)
        except ValueError as exc:
            raise Rejected(415, "malformed", str(exc), close=True) from None
        if self._bodies_in_flight >= self._limits.max_concurrent_bodies:
            raise Rejected(503, "busy", "too many deliveries in progress; retry later", close=True,
                           headers={"Retry-After": str(BUSY_RETRY_AFTER_S)})
        self._bodies_in_flight += 1
        try:
            async with asyncio.timeout(self._limits.body_timeout_s):
                body, signature = await self._read(request, decoder)
        except TimeoutError:
            raise Rejected(408, "timeout", f"body not received within {self._limits.body_timeout_s:g} s",
                           close=True) from None
        finally:
            self._bodies_in_flight -= 1
        if not hmac.compare_digest(given, signature.hexdigest().encode()):
            raise Rejected(401, "bad_signature", f"missing or wrong {SIGNATURE_HEADER}")
        return body, signature.digest()

    async def _read(self, request: web.Request, decoder: BoundedDecoder) -> tuple[bytes, Any]:
        """Read and decode incrementally (Content-Length may be absent or wrong), signing the
        bytes as received: Vercel signs the body it sends, not a decoding of it."""
        assert self._secret is not None
        signature = hmac.new(self._secret, digestmod=hashlib.sha1)
        body = bytearray()
        received = 0
        while True:
            chunk = await request.content.read(READ_CHUNK_BYTES)
            if not chunk:
                break
            received += len(chunk)
            if received > self._max_body_bytes:  # e.g. a gzip header that never ends decodes to nothing
                raise Rejected(413, "oversize", f"body larger than {self._max_body_bytes} bytes", close=True)
            signature.update(chunk)
            try:
                for piece in decoder.feed(chunk):
                    body += piece
                    await asyncio.sleep(0)  # a gzip bomb is inflated a bounded step at a time
            except TooLarge:
                raise Rejected(413, "oversize", f"body larger than {self._max_body_bytes} bytes "
                               "(decompressed)", close=True) from None
            except ValueError as exc:
                raise Rejected(400, "malformed", str(exc), close=True) from None
        return bytes(body), signature

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
                self._store.add("vercel.requests", 1, {"project": event.project, "status_class": event.status_class})
                self._store.add("vercel.cache.requests", 1, {"project": event.project, "cache": event.cache})
            if event.crashed:
                self._store.add("vercel.function.crashes", 1, {"project": event.project})
        return len(parsed), invalid

    def _record_spans(self, items: list[Any]) -> tuple[int, int]:
        parsed, invalid = [], 0
        for item in items:
            try:
                parsed.append(parse_trace_span(item, self._project_name))
            except InvalidEvent:
                invalid += 1
        for span in parsed:
            if span.seconds is not None:
                self._store.record("vercel.function.duration", span.seconds, {
                    "project": span.project, "route": _bounded_route(self._routes, span.project, span.route)})
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


def _bounded_route(routes: dict[str, set[str]], project: str, route: str) -> str:
    kept = routes.setdefault(project, set())
    if route in kept:
        return route
    if route == OTHER_ROUTE or len(kept) >= ROUTES_PER_PROJECT:
        return OTHER_ROUTE
    kept.add(route)
    return route


def _answer(status: int, body: dict, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


def _signature(header: str | None) -> bytes | None:
    """The header as 40 lowercase hex bytes (what Node's `digest('hex')` in Vercel's docs writes),
    or None when absent or of any other form (upper case and non-ASCII included)."""
    if header is None:
        return None
    value = header.strip()  # HTTP's optional whitespace around a field value is not part of it
    if len(value) != 40 or any(c not in "0123456789abcdef" for c in value):
        return None
    return value.encode("ascii")
