"""The Vercel drain receiver on loopback: signatures, limits, payloads, metrics, and a fuzz test."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timezone

import httpx
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simhelpers import counter_value, metric_points

from exporters.core.metrics import MetricStore
from exporters.core.telemetry import build_meter_provider, in_memory_reader
from exporters.providers.registry import all_metrics
from exporters.providers.vercel.drains import DrainLimits, DrainReceiver
from exporters.service.server_limits import GuardedAppRunner, ServerLimits
from exporters.simulator import World
from exporters.simulator.vercel.drains import send_drains
from exporters.simulator.world import Scale

SECRET = "drain-secret-for-tests"
MAX_BODY = 64 * 1024
LOGS = "/drains/vercel/logs"
VITALS = "/drains/vercel/speed-insights"
TRACES = "/drains/vercel/traces"
# Far more than a loopback body takes; a receiver that stops reading fails its test in seconds.
BODY_S = 5.0


def sign(sent: bytes, secret: str = SECRET) -> str:
    """Vercel's `x-vercel-signature`, as its docs write it (https://vercel.com/docs/drains/security):
    `crypto.createHmac('sha1', secret).update(rawBody).digest('hex')`, over the bytes sent."""
    return hmac.new(secret.encode(), sent, hashlib.sha1).hexdigest()


def request_event(**overrides: object) -> dict:
    event = {"id": "1", "projectId": "prj_1", "projectName": "web", "source": "edge", "timestamp": 1_700_000_000_000,
             "statusCode": 200, "proxy": {"statusCode": 200, "vercelCache": "HIT", "path": "/"}}
    event.update(overrides)
    return event


class Receiver:
    """A DrainReceiver served on loopback, with an in-memory metric reader."""

    def __init__(self, secret: str | None = SECRET, max_body: int = MAX_BODY,
                 project_name: Callable[[str], str | None] | None = None):
        self.reader = in_memory_reader()
        self.meter_provider = build_meter_provider("test", export_interval_s=60, extra_readers=(self.reader,))
        self.store = MetricStore(self.meter_provider.get_meter("test"), all_metrics())
        self.receiver = DrainReceiver(self.store, secret, max_body, project_name=project_name,
                                      limits=DrainLimits(body_timeout_s=BODY_S))
        self.runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.add_routes(self.receiver.routes())
        # The service's runner: it leaves Content-Encoding to the receiver (no auto-decompression).
        self.runner = GuardedAppRunner(app, ServerLimits(), lambda _reason: None, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self.base_url

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        self.meter_provider.shutdown()

    def counter(self, name: str, **attrs: str) -> float:
        return counter_value(self.reader, name, **attrs)

    def histogram_counts(self, name: str) -> dict[tuple, int]:
        return {tuple(sorted(p.attributes.items())): p.count for p in metric_points(self.reader, name)}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


async def post(r: Receiver, path: str, body: bytes, signature: str | None = "auto", **headers: str) -> httpx.Response:
    if signature == "auto":
        signature = sign(body)
    if signature is not None:
        headers["x-vercel-signature"] = signature
    async with httpx.AsyncClient() as client:
        return await client.post(r.base_url + path, content=body, headers=headers)


async def test_a_signed_batch_is_accepted_and_counted(receiver: Receiver) -> None:
    body = json.dumps([request_event(), request_event(source="lambda", statusCode=-1,
                                                      proxy={"statusCode": 500}),
                       {"projectId": "prj_1", "source": "build", "timestamp": 1, "message": "Build completed"}]).encode()
    response = await post(receiver, LOGS, body)
    assert response.status_code == 200
    assert receiver.counter("stackwatch.drain.events", drain="log") == 3
    assert receiver.counter("vercel.requests", project="web", status_class="2xx") == 1
    assert receiver.counter("vercel.cache.requests", project="web", cache="HIT") == 1
    # The crash: a 5xx request with no cache state, and one crash; the build log is no request.
    assert receiver.counter("vercel.requests", project="web", status_class="5xx") == 1
    assert receiver.counter("vercel.cache.requests", project="web", cache="none") == 1
    assert receiver.counter("vercel.requests") == receiver.counter("vercel.cache.requests") == 2
    assert receiver.counter("vercel.function.crashes", project="web") == 1


async def test_ndjson_is_accepted_like_an_array(receiver: Receiver) -> None:
    body = (json.dumps(request_event()) + "\n" + json.dumps(request_event(projectName=None)) + "\n").encode()
    assert (await post(receiver, LOGS, body)).status_code == 200
    # The second event has no projectName: labelled by its id.
    assert receiver.counter("vercel.requests", project="web") == 1
    assert receiver.counter("vercel.requests", project="prj_1") == 1


@pytest.mark.parametrize("signature", [None, "", "0" * 40, sign(b"another body")])
async def test_a_missing_or_wrong_signature_is_401(receiver: Receiver, signature: str | None) -> None:
    response = await post(receiver, LOGS, json.dumps([request_event()]).encode(), signature=signature)
    assert response.status_code == 401
    assert receiver.counter("stackwatch.drain.rejected", drain="log", reason="bad_signature") == 1
    assert receiver.counter("vercel.requests") == 0


async def test_a_signature_made_with_another_secret_is_401(receiver: Receiver) -> None:
    body = json.dumps([request_event()]).encode()
    response = await post(receiver, LOGS, body, signature=sign(body, "not-the-secret"))
    assert response.status_code == 401


def flip(hex_digits: str, index: int) -> str:
    """The signature with one hex digit changed to another (still 40 lowercase hex digits)."""
    digit = hex_digits[index]
    return hex_digits[:index] + ("1" if digit == "0" else "0") + hex_digits[index + 1:]


# Every way a signature can differ from the documented one: a digit anywhere (first, last), its
# length (truncated, one digit more), or its form (Vercel sends `digest('hex')`: lowercase).
SIGNATURE_MISTAKES = {
    "last digit flipped": lambda good: flip(good, 39),
    "first digit flipped": lambda good: flip(good, 0),
    "middle digit flipped": lambda good: flip(good, 20),
    "truncated to 39 digits": lambda good: good[:39],
    "truncated to 8 digits": lambda good: good[:8],
    "one digit more": lambda good: good + "0",
    "upper case": lambda good: good.upper(),
    "HMAC-SHA256 instead of SHA1": lambda good: good,  # replaced in the test: a different digest
}


@pytest.mark.parametrize("mistake", list(SIGNATURE_MISTAKES))
async def test_a_signature_that_is_not_exactly_the_documented_hmac_is_401(receiver: Receiver, mistake: str) -> None:
    body = json.dumps([request_event()]).encode()
    good = sign(body)
    if mistake.startswith("HMAC-SHA256"):
        bad = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()[:40]
    else:
        bad = SIGNATURE_MISTAKES[mistake](good)
    assert bad != good
    response = await post(receiver, LOGS, body, signature=bad)
    assert response.status_code == 401 and response.json()["error"] == "bad_signature"
    assert receiver.counter("stackwatch.drain.rejected", drain="log", reason="bad_signature") == 1
    assert receiver.counter("stackwatch.drain.events") == 0
    # The exact documented signature of the same bytes is accepted.
    assert (await post(receiver, LOGS, body, signature=good)).status_code == 200


async def test_a_gzip_body_is_verified_over_its_compressed_bytes_as_sent(receiver: Receiver) -> None:
    """Vercel signs the bytes it sends; a body that arrives compressed is signed over its compressed
    bytes. A signature over the decompressed bytes is not what the docs describe: rejected."""
    body = json.dumps([request_event(), request_event(statusCode=503, proxy={"statusCode": 503})]).encode()
    sent = gzip.compress(body)
    over_decompressed = await post(receiver, LOGS, sent, signature=sign(body), **{"Content-Encoding": "gzip"})
    assert over_decompressed.status_code == 401
    assert receiver.counter("stackwatch.drain.rejected", drain="log", reason="bad_signature") == 1
    assert receiver.counter("vercel.requests") == 0
    over_sent = await post(receiver, LOGS, sent, signature=sign(sent), **{"Content-Encoding": "gzip"})
    assert over_sent.status_code == 200 and over_sent.json() == {"accepted": 2, "invalid": 0}
    assert receiver.counter("vercel.requests", project="web", status_class="5xx") == 1


async def test_a_gzip_batch_that_inflates_to_many_decode_steps_is_received_whole_within_the_body_timeout() -> None:
    """A few KiB on the wire that inflate to 6 MiB: decoded in 24 steps of DECODE_STEP_BYTES, each
    kept, and within the body timeout (the steps only yield to the loop, they never wait)."""
    from exporters.core.decoding import DECODE_STEP_BYTES

    r = Receiver(max_body=8 * 1024 * 1024)
    await r.start()
    try:
        events = json.dumps([request_event(id=str(n)) for n in range(3)]).encode()
        body = events[:-1] + b" " * (6 * 1024 * 1024 - len(events)) + b"]"
        assert len(body) >= 24 * DECODE_STEP_BYTES
        sent = gzip.compress(body, 9)
        assert len(sent) < 64 * 1024  # one read of the body: every step comes from one chunk
        response = await post(r, LOGS, sent, **{"Content-Encoding": "gzip"})
        assert response.status_code == 200 and response.json() == {"accepted": 3, "invalid": 0}
        assert r.counter("vercel.requests", project="web") == 3
    finally:
        await r.stop()


async def test_the_drain_sender_signs_the_bytes_it_sends_as_vercel_documents() -> None:
    """The simulator's deliveries, captured as they arrive: the header is the documented HMAC of the
    raw bytes (worked out here), and nothing is compressed."""
    seen: list[tuple[dict[str, str], bytes]] = []

    async def capture(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        return web.json_response({"accepted": 0, "invalid": 0})

    app = web.Application()
    app.add_routes([web.post(LOGS, capture), web.post(VITALS, capture), web.post(TRACES, capture)])
    runner = web.AppRunner(app, access_log=None, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        world = World(seed=9, scale=Scale(vercel_projects=2), start=datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc))
        await send_drains(f"http://127.0.0.1:{port}", SECRET, world, batches=2, events_per_batch=5)
    finally:
        await runner.cleanup()
    assert len(seen) == 6
    for headers, raw in seen:
        assert "Content-Encoding" not in headers
        assert headers["x-vercel-signature"] == hmac.new(SECRET.encode(), raw, hashlib.sha1).hexdigest()


async def test_an_oversize_body_is_413_even_without_content_length(receiver: Receiver) -> None:
    body = b"[" + b",".join([json.dumps(request_event()).encode()] * 1000) + b"]"
    assert len(body) > MAX_BODY

    async def chunks() -> AsyncIterator[bytes]:  # chunked transfer: no Content-Length to trust
        for i in range(0, len(body), 8192):
            yield body[i:i + 8192]

    async with httpx.AsyncClient() as client:
        response = await client.post(receiver.base_url + LOGS, content=chunks(),
                                     headers={"x-vercel-signature": sign(body)})
    assert response.status_code == 413
    declared = await post(receiver, VITALS, body)
    assert declared.status_code == 413
    assert receiver.counter("stackwatch.drain.rejected", drain="log", reason="oversize") == 1
    assert receiver.counter("stackwatch.drain.rejected", drain="speed_insights", reason="oversize") == 1
    assert receiver.counter("stackwatch.drain.events") == 0


@pytest.mark.parametrize("body", [b"", b"{not json", b'"a string"\n', b"[1, 2", b"\xff\xfe", b"[1, 2, 3]",
                                  b'{"source": 1}'])
async def test_a_malformed_payload_is_400(receiver: Receiver, body: bytes) -> None:
    response = await post(receiver, LOGS, body)
    assert response.status_code == 400
    assert receiver.counter("stackwatch.drain.rejected", drain="log", reason="malformed") == 1


async def test_a_batch_with_some_invalid_events_keeps_the_valid_ones(receiver: Receiver) -> None:
    body = json.dumps([request_event(), {"source": "edge"}, "text", request_event(statusCode="200")]).encode()
    response = await post(receiver, LOGS, body)
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "invalid": 3}
    assert receiver.counter("stackwatch.drain.events", drain="log") == 1
    assert receiver.counter("stackwatch.drain.rejected", drain="log", reason="invalid_event") == 3


async def test_without_a_secret_every_delivery_is_503_unconfigured() -> None:
    r = Receiver(secret=None)
    await r.start()
    try:
        body = json.dumps([request_event()]).encode()
        response = await post(r, LOGS, body)
        assert response.status_code == 503 and response.json()["error"] == "unconfigured"
        assert response.json()["message"] == "no drain secret is configured"
        assert r.counter("stackwatch.drain.rejected", drain="log", reason="unconfigured") == 1
        assert r.counter("vercel.requests") == 0
    finally:
        await r.stop()


async def test_speed_insights_record_seconds_by_project_and_metric_never_by_path_or_route(receiver: Receiver) -> None:
    def vital(metric: str, value: float, route: str | None) -> dict:
        event = {"schema": "vercel.speed_insights.v1", "timestamp": "2026-11-18T13:30:00.000Z",
                 "projectId": "prj_1", "metricType": metric, "value": value, "path": "/blog/a-post"}
        if route is not None:
            event["route"] = route
        return event

    body = json.dumps([vital("LCP", 2500, "/blog/[slug]"), vital("LCP", 1500, "/"), vital("CLS", 0.12, None),
                       vital("TTFB", 80, None), vital("XYZ", 1, "/")]).encode()
    response = await post(receiver, VITALS, body)
    assert response.json() == {"accepted": 4, "invalid": 1}
    durations = {tuple(sorted(p.attributes.items())): (p.count, p.sum)
                 for p in metric_points(receiver.reader, "vercel.web_vital.duration")}
    # 2500 ms + 1500 ms -> one LCP series of 4.0 s over 2 events, whatever their routes; 80 ms -> 0.08 s.
    assert durations == {
        (("metric", "LCP"), ("project", "prj_1")): (2, pytest.approx(4.0)),
        (("metric", "TTFB"), ("project", "prj_1")): (1, pytest.approx(0.08)),
    }
    assert receiver.histogram_counts("vercel.web_vital.cls") == {(("project", "prj_1"),): 1}


async def test_events_without_a_project_name_are_named_through_the_project_lookup() -> None:
    """The receiver is given the project list's id → name lookup: events that carry only
    `projectId` are labelled with the project's name (its id when the list does not know it)."""
    r = Receiver(project_name={"prj_1": "web"}.get)
    await r.start()
    try:
        logs = json.dumps([request_event(projectName=None), request_event(projectName=None, projectId="prj_2")])
        assert (await post(r, LOGS, logs.encode())).json() == {"accepted": 2, "invalid": 0}
        assert r.counter("vercel.requests", project="web") == r.counter("vercel.requests", project="prj_2") == 1
        vital = {"schema": "vercel.speed_insights.v1", "projectId": "prj_1", "metricType": "CLS", "value": 0.1}
        assert (await post(r, VITALS, json.dumps([vital]).encode())).json() == {"accepted": 1, "invalid": 0}
        assert r.histogram_counts("vercel.web_vital.cls") == {(("project", "web"),): 1}
        traces = await post(r, TRACES, trace_export("prj_1", span("GET /", 5)), **{"content-type": "application/json"})
        assert traces.json() == {"accepted": 1, "invalid": 0}
        assert r.histogram_counts("vercel.function.duration") == {(("project", "web"), ("route", "/")): 1}
    finally:
        await r.stop()


