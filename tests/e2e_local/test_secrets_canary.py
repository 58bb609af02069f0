"""Canary secrets: no run of 8 or more characters of any secret reaches any output.

Every provider token and the drain secret is a unique canary. The simulator
accepts them and, like real providers do ("Incorrect API key provided: sk-…"),
echoes the caller's token back in the body of some error responses, placed so
that the exporter's 200-character excerpt of an error body cuts the token in
two. Then `stackwatch run`, `demo`, `check-config` and `simulate` run, and
every output they have is searched for every 8-character run of every canary:
stdout, stderr, the OTLP payloads a real receiver got, `/metrics` and `/healthz`.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path

import yaml
from aiohttp import web
from rich.console import Console
from simhelpers import free_port
from test_demo_otlp import Received, start_grpc
from test_run_service import get_json, post, wait_until

from exporters.providers.vercel.drains import DRAIN_SECRET_ENV
from exporters.service.config import SECRET_ENV
from exporters.simulator import Simulator, ThreadedSimulator, World, simulator_config

ROOT = Path(__file__).resolve().parents[2]
RUN = secrets.token_hex(8)
CANARY_TOKENS = {
    # Random after a short marker: a canary must share no 8-character run with ordinary text
    # (provider names, URLs), or redaction would eat that text and the test prove less.
    "vercel": f"vcp_CANARYvc{RUN}Q7",
    "render": f"rnd_CANARYrn{RUN}W3",
    "supabase": f"sbp_CANARYsb{RUN}E5",
    "openai": f"sk-admin-CANARYoa{RUN}R8",
    "llamacloud": f"llx-CANARYll{RUN}T2",
}
CANARY_DRAIN = f"CANARYdr{RUN}Y4"
ECHO_EVERY = 3  # every third request of each provider gets an error that echoes its token


def runs_of_eight(secret: str) -> set[str]:
    return {secret[i:i + 8] for i in range(len(secret) - 7)}


def assert_no_fragment(outputs: dict[str, str], canaries: list[str]) -> None:
    leaks = [(where, run) for where, text in outputs.items() for canary in canaries
             for run in runs_of_eight(canary) if run in text]
    assert not leaks, f"secret fragments found: {leaks[:10]}"


class EchoingSimulator(Simulator):
    """The simulator, plus errors that echo the caller's token the way real APIs do."""

    def __init__(self, world: World, **kwargs: object):
        super().__init__(world, **kwargs)  # type: ignore[arg-type]
        self.requests_seen: Counter[str] = Counter()
        self.echoed: Counter[str] = Counter()
        self.tokens_seen: set[str] = set()
        self.app.middlewares.insert(0, self._echo_token)

    @web.middleware
    async def _echo_token(self, request: web.Request, handler):  # type: ignore[no-untyped-def]
        sim = self.provider_for(request.path)
        if sim is None or request.path.startswith("/supabase-metrics/"):
            return await handler(request)
        self.requests_seen[sim.name] += 1
        if self.requests_seen[sim.name] % ECHO_EVERY:
            return await handler(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.tokens_seen.add(token)
        n = self.echoed[sim.name]
        self.echoed[sim.name] += 1
        # The exporter keeps 200 characters of an error body; put the cut inside the token.
        head = '{"error": {"message": "Incorrect API key provided: '
        # k characters of the token before the cut: 8, 9, … up to all but one, then again.
        k = 8 + n % max(1, len(token) - 8)
        pad = "x" * max(0, 200 - len(head) - k)
        body = head + pad + token + '. Find your key at https://example.invalid/keys", "type": "invalid"}}'
        return web.Response(status=400, text=body, content_type="application/json")


def canary_env() -> dict[str, str]:
    env = {SECRET_ENV[name]: token for name, token in CANARY_TOKENS.items()}
    env[DRAIN_SECRET_ENV] = CANARY_DRAIN
    return env


def otlp_text(received: Received) -> str:
    return "\n".join(str(request) for request in received.requests)


def test_run_leaks_no_fragment_of_any_secret_anywhere(tmp_path: Path) -> None:
    received = Received()
    server, endpoint = start_grpc(received)
    sim = EchoingSimulator(World(seed=11), tokens=CANARY_TOKENS, drain_secret=CANARY_DRAIN)
    with ThreadedSimulator(sim):
        port = free_port()
        config = simulator_config(sim.base_url, overrides={
            "service": {"listen_host": "127.0.0.1", "listen_port": port, "metric_export_interval_seconds": 1},
            "logging": {"format": "json", "level": "debug"},
            "providers": {name: {"poll_interval_seconds": 1, "max_retries": 0} for name in CANARY_TOKENS},
        })
        path = tmp_path / "stackwatch.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {"PATH": os.environ["PATH"], **canary_env(), "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
               "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        # Files, not pipes: a full pipe would block the service's logging (and the test).
        out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            process = subprocess.Popen([sys.executable, "-m", "exporters", "run", "--config", str(path)],
                                       cwd=ROOT, env=env, stdout=out, stderr=err)
        base = f"http://127.0.0.1:{port}"
        try:
            def echoed_enough() -> bool:
                assert process.poll() is None, "the service exited early"
                return min(sim.echoed[name] for name in CANARY_TOKENS) >= 3 and len(received.requests) >= 2
            try:
                wait_until(echoed_enough, 120, "every provider to have echoed its token a few times")
            except AssertionError as error:
                raise AssertionError(f"{error}; echoed {dict(sim.echoed)}, requests {dict(sim.requests_seen)}, "
                                     f"exports {len(received.requests)}") from None
            # A drain delivery signed with the secret itself, and one carrying it in the body.
            body = json.dumps([{"id": "1", "message": f"leak {CANARY_DRAIN}"}]).encode()
            assert post(base + "/drains/vercel/logs", body, {"x-vercel-signature": CANARY_DRAIN}) == 401
            wait_until(lambda: "stackwatch.drain.rejected" in otlp_text(received), 60,
                       "an export carrying the drain rejection")
            metrics_text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
            health_text = json.dumps(get_json(base + "/healthz"))
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            server.stop(0)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    # The test means something only if tokens were echoed and their errors were logged.
    assert "client_error" in stderr and "Incorrect API key provided" in stderr
    outputs = {"stdout": stdout, "stderr": stderr, "/metrics": metrics_text, "/healthz": health_text,
               "otlp": otlp_text(received)}
    assert "stackwatch.provider.poll.errors" in outputs["otlp"]
    assert_no_fragment(outputs, [*CANARY_TOKENS.values(), CANARY_DRAIN])
    assert "[REDACTED]" in stderr
    assert all(f'"provider": "{name}"' in stderr for name in CANARY_TOKENS)  # names survive redaction


def test_demo_leaks_no_fragment_of_the_tokens_it_uses(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from exporters.core.logs import configure
    from exporters.ops.demo import run_demo

    received = Received()
    server, endpoint = start_grpc(received)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    logs = io.StringIO()
    configure("debug", "json", stream=logs)
    screen = io.StringIO()
    # The demo polls its simulator with the simulator's tokens: canaries here.
    sim = EchoingSimulator(World(seed=42), tokens=CANARY_TOKENS, drain_secret=CANARY_DRAIN)
    try:
        assert asyncio.run(run_demo(seed=42, simulator=sim, console=Console(file=screen, width=240))) == 0
    finally:
        server.stop(0)
        configure("info", "text")
    assert sum(sim.echoed.values()) >= 5
    assert "client_error" in screen.getvalue() + logs.getvalue()
    # Whatever tokens the demo sent (the simulator's), none may come back out.
    assert sim.tokens_seen
    assert_no_fragment({"screen": screen.getvalue(), "logs": logs.getvalue(), "otlp": otlp_text(received)},
                       [*sim.tokens_seen, CANARY_DRAIN])


def check_config(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporters", "check-config", str(path)], capture_output=True,
                          text=True, cwd=ROOT, env={"PATH": os.environ["PATH"], **env}, timeout=60)


def test_check_config_leaks_no_fragment_valid_or_not(tmp_path: Path) -> None:
    canaries = [*CANARY_TOKENS.values(), CANARY_DRAIN]
    valid = tmp_path / "valid.yaml"
    valid.write_text(yaml.safe_dump({"providers": {
        "openai": {"enabled": True}, "render": {"enabled": True, "owner_id": "tea-1"}}}))
    ok = check_config(valid, canary_env())
    assert ok.returncode == 0, ok.stderr

    # Tokens pasted into the file at keys of the wrong type, and where a list is expected.
    pasted = tmp_path / "pasted.yaml"
    pasted.write_text(yaml.safe_dump({"environment": CANARY_DRAIN, "providers": {
        "openai": {"enabled": True, "max_retries": CANARY_TOKENS["openai"],
                   "project_ids": CANARY_TOKENS["vercel"]},
        "render": {"poll_interval_seconds": CANARY_TOKENS["render"], "enabled": CANARY_TOKENS["supabase"]},
        "llamacloud": {"plan": CANARY_TOKENS["llamacloud"]}}}))
    bad = check_config(pasted, {})
    assert bad.returncode == 2 and "max_retries" in bad.stderr

    # A token with a non-ASCII character, and the drain secret with a space.
    mangled = dict(canary_env())
    mangled["OPENAI_ADMIN_KEY"] = CANARY_TOKENS["openai"][:12] + "\u2019" + CANARY_TOKENS["openai"][12:]
    mangled[DRAIN_SECRET_ENV] = CANARY_DRAIN[:10] + " " + CANARY_DRAIN[10:]
    wrong = check_config(valid, mangled)
    assert wrong.returncode == 2 and "OPENAI_ADMIN_KEY" in wrong.stderr and DRAIN_SECRET_ENV in wrong.stderr
    outputs = {f"{name}.{stream}": getattr(result, stream) for name, result in
               (("valid", ok), ("pasted", bad), ("mangled", wrong)) for stream in ("stdout", "stderr")}
    assert_no_fragment(outputs, canaries)


def test_simulate_leaks_no_fragment_of_tokens_sent_to_it() -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "exporters", "simulate", "--port", str(port)], cwd=ROOT,
                               env={"PATH": os.environ["PATH"], **canary_env()},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    bodies = []
    try:
        wait_until(lambda: get_json(base + "/healthz")["status"] == "ok", 60, "the simulator")
        for name, prefix in (("openai", "/openai/v1/organization/costs"), ("vercel", "/vercel/v9/projects")):
            request = urllib.request.Request(base + prefix,
                                             headers={"Authorization": f"Bearer {CANARY_TOKENS[name]}"})
            try:
                urllib.request.urlopen(request, timeout=5)
            except urllib.error.HTTPError as error:
                assert error.code == 401
                bodies.append(error.read().decode())
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        stdout, stderr = process.communicate(timeout=10)
    assert len(bodies) == 2
    assert_no_fragment({"stdout": stdout, "stderr": stderr, "responses": "\n".join(bodies)},
                       [*CANARY_TOKENS.values(), CANARY_DRAIN])
