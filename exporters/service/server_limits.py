"""Connection-level bounds for the service's HTTP server (drain receiver, /healthz, /metrics).

aiohttp bounds a request's size but not the number of connections nor the time a
client may take to send a request head: 20,000 idle sockets exhaust the file limit,
and then every `accept()` fails and logs a traceback. Here:

- at most `max_connections` connections are open, kept below the process' file limit
  (`RLIMIT_NOFILE` soft limit minus `FD_RESERVE` for provider clients, OTLP, the state
  file and logs). At the limit a new connection evicts the oldest idle one (no request
  in progress: a silent socket, a half-sent head, an idle keep-alive), so 5,000 idle
  sockets cannot lock `/healthz` or Vercel out; only when every connection is busy with
  a request is the new one answered `503` with `Retry-After` and closed. Both are
  counted, and logged at most once per `REFUSAL_LOG_INTERVAL_S` with their numbers;
- a connection must deliver its first request head within `header_timeout_s`;
- an idle keep-alive connection closes after `keepalive_s` (aiohttp's own timer, which
  also closes a later request head that never completes);
- an unread request body is drained for at most `lingering_s` after the answer;
- request bodies are not decompressed by aiohttp (`auto_decompress=False`): the drain
  receiver decompresses them itself, bounded (exporters/decoding.py).

The connection cap is a check in the server's protocol factory rather than a smaller
listen `backlog`: a backlog only queues connections the kernel has not yet handed
over, and does not bound those already accepted.

A full garbage collection used to walk every object the service built at start-up
(0.29 s measured while 5,000 connections opened, with thousands of connections' cycles
to find, stalling `/healthz`): `freeze_startup_heap` moves those into the permanent
generation, so a collection looks only at what came later (0.04–0.07 s measured).
The flood's other cost, a health probe sharing the listen queue with the flood's
connections, is avoided by the separate health listener (health_listener.py).
"""

from __future__ import annotations

import asyncio
import gc
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = structlog.get_logger("stackwatch.server")

FD_RESERVE = 256
REFUSAL_LOG_INTERVAL_S = 60.0
BUSY_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
                 b"Content-Type: text/plain\r\nContent-Length: 25\r\n\r\ntoo many open connections")


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 1024
    header_timeout_s: float = 10.0
    keepalive_s: float = 75.0
    lingering_s: float = 2.0


def connection_ceiling(configured: int, soft_limit: int | None = None) -> int:
    """`configured`, lowered to stay `FD_RESERVE` below the file limit (never under 8)."""
    if soft_limit is None:
        soft_limit, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_limit == resource.RLIM_INFINITY or soft_limit < 0:
        return configured
    return max(8, min(configured, soft_limit - FD_RESERVE))


class _Refused(asyncio.Protocol):
    """A connection over the cap: answered 503 and closed, nothing read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        try:
            transport.write(BUSY_RESPONSE)  # type: ignore[attr-defined]
        finally:
            transport.close()


class ConnectionGuard:
    def __init__(self, limits: ServerLimits, on_reject: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.max_connections = connection_ceiling(limits.max_connections)
        self._on_reject = on_reject
        self._clock = clock
        self._unlogged: dict[str, int] = {}
        self._last_log: float | None = None

    def at_limit(self, live: dict[RequestHandler, None]) -> asyncio.Protocol | None:
        """Make room for one more connection: evict the oldest idle one, else refuse (a 503 protocol).
        `live` holds open connections only, oldest first, so the idle attacker is found at once."""
        for handler in live:
            if handler._current_request is None and handler.transport is not None:
                del live[handler]
                handler.force_close()
                self._on_reject("connections")
                self._note("evicted")
                return None
        self._on_reject("connections")
        self._note("refused")
        return _Refused()

    def _note(self, what: str) -> None:
        self._unlogged[what] = self._unlogged.get(what, 0) + 1
        now = self._clock()
        if self._last_log is None or now - self._last_log >= REFUSAL_LOG_INTERVAL_S:
            log.warning("connection limit reached: evicting idle connections, refusing when all are busy",
                        limit=self.max_connections, evicted=self._unlogged.get("evicted", 0),
                        refused=self._unlogged.get("refused", 0))
            self._unlogged.clear()
            self._last_log = now

    def arm_header_deadline(self, loop: asyncio.AbstractEventLoop, handler: RequestHandler) -> None:
        loop.call_later(self.limits.header_timeout_s, self._header_deadline, handler)

    def _header_deadline(self, handler: RequestHandler) -> None:
        # `_request_count` counts complete request heads; none yet means a slow or silent client.
        if handler.transport is not None and handler._request_count == 0:
            self._on_reject("header_timeout")
            handler.force_close()


class _GuardedServer(web.Server):
    guard: ConnectionGuard
    # Open connections, oldest first. aiohttp's own `_connections` keeps a closed connection
    # until its handler task ends, which made every eviction scan past thousands of them.
    live: dict[RequestHandler, None]

    def __call__(self) -> Any:
        if len(self.live) >= self.guard.max_connections:
            refused = self.guard.at_limit(self.live)
            if refused is not None:
                return refused
        handler = super().__call__()
        self.guard.arm_header_deadline(self._loop, handler)
        return handler

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        self.live[handler] = None

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self.live.pop(handler, None)
        super().connection_lost(handler, exc)


class GuardedAppRunner(web.AppRunner):
    """An AppRunner whose server enforces `ServerLimits`."""

    def __init__(self, app: web.Application, limits: ServerLimits, on_reject: Callable[[str], None],
                 **kwargs: Any):
        super().__init__(app, keepalive_timeout=limits.keepalive_s, lingering_time=limits.lingering_s,
                         auto_decompress=False, **kwargs)
        self.guard = ConnectionGuard(limits, on_reject)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The application builds a plain Server; give it the guard's protocol factory.
        server.__class__ = _GuardedServer
        server.guard = self.guard  # type: ignore[attr-defined]
        server.live = {}  # type: ignore[attr-defined]
        return server


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, config, price tables, the OTel pipeline) into the
    garbage collector's permanent generation, so no later collection walks them again."""
    gc.collect()
    gc.freeze()
