"""`stackwatch costs export`: all five providers' records as one FOCUS dataset, whose month-to-date
sums equal the simulator's ground truth to the cent when stackwatch observed the cycle, and which
states what it did not observe when it did not (a one-shot export)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from simhelpers import FIXED_NOW, free_port

from exporters.costs.coverage import COVERAGE_COLUMNS
from exporters.costs.focus import FOCUS_COLUMNS
from exporters.ops.export import export_costs
from exporters.providers.registry import display_names
from exporters.service.runtime import build_runtime
from exporters.simulator import Simulator, World, simulator_env, simulator_runtime_inputs
from exporters.simulator.price_fixtures import RENDER_PLANS, usd
from exporters.simulator.world import Scale, WorldClock

ROOT = Path(__file__).resolve().parents[2]


MONTH_START = FIXED_NOW.replace(day=1, hour=0, minute=0)
STEP_S = 12 * 3600.0


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_month_to_date_by_provider_equals_ground_truth(fmt: str, tmp_path: Path) -> None:
    """stackwatch has run since the 1st (polls every 12 h, on a state file); `costs export` on that
    file then holds the month so far: Render and Supabase estimates are integrated over the states
    observed since the 1st, so every provider equals the simulator's invoice to the cent."""
    simulator = Simulator(World(seed=13, scale=Scale(), start=MONTH_START, frozen=True))
    base_url = await simulator.start()
    polling = {p: {"poll_interval_seconds": STEP_S, "slow_poll_interval_seconds": STEP_S}
               for p in ("vercel", "render", "supabase", "openai", "llamacloud")}
    overrides = {"providers": polling,
                 "service": {"data_dir": str(tmp_path / "data"), "max_observation_gap_seconds": 2 * STEP_S}}
    config, secrets = simulator_runtime_inputs(base_url, overrides)
    try:
        runtime = build_runtime(config, secrets, clock=WorldClock(simulator.world))
        while simulator.world.now_ts() + STEP_S <= FIXED_NOW.timestamp():
            await runtime.collector.run_cycle(force=True)
            simulator.world.advance(STEP_S)
        await runtime.aclose()
        runtime.meter_provider.shutdown()
        simulator.world.advance(FIXED_NOW.timestamp() - simulator.world.now_ts())
        out = tmp_path / f"costs.{fmt}"
        done = await export_costs(config, secrets, fmt, out, clock=WorldClock(simulator.world))
        truth = simulator.ground_truth()["providers"]
    finally:
        await simulator.stop()

    if fmt == "csv":
        with out.open() as handle:
            reader = csv.DictReader(handle)
            assert tuple(reader.fieldnames or ()) == FOCUS_COLUMNS + COVERAGE_COLUMNS
            rows = list(reader)
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    # The cycle was observed from its first second: the dataset is complete, nothing to state apart.
    assert done.complete and all(c.period_start == MONTH_START for c in done.coverage), done.coverage
    assert len(rows) == done.records > 0 and {row["x_Coverage"] for row in rows} == {"observed"}
    month = FIXED_NOW.strftime("%Y-%m")
    mtd: dict[str, float] = defaultdict(float)
    for row in rows:
        assert row["BillingCurrency"] == "USD" and row["x_CostSource"] in ("billed", "estimated")
        assert row["ChargePeriodStart"] < row["ChargePeriodEnd"]
        if row["ChargePeriodStart"].startswith(month):
            mtd[row["ServiceProviderName"]] += float(row["BilledCost"])
    display = {display_names()[p]: p for p in truth}
    assert set(mtd) == set(display), "every provider is in the one dataset"
    for name, provider in display.items():
        assert round(mtd[name], 2) == round(truth[provider]["month_to_date_usd"], 2), provider


