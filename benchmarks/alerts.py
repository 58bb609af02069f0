"""Alert detection latency and false alarms on the native stack with the alerting twin.

    .venv/bin/python benchmarks/alerts.py [--steady-hours 1] [--scenario NAME ...]

Starts the stack of tests/alerting/alertstack.py (simulator → stackwatch → otelcol →
Prometheus with the twin's rules → Debian's Alertmanager → a webhook sink) and prints:

- per incident scenario and expected alert: the time from switching the simulator's
  scenario to the first firing notification at the webhook, next to its floor: the
  alert's (scaled) `for` + one rule evaluation interval + the time a new value needs to
  reach Prometheus (scrape interval for scraped sources; poll + export interval for
  stackwatch's OTLP metrics, the slow poll for slow streams) + Alertmanager's group_wait
  (+ for DeployFailed, the simulated incident's own retry and build time);
- the number of alerts the steady scenario fires over `--steady-hours` of rule time.

Rule timing is scaled by alertstack.FACTOR (1/20): every `for` and window is 20 times
shorter, so one hour of rule time is three minutes of wall time, and a latency here is
1/20 of production's for the `for` part (the poll/scrape part is the test stack's).
Needs the binaries of `make tools` and Debian's prometheus-alertmanager.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "alerting")]

from alertstack import (  # noqa: E402
    ALERTMANAGER_GROUP_INTERVAL_S,
    EVALUATION_INTERVAL_S,
    FACTOR,
    PROBE_SCRAPE_INTERVAL_S,
    TIMING,
    start_alert_stack,
)
from e2e_incidents import SCENARIOS, WARM_UP_S  # noqa: E402
from stack.conftest import EXPORT_INTERVAL_S, POLL_INTERVAL_S, SLOW_POLL_INTERVAL_S, install_tools  # noqa: E402

from alerting.model import duration_seconds  # noqa: E402
from alerting.rules import ALERTS  # noqa: E402
from exporters.simulator.render.sim import INCIDENT_BUILD_S  # noqa: E402
from exporters.simulator.world import DEPLOY_RETRY_S  # noqa: E402

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
# Alerts whose data Prometheus scrapes (blackbox probes, the Supabase endpoint); the others
# read stackwatch's OTLP metrics.
SCRAPED = {"FrontendResponseTimeHigh", "DatabaseResponseTimeHigh", "AvailabilityBudgetBurnFast",
           "AvailabilityBudgetBurnMedium", "AvailabilityBudgetBurnSlow", "TlsCertificateExpiring",
           "DatabaseConnectionsHigh"}
# Alerts whose stackwatch stream is a slow one (polled every SLOW_POLL_INTERVAL_S).
SLOW = {"SupabaseBackupMissing", "DeployFailed"}
# Time the simulator's incident itself takes before the alert can be true: a failed deploy is
# final a few seconds after it starts, and `increase` sees a new failure series rise only at the
# second failed attempt (DEPLOY_RETRY_S later; the first sample of a new series is its start).
INCIDENT_S = {"DeployFailed": DEPLOY_RETRY_S + INCIDENT_BUILD_S[1]}
GROUP_WAIT_S = 1.0


def floor_s(name: str) -> float:
    first = min(duration_seconds(TIMING.for_of(a)) for a in ALERTS if a.name == name)
    poll = SLOW_POLL_INTERVAL_S if name in SLOW else POLL_INTERVAL_S
    arrival = PROBE_SCRAPE_INTERVAL_S if name in SCRAPED else poll + EXPORT_INTERVAL_S
    return INCIDENT_S.get(name, 0.0) + first + EVALUATION_INTERVAL_S + arrival + GROUP_WAIT_S


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steady-hours", type=float, default=1.0, help="hours of rule time (scaled) in steady")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a scenario's alerts")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                        help="only these incident scenarios (repeatable; default: all)")
    args = parser.parse_args()
    tools = install_tools.tool_paths()
    if tools.missing() or not ALERTMANAGER.is_file():
        print(f"missing binaries: {tools.missing()} / {ALERTMANAGER}: run `make tools`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="alerts-bench-") as work:
        stack = start_alert_stack(tools, ALERTMANAGER, Path(work))
        try:
            stack.stack.prom.wait_for("stackwatch_provider_up", timeout=120)
            time.sleep(WARM_UP_S)
            steady_s = args.steady_hours * 3600 * FACTOR
            mark = time.monotonic()
            time.sleep(steady_s)
            steady = [n for n in stack.sink.since(mark) if n.status == "firing"]
            false_alarms = sorted({n.alertname for n in steady})
            print(f"steady: {args.steady_hours:g} h of rule time ({steady_s:.0f} s wall): "
                  f"{len(false_alarms)} alerts fired {false_alarms} (target 0)")
            print("latency: from the scenario switch to the first firing notification of the alert")
            print(f"{'scenario':14} {'alert':28} {'latency s':>9} {'floor s':>8}")
            for scenario, expected in SCENARIOS.items():
                if args.scenario and scenario not in args.scenario:
                    continue
                started = stack.set_scenario(scenario)
                first: dict[str, float] = {}
                deadline = started + args.timeout
                while time.monotonic() < deadline and set(first) < expected:
                    for n in stack.sink.since(started):
                        if n.status == "firing" and n.alertname in expected:
                            first.setdefault(n.alertname, n.received_monotonic - started)
                    time.sleep(0.5)
                others = sorted({n.alertname for n in stack.sink.since(started) if n.status == "firing"} - expected)
                for name in sorted(expected):
                    latency = f"{first[name]:9.1f}" if name in first else f"{'>' + str(int(args.timeout)):>9}"
                    print(f"{scenario:14} {name:28} {latency} {floor_s(name):8.1f}")
                print(f"{scenario:14} (also fired: {others})")
                ended = stack.set_scenario("steady")
                # Let it resolve before the next incident (bounded: the slowest window is 3 min).
                fired = {n.alertname for n in stack.sink.since(started) if n.status == "firing"}
                while time.monotonic() < ended + args.timeout and fired - {
                        n.alertname for n in stack.sink.since(ended) if n.status == "resolved"}:
                    time.sleep(1.0)
                time.sleep(ALERTMANAGER_GROUP_INTERVAL_S)
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
