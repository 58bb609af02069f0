"""`stackwatch run`: the long-running service.

Polls every enabled provider on its intervals, serves the Vercel drain
receiver, `/healthz` and a small `/metrics` (process liveness for a Prometheus
self-scrape), and on SIGTERM or SIGINT stops polling, flushes the last metrics
over OTLP and exits 0.
"""

from __future__ import annotations

import asyncio
import signal
import time

import structlog
from aiohttp import web

from . import __version__
from .config import Config, Secrets
from .runtime import Runtime, build_runtime
from .vercel_drains import DrainReceiver

log = structlog.get_logger("stackwatch.service")


def _health_body(runtime: Runtime) -> dict:
    providers = {}
    for name, health in runtime.collector.health.items():
        providers[name] = {"up": runtime.collector.is_up(name), "last_success": health.last_success,
                           "streams": dict(health.last_ok)}
    return {"status": "ok", "version": __version__, "providers": providers}


def build_app(runtime: Runtime, secrets: Secrets, started_at: float) -> web.Application:
    config = runtime.config
    vercel = next((p for p in runtime.collector.providers if p.name == "vercel"), None)
    # Drains carry project ids; the Vercel poller knows their names (when it is enabled).
    receiver = DrainReceiver(runtime.store, secrets.drain_secret, config.service.drain_max_body_bytes,
                             project_name=getattr(vercel, "project_name", None))
    # The receiver enforces the body limit itself (and counts it); aiohttp's own limit sits above it.
    app = web.Application(client_max_size=config.service.drain_max_body_bytes + 1024 * 1024)

    async def healthz(_request: web.Request) -> web.Response:
        # Healthy while the service runs: a provider outage is reported, not a reason to restart us.
        return web.json_response(_health_body(runtime))

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
                install_signal_handlers: bool = True, runtime: Runtime | None = None) -> int:
    stop = stop or asyncio.Event()
    runtime = runtime or build_runtime(config, secrets)
    loop = asyncio.get_running_loop()
    if install_signal_handlers:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    app = build_app(runtime, secrets, time.time())
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.service.listen_host, config.service.listen_port)
    await site.start()
    log.info("stackwatch running", listen=f"{config.service.listen_host}:{config.service.listen_port}",
             providers=sorted(config.providers.enabled()), environment=config.environment)
    poller = asyncio.create_task(runtime.collector.run_forever(stop))
    try:
        await stop.wait()
    finally:
        log.info("stopping: finishing polls and flushing metrics")
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
        await runner.cleanup()
        await runtime.aclose()
        # Flush on a thread: the OTLP exporter blocks, and the loop may still serve nothing else.
        await asyncio.to_thread(runtime.shutdown_metrics)
        log.info("stopped")
    return 0
