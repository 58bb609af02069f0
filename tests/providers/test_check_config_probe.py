"""`stackwatch check-config --probe` against the simulator: one small authenticated read per kind of data
each provider polls; what each token can and cannot see, and why, never the token itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from simhelpers import free_port

from exporters.simulator import LLAMACLOUD_ORGANIZATION_ID, Simulator, ThreadedSimulator, World, simulator_config
from exporters.simulator import simulator_env as fixed_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def simulator() -> Iterator[Simulator]:  # on its own thread: the probe runs as a subprocess
    with ThreadedSimulator(Simulator(World(seed=11))) as sim:
        yield sim


def probe(tmp_path: Path, base_url: str, *, env: dict[str, str] | None = None,
          overrides: dict | None = None) -> subprocess.CompletedProcess:
    path = tmp_path / "stackwatch.yaml"
    path.write_text(yaml.safe_dump(simulator_config(base_url, overrides=overrides)))
    return subprocess.run([sys.executable, "-m", "exporters", "check-config", str(path), "--probe"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={"PATH": os.environ["PATH"], **fixed_env(), **(env or {})})


def lines_of(done: subprocess.CompletedProcess, provider: str) -> list[str]:
    out = done.stdout.splitlines()
    start = out.index(next(line for line in out if line.startswith(f"{provider}: ")))
    block = [out[start]]
    for line in out[start + 1:]:
        if not line.startswith("  "):
            break
        block.append(line)
    return block


def fault(sim: Simulator, **body: object) -> None:
    request = urllib.request.Request(f"{sim.base_url}/_sim/fault", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    assert urllib.request.urlopen(request, timeout=10).status == 200


def test_every_token_can_read_every_kind_of_data_it_polls(simulator: Simulator, tmp_path: Path) -> None:
    done = probe(tmp_path, simulator.base_url)
    assert done.returncode == 0, done.stdout + done.stderr
    for provider, reads in {"vercel": ("projects", "deployments", "billing charges (FOCUS)"),
                            "render": ("services", "Postgres databases", "Key Value instances", "metrics"),
                            "supabase": ("projects", "billing add-ons of", "database backups of", "health of", "auth logs of"),
                            "openai": ("costs", "usage (completions)", "usage (embeddings)"),
                            "llamacloud": ("organizations", "usage metrics")}.items():
        block = lines_of(done, provider)
        assert block[0] == f"{provider}: ok", block
        for what in reads:
            assert any(line.startswith(f"  can    read {what}") for line in block[1:]), (what, block)
    # The reads went to the endpoints the polls use (every one authenticated, none retried).
    ops = simulator.stats.by_operation
    assert ops["vercel GET /vercel/v1/billing/charges"] == 1 and ops["render GET /render/v1/metrics/cpu"] == 1
    assert ops["llamacloud GET /llamacloud/api/v1/beta/usage-metrics"] == 1
    for secret in fixed_env().values():
        assert secret not in done.stdout + done.stderr


def test_a_revoked_token_and_a_token_without_the_billing_role_are_named_with_what_to_do(
        simulator: Simulator, tmp_path: Path) -> None:
    """Supabase answers 401 to a token it does not know; Vercel answers 403 on billing charges for a member
    without a billing role (injected: the simulator's token can read them): both exit 1, and say why."""
    fault(simulator, provider="vercel", kind="status", status=403, path_contains="/billing/charges", count=5)
    revoked = "sbp_revoked_0123456789abcdef"
    done = probe(tmp_path, simulator.base_url, env={"SUPABASE_ACCESS_TOKEN": revoked})
    assert done.returncode == 1
    vercel = lines_of(done, "vercel")
    assert vercel[0] == "vercel: FAIL"
    assert any(line.startswith("  can    read projects") for line in vercel)
    billing = next(line for line in vercel if "billing charges" in line)
    assert billing.startswith("  CANNOT read billing charges (FOCUS)")
    port = simulator.base_url.rsplit(":", 1)[1]
    assert f"HTTP 403 from 127.0.0.1:{port}" in billing and "Billing" in billing and "Owner" in billing
    supabase = lines_of(done, "supabase")
    assert supabase[0] == "supabase: FAIL" and "HTTP 401" in supabase[1]
    assert "invalid, expired or revoked" in supabase[1] and "supabase.com/dashboard/account/tokens" in supabase[1]
    assert revoked not in done.stdout + done.stderr and revoked[:12] not in done.stdout + done.stderr
    assert lines_of(done, "render")[0] == "render: ok"


def test_ids_the_token_cannot_see_are_named(simulator: Simulator, tmp_path: Path) -> None:
    overrides = {"providers": {
        "vercel": {"team_id": "team_someoneelse0000000000"},
        "openai": {"project_ids": ["proj_notinthisorg"]},
        "supabase": {"project_refs": ["zzzzzzzzzzzzzzzzzzzz"]},
        "llamacloud": {"organization_id": "11111111-2222-4333-8444-555555555555"}}}
    done = probe(tmp_path, simulator.base_url, overrides=overrides)
    assert done.returncode == 1
    vercel = lines_of(done, "vercel")
    assert all("HTTP 403" in line and "providers.vercel.team_id" in line for line in vercel[1:])
    assert any("CANNOT read project proj_notinthisorg" in line and "HTTP 404" in line
               and "providers.openai.project_ids" in line for line in lines_of(done, "openai"))
    assert any("CANNOT read configured projects" in line and "zzzzzzzzzzzzzzzzzzzz" in line
               for line in lines_of(done, "supabase"))
    organizations = next(line for line in lines_of(done, "llamacloud") if "organizations" in line)
    assert "not 11111111-2222-4333-8444-555555555555" in organizations
    assert LLAMACLOUD_ORGANIZATION_ID not in organizations  # other organisations are counted, not listed


def test_an_unreachable_provider_is_named_by_host_and_cause(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    done = probe(tmp_path, f"http://127.0.0.1:{port}", overrides={"providers": {
        name: {"enabled": name == "render"} for name in ("vercel", "render", "supabase", "openai", "llamacloud")}})
    assert done.returncode == 1
    render = lines_of(done, "render")
    assert f"render list-services: cannot connect to 127.0.0.1:{port}: connection refused" in render[1]
    assert "Traceback" not in done.stderr