async def test_every_invalid_speed_insights_event_is_counted(receiver: Receiver) -> None:
    good = {"schema": "vercel.speed_insights.v1", "projectId": "prj_1", "metricType": "LCP", "value": 1200}
    body = json.dumps([good, {**good, "metricType": "XYZ"}, {**good, "value": -1}, {**good, "schema": "v0"}]).encode()
    response = await post(receiver, VITALS, body)
    assert response.status_code == 200 and response.json() == {"accepted": 1, "invalid": 3}
    assert response.headers["content-type"].split(";")[0].strip().lower() == "application/json"
    assert receiver.counter("stackwatch.drain.rejected", drain="speed_insights", reason="invalid_event") == 3
    assert receiver.counter("stackwatch.drain.events", drain="speed_insights") == 1


@pytest.mark.parametrize("scenario", ["steady", "error-burst", "latency-spike"])
async def test_receiver_metrics_equal_what_the_drain_sender_sent(receiver: Receiver, scenario: str) -> None:
    world = World(seed=9, scale=Scale(vercel_projects=5), start=datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc))
    world.set_scenario(scenario)
    truth = await send_drains(receiver.base_url, SECRET, world, batches=6, events_per_batch=50)
    assert truth.statuses == {200: 18}
    assert receiver.counter("stackwatch.drain.events", drain="log") == truth.events["log"] == 300
    assert receiver.counter("stackwatch.drain.events", drain="speed_insights") == truth.events["speed_insights"] == 300
    by_status: Counter = Counter()
    by_cache: Counter = Counter()
    for (project, _source, status_class, cache), count in truth.requests.items():
        by_status[(project, status_class)] += count
        by_cache[(project, cache)] += count
    for (project, status_class), count in by_status.items():
        assert receiver.counter("vercel.requests", project=project, status_class=status_class) == count
    for (project, cache), count in by_cache.items():
        assert receiver.counter("vercel.cache.requests", project=project, cache=cache) == count
    assert receiver.counter("vercel.requests") == receiver.counter("vercel.cache.requests") \
        == sum(truth.requests.values())
    for project, crashes in truth.crashes.items():
        assert receiver.counter("vercel.function.crashes", project=project) == crashes
    assert receiver.counter("vercel.function.crashes") == sum(truth.crashes.values())
    vitals: dict[str, int] = {}
    for attrs, count in receiver.histogram_counts("vercel.web_vital.duration").items():
        vitals[dict(attrs)["metric"]] = vitals.get(dict(attrs)["metric"], 0) + count
    vitals["CLS"] = sum(receiver.histogram_counts("vercel.web_vital.cls").values())
    assert vitals == dict(truth.vitals)
    assert receiver.counter("stackwatch.drain.events", drain="trace") == truth.events["trace"] == 300  # 25 invocations a batch, 2 spans each
    functions = {(dict(p.attributes)["project"], dict(p.attributes)["route"]): (p.count, p.sum)
                 for p in metric_points(receiver.reader, "vercel.function.duration")}
    assert functions == {key: (len(seconds), pytest.approx(sum(seconds))) for key, seconds in truth.functions.items()}
    assert receiver.counter("stackwatch.drain.rejected") == 0
    if scenario == "error-burst":
        five = sum(c for (_p, _s, status, _c), c in truth.requests.items() if status == "5xx")
        assert five > 0.2 * sum(truth.requests.values()) and sum(truth.crashes.values()) > 0


