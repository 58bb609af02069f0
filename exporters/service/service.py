"""`stackwatch run`: the long-running service.

Polls every enabled provider on its intervals (each loop kept alive by the
supervisor), serves the Vercel drain receiver, `/healthz` and a small
`/metrics` (process liveness for a Prometheus self-scrape), and on SIGTERM or
SIGINT stops polling, flushes the last metrics over OTLP and exits 0, all
within `SHUTDOWN_BUDGET_S` whatever is stalled (an upload, a poll, the OTLP
endpoint), so Docker's default 10 s grace period never kills the flush.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import signal
import threading
import time

import structlog
from aiohttp import web

from exporters import __version__
from exporters.core.config import ConfigError
from exporters.poll.supervisor import Supervisor
from exporters.providers.vercel.drains import DrainLimits, DrainReceiver
from exporters.service.config import Config, Secrets
from exporters.service.health_listener import HealthListener, HealthSnapshot, publish_forever
from exporters.service.runtime import Runtime, build_runtime
from exporters.service.server_limits import GuardedAppRunner, ServerLimits, freeze_startup_heap

log = structlog.get_logger("stackwatch.service")

# Docker and Kubernetes wait 10 s (by default) between SIGTERM and SIGKILL. The budget leaves
# room for the interpreter's own exit after "stopped" (0.6 s measured on a loaded 2-core machine).
SHUTDOWN_BUDGET_S = 8.0
# Steps of the shutdown, in order; each gets at most this much of what is left of the budget.
LOOPS_STOP_S = 1.5  # cancelling the poll loops
HTTP_DRAIN_S = 2.0  # in-flight requests (a stalled upload is cut off after this)
CLIENTS_CLOSE_S = 1.0  # provider HTTP clients and the state file
# The rest is the final OTLP flush and shutdown.


def health_body(runtime: Runtime, supervisor: Supervisor | None) -> tuple[int, dict]:
    """/healthz: (HTTP status, body).

    503 only for the service's own fault: a provider's poll loop is dead (waiting for its
    restart) or hung; an orchestrator restarting us could help. A provider whose polls
    fail (an outage, a revoked token) is reported stale with 200: restarting stackwatch
    would not fix Vercel.
    """
    providers: dict[str, dict] = {}
    stale: list[str] = []
    broken: list[str] = []
    freshness = {f.provider: f for f in supervisor.freshness()} if supervisor else {}
    for name, health in runtime.collector.health.items():
        entry: dict[str, object] = {"up": runtime.collector.is_up(name), "last_success": health.last_success,
                                    "streams": dict(health.last_ok)}
        fresh = freshness.get(name)
        if fresh is not None:
            entry.update({"healthy": fresh.loop_ok and not fresh.stale, "loop": fresh.loop,
                          "last_success_age_seconds": round(fresh.last_success_age_s, 3),
                          "stale": fresh.stale, "stale_after_seconds": fresh.stale_after_s,
                          "loop_restarts": fresh.restarts})
            if fresh.last_error:
                entry["last_loop_error"] = fresh.last_error
            if not fresh.loop_ok:
                broken.append(name)
            elif fresh.stale:
                stale.append(name)
        providers[name] = entry
    status = "unhealthy" if broken else ("degraded" if stale else "ok")
    body = {"status": status, "version": __version__, "providers": providers,
            "stale": sorted(stale), "loops_not_running": sorted(broken)}
    return (503 if broken else 200), body


def build_app(runtime: Runtime, secrets: Secrets, started_at: float,
              supervisor: Supervisor | None = None) -> web.Application:
    config = runtime.config
    vercel = next((p for p in runtime.collector.providers if p.name == "vercel"), None)
    # Drains carry project ids; the Vercel poller knows their names (when it is enabled).
    limits = DrainLimits(max_concurrent_bodies=config.service.drain_max_concurrent_bodies,
                         body_timeout_s=config.service.drain_body_timeout_seconds,
                         replay_window_s=config.service.drain_replay_window_seconds)
    receiver = DrainReceiver(runtime.store, secrets.drain_secret, config.service.drain_max_body_bytes,
                             project_name=getattr(vercel, "project_name", None), limits=limits)
    # The receiver enforces the body limit itself (and counts it); aiohttp's own limit sits above it.
    app = web.Application(client_max_size=config.service.drain_max_body_bytes + 1024 * 1024)

    async def healthz(_request: web.Request) -> web.Response:
        status, body = health_body(runtime, supervisor)
        return web.json_response(body, status=status)

    async def metrics(_request: web.Request) -> web.Response:
        lines = [
            "# HELP stackwatch_build_info stackwatch version (1 while the process runs).",
            "# TYPE stackwatch_build_info gauge",
            f'stackwatch_build_info{{version="{__version__}"}} 1',
            "# HELP stackwatch_process_start_time_seconds Start time of the process since the Unix epoch.",
            "# TYPE stackwatch_process_start_time_seconds gauge",
            f"stackwatch_process_start_time_seconds {started_at:.3f}",
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    app.add_routes([web.get("/healthz", healthz), web.get("/metrics", metrics), *receiver.routes()])
    return app


async def serve(config: Config, secrets: Secrets, *, stop: asyncio.Event | None = None,
                install_signal_handlers: bool = True, runtime: Runtime | None = None,
                source: str = "the configuration") -> int:
    stop = stop or asyncio.Event()
    runtime = runtime or build_runtime(config, secrets)
    # We shut the pipeline down ourselves, within the budget; the SDK's own exit hook has no bound.
    atexit.unregister(runtime.meter_provider.shutdown)
    loop = asyncio.get_running_loop()
    if install_signal_handlers:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    intervals = {name: p.poll_interval_seconds for name, p in config.providers.enabled().items()}
    supervisor = Supervisor(runtime.collector, intervals)
    app = build_app(runtime, secrets, time.time(), supervisor)
    service = config.service
    limits = ServerLimits(max_connections=service.drain_max_connections,
                          header_timeout_s=service.drain_header_timeout_seconds,
                          keepalive_s=service.drain_keepalive_seconds)

    def refused(reason: str) -> None:
        runtime.store.add("stackwatch.drain.rejected", 1, {"drain": "any", "reason": reason})

    runner = GuardedAppRunner(app, limits, refused, access_log=None, handle_signals=False,
                              shutdown_timeout=HTTP_DRAIN_S)
    await runner.setup()
    host, port = config.service.listen_host, config.service.listen_port
    try:
        await web.TCPSite(runner, host, port, shutdown_timeout=HTTP_DRAIN_S).start()
    except OSError as exc:  # port in use, address not local, host that does not resolve
        await runner.cleanup()
        await _close_clients(runtime, CLIENTS_CLOSE_S)
        await _flush_metrics(runtime, 1.0)
        raise ConfigError(source, [f"service.listen_host/listen_port: cannot listen on {host}:{port} "
                                   f"({exc.strerror or exc.__class__.__name__}); expected a free port on a "
                                   "local address"]) from None
    health_listener: HealthListener | None = None
    publishing: asyncio.Task[None] | None = None
    if service.health_port is not None:
        snapshot = HealthSnapshot()
        health_listener = HealthListener(host, service.health_port, snapshot)
        try:
            health_listener.start()
        except OSError as exc:
            await runner.cleanup()
            await _close_clients(runtime, CLIENTS_CLOSE_S)
            await _flush_metrics(runtime, 1.0)
            raise ConfigError(source, [f"service.health_port: cannot listen on {host}:{service.health_port} "
                                       f"({exc.strerror or exc.__class__.__name__}); expected a free port"]) from None
        publishing = asyncio.create_task(
            publish_forever(snapshot, lambda: health_body(runtime, supervisor), stop), name="health-publisher")
    freeze_startup_heap()  # keeps full collections short under a connection flood (server_limits.py)
    log.info("stackwatch running", listen=f"{host}:{port}",
             health_listen=f"{host}:{health_listener.port}" if health_listener else None,
             providers=sorted(config.providers.enabled()), environment=config.environment)
    supervising = asyncio.create_task(supervisor.run(stop), name="supervisor")
    try:
        await stop.wait()
    finally:
        stop.set()
        if health_listener is not None:
            await asyncio.to_thread(health_listener.stop)
        if publishing is not None:
            publishing.cancel()
        await _shut_down(runtime, runner, supervisor, supervising)
        gc.unfreeze()  # a caller that goes on (tests, embedding) gets an ordinary heap back
    return 0


async def _shut_down(runtime: Runtime, runner: web.AppRunner, supervisor: Supervisor,
                     supervising: asyncio.Task[None]) -> None:
    started = time.monotonic()
    deadline = started + SHUTDOWN_BUDGET_S

    def left(cap: float) -> float:
        return max(0.05, min(cap, deadline - time.monotonic()))

    log.info("stopping: finishing polls and flushing metrics", budget_seconds=SHUTDOWN_BUDGET_S)
    supervising.cancel()
    await asyncio.wait([supervising], timeout=left(0.5))
    await supervisor.stop_loops(timeout_s=left(LOOPS_STOP_S))
    try:
        # Stops accepting, then gives in-flight requests HTTP_DRAIN_S before cancelling them.
        await asyncio.wait_for(runner.cleanup(), timeout=left(HTTP_DRAIN_S + 0.5))
    except asyncio.TimeoutError:
        log.warning("HTTP server did not stop in time; leaving its connections")
    await _close_clients(runtime, left(CLIENTS_CLOSE_S))
    flushed = await _flush_metrics(runtime, left(SHUTDOWN_BUDGET_S) - 0.2)
    log.info("stopped", shutdown_seconds=round(time.monotonic() - started, 3), final_flush=flushed)


async def _close_clients(runtime: Runtime, timeout_s: float) -> None:
    try:
        await asyncio.wait_for(runtime.aclose(), timeout=timeout_s)
    except asyncio.TimeoutError:
        log.warning("provider clients did not close in time")


async def _flush_metrics(runtime: Runtime, timeout_s: float) -> bool:
    """Final OTLP flush and shutdown on a daemon thread (the exporter blocks), abandoned at `timeout_s`."""
    timeout_s = max(0.1, timeout_s)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bool] = loop.create_future()

    def finish(result: bool) -> None:
        if not done.done():
            done.set_result(result)

    def flush() -> None:
        # True when flush and shutdown ran to the end in time (the SDK reports an export the
        # endpoint refused in its own log line, not here).
        ok = False
        try:
            # Leave a share of the budget to shutdown, which stops the reader's thread.
            runtime.meter_provider.force_flush(timeout_millis=int(timeout_s * 700))
            runtime.meter_provider.shutdown(timeout_millis=int(timeout_s * 250))
            ok = True
        except Exception:
            log.exception("final metrics flush failed")
        finally:
            loop.call_soon_threadsafe(finish, ok)

    threading.Thread(target=flush, name="final-flush", daemon=True).start()
    try:
        return await asyncio.wait_for(asyncio.shield(done), timeout=timeout_s)
    except asyncio.TimeoutError:
        log.error("final metrics flush did not finish in time; exiting without it",
                  timeout_seconds=round(timeout_s, 1))
        return False