def test_export_command_writes_jsonl_from_the_simulator(tmp_path: Path) -> None:
    out = tmp_path / "costs.jsonl"
    result = subprocess.run([sys.executable, "-m", "exporters", "costs", "export", "--simulator", "--format",
                             "jsonl", "--output", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["ServiceProviderName"] for r in rows} == set(display_names().values())
    observed = [r for r in rows if r["x_Coverage"] == "observed"]
    assert f"{len(observed)} cost records written" in result.stderr
    # A one-shot export has not watched the cycle: it says so, per provider, and exits 0 unless asked not to.
    assert "render      PARTIAL" in result.stderr and "vercel      complete" in result.stderr
    strict = subprocess.run([sys.executable, "-m", "exporters", "costs", "export", "--simulator", "--output",
                             str(tmp_path / "strict.csv"), "--require-complete"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert strict.returncode == 1 and "--require-complete" in strict.stderr.splitlines()[-1], strict.stderr


def iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


async def test_a_one_shot_export_states_each_unobserved_period_and_estimates_it_apart(simulator, tmp_path: Path):
    """No state file watched the cycle (the first poll is on the 18th). Render's attested services are
    priced to the cent; the suspended service's running days before its suspension and the autoscaled
    service's whole cycle were not observed: each is a row per UTC day with an empty BilledCost, and the
    suspended service's period is estimated apart (its plan and instances, running until the suspension
    Render dates), equal to the simulator's invoice for it, computed here from the simulator's prices."""
    config, secrets = simulator_runtime_inputs(simulator.base_url)
    out = tmp_path / "costs.jsonl"
    before = simulator.world.now()  # the world's clock runs: the export reads it somewhere in between
    done = await export_costs(config, secrets, "jsonl", out, clock=WorldClock(simulator.world))
    now = simulator.world.now()
    truth = simulator.ground_truth()["providers"]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    status = {c.provider: c.complete for c in done.coverage}
    assert status == {"vercel": True, "render": False, "supabase": False, "openai": True, "llamacloud": True}
    assert not done.failed and done.records == sum(r["x_Coverage"] == "observed" for r in rows)

    unobserved = [r for r in rows if r["x_Coverage"] == "unobserved"]
    for r in unobserved:  # unknown, never $0; one UTC day each; the seconds are the period's
        start, end = iso(r["ChargePeriodStart"]), iso(r["ChargePeriodEnd"])
        assert r["BilledCost"] is None and r["EffectiveCost"] is None and r["x_CostSource"] is None
        assert start.date() == (end - timedelta(microseconds=1)).date() and MONTH_START <= start < end <= now
        assert r["x_UnobservedSeconds"] == pytest.approx((end - start).total_seconds(), abs=1)  # ISO: whole seconds
    render_rows = [r for r in rows if r["ServiceProviderName"] == "Render"]
    seconds: dict[str, float] = defaultdict(float)
    for r in render_rows:
        if r["x_Coverage"] == "unobserved":
            seconds[r["ResourceName"]] += r["x_UnobservedSeconds"]
    services = {s.name: s for s in simulator.providers["render"].services()}
    web = services["web"]
    assert services["worker"].autoscaling  # its instance count before the first poll: nowhere in the API
    month_start = MONTH_START.timestamp()
    assert set(seconds) == {"web", "worker"}  # the other services' updatedAt attests them unchanged
    assert seconds["web"] == pytest.approx(web.suspended_at - month_start, abs=1)
    assert before.timestamp() - month_start - 1 <= seconds["worker"] <= now.timestamp() - month_start + 1

    # Observed: exactly the attested services' invoice; nothing of the estimate is in BilledCost.
    billed = sum(r["BilledCost"] for r in render_rows if r["x_Coverage"] == "observed")
    by_service = truth["render"]["month_to_date_by_project"]
    assert billed == pytest.approx(sum(usd for name, usd in by_service.items() if name not in seconds), abs=0.01)
    # Estimated apart: web ran on its plan from the 1st until Render's dated suspension (November: 30 days).
    web_rows = [r for r in render_rows if r["ResourceName"] == "web" and r["x_Coverage"] == "unobserved"]
    expected = usd(RENDER_PLANS[web.plan]) * web.instances * (web.suspended_at - month_start) / (30 * 86400)
    assert sum(r["x_UnobservedCostEstimate"] for r in web_rows) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(by_service["web"], abs=0.01)
    assert all("suspension" in r["x_CoverageNote"] for r in web_rows)


def test_a_failed_poll_is_exit_1_naming_the_host_and_the_cause(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "stackwatch.yaml"
    config.write_text(f"simulator: true\nproviders:\n  vercel: {{enabled: true, base_url: 'http://127.0.0.1:{port}/v',"
                      " team_id: team_a1B2c3D4e5F6g7H8i9J0k1L2, max_retries: 0}\n")
    out = tmp_path / "costs.csv"
    done = subprocess.run([sys.executable, "-m", "exporters", "costs", "export", "--config", str(config), "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, **simulator_env()})
    assert done.returncode == 1, done.stderr
    assert f"projects (transport): vercel projects: cannot connect to 127.0.0.1:{port}: connection refused" in done.stderr
    assert "vercel      FAILED" in done.stderr and "Traceback" not in done.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["x_Coverage"] for r in rows] == ["failed"] * 3 and all(r["BilledCost"] == "" for r in rows)
