"""stackwatch's observed history since the billing cycle began, written before the native stack starts.

Render and Supabase have no billing API: stackwatch prices the states it observed, over
the time it observed them, and reports time before its first observation as unobserved
(never priced). A stack started mid-month has observed only minutes, so its
month-to-date can equal the simulator's invoice for the month only if stackwatch has
watched since the cycle began. This module runs stackwatch (the same runtime code,
in-process, on an in-process simulator of the SAME world: seed and scale of
`stackwatch simulate`'s defaults) from the first instant of the current calendar month
to the real now, one poll every `step_s`, on the stack's state file. The stack's
`stackwatch run` then resumes from that file, as after a restart, and keeps observing
the stack's simulator, whose world is identical (a pure function of seed, scale and time).

The worlds must agree on their epoch (the date the simulator was started, see
World.epoch): both are built on the same UTC day, so a stack started within seconds of
midnight UTC could see two different worlds; the cost tests then fail on a mismatch,
never pass wrongly.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

from exporters.service.runtime import build_runtime
from exporters.simulator import Simulator, simulator_runtime_inputs
from exporters.simulator.world import Scale, World, WorldClock

# Below the default service.max_observation_gap_seconds (1 h), with room for the simulated time a poll
# takes (the world's clock runs during it): consecutive polls join into one interval.
STEP_S = 3000.0
OBSERVED_PROVIDERS = ("render", "supabase")


def cycle_start(now: float) -> datetime:
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    return datetime(moment.year, moment.month, 1, tzinfo=timezone.utc)


async def observe_since_cycle_start(data_dir: Path, *, seed: int = 42, step_s: float = STEP_S) -> int:
    """Poll Render and Supabase from the current month's first instant to now; returns the polls made."""
    world = World(seed=seed, scale=Scale())  # wall clock, shifted back to the cycle start below
    world.advance(cycle_start(time.time()).timestamp() - world.now_ts())
    sim = Simulator(world)
    await sim.start()
    overrides = {
        "providers": {name: {"enabled": name in OBSERVED_PROVIDERS, "poll_interval_seconds": step_s,
                             "slow_poll_interval_seconds": step_s}
                      for name in ("vercel", "render", "supabase", "openai", "llamacloud")},
        "service": {"data_dir": str(data_dir)},
    }
    config, secrets = simulator_runtime_inputs(sim.base_url, overrides)
    runtime = build_runtime(config, secrets, clock=WorldClock(world))
    polls = 0
    try:
        while True:
            outcomes = await runtime.collector.run_cycle(force=True)
            failed = [o for o in outcomes if not o.ok]
            assert not failed, f"a poll of the cycle's history failed: {failed}"
            polls += 1
            behind = time.time() - world.now_ts()
            if behind < 1.0:
                break  # the world is at the real now (its clock runs at wall speed from here)
            world.advance(min(step_s, behind))  # the last step lands on the real now
    finally:
        await runtime.aclose()
        runtime.meter_provider.shutdown()
        await sim.stop()
    return polls
