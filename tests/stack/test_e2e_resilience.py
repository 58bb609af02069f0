"""End to end on real binaries: outages, restarts and the fan-out to an external backend.

Retry windows (docs/stack.md, "What a restart loses"):
- collector down: stackwatch's OTLP exporter retries one export for up to its
  timeout (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s) and then drops that export. Every
  metric is cumulative or a gauge re-read at each export, so the first export
  after the restart carries every current value: only the samples of the
  downtime are missing, no cost value is lost.
- Prometheus down: the collector's sending queue holds the batches and
  retry_on_failure resends them for up to 300 s, so the samples taken during
  the downtime still arrive (the out-of-order window accepts them).
"""

from __future__ import annotations

import gzip
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise

import pytest

from .conftest import EXPORT_INTERVAL_S, REPO, Ports, Service, Stack, collector_env, http_get, http_json, wait_until
from .test_e2e_metrics import assert_within_truth, latest_export, settled_costs

pytestmark = pytest.mark.e2e

SDK_EXPORT_TIMEOUT_S = 10.0  # OTEL_EXPORTER_OTLP_TIMEOUT's default
COLLECTOR_RETRY_WINDOW_S = 300.0  # retry_on_failure.max_elapsed_time in otel-collector.yaml
PROVIDERS = ("vercel", "render", "supabase", "openai", "llamacloud")


def sample_times(stack: Stack, selector: str, window_s: int) -> list[float]:
    """Raw sample timestamps of the series matching `selector` with the most samples."""
    results = stack.prom.query(f"{selector}[{window_s}s]")
    assert results, f"no samples of {selector} in the last {window_s}s"
    longest = max(results, key=lambda r: len(r["values"]))
    return [float(t) for t, _ in longest["values"]]


def largest_gap(times: list[float], start: float, end: float) -> float:
    inside = [start, *(t for t in times if start <= t <= end), end]
    return max(b - a for a, b in pairwise(inside))


def wait_for_samples_after(stack: Stack, selector: str, moment: float, timeout: float = 60.0) -> None:
    stack.prom.wait_for(f"timestamp({selector}) > {moment}", timeout=timeout,
                        what=f"samples of {selector} newer than the restart")


POLL_ERRORS = 'stackwatch_provider_poll_errors_total{{job="stackwatch", provider="{provider}"}}'
# Batches the collector's batch processor sent (one when its 1 s timeout passes with data in it):
# the histogram of their sizes counts them. Its own Prometheus endpoint, no `_total` suffixes.
BATCHES = re.compile(r"^otelcol_processor_batch_batch_send_size_count[{ ]")


def failed_polls(stack: Stack, provider: str) -> float:
    return sum(float(r["value"][1]) for r in stack.prom.query(POLL_ERRORS.format(provider=provider)))


def render_metric_polls(stack: Stack) -> int:
    """Requests for Render's CPU metrics the simulator has answered: one per poll of the stream."""
    operations = http_json(f"{stack.simulator_url}/_sim/stats")["by_operation"]
    return sum(n for operation, n in operations.items() if operation.endswith("/metrics/cpu"))


def collector_batches(stack: Stack) -> float:
    """Batches the collector's batch processor has sent, from its own telemetry endpoint."""
    status, body = http_get(stack.collector_metrics_url)
    assert status == 200, body[:200]
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines() if BATCHES.match(line))


def provider_up(stack: Stack) -> dict[str, float]:
    return {r["metric"]["provider"]: float(r["value"][1])
            for r in stack.prom.query('stackwatch_provider_up{job="stackwatch"}')}


def test_outage_shows_the_provider_down_while_its_cost_series_keep_their_values(stack: Stack):
    provider = "openai"
    costs = f'stackwatch_cost_month_to_date_usd{{job="stackwatch", provider="{provider}"}}'
    stack.prom.wait_for(f'stackwatch_provider_up{{job="stackwatch", provider="{provider}"}} == 1', timeout=45)
    stack.set_scenario("outage", provider)
    try:
        stack.prom.wait_for(f'stackwatch_provider_up{{job="stackwatch", provider="{provider}"}} == 0', timeout=30)
        down_seen_at = time.time()
        during = stack.prom.values(costs)
        # More failed polls, and an export taken after them.
        failed_before = failed_polls(stack, provider)
        wait_until(lambda: failed_polls(stack, provider) >= failed_before + 2, timeout=120,
                   what=f"two more failed polls of {provider}")
        failed_at = latest_export(stack, POLL_ERRORS.format(provider=provider))
        wait_until(lambda: latest_export(stack, costs) >= failed_at, timeout=120,
                   what=f"an export of {provider}'s costs after the failed polls")
        later = stack.prom.values(costs)
        # Exported again since the outage showed (not merely within some seconds of now, which a
        # loaded machine could miss): the series are kept, not left to go stale.
        fresh = stack.prom.query(f"timestamp({costs}) > {down_seen_at}")
        up = provider_up(stack)
        errors = stack.prom.query(
            f'stackwatch_provider_poll_errors_total{{job="stackwatch", provider="{provider}", reason="server_error"}}')
    finally:
        stack.set_scenario("steady")
    assert up[provider] == 0.0
    assert all(up[p] == 1.0 for p in PROVIDERS if p != provider), up
    assert during and sum(during.values()) > 0, "the cost series vanished or fell to 0 during the outage"
    assert later == during, "cost values changed while every poll failed"
    assert len(fresh) == len(later), "cost series went stale instead of keeping their values"
    assert errors and sum(float(r["value"][1]) for r in errors) >= 1
    stack.prom.wait_for(f'stackwatch_provider_up{{job="stackwatch", provider="{provider}"}} == 1', timeout=45,
                        what=f"{provider} back up after the outage")


