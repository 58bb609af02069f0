"""The simulator's HTTP server: every provider API on one loopback port.

Each provider lives under its own prefix (`/vercel`, `/render/v1`, `/supabase`,
`/openai/v1`, `/llamacloud`), so a stackwatch config points a provider's
`base_url` at `http://127.0.0.1:PORT/<prefix>`. Below the prefix, paths,
parameters, auth, pagination and rate-limit headers are the provider's own.

Middleware applies what all providers share: bearer-token auth, injected
latency, the fault scenarios (outage, rate-limited, flaky), request counting
and, for contract tests, a record of every exchange. `/_sim/*` is the control
API (scenario, clock, ground truth, statistics); `/frontend/` and
`/backend/healthz` are the fake sites that blackbox probes.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from exporters.simulator import hostile
from exporters.simulator.errors import in_provider_form
from exporters.simulator.llamacloud.sim import LlamaCloudSim
from exporters.simulator.openai.sim import OpenAISim
from exporters.simulator.render.sim import RenderSim
from exporters.simulator.supabase.sim import SupabaseSim
from exporters.simulator.vercel.sim import VercelSim
from exporters.simulator.world import DEFAULT_DRAIN_SECRET, DEFAULT_TOKENS, PROVIDERS, World

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Timeouts in the flaky scenario sleep this long; clients should time out before.
FLAKY_TIMEOUT_SLEEP_S = 15.0


class ProviderSim(Protocol):
    name: str
    prefix: str  # e.g. "/render/v1": what stands for the provider's base URL

    def routes(self) -> list[web.RouteDef]:
        """Routes with full paths (prefix included)."""

    def ground_truth(self) -> dict:
        """Exact costs: {"today_usd", "month_to_date_usd", "month_to_date_by_project": {name: usd}}."""

    def minimum_requests(self, page_sizes: dict[str, int] | None = None) -> dict[str, int]:
        """Fewest requests a complete first cycle needs, by stream."""

    def rate_limit_headers(self, limit: int, remaining: int, reset_in_s: float) -> dict[str, str]:
        """This provider's rate-limit headers, in its own form."""


@dataclass
class Exchange:
    provider: str
    method: str
    path: str  # below the prefix, as the provider documents it
    query: list[tuple[str, str]]
    status: int
    content_type: str
    body: bytes


@dataclass
class Fault:
    """One injected failure for the next request(s) of a provider (tests of the fault tier)."""

    kind: str  # "status" | "timeout" | "malformed" | "truncated" | "invalid_item" | hostile.KINDS
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    count: int = 1
    path_contains: str = ""  # only requests whose path contains this
    after: int = 0  # let this many matching requests through first (e.g. fail page 2, not page 1)
    size: int = 0  # bytes, for "oversized" and "gzip_bomb" (0: hostile.py's default)


@dataclass
class Stats:
    requests: Counter = field(default_factory=Counter)  # by provider
    by_operation: Counter = field(default_factory=Counter)  # "provider GET /path"
    exchanges: list[Exchange] = field(default_factory=list)


# One simulated API per registered provider (exporters/providers/registry.py), in its order.
SIMULATED = (VercelSim, RenderSim, SupabaseSim, OpenAISim, LlamaCloudSim)
if tuple(sim.name for sim in SIMULATED) != PROVIDERS:
    raise ImportError(f"the simulator serves {[s.name for s in SIMULATED]}, the registry lists {list(PROVIDERS)}")

RATE_LIMITED_HEADROOM = 2  # per cent of the limit a rate-limited provider's successful answers leave


