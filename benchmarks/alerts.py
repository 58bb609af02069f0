"""Alert detection latency, notifications per incident and false alarms on the shipped alert path.

    .venv/bin/python benchmarks/alerts.py [--steady-hours 1] [--episode NAME ...]

Starts the stack of tests/alerting/alertstack.py (simulator → stackwatch → otelcol → Prometheus
with the rules of `stackwatch alerts render` → Alertmanager 0.35.0 → stand-ins of every channel)
and prints:

- the alerts the steady world notifies over `--steady-hours` of rule time (target: none but the
  Watchdog's heartbeat);
- per episode of tests/alerting/e2e_incidents.py (incidents side by side) and alert: the time from
  the switch to the first notification, next to its floor: the alert's first (scaled) `for` + one
  rule evaluation + the time a new value needs to reach Prometheus (scrape interval for scraped
  sources; poll + export interval for stackwatch's OTLP metrics, the slow poll for slow streams)
  + Alertmanager's group_wait;
- per episode: deliveries (messages) per channel, the (alert, channel) pairs notified, and
  duplicates: an alert sent again on the same channel while it fired (a group re-notified when a
  new alert joins it, or a repeat); and whether the episode's checks passed (the whole set).

Rule timing is scaled by alertstack.FACTOR (1/20): one hour of rule time is three minutes of wall
time, and the `for` part of a latency here is 1/20 of production's. Needs `make tools`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "tests" / "alerting")]

from alertstack import EVALUATION_INTERVAL_S, FACTOR, PROBE_SCRAPE_INTERVAL_S, start_alert_stack  # noqa: E402
from e2e_incidents import WARM_UP_S, episodes, people, run_episode  # noqa: E402
from stack.conftest import EXPORT_INTERVAL_S, POLL_INTERVAL_S, SLOW_POLL_INTERVAL_S, install_tools  # noqa: E402

from alerting.model import PRODUCTION, Source, duration_seconds  # noqa: E402
from alerting.routing import SEVERITY_TIMING  # noqa: E402
from alerting.rules import ALERTS  # noqa: E402

TIMING = PRODUCTION.scaled(FACTOR, interval=f"{EVALUATION_INTERVAL_S:g}s")
SCRAPED = {Source.BLACKBOX, Source.SUPABASE_METRICS, Source.PROMETHEUS, Source.COLLECTOR, Source.ALERTMANAGER}
SLOW = {"SupabaseBackupMissing", "DeployFailed", "DailySpendOverBudget"}  # slow streams (backups, deploys, billing)


def floor_s(name: str) -> float:
    alerts = [a for a in ALERTS if a.name == name]
    first = min(duration_seconds(TIMING.for_of(a)) for a in alerts)
    source = alerts[0].source
    poll = SLOW_POLL_INTERVAL_S if name in SLOW else POLL_INTERVAL_S
    arrival = PROBE_SCRAPE_INTERVAL_S if source in SCRAPED else poll + EXPORT_INTERVAL_S
    wait = min(duration_seconds(TIMING.scale_routing(SEVERITY_TIMING[a.severity.value].group_wait))
               for a in alerts if a.severity.value in SEVERITY_TIMING)
    return first + EVALUATION_INTERVAL_S + arrival + wait


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steady-hours", type=float, default=1.0, help="hours of rule time (scaled) in steady")
    parser.add_argument("--episode", action="append", help="only these episodes (repeatable; default: all)")
    args = parser.parse_args()
    tools = install_tools.tool_paths()
    if tools.missing():
        print(f"missing binaries: {tools.missing()}: run `make tools`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="alerts-bench-") as work:
        stack = start_alert_stack(tools, Path(work))
        try:
            stack.stack.prom.wait_for("stackwatch_provider_up", timeout=120)
            time.sleep(WARM_UP_S)
            steady_s = args.steady_hours * 3600 * FACTOR
            mark = time.monotonic()
            time.sleep(steady_s)
            steady = sorted({(n.alertname, n.receiver) for n in people(stack.since(mark)) if n.status == "firing"})
            beats = sum(1 for n in stack.since(mark) if n.alertname == "Watchdog")
            print(f"steady: {args.steady_hours:g} h of rule time ({steady_s:.0f} s wall): {len(steady)} notifications "
                  f"to people {steady} (target 0); {beats} heartbeats")
            rows, summaries = [], []
            for name, episode in episodes(stack.budgets).items():
                if args.episode and name not in args.episode:
                    continue
                started = time.monotonic()
                try:
                    first = run_episode(stack, episode)
                    verdict = "whole set as expected, held back, resolved"
                except AssertionError as error:
                    first = {}
                    verdict = f"FAILED: {str(error)[:300]}"
                notes = [n for n in people(episode.notifications) if n.status == "firing"]
                if not first:
                    for n in notes:
                        first.setdefault(n.alertname, n.received_monotonic - started)
                for alert, latency in sorted(first.items()):
                    rows.append((name, alert, latency, floor_s(alert)))
                deliveries = Counter()
                for n in notes:
                    deliveries[(n.receiver, n.delivery)] += 1
                per_channel = Counter(receiver for receiver, _ in deliveries)
                pairs = Counter((n.key, n.receiver) for n in notes)
                duplicates = sum(count - 1 for count in pairs.values())
                summaries.append((name, "+".join(episode.scenarios), dict(sorted(per_channel.items())), len(pairs),
                                  duplicates, verdict))
            print("\nlatency: from the switch to the alert's first notification (seconds; floor: the earliest it can be)")
            print(f"{'episode':20} {'alert':28} {'latency s':>9} {'floor s':>8}")
            for episode_name, alert, latency, floor in rows:
                print(f"{episode_name:20} {alert:28} {latency:9.1f} {floor:8.1f}")
            print("\nnotifications per episode (firing; the Watchdog's heartbeat left out)")
            for name, scenarios, per_channel, pairs, duplicates, verdict in summaries:
                total = sum(per_channel.values())
                print(f"{name} ({scenarios}): {total} deliveries {per_channel}; {pairs} alert×channel notified; "
                      f"{duplicates} duplicates; {verdict}")
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
