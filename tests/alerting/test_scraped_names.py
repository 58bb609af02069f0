"""The rules' scraped metric names (the collector's own `otelcol_*` telemetry) are names the real
native Prometheus stores. Prometheus' OTLP receiver names stackwatch's metrics from the catalogue,
but the collector's telemetry is scraped, and whether a counter keeps `_total` there depends on
the scrape format, so only the real stack can say. The collector exports to a second endpoint that
answers 404 (a permanent error, no retries), so the failure counters exist too, not only the
success ones."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from stack.conftest import stack_factory, tools, wait_until  # noqa: F401 (fixtures)

from alerting import render
from alerting.channels import read_settings

pytestmark = pytest.mark.e2e

METRIC = re.compile(r"\b(otelcol_[a-zA-Z0-9_]+)\b")


def rule_metric_names() -> set[str]:
    exprs = [rule["expr"] for group in render.prometheus_rules(read_settings({}))["groups"] for rule in group["rules"]]
    return {name for expr in exprs for name in METRIC.findall(expr)}


def test_the_rules_query_collector_metrics():
    # The check below is not vacuous: the collector-export rule reads the collector's telemetry.
    assert any("send_failed" in name for name in rule_metric_names())


@pytest.fixture
def rejecting_endpoint() -> Iterator[str]:
    """An OTLP endpoint that answers every export 404: the exporter drops it at once (a
    refused connection would be retried for 15 minutes before counting as failed)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            self.rfile.read(min(int(self.headers.get("Content-Length", "0")), 10 * 1024 * 1024))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_every_collector_metric_the_rules_query_exists_in_the_real_prometheus(
        stack_factory, rejecting_endpoint):  # noqa: F811
    stack = stack_factory(collector_exporters="[otlp_http/prometheus,otlp_http/external]",
                          collector_extra_env={"EXTERNAL_OTLP_ENDPOINT": rejecting_endpoint})
    wanted = rule_metric_names()

    def present() -> set[str] | None:
        names = {n for n in stack.prom.metric_names() if n.startswith("otelcol_")}
        return names if wanted <= names else None

    try:
        wait_until(present, timeout=120, interval=2.0, what=f"{sorted(wanted)} in Prometheus")
    except AssertionError as error:
        names = sorted(n for n in stack.prom.metric_names() if n.startswith("otelcol_"))
        raise AssertionError(f"{error}; the collector metrics Prometheus has: {names}") from None
