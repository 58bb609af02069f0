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
        wait_healthy(process, base)
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


# --- lifecycle: SIGTERM finishes (with the final flush) inside Docker's 10 s grace, whatever is stalled ---

# The budget the service gives itself is 8 s, under Docker's default 10 s. The wall-clock bound
# below is only a backstop with slack for a loaded machine; the figure asserted against 10 s is the
# duration the service measures itself (monotonic, from SIGTERM to "stopped").
SHUTDOWN_LIMIT_S = 10.0
WALL_BACKSTOP_S = 30.0


def start_service(sim: Simulator, tmp_path: Path, env_extra: dict[str, str],
                  service: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = simulator_config(sim.base_url, overrides={
        "service": {"listen_host": "127.0.0.1", "listen_port": port, "metric_export_interval_seconds": 1,
                    **(service or {})},
        "logging": {"format": "json"},
        "providers": {name: {"poll_interval_seconds": 2} for name in DEFAULT_TOKENS},
    })
    path = tmp_path / "stackwatch.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"PATH": os.environ["PATH"], **simulator_env(), **env_extra}
    process = subprocess.Popen([sys.executable, "-m", "exporters", "run", "--config", str(path)],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(process: subprocess.Popen, base: str) -> None:
    def up() -> bool:
        assert process.poll() is None, "the service exited early"
        return all(p["up"] for p in get_json(base + "/healthz")["providers"].values())
    wait_until(up, 180, "every provider up in /healthz")  # generous: a loaded 2-core machine


def stop_and_collect(process: subprocess.Popen) -> tuple[int, float, list[dict], str]:
    """SIGTERM; (exit code, wall seconds to exit, JSON log events, raw stderr)."""
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=WALL_BACKSTOP_S + 60)
    finally:
        if process.poll() is None:
            process.kill()
    wall = time.monotonic() - sent
    _stdout, stderr = process.communicate(timeout=10)
    events = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # every line is JSON
    return code, wall, events, stderr


def stopped_event(events: list[dict]) -> dict:
    found = [e for e in events if e.get("event") == "stopped"]
    assert found, [e.get("event") for e in events]
    return found[-1]


def test_sigterm_with_a_stalled_drain_upload_exits_in_time_and_still_flushes(
        running_simulator: Simulator, tmp_path: Path) -> None:
    import socket

    received = Received()
    server, endpoint = start_grpc(received)
    # One body read at a time, so a second upload answered 503 `busy` shows the stalled one is being read.
    process, base = start_service(running_simulator, tmp_path, {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        service={"drain_max_concurrent_bodies": 1})
    stalled = socket.socket()
    try:
        wait_healthy(process, base)
        stalled.connect(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        # Announces 4 MiB, sends 100 bytes, then nothing: the handler waits on the body.
        stalled.sendall(b"POST /drains/vercel/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"x-vercel-signature: " + b"0" * 40 + b"\r\nContent-Length: 4194303\r\n\r\n" + b"[" * 100)
        wait_until(lambda: post(base + "/drains/vercel/logs", b"[]", {"x-vercel-signature": "0" * 40}) == 503, 60,
                   "the stalled upload to hold the only body slot (a second one answered 503 busy)")
        exports_before = len(received.requests)
        code, wall, events, _stderr = stop_and_collect(process)
    finally:
        stalled.close()
        if process.poll() is None:
            process.kill()
        server.stop(0)
    assert code == 0 and wall < WALL_BACKSTOP_S, wall
    stopped = stopped_event(events)
    assert stopped["shutdown_seconds"] <= SHUTDOWN_LIMIT_S
    assert stopped["final_flush"] is True and len(received.requests) > exports_before


def test_sigterm_with_a_black_hole_otlp_endpoint_exits_in_time(running_simulator: Simulator, tmp_path: Path) -> None:
    import socket

    # Accepts connections (the kernel completes the handshake) and never answers.
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(64)
    endpoint = f"http://127.0.0.1:{black_hole.getsockname()[1]}"
    process, base = start_service(running_simulator, tmp_path, {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"})
    hanging = None
    try:
        wait_healthy(process, base)
        # A periodic export (every 1 s) has connected and now hangs: the black hole never answers.
        black_hole.settimeout(60)
        hanging, _address = black_hole.accept()
        code, wall, events, _stderr = stop_and_collect(process)
    finally:
        if process.poll() is None:
            process.kill()
        if hanging is not None:
            hanging.close()
        black_hole.close()
    assert code == 0 and wall < WALL_BACKSTOP_S, wall
    stopped = stopped_event(events)
    assert stopped["shutdown_seconds"] <= SHUTDOWN_LIMIT_S


def test_a_port_in_use_exits_2_with_one_line_naming_it(running_simulator: Simulator, tmp_path: Path) -> None:
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        process, _base = start_service(running_simulator, tmp_path, {}, service={"listen_port": port})
        _stdout, stderr = process.communicate(timeout=60)
    finally:
        taken.close()
    assert process.returncode == 2
    errors = [line for line in stderr.splitlines() if line.startswith("invalid configuration")]
    assert len(errors) == 1 and "Traceback" not in stderr
    assert f"service.listen_host/listen_port: cannot listen on 127.0.0.1:{port} (" in errors[0]


def test_an_unresolvable_listen_host_exits_2_with_one_line_naming_it(
        running_simulator: Simulator, tmp_path: Path) -> None:
    process, _base = start_service(running_simulator, tmp_path, {},
                                   service={"listen_host": "no-such-host.invalid"})
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("invalid configuration")]
    assert len(errors) == 1 and "cannot listen on no-such-host.invalid:" in errors[0]
