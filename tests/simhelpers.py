"""Helpers for tests that run the exporters against the simulator."""

from __future__ import annotations

import os
import socket
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

from exporters.core.telemetry import in_memory_reader
from exporters.service.runtime import build_runtime
from exporters.simulator import Simulator, simulator_runtime_inputs
from exporters.simulator.world import WorldClock

PROVIDERS = ("vercel", "render", "supabase", "openai", "llamacloud")

# A fixed simulated "now" (mid-month, mid-day) so every run sees the same world. Tests import it
# from here, never `from conftest import`: each test directory with a conftest.py registers it
# as the module `conftest`, so that name means whichever directory was collected last.
FIXED_NOW = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)


def make_runtime(sim: Simulator, *, only: str | None = None, overrides: dict | None = None):
    """A runtime on the simulator (optionally one provider only), with an in-memory reader."""
    overrides = dict(overrides or {})
    if only is not None:
        providers = overrides.setdefault("providers", {})
        for name in ("vercel", "render", "supabase", "openai", "llamacloud"):
            providers.setdefault(name, {})["enabled"] = name == only
    config, secrets = simulator_runtime_inputs(sim.base_url, overrides)
    reader = in_memory_reader()
    clock = WorldClock(sim.world)
    runtime = build_runtime(config, secrets, extra_readers=(reader,), clock=clock)
    return runtime, reader


def metric_points(reader, name: str) -> list:  # type: ignore[no-untyped-def]
    data = reader.get_metrics_data()
    points = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    points.extend(metric.data.data_points)
    return points


def counter_value(reader, name: str, **attrs: str) -> float:  # type: ignore[no-untyped-def]
    """Sum of a counter's points whose attributes include `attrs` (0 when none)."""
    return sum(p.value for p in metric_points(reader, name)
               if all(p.attributes.get(k) == v for k, v in attrs.items()))


async def close(runtime) -> None:  # type: ignore[no-untyped-def]
    await runtime.aclose()
    runtime.meter_provider.shutdown()


@asynccontextmanager
async def running(built):  # type: ignore[no-untyped-def]
    """`async with running(make_runtime(...)) as (runtime, reader):` closes the runtime after."""
    runtime, reader = built
    try:
        yield runtime, reader
    finally:
        await close(runtime)


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default start


# Ports handed to the stack's services are picked below the kernel's ephemeral range: a port the
# kernel gives out itself (bind to 0, or any outgoing connection's local port) could be taken by
# another worker's client between the pick and the service's bind ("address already in use").
# Each xdist worker owns its own slice of that range and walks it in order, so two workers never
# pick the same port and one worker never hands out a port twice while its first holder starts.
PORT_FLOOR = 20000
PORT_SLICES = 8


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = worker.removeprefix("gw")
    return int(digits) % PORT_SLICES if digits.isdigit() else 0


def _port_slice() -> range:
    width = (_ephemeral_start() - PORT_FLOOR) // PORT_SLICES
    start = PORT_FLOOR + _worker_index() * width
    return range(start, start + width)


_next_port: dict[str, int] = {}


def free_port() -> int:
    ports = _port_slice()
    offset = _next_port.get("offset", 0)
    for step in range(len(ports)):
        port = ports[(offset + step) % len(ports)]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _next_port["offset"] = (offset + step + 1) % len(ports)
        return port
    raise AssertionError(f"no free port in {ports.start}-{ports.stop - 1}")
