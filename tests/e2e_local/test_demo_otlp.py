"""A whole demo cycle, exported over OTLP (gRPC and HTTP/protobuf) to a real
OTLP receiver in the test: the exported cost series carry the simulator's
ground-truth costs to the cent."""

from __future__ import annotations

import gzip
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
from simhelpers import FIXED_NOW

from exporters.demo import run_demo
from exporters.simulator import Simulator, World
from exporters.simulator.world import Scale

ROOT = Path(__file__).resolve().parents[2]


class Received:
    def __init__(self) -> None:
        self.requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.lock = threading.Lock()

    def add(self, request: metrics_service_pb2.ExportMetricsServiceRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def latest_gauge(self, name: str) -> dict[tuple, float]:
        """The last exported value of each series of a gauge."""
        values: dict[tuple, float] = {}
        for request in self.requests:
            for rm in request.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        if metric.name == name:
                            for p in metric.gauge.data_points:
                                attrs = tuple(sorted((a.key, a.value.string_value) for a in p.attributes))
                                values[attrs] = p.as_double
        return values

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
async def test_demo_cycle_exports_ground_truth_costs_over_otlp(protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    received = Received()
    if protocol == "grpc":
        server, endpoint = start_grpc(received)
    else:
        runner, endpoint = await start_http(received)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    simulator = Simulator(World(seed=11, scale=Scale(), start=FIXED_NOW, frozen=True))
    try:
        code = await run_demo(simulator=simulator, console=Console(file=open("/dev/null", "w")))
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
