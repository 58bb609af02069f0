"""Shared fixtures: a simulator on loopback and a runtime pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone

import pytest
from simhelpers import make_runtime

from exporters.logs import configure
from exporters.runtime import Runtime
from exporters.simulator import Simulator, World
from exporters.simulator.world import Scale

configure("info", "text")

# A fixed simulated "now" (mid-month, mid-day) so every run sees the same world.
FIXED_NOW = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)


@pytest.fixture
def world() -> World:
    return World(seed=7, scale=Scale(), start=FIXED_NOW)


@pytest.fixture
async def simulator(world: World) -> AsyncIterator[Simulator]:
    sim = Simulator(world, record_exchanges=True)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def runtime(simulator: Simulator) -> AsyncIterator[tuple[Runtime, object]]:
    rt, reader = make_runtime(simulator)
    yield rt, reader
    await rt.aclose()
    rt.meter_provider.shutdown()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a skipped test is a failure: a missing tool must not pass quietly."""
    import os

    if os.environ.get("CI", "").lower() != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; skips are failures in CI", red=True)
        session.exitstatus = 1
