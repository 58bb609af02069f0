"""`stackwatch validate` run for real: simulator → stackwatch → otelcol → Prometheus (tests/stack)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from stack.conftest import REPO, STACKWATCH, Stack

pytestmark = pytest.mark.e2e

PROVIDERS = ("vercel", "render", "supabase", "openai", "llamacloud")


def run_validate(stack: Stack, *args: str) -> tuple[int, dict]:
    done = subprocess.run([str(STACKWATCH), "validate", "--config", str(stack.workdir / "stackwatch.yaml"),
                           "--prometheus", stack.prom.base_url,
                           "--project-dir", str(REPO), "--format", "json", *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def by_name(result: dict) -> dict[str, dict]:
    return {c["name"]: c for c in result["checks"]}


def validate_until(stack: Stack, ready, *, timeout: float = 120.0) -> tuple[int, dict]:
    """Run validate until `ready(checks)` holds (the stack's first polls and exports take a while)."""
    deadline = time.monotonic() + timeout
    while True:
        code, result = run_validate(stack)
        if ready(by_name(result)) or time.monotonic() > deadline:
            return code, result
        time.sleep(2)


def test_monitoring_group_passes_against_the_running_stack(stack: Stack):
    def ready(checks: dict) -> bool:
        return all(checks.get(f"{p} up and fresh", {}).get("status") == "pass" for p in PROVIDERS) and \
            checks["catalogued metrics present"]["status"] != "fail" and \
            checks["scrape targets up"]["status"] == "pass"

    _, result = validate_until(stack, ready)
    checks = by_name(result)
    for provider in PROVIDERS:
        assert checks[f"{provider} up and fresh"]["status"] == "pass", checks[f"{provider} up and fresh"]
    metrics = checks["catalogued metrics present"]
    # Every always-present metric is in Prometheus; only event-driven ones may be absent (warn).
    assert metrics["status"] in ("pass", "warn"), metrics
    assert checks["scrape targets up"]["status"] == "pass", checks["scrape targets up"]
    # The simulator's Supabase projects have backups or PITR, read from the exporter's real series.
    backups = [c for c in result["checks"] if c["group"] == "backups"]
    assert backups and all(c["status"] in ("pass", "fail") for c in backups), backups


def test_a_provider_outage_fails_its_monitoring_check_and_the_exit_code(stack: Stack):
    provider = "openai"
    stack.prom.wait_for(f'stackwatch_provider_up{{job="stackwatch", provider="{provider}"}} == 1', timeout=60)
    stack.set_scenario("outage", provider)
    try:
        stack.prom.wait_for(f'stackwatch_provider_up{{job="stackwatch", provider="{provider}"}} == 0', timeout=60)
        code, result = run_validate(stack)
    finally:
        stack.set_scenario("steady")
    check = by_name(result)[f"{provider} up and fresh"]
    assert check["status"] == "fail" and "stackwatch_provider_up=0" in check["evidence"], check
    assert code == 1
    assert result["level_reached"] is None
    stack.prom.wait_for(f'stackwatch_provider_up{{job="stackwatch", provider="{provider}"}} == 1', timeout=60,
                        what=f"{provider} back up after the outage")


def test_record_baseline_against_real_prometheus_writes_figures_and_compares_clean(stack: Stack, tmp_path: Path):
    path = tmp_path / "baseline.json"
    stack.prom.wait_for('stackwatch_cost_month_to_date_usd{job="stackwatch"}', timeout=60)
    run_validate(stack, "--record-baseline", str(path))
    recorded = json.loads(path.read_text())
    assert recorded["figures"]["daily_cost_usd"], recorded  # the simulator's providers cost money
    _, result = run_validate(stack, "--baseline", str(path))
    check = by_name(result)["performance baseline"]
    assert check["status"] in ("pass", "fail") and "figures compared" in check["evidence"], check
