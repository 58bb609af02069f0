"""A whole demo cycle, exported over OTLP (gRPC and HTTP/protobuf) to a real
OTLP receiver in the test: the exported cost series carry the simulator's
ground-truth costs to the cent. Render and Supabase are estimated from the
states stackwatch observed, so the demo resumes a state file on which stackwatch
observed them since the month began (it starts polling on the 1st, 00:00 UTC);
a demo without that history shows their unobserved part as unknown."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import threading
from collections import defaultdict
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from rich.console import Console
from simhelpers import FIXED_NOW, close, make_runtime

from exporters.ops.demo import run_demo
from exporters.simulator import Simulator, World
from exporters.simulator.world import Scale

ROOT = Path(__file__).resolve().parents[2]
# Polls of the month before the demo: every 5 h, joined into one interval (gap limit just above).
REPLAY_STEP_S = 5 * 3600.0


def replay_config(data_dir: Path) -> dict:
    return {"service": {"data_dir": str(data_dir), "max_observation_gap_seconds": REPLAY_STEP_S + 1}}


async def observe_the_month_so_far(world: World, data_dir: Path) -> int:
    """stackwatch polls Render and Supabase from the 1st, 00:00 UTC to the world's "now", on the
    state file in `data_dir` (a simulator of the same World object: the same resources)."""
    now = world.now_ts()
    month_start = world.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    world.advance(month_start - now)
    sim = Simulator(world)
    await sim.start()
    overrides = replay_config(data_dir)
    overrides["providers"] = {name: {"enabled": name in ("render", "supabase")}
                              for name in ("vercel", "render", "supabase", "openai", "llamacloud")}
    runtime, _reader = make_runtime(sim, overrides=overrides)
    polls = 0
    try:
        while True:
            outcomes = await runtime.collector.run_cycle(force=True)
            assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
            polls += 1
            if world.now_ts() >= now:
                return polls
            world.advance(min(REPLAY_STEP_S, now - world.now_ts()))
    finally:
        await close(runtime)
        await sim.stop()


class Received:
    def __init__(self) -> None:
        self.requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.lock = threading.Lock()

    def add(self, request: metrics_service_pb2.ExportMetricsServiceRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def latest_gauge(self, name: str) -> dict[tuple, float]:
        """The latest value of each series of a gauge, by its collection time: two exports (a periodic
        one during a slow cycle and the final flush) can arrive in either order."""
        latest: dict[tuple, tuple[int, int, float]] = {}
        for order, request in enumerate(self.requests):
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name == name:
                            for p in metric.gauge.data_points:
                                attrs = tuple(sorted((a.key, a.value.string_value) for a in p.attributes))
                                latest[attrs] = max(latest.get(attrs, (-1, -1, 0.0)), (p.time_unix_nano, order, p.as_double))
        return {attrs: value for attrs, (_, _, value) in latest.items()}

    def resource_attributes(self) -> dict[str, str]:
        rm = self.requests[-1].resource_metrics[0]
        return {a.key: a.value.string_value for a in rm.resource.attributes}

    def sum_temporalities(self) -> set[int]:
        return {m.sum.aggregation_temporality for r in self.requests for rm in r.resource_metrics
                for sm in rm.scope_metrics for m in sm.metrics if m.HasField("sum")}


class GrpcReceiver(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, received: Received):
        self.received = received

    def Export(self, request, context):  # noqa: N802 (gRPC method name)
        self.received.add(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


def start_grpc(received: Received) -> tuple[grpc.Server, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(GrpcReceiver(received), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"http://127.0.0.1:{port}"


async def start_http(received: Received) -> tuple[web.AppRunner, str]:
    async def export(request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert request.content_type == "application/x-protobuf"
        message = metrics_service_pb2.ExportMetricsServiceRequest()
        message.ParseFromString(body)
        received.add(message)
        return web.Response(body=metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    app = web.Application()
    app.add_routes([web.post("/v1/metrics", export)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
async def test_demo_cycle_exports_ground_truth_costs_over_otlp(protocol: str, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    received = Received()
    if protocol == "grpc":
        server, endpoint = start_grpc(received)
    else:
        runner, endpoint = await start_http(received)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    simulator = Simulator(World(seed=11, scale=Scale(), start=FIXED_NOW, frozen=True))
    assert await observe_the_month_so_far(simulator.world, tmp_path) > 80  # 17.5 days, every 5 h
    assert simulator.world.now() == FIXED_NOW
    try:
        code = await run_demo(simulator=simulator, console=Console(file=open("/dev/null", "w")),
                              overrides=replay_config(tmp_path))
        assert code == 0
        truth = simulator.ground_truth()["providers"]
    finally:
        if protocol == "grpc":
            server.stop(0)
        else:
            await runner.cleanup()

    assert received.requests, "nothing was exported"
    attrs = received.resource_attributes()
    assert attrs["service.name"] == "stackwatch" and attrs["deployment.environment"] == "demo"
    assert received.sum_temporalities() == {2}  # AGGREGATION_TEMPORALITY_CUMULATIVE

    for metric, key in (("stackwatch.cost.month_to_date_usd", "month_to_date_usd"),
                        ("stackwatch.cost.today_usd", "today_usd")):
        by_provider: dict[str, float] = defaultdict(float)
        for series, value in received.latest_gauge(metric).items():
            by_provider[dict(series)["provider"]] += value
        for provider, expected in truth.items():
            assert round(by_provider[provider], 2) == round(expected[key], 2), (metric, provider)
    up = {dict(s)["provider"]: v for s, v in received.latest_gauge("stackwatch.provider.up").items()}
    assert up == {p: 1.0 for p in truth}
    # The precondition of comparing the estimates with the month's invoice: nothing unobserved.
    for gauge in ("render.cost.unobserved", "supabase.cost.unobserved"):
        gaps = received.latest_gauge(gauge)
        assert gaps and all(seconds == 0.0 for seconds in gaps.values()), (gauge, gaps)


async def test_a_demo_without_history_shows_the_unobserved_part_of_the_cycle_as_unknown() -> None:
    """Mid-month (the 18th, 13:30 UTC), first poll: Render's autoscaled and suspended services and every
    Supabase project have 17 d 13 h of the cycle unobserved; their figures are lower bounds, never the bill."""
    out = io.StringIO()
    simulator = Simulator(World(seed=11, scale=Scale(), start=FIXED_NOW, frozen=True))
    assert await run_demo(simulator=simulator, console=Console(file=out, width=400)) == 0
    rows = {line.split()[1]: line for line in out.getvalue().splitlines() if line.startswith("│")}
    for provider in ("render", "supabase", "total"):
        assert rows[provider].count("+ unknown") == 3, rows[provider]  # today, month to date, forecast
    for provider in ("vercel", "openai", "llamacloud"):  # billed figures: nothing unobserved
        assert "unknown" not in rows[provider], rows[provider]
    notes = [line for line in out.getvalue().splitlines() if "was not observed" in line]
    assert len(notes) == 2 and all("up to 17 d 13 h of this billing cycle" in n for n in notes), notes
    assert any(n.startswith("supabase:") and "(analytics, production, staging)" in n for n in notes), notes


def test_demo_command_prints_a_summary_and_exits_0() -> None:
    result = subprocess.run([sys.executable, "-m", "exporters", "demo", "--seed", "3"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120, env={"PATH": "/usr/bin:/bin", "COLUMNS": "140"})
    assert result.returncode == 0, result.stderr
    for word in ("Providers", "vercel", "render", "supabase", "openai", "llamacloud", "month to date", "forecast"):
        assert word in result.stdout
    assert "down" not in result.stdout


def test_demo_in_an_outage_shows_providers_down_and_cost_unknown_never_zero() -> None:
    result = subprocess.run([sys.executable, "-m", "exporters", "demo", "--scenario", "outage"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120, env={"PATH": "/usr/bin:/bin", "COLUMNS": "160"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(" down ") == 5
    assert "unknown" in result.stdout and "$0.00" not in result.stdout
    assert "poll failed (server_error)" in result.stdout
