"""`stackwatch costs export`: all five providers' records as one FOCUS dataset,
whose month-to-date sums equal the simulator's ground truth to the cent."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from simhelpers import FIXED_NOW

from exporters.cost import FOCUS_COLUMNS, PROVIDER_DISPLAY
from exporters.export import export_costs
from exporters.runtime import build_runtime
from exporters.simulator import Simulator, World, simulator_runtime_inputs
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
        count = await export_costs(config, secrets, fmt, out, clock=WorldClock(simulator.world))
        truth = simulator.ground_truth()["providers"]
    finally:
        await simulator.stop()

    if fmt == "csv":
        with out.open() as handle:
            reader = csv.DictReader(handle)
            assert tuple(reader.fieldnames or ()) == FOCUS_COLUMNS
            rows = list(reader)
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == count > 0
    month = FIXED_NOW.strftime("%Y-%m")
    mtd: dict[str, float] = defaultdict(float)
    for row in rows:
        assert row["BillingCurrency"] == "USD" and row["x_CostSource"] in ("billed", "estimated")
        assert row["ChargePeriodStart"] < row["ChargePeriodEnd"]
        if row["ChargePeriodStart"].startswith(month):
            mtd[row["ServiceProviderName"]] += float(row["BilledCost"])
    display = {PROVIDER_DISPLAY[p]: p for p in truth}
    assert set(mtd) == set(display), "every provider is in the one dataset"
    for name, provider in display.items():
        assert round(mtd[name], 2) == round(truth[provider]["month_to_date_usd"], 2), provider


def test_export_command_writes_jsonl_from_the_simulator(tmp_path: Path) -> None:
    out = tmp_path / "costs.jsonl"
    result = subprocess.run([sys.executable, "-m", "exporters", "costs", "export", "--simulator", "--format",
                             "jsonl", "--output", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["ServiceProviderName"] for r in rows} == set(PROVIDER_DISPLAY.values())
    assert f"{len(rows)} cost records written" in result.stderr
