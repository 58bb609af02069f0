"""The drain receiver under hostile clients: every bound (body and head timeouts, concurrent
bodies, open connections, keep-alive, decompression, nesting, replays) answers with a clear
status, is counted, and leaves /healthz answering. Raw sockets on loopback, so a test can
stall half-way through a request as an attacker would.

No assertion depends on speed: a bound is set small (0.3 s) and the test waits for its
effect with a generous guard (`GUARD_S`). Every test server reads bodies within `BODY_S` (far
more than a loopback body takes) and stops within `SHUTDOWN_S`, so a receiver that stops
reading or answering fails its test in seconds, not at the guard.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from aiohttp import web
from simhelpers import counter_value
from structlog.testing import capture_logs

from exporters.core.config import ConfigError
from exporters.core.decoding import DECODE_STEP_BYTES, BoundedDecoder, TooLarge
from exporters.core.metrics import MetricStore
from exporters.core.telemetry import build_meter_provider, in_memory_reader
from exporters.providers.registry import all_metrics
from exporters.providers.vercel.drains import DrainLimits, DrainReceiver, ReplayWindow
from exporters.service.config import parse_config
from exporters.service.server_limits import FD_RESERVE, GuardedAppRunner, ServerLimits, connection_ceiling

SECRET = "drain-secret-for-bounds"
MAX_BODY = 256 * 1024
LOGS = "/drains/vercel/logs"
GUARD_S = 30.0
SHORT_S = 0.3
BODY_S = 5.0
SHUTDOWN_S = 1.0


def sign(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()


def event(**overrides: object) -> dict:
    base = {"projectId": "prj_1", "projectName": "web", "source": "edge", "timestamp": 1_700_000_000_000,
            "proxy": {"statusCode": 200, "vercelCache": "HIT"}}
    return {**base, **overrides}


@dataclass
class Server:
    receiver: DrainReceiver
    runner: GuardedAppRunner
    reader: object
    port: int
    now: list[float]

    def counter(self, name: str, **attrs: str) -> float:
        return counter_value(self.reader, name, **attrs)


async def start(*, drain: DrainLimits | None = None, server: ServerLimits | None = None,
                project_name: Callable[[str], str | None] | None = None) -> Server:
    reader = in_memory_reader()
    meter_provider = build_meter_provider("test", export_interval_s=60, extra_readers=(reader,))
    store = MetricStore(meter_provider.get_meter("test"), all_metrics())
    now = [1000.0]
    receiver = DrainReceiver(store, SECRET, MAX_BODY, limits=drain or DrainLimits(body_timeout_s=BODY_S),
                             clock=lambda: now[0], project_name=project_name)
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.add_routes([web.get("/healthz", healthz), *receiver.routes()])
    runner = GuardedAppRunner(app, server or ServerLimits(),
                              lambda reason: store.add("stackwatch.drain.rejected", 1,
                                                       {"drain": "any", "reason": reason}),
                              access_log=None, shutdown_timeout=SHUTDOWN_S)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return Server(receiver, runner, reader, port, now)


@pytest.fixture
async def make() -> AsyncIterator:
    servers: list[Server] = []

    async def factory(**kwargs: object) -> Server:
        servers.append(await start(**kwargs))  # type: ignore[arg-type]
        return servers[-1]

    yield factory
    for s in servers:
        await s.runner.cleanup()


def head(path: str, length: int | None, signature: str | None, **extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if signature is not None:
        lines.append(f"x-vercel-signature: {signature}")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


async def raw(port: int, data: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    return reader, writer


async def response_of(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP response, or (0, {}, b"") when the server just closed."""
    data = await asyncio.wait_for(reader.read(65536), GUARD_S)
    while data and b"\r\n\r\n" not in data:
        more = await asyncio.wait_for(reader.read(65536), GUARD_S)
        if not more:
            break
        data += more
    if not data:
        return 0, {}, b""
    head_part, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head_part.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if ":" in h)}
    return int(status_line.split()[1]), headers, body