def trace_export(project: str | None, *spans: dict) -> bytes:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "vercel-function"}}]}
    if project is not None:
        resource["attributes"].append({"key": "vercel.projectId", "value": {"stringValue": project}})
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {"name": "vercel"},
                                                                              "spans": list(spans)}]}]}).encode()


def span(name: str, ms: float, kind: object = "server", route: str | None = None, start: int = 1_700_000_000 * 10**9) -> dict:
    out: dict = {"traceId": "7bba9f33312b3dbb8b2c2c62bb7abe2d", "spanId": "086e83747d0e381e", "name": name,
                 "kind": kind, "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + int(ms * 1e6))}
    if route is not None:
        out["attributes"] = [{"key": "http.route", "value": {"stringValue": route}}]
    return out


async def test_trace_drains_record_server_span_time_by_project_and_route(receiver: Receiver) -> None:
    """Vercel's documented example span (kind "server", "GET /api/users", 150 ms) and OTLP's own enum
    forms count; a client span is accepted but is no invocation; `http.route` wins over the name."""
    body = trace_export("prj_1", span("GET /api/users", 150), span("GET /api/users/7", 50, 2, route="/api/users/[id]"),
                        span("POST /api/cart", 250, "SPAN_KIND_SERVER"), span("fetch", 40, 3))
    response = await post(receiver, TRACES, body, **{"content-type": "application/json"})
    assert response.json() == {"accepted": 4, "invalid": 0}
    functions = {tuple(sorted(p.attributes.items())): (p.count, p.sum)
                 for p in metric_points(receiver.reader, "vercel.function.duration")}
    assert functions == {
        (("project", "prj_1"), ("route", "/api/users")): (1, pytest.approx(0.15)),
        (("project", "prj_1"), ("route", "/api/users/[id]")): (1, pytest.approx(0.05)),
        (("project", "prj_1"), ("route", "/api/cart")): (1, pytest.approx(0.25)),
    }


async def test_trace_drains_accept_otlp_protobuf() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    r = Receiver()
    await r.start()
    try:
        export = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
            resource={"attributes": [KeyValue(key="vercel.projectId", value=AnyValue(string_value="prj_9"))]},
            scope_spans=[ScopeSpans(spans=[Span(name="GET /", kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=10**18,
                                                end_time_unix_nano=10**18 + 300_000_000)])])])
        response = await post(r, TRACES, export.SerializeToString(), **{"content-type": "application/x-protobuf"})
        assert response.json() == {"accepted": 1, "invalid": 0}
        assert r.histogram_counts("vercel.function.duration") == {(("project", "prj_9"), ("route", "/")): 1}
        garbage = await post(r, TRACES, b"\xff\x00not protobuf", **{"content-type": "application/x-protobuf"})
        assert garbage.status_code == 400 and garbage.json()["error"] == "malformed"
    finally:
        await r.stop()


