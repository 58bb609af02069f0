"""Connection-level bounds for the service's HTTP server (drain receiver, /healthz, /metrics):
open connections (the oldest idle one evicted at the cap), the time to send a request head,
keep-alive, lingering; request bodies are not decompressed by aiohttp.

Why each bound and how it was measured: docs/operations.md, "Bounds".
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
