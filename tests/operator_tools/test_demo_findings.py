"""`stackwatch demo`'s "Over a threshold" list follows the alerts: empty in the steady world (a paused
Supabase project is shown, not listed: an intentional state), and naming what each condition
incident breaks (the saturation scenario's hot database host and services)."""

from __future__ import annotations

import io

from rich.console import Console
from simhelpers import FIXED_NOW

from exporters.ops.demo import run_demo
from exporters.simulator import Simulator
from exporters.simulator.render.sim import HOT_CPU_INDEX
from exporters.simulator.supabase.sim import HOT_PROJECT_INDEX
from exporters.simulator.world import Scale, World


async def demo_output(scenario: str) -> tuple[str, Simulator]:
    out = io.StringIO()
    simulator = Simulator(World(seed=42, scale=Scale(), start=FIXED_NOW, frozen=True))
    assert await run_demo(simulator=simulator, scenario=scenario, console=Console(file=out, width=400)) == 0
    return out.getvalue(), simulator


async def test_the_steady_world_lists_nothing_over_a_threshold_and_shows_the_paused_project() -> None:
    text, simulator = await demo_output("steady")
    paused = [p.name for p in simulator.providers["supabase"].projects() if p.status == "INACTIVE"]
    assert paused, "the steady world keeps a paused project to show"
    assert "Nothing over a threshold." in text and "Over a threshold" not in text.replace("Nothing over", "")
    assert f"Paused Supabase projects (shown, not alerted on): {', '.join(paused)}" in text


async def test_saturation_lists_the_hot_database_disk_and_the_hot_service() -> None:
    text, simulator = await demo_output("saturation")
    project = simulator.providers["supabase"].projects()[HOT_PROJECT_INDEX].name
    service = simulator.providers["render"].services()[HOT_CPU_INDEX].name
    listed = text.split("Over a threshold", 1)[1]
    assert f"{project}: disk 97% > 80%" in listed
    assert f"{project}: Supabase database read-only (disk near full)" in listed
    assert f"{service}: CPU" in listed