async def test_trace_drain_routes_are_bounded_per_project_and_bad_spans_counted(receiver: Receiver) -> None:
    from exporters.providers.vercel.drains import ROUTES_PER_PROJECT
    routes = [f"/api/r{i}" for i in range(ROUTES_PER_PROJECT + 3)]
    body = trace_export("prj_1", *(span(f"GET {r}", 10) for r in routes),
                        {**span("GET /x", 10), "startTimeUnixNano": "soon"},  # not an integer: invalid
                        {**span("GET /y", 10), "endTimeUnixNano": "1"})  # ends before it starts: invalid
    response = await post(receiver, TRACES, body, **{"content-type": "application/json"})
    assert response.json() == {"accepted": len(routes), "invalid": 2}
    counts = receiver.histogram_counts("vercel.function.duration")
    kept = {dict(k)["route"] for k in counts}
    assert kept == {*routes[:ROUTES_PER_PROJECT], "other"}
    assert counts[(("project", "prj_1"), ("route", "other"))] == 3
    assert receiver.counter("stackwatch.drain.rejected", drain="trace", reason="invalid_event") == 2
    no_project = await post(receiver, TRACES, trace_export(None, span("GET /", 5)), **{"content-type": "application/json"})
    assert no_project.status_code == 400  # its only span is invalid