def test_collector_restart_mid_run_loses_no_cost_value(stack: Stack):
    selector = 'stackwatch_cost_month_to_date_usd{job="stackwatch", provider="render"}'
    stack.prom.wait_for(selector, timeout=45)
    stopped_at = time.time()
    assert stack.collector.stop() is not None
    # Costs change meanwhile and stackwatch's exports fail: it polls Render twice more (the
    # simulator counts the requests), exporting every second in between to a collector that is gone.
    polled = render_metric_polls(stack)
    wait_until(lambda: render_metric_polls(stack) >= polled + 2, timeout=120,
               what="two polls of Render's metrics while the collector is down")
    assert http_get(f"{stack.stackwatch_url}/healthz")[0] == 200, "stackwatch must survive a collector outage"
    stack.collector.start()
    restarted_at = time.time()
    wait_for_samples_after(stack, selector, restarted_at)

    # Every cost value is back, equal to the ground truth to the cent.
    before, values, after = settled_costs(stack, "stackwatch_cost_month_to_date_usd", "provider")
    for (provider,), value in values.items():
        assert_within_truth(value, before[provider]["month_to_date_usd"], after[provider]["month_to_date_usd"],
                            f"{provider} after the collector restart")
    # Only the downtime's samples are missing: the gap is at most the downtime plus one
    # export attempt that had already begun (the SDK's timeout) plus an export interval.
    gap = largest_gap(sample_times(stack, selector, 120), stopped_at - 5, time.time())
    downtime = restarted_at - stopped_at
    assert gap <= downtime + SDK_EXPORT_TIMEOUT_S + 2 * EXPORT_INTERVAL_S + 2, (gap, downtime)


def test_prometheus_restart_loses_no_samples_within_the_collector_retry_window(stack: Stack):
    selector = 'stackwatch_cost_month_to_date_usd{job="stackwatch", provider="vercel"}'
    stack.prom.wait_for(selector, timeout=45)
    stopped_at = time.time()
    stack.prometheus.stop()
    # Down while the collector sends it at least three batches (one a second, each holding
    # stackwatch's exports since the last): it must queue and resend them all.
    sent = collector_batches(stack)
    wait_until(lambda: collector_batches(stack) >= sent + 3, timeout=120,
               what="three batches sent by the collector while Prometheus is down")
    stack.prometheus.start()
    restarted_at = time.time()
    assert restarted_at - stopped_at < COLLECTOR_RETRY_WINDOW_S
    # The collector resends what it queued (its retry backs off up to 15 s).
    wait_for_samples_after(stack, selector, restarted_at, timeout=60)
    stack.prom.wait_for(f"count_over_time({selector}[{int(restarted_at - stopped_at) + 1}s] @ {restarted_at}) > 2",
                        timeout=60, what="the downtime's samples, resent by the collector")
    gap = largest_gap(sample_times(stack, selector, 120), stopped_at, restarted_at)
    assert gap <= 3 * EXPORT_INTERVAL_S + 2, f"samples missing for {gap:.1f}s of a {restarted_at - stopped_at:.1f}s downtime"


class OtlpSink(BaseHTTPRequestHandler):
    """A stand-in external OTLP/HTTP backend (Grafana Cloud, Mimir): records what arrives."""

    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        OtlpSink.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_external_exporter_switched_on_by_environment_sends_to_the_backend_too(stack: Stack, tools):
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    sink = ThreadingHTTPServer(("127.0.0.1", 0), OtlpSink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    ports = Ports(prometheus=stack.ports.prometheus)
    collector = Service("otelcol-fanout", [str(tools.otelcol), f"--config={REPO / 'otel-collector.yaml'}"],
                        f"http://127.0.0.1:{ports.collector_health}/", stack.workdir / "logs",
                        env=collector_env(ports, exporters="[otlp_http/prometheus,otlp_http/external]", extra={
                            "EXTERNAL_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}/otlp",
                            "EXTERNAL_OTLP_AUTHORIZATION": "Bearer e2e-test-value"}))
    collector.start()
    try:
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"http://127.0.0.1:{ports.otlp_http}/v1/metrics"),
            export_interval_millis=60_000)
        provider = MeterProvider(resource=Resource.create({"service.name": "fanout-e2e"}), metric_readers=[reader])
        provider.get_meter("e2e").create_counter("fanout.check", unit="{event}").add(3)
        provider.force_flush()
        provider.shutdown()
        arrived = stack.prom.wait_for('fanout_check_total{job="fanout-e2e"}', timeout=30)
        wait_until(lambda: any(b"fanout.check" in body for _, _, body in OtlpSink.received), timeout=60,
                   what="the external backend to receive fanout.check")
    finally:
        collector.stop()
        sink.shutdown()
    assert float(arrived[0]["value"][1]) == 3.0
    hits = [(path, headers) for path, headers, body in OtlpSink.received if b"fanout.check" in body]
    assert hits, "the external backend received nothing"
    path, headers = hits[0]
    assert path == "/otlp/v1/metrics"
    assert headers.get("Authorization") == "Bearer e2e-test-value"
