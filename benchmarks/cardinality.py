"""Cardinality benchmark: series Prometheus holds from stackwatch at the large scale.

    .venv/bin/python benchmarks/cardinality.py [--scale large] [--poll 10] [--export 5] [--duration 300]

Runs the native stack as tests/stack does (simulator → `stackwatch run` → otelcol →
Prometheus, blackbox_exporter) from the repository's config files, with the simulator at
the given scale and pushing drains every 2 s, and counts the series of every stackwatch
metric in Prometheus twice: 40 s after the first complete poll (where issue #11 measured
45,058) and at the end of `--duration` (drains keep adding label sets, so the count grows
towards its bound). Printed per metric: series then and at the end, and the catalogue's
bound (`MetricSpec.series.at_most` × units of its resource at this scale). A native
histogram counts as one series per label set. Target: ≤ 10,000 series in total.

"Series from stackwatch" are the series with job="stackwatch" whose name the catalogue
documents (stackwatch's own scraped self-metrics, `up` and `scrape_*` are a handful and
printed apart). Needs the binaries of `make tools`.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from stack.conftest import Stack, build_stack, install_tools, start_stack, stop_stack, wait_until  # noqa: E402

from exporters.core.catalogue import MetricSpec  # noqa: E402
from exporters.providers.registry import all_metrics  # noqa: E402
from exporters.simulator.render.key_value import key_value_count  # noqa: E402
from exporters.simulator.world import Scale  # noqa: E402

TARGET = 10_000
FIRST_CHECK_S = 40.0
PROVIDERS = ("vercel", "render", "supabase", "openai", "llamacloud")


def units(scale: Scale, stack: Stack) -> dict[str, int]:
    """How many of each catalogue resource exist at this scale."""
    def distinct(expr: str) -> int:
        results = stack.prom.query(f"count({expr})")
        return int(float(results[0]["value"][1])) if results else 0

    datastores = max(1, math.ceil(scale.render_services / 10)) + key_value_count(scale.render_services)
    return {
        "stackwatch": 1,
        "provider": len(PROVIDERS),
        "Vercel project": scale.vercel_projects,
        "Render service": scale.render_services,
        # Datastores are Postgres and Key Value instances. The simulator's rules: one Postgres per 10
        # services (exporters/simulator/render/sim.py), one Key Value per 7 (render/key_value.py).
        "Render datastore": datastores,
        "Render service or datastore": scale.render_services + datastores,
        "Supabase project": scale.supabase_projects,
        # Every model is used by every project; the simulator adds one unpriced model.
        "OpenAI project × model": scale.openai_projects * (scale.openai_models + 1),
        "LlamaCloud project": scale.llamacloud_projects,
        # Not a scale knob: the distinct lines the ledger priced, read back from Prometheus.
        "cost line": distinct('count by (provider, service, project, model) '
                              '(stackwatch_cost_month_to_date_usd{job="stackwatch"})'),
        "unpriced item": distinct('count by (provider, item) ({job="stackwatch", '
                                  '__name__=~"stackwatch_cost_unpriced.*"})'),
    }


def series_by_name(stack: Stack) -> dict[str, int]:
    results = stack.prom.query('count by (__name__) ({job="stackwatch"})')
    return {r["metric"]["__name__"]: int(float(r["value"][1])) for r in results}


def all_up(stack: Stack) -> bool:
    results = stack.prom.query('stackwatch_provider_up{job="stackwatch"} == 1')
    return {r["metric"]["provider"] for r in results} == set(PROVIDERS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=("small", "large"), default="large")
    parser.add_argument("--poll", type=float, default=10.0, help="provider poll interval (s)")
    parser.add_argument("--export", type=float, default=5.0, help="stackwatch's OTLP export interval (s)")
    parser.add_argument("--duration", type=float, default=300.0,
                        help="seconds after the first complete poll for the second count")
    args = parser.parse_args()
    scale = Scale.large() if args.scale == "large" else Scale()

    paths = install_tools.tool_paths()
    if paths.missing():
        print(f"missing binaries: {paths.missing()} (run `make tools`)", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="stackwatch-cardinality-"))
    stack = build_stack(paths, workdir, simulator_args=("--scale", args.scale),
                        poll_interval_s=args.poll, export_interval_s=args.export)
    start_stack(stack)
    try:
        wait_until(lambda: all_up(stack), timeout=600, interval=1.0,
                   what="every provider's first complete poll in Prometheus")
        first_poll = time.monotonic()
        time.sleep(max(0.0, first_poll + FIRST_CHECK_S - time.monotonic()))
        early = series_by_name(stack)
        time.sleep(max(0.0, first_poll + args.duration - time.monotonic()))
        late = series_by_name(stack)
        counts = units(scale, stack)
        head = stack.prom.query("prometheus_tsdb_head_series")
    finally:
        stop_stack(stack)

    specs: dict[str, MetricSpec] = {s.prometheus_name: s for s in all_metrics()}
    print(f"native stack, scale={args.scale}, poll={args.poll:g}s, export={args.export:g}s, "
          f"drains every 2 s; counts at {FIRST_CHECK_S:.0f} s and {args.duration:.0f} s after the first complete poll")
    print("units: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    print()
    print(f"{'Prometheus name':58} {'kind':9} {'@' + str(int(FIRST_CHECK_S)) + 's':>7} "
          f"{'@' + str(int(args.duration)) + 's':>7} {'bound':>7}  per resource")
    total_early = total_late = total_bound = 0
    over = []
    for name in sorted(specs, key=lambda n: -late.get(n, 0)):
        spec = specs[name]
        bound = spec.series.at_most * counts[spec.series.per] if spec.series else 0
        e, n = early.get(name, 0), late.get(name, 0)
        total_early, total_late, total_bound = total_early + e, total_late + n, total_bound + bound
        if n > bound:
            over.append(name)
        if e or n:
            print(f"{name:58} {spec.kind.value:9} {e:7d} {n:7d} {bound:7d}  {spec.series}")
    absent = sorted(n for n in specs if not late.get(n))
    others = {n: c for n, c in late.items() if n not in specs}
    print()
    print(f"{'total (catalogued metrics)':68} {total_early:7d} {total_late:7d} {total_bound:7d}")
    print(f"target: <= {TARGET} -> {'met' if total_late <= TARGET else 'MISSED'} "
          f"({total_late} at {args.duration:.0f} s)")
    print(f"not scraped from OTLP, same job (self-metrics, up, scrape_*): {sum(others.values())} "
          f"({', '.join(sorted(others))})")
    print(f"absent (event-driven, nothing happened): {', '.join(absent) or 'none'}")
    if head:
        print(f"Prometheus head series, every job: {int(float(head[0]['value'][1]))}")
    if over:
        print(f"ABOVE the catalogue's bound: {', '.join(over)}")
    return 0 if total_late <= TARGET and not over else 1


if __name__ == "__main__":
    sys.exit(main())