async def test_each_project_keeps_its_own_routes_and_an_export_without_content_type_is_json(receiver: Receiver) -> None:
    from exporters.providers.vercel.drains import ROUTES_PER_PROJECT
    routes = {project: [f"/{project}/r{i}" for i in range(ROUTES_PER_PROJECT)] for project in ("prj_1", "prj_2")}
    for project, its_routes in routes.items():
        body = trace_export(project, *(span(f"GET {r}", 10) for r in its_routes))
        response = await post(receiver, TRACES, body)  # no Content-Type header: OTLP JSON
        assert response.json() == {"accepted": ROUTES_PER_PROJECT, "invalid": 0}
    kept = {(dict(k)["project"], dict(k)["route"]) for k in receiver.histogram_counts("vercel.function.duration")}
    assert kept == {(project, r) for project, its_routes in routes.items() for r in its_routes}


# --- fuzz: whatever arrives, the receiver answers 2xx/4xx and counts every rejection ---

class ThreadedReceiver:
    """The receiver on its own loop in a thread, so synchronous Hypothesis examples can call it."""

    def __init__(self) -> None:
        self.receiver = Receiver()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self.loop).result(timeout=30)
        return self.receiver

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def fuzz_target() -> Iterator[tuple[Receiver, httpx.Client]]:
    with ThreadedReceiver() as r, httpx.Client(base_url=r.base_url, timeout=30) as client:
        yield r, client


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25)
# Events that look like drain events, so the fuzz also reaches the validators, not only the parser.
log_like = st.fixed_dictionaries({"source": st.sampled_from(["edge", "lambda", "build", "weird"]) | json_values,
                                  "timestamp": st.integers() | json_values},
                                 optional={"projectName": st.text(max_size=10) | json_values,
                                           "projectId": st.text(max_size=10),
                                           "statusCode": st.integers(-5, 700) | json_values,
                                           "proxy": st.dictionaries(st.sampled_from(["statusCode", "vercelCache"]),
                                                                    json_values | st.integers(), max_size=2)})
