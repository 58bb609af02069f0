"""`stackwatch costs export`: one collection cycle, then every cost record as FOCUS CSV or JSONL."""

from __future__ import annotations

import sys
from pathlib import Path

from .config import Config, Secrets
from .cost import write_focus
from .http import Clock
from .runtime import build_runtime
from .simulator import Simulator, World, simulator_runtime_inputs
from .simulator.world import WorldClock


async def export_costs(config: Config | None, secrets: Secrets | None, fmt: str, output: Path | None,
                       *, clock: Clock | None = None) -> int:
    """Collect once and write the ledger; with no config, from a fresh embedded simulator."""
    simulator = None
    if config is None:
        simulator = Simulator(World())
        config, secrets = simulator_runtime_inputs(await simulator.start())
        clock = WorldClock(simulator.world)
    assert secrets is not None
    runtime = build_runtime(config, secrets, clock=clock)
    try:
        outcomes = await runtime.collector.run_cycle(force=True)
        failed = [f"{o.provider}/{o.stream} ({o.reason})" for o in outcomes if not o.ok]
        if failed:
            print(f"warning: incomplete export, failed polls: {', '.join(failed)}", file=sys.stderr)
        records = runtime.ledger.records()
        anchors = runtime.ledger.anchors  # each provider's billing cycle: FOCUS BillingPeriodStart/End
        if output is None:
            return write_focus(records, fmt, sys.stdout, anchors)  # type: ignore[arg-type]
        with output.open("w", encoding="utf-8", newline="") as handle:
            return write_focus(records, fmt, handle, anchors)  # type: ignore[arg-type]
    finally:
        await runtime.aclose()
        runtime.shutdown_metrics()
        if simulator is not None:
            await simulator.stop()
