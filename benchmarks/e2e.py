"""End-to-end benchmark on the native stack: freshness, throughput and memory.

    .venv/bin/python benchmarks/e2e.py [--scale large] [--poll 10] [--export 5] [--duration 60]

Runs the same processes as tests/stack (simulator → `stackwatch run` → otelcol →
Prometheus, with blackbox_exporter) from the repository's config files, and prints:

- freshness: from a change in the simulator (an outage of one provider, then its
  end) to the new value of stackwatch_provider_up in Prometheus; bounded by one
  poll interval + one export interval + the collector's batch timeout (1 s),
  plus the failing poll's retries when a provider goes down;
- throughput: data points per second through the collector at the given scale,
  from the collector's own counters (otelcol_receiver_accepted_metric_points,
  otelcol_exporter_sent_metric_points) over the measurement window;
- memory: peak RSS of the collector and of Prometheus (and of stackwatch) over the run.

Needs the binaries of `make tools`.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from stack.conftest import (  # noqa: E402 (after the path tweak)
    Stack,
    build_stack,
    http_get,
    install_tools,
    start_stack,
    stop_stack,
    wait_until,
)

POINT_COUNTERS = ("otelcol_receiver_accepted_metric_points", "otelcol_exporter_sent_metric_points",
                  "otelcol_exporter_send_failed_metric_points", "otelcol_receiver_refused_metric_points")


class PeakRss:
    """Samples the RSS of some processes every 0.2 s and keeps the peak of each."""

    def __init__(self, pids: dict[str, int]):
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, process in self.processes.items():
                try:
                    self.peak[name] = max(self.peak[name], process.memory_info().rss)
                except psutil.Error:
                    pass
            self._stop.wait(0.2)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def collector_counters(stack: Stack) -> dict[str, float]:
    """Sum of each point counter over its labels, read from the collector's own /metrics."""
    _, body = http_get(stack.collector_metrics_url)
    totals = dict.fromkeys(POINT_COUNTERS, 0.0)
    for line in body.decode().splitlines():
        match = re.match(r"^([a-z_]+?)(?:_total)?(?:\{[^}]*\})? ([0-9.eE+-]+)$", line)
        if match and match.group(1) in totals:
            totals[match.group(1)] += float(match.group(2))
    return totals


def up_value(stack: Stack, provider: str) -> float | None:
    results = stack.prom.query(f'stackwatch_provider_up{{job="stackwatch", provider="{provider}"}}')
    return float(results[0]["value"][1]) if results else None


def freshness(stack: Stack, provider: str, scenario: str, expected_up: float, timeout: float) -> float:
    started = time.monotonic()
    stack.set_scenario(scenario, provider if scenario != "steady" else None)
    wait_until(lambda: up_value(stack, provider) == expected_up, timeout=timeout, interval=0.1,
               what=f"stackwatch_provider_up{{provider={provider}}} == {expected_up}")
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("small", "large"), default="large")
    parser.add_argument("--poll", type=float, default=10.0, help="provider poll interval (s)")
    parser.add_argument("--export", type=float, default=5.0, help="stackwatch's OTLP export interval (s)")
    parser.add_argument("--duration", type=float, default=60.0, help="throughput window (s)")
    parser.add_argument("--provider", default="render", help="provider whose outage measures freshness")
    args = parser.parse_args()

    paths = install_tools.tool_paths()
    if paths.missing():
        print(f"missing binaries: {paths.missing()} (run `make tools`)", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="stackwatch-e2e-bench-"))
    stack = build_stack(paths, workdir, simulator_args=("--scale", args.scale),
                        poll_interval_s=args.poll, export_interval_s=args.export)
    started = time.monotonic()
    start_stack(stack)
    try:
        with PeakRss({s.name: s.process.pid for s in (stack.collector, stack.prometheus, stack.stackwatch)}) as rss:
            wait_until(lambda: up_value(stack, args.provider) == 1.0, timeout=300, interval=0.5,
                       what="the first complete poll in Prometheus")
            first_data_s = time.monotonic() - started
            before, t0 = collector_counters(stack), time.monotonic()
            time.sleep(args.duration)
            after, t1 = collector_counters(stack), time.monotonic()
            bound = args.poll + args.export + 1.0
            down_s = freshness(stack, args.provider, "outage", 0.0, timeout=4 * bound)
            back_s = freshness(stack, args.provider, "steady", 1.0, timeout=4 * (bound + args.poll))
            series = len(stack.prom.query('{job="stackwatch"}'))
    finally:
        stop_stack(stack)

    window = t1 - t0
    rate = {name: (after[name] - before[name]) / window for name in POINT_COUNTERS}
    mib = {name: peak / 2**20 for name, peak in rss.peak.items()}
    print(f"native stack, scale={args.scale}, poll={args.poll:g}s, export={args.export:g}s, window={window:.0f}s")
    print(f"  first data in Prometheus      {first_data_s:6.1f} s after start")
    print(f"  freshness (outage begins)     {down_s:6.1f} s   (poll + export + batch = {bound:.0f} s, "
          "plus the failing poll's retries and backoff)")
    print(f"  freshness (outage ends)       {back_s:6.1f} s   (bound: slow poll + export + batch = "
          f"{bound + args.poll:.0f} s: up needs every stream, slow ones included, to succeed again)")
    print(f"  series from stackwatch        {series:6d}")
    print(f"  points accepted by collector  {rate['otelcol_receiver_accepted_metric_points']:8.1f} /s")
    print(f"  points sent to Prometheus     {rate['otelcol_exporter_sent_metric_points']:8.1f} /s")
    print(f"  points failed / refused       {rate['otelcol_exporter_send_failed_metric_points']:8.1f} /s, "
          f"{rate['otelcol_receiver_refused_metric_points']:.1f} /s")
    print(f"  peak RSS: collector {mib['otelcol']:.0f} MiB, Prometheus {mib['prometheus']:.0f} MiB, "
          f"stackwatch {mib['stackwatch']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