vital_like = st.fixed_dictionaries({"schema": st.just("vercel.speed_insights.v1") | json_values,
                                    "metricType": st.sampled_from(["LCP", "CLS", "INP", "nope"]) | json_values,
                                    "value": st.floats() | json_values},
                                   optional={"projectId": st.text(max_size=10) | json_values,
                                             "route": json_values})


def _encode(events: list, ndjson: bool) -> bytes:
    if ndjson:
        return "\n".join(json.dumps(e) for e in events).encode()
    return json.dumps(events).encode()


bodies = (st.binary(max_size=2048)
          | json_values.map(lambda v: json.dumps(v).encode())
          | st.builds(_encode, st.lists(log_like | vital_like | json_values, max_size=8), st.booleans()))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(body=bodies, signed=st.booleans(), path=st.sampled_from([LOGS, VITALS]))
def test_fuzz_the_receiver_never_fails_and_counts_every_rejection(
        fuzz_target: tuple[Receiver, httpx.Client], body: bytes, signed: bool, path: str) -> None:
    r, client = fuzz_target
    drain = "log" if path == LOGS else "speed_insights"
    rejected_before = r.counter("stackwatch.drain.rejected", drain=drain)
    events_before = r.counter("stackwatch.drain.events", drain=drain)
    headers = {"x-vercel-signature": sign(body)} if signed else {}
    response = client.post(path, content=body, headers=headers)
    assert 200 <= response.status_code < 500
    rejected = r.counter("stackwatch.drain.rejected", drain=drain) - rejected_before
    accepted = r.counter("stackwatch.drain.events", drain=drain) - events_before
    if not signed:
        assert response.status_code == 401 and rejected == 1
    elif response.status_code == 200 and response.json().get("duplicate"):
        assert (accepted, rejected) == (0, 1)  # a replay of an accepted body: counted as a duplicate only
    elif response.status_code == 200:
        answer = response.json()
        assert (accepted, rejected) == (answer["accepted"], answer["invalid"])
    else:
        assert response.status_code in (400, 413) and rejected == 1 and accepted == 0
