"""Real mode from zero, with the environment compose gives the stackwatch container.

docker-compose (the Debian binary the stack tests use for `config`) resolves docker-compose.yml
with a real-mode .env: tokens set, no demo profile, and no VERCEL_DRAIN_SECRET (a team without
drains). `stackwatch run` then starts from exactly that environment and the example config
(its placeholder ids filled in; providers pointed at a simulator on loopback that accepts the
real-looking tokens: plain http is allowed on loopback without `simulator: true`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from exporters.providers.vercel.drains import DRAIN_SECRET_ENV
from exporters.service.config import Secrets, load_config
from exporters.simulator import VERCEL_TEAM_ID, Simulator, ThreadedSimulator, World
from exporters.simulator.world import DEFAULT_DRAIN_SECRET

from .conftest import REPO, free_port, wait_until
from .test_validation import resolved_compose

pytestmark = pytest.mark.e2e

TOKENS = {"vercel": "vercel-real-looking-0001", "render": "rnd_realLooking0002", "supabase": "sbp_realLooking0003",
          "openai": "sk-admin-realLooking0004", "llamacloud": "llx-realLooking0005"}
REAL_ENV = {"COMPOSE_PROFILES": "", "STACKWATCH_CONFIG_FILE": "./stackwatch.yaml",
            "VERCEL_TOKEN": TOKENS["vercel"], "RENDER_API_KEY": TOKENS["render"],
            "SUPABASE_ACCESS_TOKEN": TOKENS["supabase"], "OPENAI_ADMIN_KEY": TOKENS["openai"]}


def real_config(tmp_path: Path, base_url: str, port: int) -> Path:
    """stackwatch.example.yaml as an operator fills it in, its base URLs on the loopback simulator."""
    data = yaml.safe_load((REPO / "stackwatch.example.yaml").read_text())
    data["providers"]["vercel"]["team_id"] = VERCEL_TEAM_ID
    prefixes = {"vercel": "/vercel", "render": "/render/v1", "supabase": "/supabase", "openai": "/openai/v1",
                "llamacloud": "/llamacloud"}
    for name, prefix in prefixes.items():
        data["providers"][name]["base_url"] = base_url + prefix
    data["service"].update({"listen_host": "127.0.0.1", "listen_port": port, "health_port": free_port(),
                            "data_dir": str(tmp_path / "data")})
    assert "simulator" not in data  # real mode
    path = tmp_path / "stackwatch.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_real_mode_without_a_drain_secret_starts_with_the_environment_compose_gives_it(tools, tmp_path: Path):
    environment = resolved_compose(tools, tmp_path, **REAL_ENV)["services"]["stackwatch"]["environment"]
    assert not environment.get(DRAIN_SECRET_ENV), "compose no longer forces the simulator's drain secret"
    with ThreadedSimulator(Simulator(World(seed=3), tokens=TOKENS)) as simulator:
        port = free_port()
        config = real_config(tmp_path, simulator.base_url, port)
        env = {k: str(v) for k, v in environment.items() if not k.startswith("OTEL_EXPORTER_OTLP")}
        service = subprocess.Popen([sys.executable, "-m", "exporters", "run", "--config", str(config)], cwd=tmp_path,
                                   env={"PATH": os.environ["PATH"], **env}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            def healthy() -> bool:
                assert service.poll() is None, service.communicate(timeout=10)
                try:
                    return urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200
                except OSError:
                    return False
            wait_until(healthy, timeout=90, what="/healthz 200 in real mode without a drain secret")
            service.send_signal(signal.SIGTERM)
            assert service.wait(timeout=30) == 0
        finally:
            if service.poll() is None:
                service.kill()
            _out, logs = service.communicate(timeout=10)
    # It warns that it exports nowhere (no OTLP endpoint here), and says drains are refused.
    assert "no OTLP endpoint: OTEL_EXPORTER_OTLP_ENDPOINT is not set" in logs
    assert "Traceback" not in logs and TOKENS["openai"] not in logs


def test_the_old_compose_default_drain_secret_would_have_stopped_real_mode(tmp_path: Path):
    """What issue 16 found: the simulator's secret, forced by compose, is refused in real mode (exit 2)."""
    config = real_config(tmp_path, "http://127.0.0.1:9", free_port())
    env = {"PATH": os.environ["PATH"], **{k: v for k, v in REAL_ENV.items() if k.endswith(("TOKEN", "KEY"))}}
    done = subprocess.run([sys.executable, "-m", "exporters", "check-config", str(config)], capture_output=True,
                          text=True, timeout=60, env={**env, DRAIN_SECRET_ENV: DEFAULT_DRAIN_SECRET})
    assert done.returncode == 2 and "VERCEL_DRAIN_SECRET holds the simulator's demo secret" in done.stderr
    done = subprocess.run([sys.executable, "-m", "exporters", "check-config", str(config)], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 0 and "drain secret not set (drains will be refused;" in done.stdout, done.stderr


def test_demo_mode_accepts_the_simulators_signed_drains_without_a_secret_in_compose(tools, tmp_path: Path):
    environment = resolved_compose(tools, tmp_path)["services"]["stackwatch"]["environment"]
    assert not environment.get(DRAIN_SECRET_ENV)
    demo = load_config(REPO / "stackwatch.demo.yaml")
    secrets = Secrets.from_env(demo, "stackwatch.demo.yaml", {k: str(v) for k, v in environment.items()})
    assert secrets.drain_secret == DEFAULT_DRAIN_SECRET  # what `stackwatch simulate --drain-to` signs with