async def exchange(port: int, path: str, body: bytes, signature: str | None, **extra: str) -> tuple[int, dict]:
    reader, writer = await raw(port, head(path, len(body), signature, **extra) + body)
    try:
        status, _headers, answer = await response_of(reader)
    finally:
        writer.close()
    return status, (json.loads(answer) if answer.startswith(b"{") else {})


async def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(GUARD_S):
        while not condition():
            await asyncio.sleep(0.01)


async def next_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], dict]:
    """One whole response (head, then Content-Length bytes) of a connection that may stay open."""
    head_part = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), GUARD_S)
    status_line, *header_lines = head_part.decode("latin-1").rstrip("\r\n").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if ":" in h)}
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), GUARD_S)
    return int(status_line.split()[1]), headers, json.loads(body) if body.startswith(b"{") else {}


def chunked(path: str, body: bytes, signature: str, piece: int = 64 * 1024, **extra: str) -> bytes:
    """A request whose body is sent in chunks, so no Content-Length announces its size."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             "Transfer-Encoding: chunked", f"x-vercel-signature: {signature}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in extra.items()]
    out = ("\r\n".join(lines) + "\r\n\r\n").encode()
    for i in range(0, len(body), piece):
        out += f"{len(body[i:i + piece]):x}\r\n".encode() + body[i:i + piece] + b"\r\n"
    return out + b"0\r\n\r\n"


async def send_all(writer: asyncio.StreamWriter, data: bytes) -> None:
    try:
        writer.write(data)
        await writer.drain()
    except ConnectionError:
        pass  # the server answered and closed while we were still sending


def batch_of_size(size: int, event_id: str) -> bytes:
    """A JSON array of one valid event, padded with whitespace to exactly `size` bytes."""
    one = json.dumps([event(id=event_id)]).encode()
    return one[:-1] + b" " * (size - len(one)) + b"]"


# --- time ---

async def test_a_body_that_stalls_is_answered_408_and_the_connection_closed(make) -> None:  # type: ignore[no-untyped-def]
    s = await make(drain=DrainLimits(body_timeout_s=SHORT_S))
    # Announces 10,000 bytes, sends 100, then nothing.
    reader, writer = await raw(s.port, head(LOGS, 10_000, sign(b"x")) + b"[" * 100)
    status, headers, answer = await next_response(reader)
    assert status == 408 and headers.get("connection") == "close"
    assert answer == {"error": "timeout", "message": f"body not received within {SHORT_S:g} s"}
    assert await asyncio.wait_for(reader.read(), GUARD_S) == b""  # closed, nothing more read
    writer.close()
    assert s.counter("stackwatch.drain.rejected", drain="log", reason="timeout") == 1


async def test_a_connection_that_never_completes_its_request_head_is_closed(make) -> None:  # type: ignore[no-untyped-def]
    s = await make(server=ServerLimits(header_timeout_s=SHORT_S))
    reader, writer = await raw(s.port, b"POST /drains/vercel/logs HTTP/1.1\r\nHost: x\r\n")
    assert await asyncio.wait_for(reader.read(), GUARD_S) == b""
    writer.close()
    await until(lambda: s.counter("stackwatch.drain.rejected", drain="any", reason="header_timeout") == 1,
                "header timeout counted")


async def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_time(make) -> None:  # type: ignore[no-untyped-def]
    s = await make(server=ServerLimits(keepalive_s=SHORT_S))
    reader, writer = await raw(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, _body = await response_of(reader)
    assert status == 200 and headers.get("connection", "keep-alive").lower() != "close"
    assert await asyncio.wait_for(reader.read(), GUARD_S) == b""  # the server closed the idle connection
    writer.close()


# Refusals decided before the body is read to its end: the answer closes the connection, so the
# unread rest of the body is never read (docs/providers/vercel.md, "What the drain receiver accepts").
def _bomb() -> bytes:
    return gzip.compress(bytes(4 * MAX_BODY), 9)


EARLY_REFUSALS = {
    "malformed signature header": (
        lambda body: head(LOGS, len(body), "z" * 40) + body,
        401, "bad_signature", "missing or malformed x-vercel-signature"),
    "declared size over the cap": (
        lambda body: head(LOGS, MAX_BODY + 1, sign(body)),  # the head alone: nothing of the body is sent
        413, "oversize", f"body larger than {MAX_BODY} bytes"),
    "unsupported Content-Encoding": (
        lambda body: head(LOGS, len(body), sign(body), Content_Encoding="br") + body,
        415, "malformed", "unsupported Content-Encoding 'br'"),
    "more bytes received than the cap": (
        lambda body: chunked(LOGS, b" " * (MAX_BODY + 1), sign(b" " * (MAX_BODY + 1))),
        413, "oversize", f"body larger than {MAX_BODY} bytes"),
    "decompressed bytes over the cap": (
        lambda body: head(LOGS, len(_bomb()), sign(_bomb()), Content_Encoding="gzip") + _bomb(),
        413, "oversize", f"body larger than {MAX_BODY} bytes (decompressed)"),
}


@pytest.mark.parametrize("case", list(EARLY_REFUSALS))
async def test_a_refusal_before_the_body_is_read_names_the_problem_and_closes_the_connection(make, case: str) -> None:  # type: ignore[no-untyped-def]
    s = await make()
    request, status, reason, message = EARLY_REFUSALS[case]
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    await send_all(writer, request(json.dumps([event()]).encode()))
    got, headers, answer = await next_response(reader)
    assert (got, answer) == (status, {"error": reason, "message": message})
    assert headers.get("connection") == "close" and headers["content-type"].startswith("application/json")
    assert await asyncio.wait_for(reader.read(), GUARD_S) == b""  # closed by the server
    writer.close()
    assert s.counter("stackwatch.drain.rejected", drain="log", reason=reason) == 1
    assert s.counter("stackwatch.drain.events") == 0


async def test_a_compressed_body_that_does_not_decode_is_400_and_the_connection_closed(make) -> None:  # type: ignore[no-untyped-def]
    s = await make()
    sent = b"\x1f\x8b this is not a gzip stream"
    reader, writer = await raw(s.port, head(LOGS, len(sent), sign(sent), Content_Encoding="gzip") + sent)
    status, headers, answer = await next_response(reader)
    writer.close()
    assert status == 400 and headers.get("connection") == "close" and answer["error"] == "malformed"
    assert answer["message"].startswith("corrupt compressed body (")
    assert s.counter("stackwatch.drain.rejected", drain="log", reason="malformed") == 1


async def test_a_refusal_after_the_whole_body_is_read_keeps_the_connection_for_the_next_delivery(make) -> None:  # type: ignore[no-untyped-def]
    """Vercel re-uses its connection; a body read to its end leaves it usable, whatever the answer."""
    s = await make()
    reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
    good = json.dumps([event()]).encode()
    unreadable, no_valid_event = b"[1, 2", b'[{"source": "edge"}, 1]'
    deliveries = [
        (head(LOGS, len(good), sign(b"another body")) + good,
         401, {"error": "bad_signature", "message": "missing or wrong x-vercel-signature"}),
        (head(LOGS, len(unreadable), sign(unreadable)) + unreadable,
         400, {"error": "malformed", "message": "body is not a JSON array"}),
        (head(LOGS, len(no_valid_event), sign(no_valid_event)) + no_valid_event,
         400, {"error": "malformed", "message": "none of the 2 events is valid"}),
        (head(LOGS, len(good), sign(good)) + good, 200, {"accepted": 1, "invalid": 0}),
    ]
    try:
        for request, status, answer in deliveries:
            writer.write(request)
            await writer.drain()
            got, headers, body = await next_response(reader)
            assert (got, body) == (status, answer)
            assert headers.get("connection", "keep-alive").lower() != "close"
    finally:
        writer.close()
    assert s.counter("stackwatch.drain.rejected", drain="log") == 3
    assert s.counter("vercel.requests", project="web") == 1


def test_keep_alive_defaults_to_75_seconds_and_cannot_be_configured_longer() -> None:
    assert ServerLimits().keepalive_s == 75.0
    assert parse_config({}, "t").service.drain_keepalive_seconds == 75.0
    with pytest.raises(ConfigError, match="drain_keepalive_seconds"):
        parse_config({"service": {"drain_keepalive_seconds": 3600}}, "t")


# --- number ---

async def test_bodies_beyond_the_concurrent_cap_get_503_with_retry_after(make) -> None:  # type: ignore[no-untyped-def]
    s = await make(drain=DrainLimits(max_concurrent_bodies=2, body_timeout_s=GUARD_S))
    stalled = [await raw(s.port, head(LOGS, 10_000, sign(b"x")) + b"[") for _ in range(2)]
    await until(lambda: s.receiver._bodies_in_flight == 2, "two bodies in flight")
    reader, writer = await raw(s.port, head(LOGS, 10_000, sign(b"x")) + b"[")
    status, headers, _body = await response_of(reader)
    writer.close()
    assert status == 503 and headers.get("retry-after") == "5"
    assert s.counter("stackwatch.drain.rejected", drain="log", reason="busy") == 1
    for _reader, writer in stalled:
        writer.close()
    await until(lambda: s.receiver._bodies_in_flight == 0, "stalled bodies released")
    body = json.dumps([event()]).encode()
    assert (await exchange(s.port, LOGS, body, sign(body)))[0] == 200


async def test_the_concurrent_cap_admits_exactly_its_number_of_bodies_and_is_whole_again_after(make) -> None:  # type: ignore[no-untyped-def]
    s = await make(drain=DrainLimits(max_concurrent_bodies=2, body_timeout_s=GUARD_S))
    for round_ in range(2):  # the second round: the cap is the same once the first bodies are done
        bodies = [json.dumps([event(id=f"{round_}-{n}")]).encode() for n in range(3)]
        halfway = [await raw(s.port, head(LOGS, len(body), sign(body)) + body[:5]) for body in bodies[:2]]
        await until(lambda: s.receiver._bodies_in_flight == 2, "two bodies in flight")
        reader, writer = await raw(s.port, head(LOGS, len(bodies[2]), sign(bodies[2])) + bodies[2])
        status, headers, answer = await next_response(reader)
        writer.close()
        assert status == 503 and headers.get("retry-after") == "5" and headers.get("connection") == "close"
        assert answer == {"error": "busy", "message": "too many deliveries in progress; retry later"}
        for (reader, writer), body in zip(halfway, bodies[:2], strict=True):  # both admitted: they finish and count
            writer.write(body[5:])
            await writer.drain()
            status, _headers, answer = await next_response(reader)
            writer.close()
            assert (status, answer) == (200, {"accepted": 1, "invalid": 0})
        await until(lambda: s.receiver._bodies_in_flight == 0, "bodies done")
    assert s.counter("stackwatch.drain.rejected", drain="log", reason="busy") == 2
    assert s.counter("vercel.requests", project="web") == 4


async def test_at_the_connection_limit_idle_connections_are_evicted_and_healthz_answers(make) -> None:  # type: ignore[no-untyped-def]
    # The head timeout is far beyond the test's guard: an idle socket closed here was evicted.
    s = await make(server=ServerLimits(max_connections=8, header_timeout_s=10 * GUARD_S))
    idle = [await raw(s.port, b"") for _ in range(8)]
    server = s.runner.server
    await until(lambda: len(server.connections) == 8, "eight idle connections")  # type: ignore[union-attr]
    kept = []
    with capture_logs() as logs:
        for _ in range(40):  # each new keep-alive connection stays open, so each one needs room
            reader, writer = await raw(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await response_of(reader))[0] == 200
            kept.append(writer)
    for reader, writer in idle:  # the oldest idle sockets were closed to make room
        assert await asyncio.wait_for(reader.read(), GUARD_S) == b""
        writer.close()
    for writer in kept:
        writer.close()
    assert s.counter("stackwatch.drain.rejected", drain="any", reason="connections") == 40
    assert len([e for e in logs if "connection limit" in e["event"]]) == 1


async def test_when_every_connection_is_busy_a_new_one_gets_503(make) -> None:  # type: ignore[no-untyped-def]
    s = await make(server=ServerLimits(max_connections=8, header_timeout_s=GUARD_S),
                   drain=DrainLimits(max_concurrent_bodies=8, body_timeout_s=GUARD_S))
    busy = [await raw(s.port, head(LOGS, 10_000, sign(b"x")) + b"[") for _ in range(8)]
    await until(lambda: s.receiver._bodies_in_flight == 8, "eight uploads in progress")
    with capture_logs() as logs:
        for _ in range(20):
            reader, writer = await raw(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, _body = await response_of(reader)
            writer.close()
            assert status == 503 and headers.get("retry-after") == "5"
    assert s.counter("stackwatch.drain.rejected", drain="any", reason="connections") == 20
    assert len([e for e in logs if "connection limit" in e["event"]]) == 1
    for _reader, writer in busy:
        writer.close()


def test_the_connection_cap_stays_below_the_file_limit() -> None:
    assert connection_ceiling(1024, soft_limit=20_000) == 1024
    assert connection_ceiling(1024, soft_limit=1024) == 1024 - FD_RESERVE
    assert connection_ceiling(1024, soft_limit=100) == 8


# --- bytes ---

def test_decompression_proceeds_in_bounded_steps_and_stops_at_the_cap() -> None:
    bomb = gzip.compress(bytes(64 * 1024 * 1024), 9)  # 64 MiB of zeros in ~64 KiB
    decoder = BoundedDecoder("gzip", limit=1024 * 1024)
    produced = []
    with pytest.raises(TooLarge):
        for piece in decoder.feed(bomb):
            produced.append(len(piece))
    assert max(produced) <= DECODE_STEP_BYTES
    assert sum(produced) <= 1024 * 1024


async def test_a_gzip_bomb_is_rejected_as_oversize_and_a_gzip_batch_accepted(make) -> None:  # type: ignore[no-untyped-def]
    s = await make()
    bomb = gzip.compress(bytes(64 * 1024 * 1024), 9)
    status, answer = await exchange(s.port, LOGS, bomb, sign(bomb), Content_Encoding="gzip")
    assert status == 413 and "decompressed" in answer["message"]
    # Signed as Vercel signs: over the bytes sent, compressed ones included.
    body = json.dumps([event()]).encode()
    zipped = gzip.compress(body)
    status, answer = await exchange(s.port, LOGS, zipped, sign(zipped), Content_Encoding="gzip")
    assert status == 200 and answer["accepted"] == 1
    deflated = zlib.compress(body)
    status, answer = await exchange(s.port, LOGS, deflated, sign(deflated), Content_Encoding="deflate")
    assert status == 200 and answer["accepted"] == 1
    # A replay is the same signed bytes again: acknowledged, not counted.
    status, answer = await exchange(s.port, LOGS, deflated, sign(deflated), Content_Encoding="deflate")
    assert status == 200 and answer == {"accepted": 0, "invalid": 0, "duplicate": True}
    assert s.counter("vercel.requests", project="web") == 2


async def test_compressed_bytes_that_decode_to_nothing_still_count_against_the_cap(make) -> None:  # type: ignore[no-untyped-def]
    """A gzip header whose file name never ends decodes to no byte at all: the bytes received are
    capped too, so such a body stops at the cap (chunked, so no Content-Length announces it)."""
    s = await make()
    header = b"\x1f\x8b\x08\x08" + bytes(6)  # gzip, deflate, FNAME set; mtime, xfl, os
    reader, writer = await raw(s.port, (f"POST {LOGS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                        f"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
                                        f"x-vercel-signature: {sign(b'x')}\r\n\r\n").encode())
    name = b"a" * (64 * 1024)
    try:
        for piece in [header] + [name] * (2 * MAX_BODY // len(name)):
            writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            await writer.drain()
    except ConnectionError:
        pass  # the server answered and closed while we were still sending: what is tested
    status, _headers, answer = await response_of(reader)
    writer.close()
    assert status == 413 and json.loads(answer)["error"] == "oversize"
    assert s.counter("stackwatch.drain.rejected", drain="log", reason="oversize") == 1


async def test_a_body_of_exactly_the_cap_is_accepted_and_one_byte_more_is_not(make) -> None:  # type: ignore[no-untyped-def]
    s = await make()
    for n, (size, expected) in enumerate([(MAX_BODY, 200), (MAX_BODY + 1, 413)]):
        declared = batch_of_size(size, f"declared-{n}")
        assert (await exchange(s.port, LOGS, declared, sign(declared)))[0] == expected
        sent = batch_of_size(size, f"chunked-{n}")  # no Content-Length: the bytes received are counted
        reader, writer = await asyncio.open_connection("127.0.0.1", s.port)
        await send_all(writer, chunked(LOGS, sent, sign(sent)))
        status, _headers, _answer = await next_response(reader)
        writer.close()
        assert status == expected
    assert s.counter("vercel.requests", project="web") == 2
    assert s.counter("stackwatch.drain.rejected", drain="log", reason="oversize") == 2


async def test_a_batch_larger_than_one_read_is_received_whole_and_parsed_off_the_loop(make) -> None:  # type: ignore[no-untyped-def]
    """Bodies arrive in reads of at most 64 KiB; one over `parse_off_loop_bytes` is parsed on a
    worker thread. Either way every event of the batch is counted."""
    s = await make(drain=DrainLimits(body_timeout_s=BODY_S, parse_off_loop_bytes=1024))
    events = [event(id=str(n), proxy={"statusCode": 500 if n % 4 == 0 else 200}) for n in range(1600)]
    body = json.dumps(events).encode()
    assert 3 * 64 * 1024 < len(body) <= MAX_BODY
    status, answer = await exchange(s.port, LOGS, body, sign(body))
    assert (status, answer) == (200, {"accepted": 1600, "invalid": 0})
    assert s.counter("vercel.requests", project="web", status_class="5xx") == 400
    assert s.counter("vercel.requests", project="web", status_class="2xx") == 1200


# --- errors ---

async def test_an_unexpected_error_is_answered_500_logged_counted_and_the_receiver_keeps_serving(make) -> None:  # type: ignore[no-untyped-def]
    """A bug (here: a project lookup that raises) costs the sender a 500, which Vercel retries,
    and the operator one logged error with its drain; the next delivery is served as usual."""
    def broken_lookup(project_id: str) -> str | None:
        raise RuntimeError(f"lookup of {project_id} failed")

    s = await make(project_name=broken_lookup)
    by_id = json.dumps([event(projectName=None)]).encode()  # named through the lookup
    with capture_logs() as logs:
        reader, writer = await raw(s.port, head(LOGS, len(by_id), sign(by_id)) + by_id)
        status, headers, answer = await next_response(reader)
        writer.close()
    assert (status, answer) == (500, {"error": "internal"})
    assert headers["content-type"].split(";")[0].strip().lower() == "application/json"
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [(e["event"], e["drain"]) for e in errors] == [("drain delivery failed unexpectedly", "log")]
    assert s.counter("stackwatch.drain.rejected", drain="log", reason="internal") == 1
    by_name = json.dumps([event()]).encode()
    assert await exchange(s.port, LOGS, by_name, sign(by_name)) == (200, {"accepted": 1, "invalid": 0})


def test_the_service_runner_leaves_decompression_to_the_receiver() -> None:
    runner = GuardedAppRunner(web.Application(), ServerLimits(), lambda reason: None)
    assert runner._kwargs["auto_decompress"] is False
    assert runner._kwargs["keepalive_timeout"] == 75.0


@pytest.mark.parametrize("depth", [1_001, 20_000])
async def test_deeply_nested_json_is_malformed_not_an_internal_error(make, depth: int) -> None:  # type: ignore[no-untyped-def]
    s = await make()
    body = b"[" * depth + b"]" * depth
    status, answer = await exchange(s.port, LOGS, body, sign(body))
    assert status == 400 and answer["error"] == "malformed"
    ndjson = b'{"a":' * depth + b"1" + b"}" * depth
    status, _answer = await exchange(s.port, LOGS, ndjson, sign(ndjson))
    assert status == 400
    assert s.counter("stackwatch.drain.rejected", reason="internal") == 0


@pytest.mark.parametrize("signature", ["é" * 40, "ü" + "0" * 39, "0" * 39, "z" * 40, ""])
async def test_a_non_hex_or_non_ascii_signature_is_401_before_the_body_is_read(make, signature: str) -> None:  # type: ignore[no-untyped-def]
    s = await make()
    body = json.dumps([event()]).encode()
    status, answer = await exchange(s.port, LOGS, body, signature)
    assert status == 401 and answer["error"] == "bad_signature"
    assert s.counter("stackwatch.drain.rejected", reason="internal") == 0


# --- replays ---

async def test_a_replayed_delivery_is_acknowledged_but_counted_once(make) -> None:  # type: ignore[no-untyped-def]
    s = await make(drain=DrainLimits(replay_window_s=600))
    body = json.dumps([event()]).encode()
    assert (await exchange(s.port, LOGS, body, sign(body)))[0] == 200
    status, answer = await exchange(s.port, LOGS, body, sign(body))
    assert status == 200 and answer.get("duplicate") is True
    assert s.counter("vercel.requests", project="web") == 1
    assert s.counter("stackwatch.drain.rejected", drain="log", reason="duplicate") == 1
    s.now[0] += 601  # past the window: the same body is a new delivery
    assert (await exchange(s.port, LOGS, body, sign(body)))[1].get("accepted") == 1
    assert s.counter("vercel.requests", project="web") == 2


def test_a_replay_is_recognised_for_less_than_the_window_and_not_at_its_end() -> None:
    now = [0.0]
    window = ReplayWindow(window_s=10, max_entries=3, clock=lambda: now[0])
    window.add(b"a")
    now[0] = 9.5
    assert window.seen(b"a")
    now[0] = 10.0  # replay_window_s after it was accepted: a new delivery
    assert not window.seen(b"a") and len(window) == 0


def test_a_replay_window_of_a_second_still_recognises_a_replay() -> None:
    now = [0.0]
    window = ReplayWindow(window_s=1, max_entries=3, clock=lambda: now[0])
    window.add(b"a")
    now[0] = 0.5
    assert window.seen(b"a")


def test_a_replay_window_of_zero_keeps_nothing() -> None:
    window = ReplayWindow(window_s=0, max_entries=3, clock=lambda: 0.0)
    window.add(b"a")
    assert len(window) == 0 and not window.seen(b"a")


async def test_with_the_replay_window_off_the_same_body_counts_each_time(make) -> None:  # type: ignore[no-untyped-def]
    s = await make(drain=DrainLimits(replay_window_s=0, body_timeout_s=BODY_S))
    body = json.dumps([event()]).encode()
    for _ in range(2):
        assert await exchange(s.port, LOGS, body, sign(body)) == (200, {"accepted": 1, "invalid": 0})
    assert s.counter("vercel.requests", project="web") == 2


def test_the_replay_window_is_bounded_in_entries_and_time() -> None:
    now = [0.0]
    window = ReplayWindow(window_s=10, max_entries=3, clock=lambda: now[0])
    for n in range(10):
        window.add(bytes([n]))
    assert len(window) == 3 and window.seen(bytes([9])) and not window.seen(bytes([0]))
    now[0] = 11
    assert not window.seen(bytes([9])) and len(window) == 0


async def test_a_signature_header_with_non_utf8_bytes_is_401_not_500(make) -> None:  # type: ignore[no-untyped-def]
    """Raw Latin-1 bytes in the header (aiohttp keeps them as surrogates): the old receiver's
    `.encode()` of them raised, and the sender got a 500, which Vercel retries."""
    s = await make()
    body = json.dumps([event()]).encode()
    request = (f"POST {LOGS} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
               ).encode() + b"x-vercel-signature: " + b"\xe9" * 40 + b"\r\n\r\n" + body
    reader, writer = await raw(s.port, request)
    status, _headers, answer = await response_of(reader)
    writer.close()
    assert status == 401 and json.loads(answer)["error"] == "bad_signature"
    assert s.counter("stackwatch.drain.rejected", reason="internal") == 0
