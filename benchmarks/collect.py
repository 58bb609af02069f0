"""Collection benchmark at large-organisation scale (prints figures; not a test).

The simulator runs in its own process (`stackwatch simulate --scale large`,
50 ms of latency on every provider request): 200 Vercel projects with 90 days
of deployments, 100 Render services, 20 Supabase projects, OpenAI 90 days ×
30 models × 10 projects, LlamaCloud 90 days. This process runs the exporters:
a first (full) cycle, then a second one after one poll interval (60 s of
simulated time, the simulator's clock and ours advanced together).

Printed: requests per provider against the minimum pages the data needs,
the second cycle's requests as a share of the first, wall and CPU seconds,
peak RSS of this process, and data points exported.

Targets: first-cycle requests == minimum; second cycle <= 5 % of the first;
first cycle <= 30 s wall; peak RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exporters.core.http import Clock  # noqa: E402
from exporters.core.logs import configure  # noqa: E402
from exporters.core.telemetry import in_memory_reader  # noqa: E402
from exporters.service.runtime import build_runtime  # noqa: E402
from exporters.simulator import simulator_runtime_inputs  # noqa: E402


class OffsetClock(Clock):
    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sim_call(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def wait_ready(base: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"simulator exited with {process.returncode}")
        try:
            sim_call(base, "/healthz")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("simulator did not start")


def data_points(reader) -> int:  # type: ignore[no-untyped-def]
    data = reader.get_metrics_data()
    return sum(len(m.data.data_points) for rm in (data.resource_metrics if data else [])
               for sm in rm.scope_metrics for m in sm.metrics)


async def run(base: str, poll_interval: float) -> dict:
    overrides = {"providers": {name: {"history_days": 90, "poll_interval_seconds": poll_interval}
                               for name in ("vercel", "render", "supabase", "openai", "llamacloud")}}
    config, secrets = simulator_runtime_inputs(base, overrides)
    clock = OffsetClock()
    reader = in_memory_reader()
    runtime = build_runtime(config, secrets, extra_readers=(reader,), clock=clock)
    minimum = sim_call(base, "/_sim/minimum-requests")
    sim_call(base, "/_sim/reset-stats", {})

    wall0, cpu0 = time.perf_counter(), time.process_time()
    first = await runtime.collector.run_cycle()
    wall1, cpu1 = time.perf_counter(), time.process_time()
    first_stats = sim_call(base, "/_sim/stats")
    points = data_points(reader)

    sim_call(base, "/_sim/reset-stats", {})
    sim_call(base, "/_sim/advance", {"seconds": poll_interval})
    clock.offset += poll_interval
    wall2 = time.perf_counter()
    second = await runtime.collector.run_cycle()
    wall3 = time.perf_counter()
    second_stats = sim_call(base, "/_sim/stats")
    await runtime.aclose()
    runtime.meter_provider.shutdown()
    return {
        "minimum": minimum, "first_requests": first_stats["requests"], "second_requests": second_stats["requests"],
        "first_wall_s": wall1 - wall0, "first_cpu_s": cpu1 - cpu0, "second_wall_s": wall3 - wall2,
        "failed": [f"{o.provider}/{o.stream}: {o.reason}" for o in first + second if not o.ok],
        "data_points": points, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "second_by_operation": second_stats["by_operation"],
        "slowest_streams": sorted(((o.seconds, f"{o.provider}/{o.stream}") for o in first), reverse=True)[:6],
    }


def report(r: dict) -> int:
    minimum_total = 0
    first_total = sum(r["first_requests"].values())
    second_total = sum(r["second_requests"].values())
    print(f"{'provider':12} {'minimum':>8} {'1st cycle':>10} {'2nd cycle':>10}")
    for provider, streams in sorted(r["minimum"].items()):
        need = sum(streams.values())
        minimum_total += need
        print(f"{provider:12} {need:8d} {r['first_requests'].get(provider, 0):10d} "
              f"{r['second_requests'].get(provider, 0):10d}   minimum by stream: {streams}")
    share = second_total / first_total if first_total else 0.0
    print(f"{'total':12} {minimum_total:8d} {first_total:10d} {second_total:10d}")
    print(f"first cycle:  {r['first_wall_s']:.2f} s wall, {r['first_cpu_s']:.2f} s CPU")
    print(f"second cycle: {r['second_wall_s']:.2f} s wall, {second_total} requests = {share:.2%} of the first")
    print("slowest first-cycle polls: " + ", ".join(f"{name} {sec:.1f} s" for sec, name in r["slowest_streams"]))
    print(f"peak RSS (exporter process): {r['peak_rss_mb']:.0f} MB")
    print(f"data points exported after the first cycle: {r['data_points']}")
    if r["failed"]:
        print("FAILED POLLS:", *r["failed"], sep="\n  ")
    checks = {
        "requests == minimum": first_total == minimum_total,
        "second cycle <= 5 % of first": share <= 0.05,
        "first cycle <= 30 s wall": r["first_wall_s"] <= 30,
        "peak RSS <= 200 MB": r["peak_rss_mb"] <= 200,
        "no failed poll": not r["failed"],
    }
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISSED'}] {name}")
    return 0 if all(checks.values()) else 1


def main() -> int:
    configure("warning", "text")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--poll-interval", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "exporters", "simulate", "--port", str(port), "--scale", "large",
                                "--latency-ms", str(args.latency_ms), "--seed", str(args.seed)],
                               cwd=ROOT, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_ready(base, process)
        result = asyncio.run(run(base, args.poll_interval))
    finally:
        process.terminate()
        process.wait(timeout=30)
    return report(result)


if __name__ == "__main__":
    raise SystemExit(main())
