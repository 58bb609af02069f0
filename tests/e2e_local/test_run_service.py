"""`stackwatch run` as operators run it: a subprocess with a config file and
secrets in the environment, against the simulator. It serves /healthz and the
drain receiver, exports OTLP, never logs a secret, and on SIGTERM flushes its
last metrics and exits 0."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from simhelpers import free_port
from test_demo_otlp import Received, start_grpc

from exporters.simulator import Simulator, ThreadedSimulator, World, simulator_config, simulator_env
from exporters.simulator.world import DEFAULT_DRAIN_SECRET, DEFAULT_TOKENS

ROOT = Path(__file__).resolve().parents[2]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    last_error = None
    while time.time() < deadline:
        try:
            if predicate():
                return
        except OSError as error:
            last_error = error
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} ({last_error})")


@pytest.fixture
def running_simulator():  # type: ignore[no-untyped-def]
    with ThreadedSimulator(Simulator(World(seed=5))) as sim:
        yield sim


def test_run_serves_health_and_drains_exports_and_stops_cleanly_on_sigterm(
        running_simulator: Simulator, tmp_path: Path) -> None:
    received = Received()
    server, endpoint = start_grpc(received)
    port = free_port()
    config = simulator_config(running_simulator.base_url, overrides={
        "service": {"listen_host": "127.0.0.1", "listen_port": port, "metric_export_interval_seconds": 1},
        "logging": {"format": "json"},
        "providers": {name: {"poll_interval_seconds": 2} for name in DEFAULT_TOKENS},
    })
    path = tmp_path / "stackwatch.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"PATH": os.environ["PATH"], **simulator_env(), "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
           "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    process = subprocess.Popen([sys.executable, "-m", "exporters", "run", "--config", str(path)], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: all(p["up"] for p in get_json(base + "/healthz")["providers"].values()), 60,
                   "every provider up in /healthz")
        health = get_json(base + "/healthz")
        assert set(health["providers"]) == set(DEFAULT_TOKENS)

        body = json.dumps([{"id": "1", "projectId": "prj_x", "projectName": "web", "source": "lambda",
                            "timestamp": int(time.time() * 1000), "statusCode": 502, "message": "boom",
                            "proxy": {"statusCode": 502, "vercelCache": "MISS"}}]).encode()
        signature = hmac.new(DEFAULT_DRAIN_SECRET.encode(), body, hashlib.sha1).hexdigest()
        assert post(base + "/drains/vercel/logs", body, {"x-vercel-signature": signature,
                                                          "Content-Type": "application/json"}) == 200
        assert post(base + "/drains/vercel/logs", body, {"x-vercel-signature": "0" * 40}) == 401
        metrics_text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        assert 'stackwatch_build_info{version="' in metrics_text

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        stdout, stderr = process.communicate(timeout=10)
        server.stop(0)

    # The last export (on shutdown) carries the drain delivery and its rejection.
    names = {m.name for r in received.requests for rm in r.resource_metrics for sm in rm.scope_metrics
             for m in sm.metrics}
    assert {"vercel.requests", "stackwatch.drain.rejected", "stackwatch.cost.month_to_date_usd"} <= names
    logs = stdout + stderr
    assert "stackwatch running" in logs and "stopped" in logs
    lines = [line for line in stderr.splitlines() if line.startswith("{")]
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)  # JSON logs
    for secret in [*DEFAULT_TOKENS.values(), DEFAULT_DRAIN_SECRET]:
        assert secret not in logs