class Simulator:
    def __init__(self, world: World | None = None, *, tokens: dict[str, str] | None = None,
                 drain_secret: str = DEFAULT_DRAIN_SECRET, record_exchanges: bool = False,
                 rate_limit_per_minute: int = 10_000):
        self.world = world or World()
        self.tokens = dict(tokens or DEFAULT_TOKENS)
        self.drain_secret = drain_secret
        self.record_exchanges = record_exchanges
        self.rate_limit_per_minute = rate_limit_per_minute
        self.stats = Stats()
        self._window: dict[str, tuple[int, int]] = {}  # provider -> (minute, count)
        self.faults: dict[str, list[Fault]] = {}
        self.providers: dict[str, ProviderSim] = {sim.name: sim(self.world) for sim in SIMULATED}
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- application ---

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        for sim in self.providers.values():
            app.add_routes(sim.routes())
        app.add_routes([
            web.get("/healthz", self._healthz),
            web.get("/_sim/ground-truth", self._ground_truth),
            web.get("/_sim/stats", self._stats),
            web.post("/_sim/reset-stats", self._reset_stats),
            web.get("/_sim/minimum-requests", self._minimum),
            web.post("/_sim/scenario", self._scenario),
            web.post("/_sim/advance", self._advance),
            web.post("/_sim/fault", self._fault),
            web.get("/frontend/", self._frontend),
            web.get("/backend/healthz", self._backend),
        ])
        return app

    def provider_for(self, path: str) -> ProviderSim | None:
        for sim in self.providers.values():
            if path == sim.prefix or path.startswith(sim.prefix + "/"):
                return sim
        return None

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        sim = self.provider_for(request.path)
        if sim is None or request.path.startswith("/supabase-metrics/"):
            return await handler(request)
        if self.world.latency_s:
            await asyncio.sleep(self.world.latency_s)
        self.stats.requests[sim.name] += 1
        resource = request.match_info.route.resource
        operation = resource.canonical if resource is not None else request.path
        self.stats.by_operation[f"{sim.name} {request.method} {operation}"] += 1
        response = await in_provider_form(sim.name, request, request.path[len(sim.prefix):],
                                          self._guarded(request, handler, sim))
        if self.record_exchanges and isinstance(response, web.Response):
            self.stats.exchanges.append(Exchange(
                provider=sim.name, method=request.method, path=request.path[len(sim.prefix):],
                query=list(request.query.items()), status=response.status,
                content_type=response.content_type, body=response.body or b""))
        return response

    async def _guarded(self, request: web.Request, handler: Handler, sim: ProviderSim) -> web.StreamResponse:
        world = self.world
        if request.headers.get("Authorization") != f"Bearer {self.tokens[sim.name]}":
            return _error(401, "unauthorized", "missing or invalid bearer token")
        injected = self._take_fault(sim.name, request.path)
        if injected is not None:
            if injected.kind == "status":
                return _error(injected.status, "injected", f"injected HTTP {injected.status}",
                              headers=injected.headers)
            if injected.kind == "timeout":
                await asyncio.sleep(FLAKY_TIMEOUT_SLEEP_S)
            if injected.kind in hostile.KINDS:  # trickle, oversized, gzip_bomb, endless, repeat_cursor
                return await hostile.hostile_response(injected.kind, injected.size, request, handler)
            response = await handler(request)
            if injected.kind == "invalid_item":
                return _with_one_invalid_item(response)
            body = bytes(response.body or b"") if isinstance(response, web.Response) else b""
            cut = body[: max(1, len(body) // 2)] if injected.kind == "truncated" else b"{not json"
            return web.Response(status=200, body=cut, content_type="application/json")
        if world.scenario_applies("outage", sim.name):
            return _error(503, "service_unavailable", "simulated outage")
        limit, remaining, reset_in = self._rate_window(sim.name)
        if world.scenario_applies("rate-limited", sim.name):
            if self.stats.requests[sim.name] % 3 == 0:
                headers = sim.rate_limit_headers(limit, 0, 1.0)
                return _error(429, "rate_limited", "too many requests", headers=headers)
            # The answers between the 429s show the budget nearly spent (as a real API's do when
            # a client runs at its limit), not a fresh one: headroom stays low while it runs.
            remaining = min(remaining, max(1, limit * RATE_LIMITED_HEADROOM // 100))
        if world.scenario_applies("flaky", sim.name):
            fault = world.rng("flaky", sim.name, self.stats.requests[sim.name]).random()
            if fault < 0.15:
                return _error(500, "internal", "simulated server error")
            if fault < 0.22:
                await asyncio.sleep(FLAKY_TIMEOUT_SLEEP_S)
            if fault < 0.30:
                response = await handler(request)
                if isinstance(response, web.Response) and response.body:
                    body = bytes(response.body)
                    return web.Response(status=200, body=body[: max(1, len(body) // 2)],
                                        content_type=response.content_type)
        response = await handler(request)
        for key, value in sim.rate_limit_headers(limit, remaining, reset_in).items():
            response.headers.setdefault(key, value)
        return response

    def inject(self, provider: str, fault: Fault) -> None:
        self.faults.setdefault(provider, []).append(fault)

    def _take_fault(self, provider: str, path: str) -> Fault | None:
        for fault in self.faults.get(provider, []):
            if fault.path_contains in path and fault.count > 0:
                if fault.after > 0:
                    fault.after -= 1
                    return None
                fault.count -= 1
                return fault
        return None

    async def _fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        provider = body.pop("provider")
        self.inject(provider, Fault(**body))
        return web.json_response({"ok": True})

    def _rate_window(self, provider: str) -> tuple[int, int, float]:
        now = self.world.now_ts()
        minute = int(now // 60)
        current, count = self._window.get(provider, (minute, 0))
        count = count + 1 if current == minute else 1
        self._window[provider] = (minute, count)
        limit = self.rate_limit_per_minute
        return limit, max(0, limit - count), 60 - (now % 60)

    # --- control API and fake sites ---

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    def ground_truth(self) -> dict:
        return {"now": self.world.now().isoformat(), "scenario": self.world.scenario,
                "providers": {name: sim.ground_truth() for name, sim in self.providers.items()}}

    async def _ground_truth(self, _request: web.Request) -> web.Response:
        return web.json_response(self.ground_truth())

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response({"requests": dict(self.stats.requests),
                                  "by_operation": dict(self.stats.by_operation)})

    async def _reset_stats(self, _request: web.Request) -> web.Response:
        self.stats = Stats()
        return web.json_response({"ok": True})

    async def _minimum(self, _request: web.Request) -> web.Response:
        return web.json_response({name: sim.minimum_requests() for name, sim in self.providers.items()})

    async def _scenario(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            if "names" in body:
                self.world.set_scenarios(list(body["names"]), body.get("provider"))
            else:
                self.world.set_scenario(body["name"], body.get("provider"))
        except (KeyError, ValueError, TypeError) as exc:
            return _error(400, "bad_request", str(exc))
        return web.json_response({"scenario": self.world.scenario, "provider": self.world.scenario_provider})

    async def _advance(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.world.advance(float(body["seconds"]))
        return web.json_response({"now": self.world.now().isoformat()})

    def _site_fault(self) -> web.Response | None:
        if self.world.scenario_applies("outage", "vercel") or self.world.scenario_applies("outage", "render"):
            return web.Response(status=503, text="simulated outage")
        return None

    async def _frontend(self, _request: web.Request) -> web.Response:
        if (fault := self._site_fault()) is not None:
            return fault
        if "latency-spike" in self.world.active:
            await asyncio.sleep(3.5)  # above the frontend's 3 s threshold
        return web.Response(text="<!doctype html><title>simulated frontend</title><h1>ok</h1>",
                            content_type="text/html")

    async def _backend(self, _request: web.Request) -> web.Response:
        if (fault := self._site_fault()) is not None:
            return fault
        if "error-burst" in self.world.active:
            return web.json_response({"status": "error"}, status=500)
        if "latency-spike" in self.world.active:
            await asyncio.sleep(2.5)  # above the backend's 2 s threshold
        return web.json_response({"status": "ok"})

    # --- lifecycle ---

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        bound_port = sockets[0].getsockname()[1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def base_urls(self) -> dict[str, str]:
        return {name: self.base_url + sim.prefix for name, sim in self.providers.items()}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": {"code": code, "message": message}}),
                        content_type="application/json", headers=headers)


def _with_one_invalid_item(response: web.StreamResponse) -> web.StreamResponse:
    """The same response with the first item of its page stripped of every field
    but one that no provider uses: a well-formed page carrying one bad item."""
    if not isinstance(response, web.Response) or not response.body:
        return response
    try:
        data = json.loads(bytes(response.body))
    except ValueError:
        return response

    def page_items(root: object) -> list | None:
        """The outermost list of objects (breadth first): the page's items."""
        queue = [root]
        while queue:
            node = queue.pop(0)
            if isinstance(node, list) and node and isinstance(node[0], dict):
                return node
            queue.extend(node.values() if isinstance(node, dict) else node if isinstance(node, list) else [])
        return None

    items = page_items(data)
    if items is None:
        return response
    items[0] = {"object": items[0].get("object")} if "object" in items[0] else {"unexpected": True}
    return web.Response(status=response.status, text=json.dumps(data), content_type="application/json")


class ThreadedSimulator:
    """The simulator on its own event loop in a background thread (for sync callers and tests)."""

    def __init__(self, simulator: Simulator):
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulator", daemon=True)

    def __enter__(self) -> Simulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.simulator.start(), self._loop).result(timeout=30)
        return self.simulator

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def call(self, fn: Callable[[], object]) -> object:
        """Run `fn` on the simulator's loop (world changes from another thread)."""
        async def run() -> object:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)


__all__ = ["PROVIDERS", "Simulator", "ThreadedSimulator", "ProviderSim", "Exchange"]
