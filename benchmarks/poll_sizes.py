"""Bytes one poll reads, per stream, at the simulator's large scale (prints figures; not a test).

    .venv/bin/python benchmarks/poll_sizes.py [--history-days 90]

Runs the large-scale simulator (`stackwatch simulate --scale large`, in its own process)
and two cycles of the exporters against it: the first (full history) and the second
(one poll interval later). Prints, per provider and stream, the decoded JSON bytes the
poll read across all its pages (its `PollBudget`'s use) and how that compares with
`max_poll_bytes`'s default: the default must hold the largest legitimate poll with room.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exporters.core.http import DEFAULT_MAX_POLL_BYTES  # noqa: E402
from exporters.core.logs import configure  # noqa: E402
from exporters.service.runtime import build_runtime  # noqa: E402
from exporters.simulator import simulator_runtime_inputs  # noqa: E402

# The simulator clock, port and control-API helpers of the collection benchmark (same directory).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from collect import OffsetClock, free_port, sim_call  # noqa: E402

PROVIDERS = ("vercel", "render", "supabase", "openai", "llamacloud")


async def measure(base: str, history_days: int) -> list[tuple[str, int, int, str]]:
    overrides = {"providers": {name: {"history_days": history_days} for name in PROVIDERS}}
    config, secrets = simulator_runtime_inputs(base, overrides)
    clock = OffsetClock()
    runtime = build_runtime(config, secrets, clock=clock)
    try:
        first = await runtime.collector.run_cycle()
        sim_call(base, "/_sim/advance", {"seconds": 60})
        clock.offset += 60
        second = {(o.provider, o.stream): o for o in await runtime.collector.run_cycle(force=True)}
    finally:
        await runtime.aclose()
        runtime.meter_provider.shutdown()
    rows = []
    for o in first:
        later = second.get((o.provider, o.stream))
        status = "ok" if o.ok and (later is None or later.ok) else f"FAILED {o.reason or later.reason}"
        rows.append((f"{o.provider}/{o.stream}", o.bytes_read, later.bytes_read if later else 0, status))
    return rows


def main() -> int:
    configure("warning", "text")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history-days", type=int, default=90, help="the large scale's own history is 90 days")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "exporters", "simulate", "--port", str(port),
                                "--scale", "large", "--latency-ms", "0"],
                               cwd=ROOT, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.time() + 120
        while True:
            try:
                sim_call(base, "/healthz")
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    raise SystemExit("simulator did not start") from None
                time.sleep(0.2)
        rows = asyncio.run(measure(base, args.history_days))
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"{'stream':28} {'1st poll':>12} {'2nd poll':>12}  (decoded JSON bytes, large scale, "
          f"{args.history_days} days of history)")
    for name, first, second, status in sorted(rows, key=lambda r: -r[1]):
        print(f"{name:28} {first:12,d} {second:12,d}  {status}")
    largest = max((r[1] for r in rows), default=0)
    print(f"largest poll: {largest / 1e6:.1f} MB; max_poll_bytes default {DEFAULT_MAX_POLL_BYTES / 1e6:.1f} MB "
          f"= {DEFAULT_MAX_POLL_BYTES / max(largest, 1):.1f} x the largest")
    return 0 if largest <= DEFAULT_MAX_POLL_BYTES and all(r[3] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
