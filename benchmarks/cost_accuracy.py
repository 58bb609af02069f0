"""Cost accuracy over a simulated 30-day month (prints figures; not a test).

A frozen simulated world at medium scale (November 2026, 30 days) with the
changes a real month brings: a Render plan upgrade, an autoscaled service that
scales out every working day, a service suspended for three days, a Supabase
compute resize, a PITR add-on switched on, a project paused for two days, and
one restart of stackwatch on the same state file mid-month. stackwatch polls
every `--step` seconds of simulated time from the 1st, 00:00.

At the end of days 3, 10, 20 and 30 it prints, per provider and in total:
stackwatch's month-to-date against the simulator's independent invoice (its
own price fixtures, every line, priced or not), and stackwatch's month-end
forecast against the month's final invoice.

Targets: billed figures equal to the cent; estimates within 2 % of the invoice
per provider; forecasts within 10 % from day 5.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exporters.logs import configure  # noqa: E402
from exporters.runtime import build_runtime  # noqa: E402
from exporters.simulator import Simulator, World, simulator_runtime_inputs  # noqa: E402
from exporters.simulator.world import Scale, WorldClock  # noqa: E402

MONTH_START = datetime(2026, 11, 1, tzinfo=timezone.utc)
MONTH_END = datetime(2026, 12, 1, tzinfo=timezone.utc)
CHECKPOINT_DAYS = (3, 10, 20, 30)
PROVIDERS = ("vercel", "render", "supabase", "openai", "llamacloud")
RESTART_DAY = 16
MEDIUM = Scale(vercel_projects=20, render_services=14, supabase_projects=6, openai_models=8,
               openai_projects=5, llamacloud_projects=4, history_days=40)


def ts(day: int, hour: int = 0) -> float:
    return (MONTH_START + timedelta(days=day - 1, hours=hour)).timestamp()


def schedule_changes(sim: Simulator) -> list[str]:
    """The month's changes; returns a description of each."""
    render, supabase = sim.providers["render"], sim.providers["supabase"]
    services = {s.name: s for s in render.services()}
    events = []
    render.schedule("api", ts(7, 14) + 1234, plan="pro")
    events.append("render api: standard -> pro on the 7th, 14:20")
    worker = next(s for s in services.values() if s.autoscaling)
    for day in range(1, 31):
        if (MONTH_START + timedelta(days=day - 1)).weekday() < 5:  # working days: scale out 09:00-18:00
            render.schedule(worker.name, ts(day, 9) + 420, instances=worker.instances + 2)
            render.schedule(worker.name, ts(day, 18) + 840, instances=worker.instances)
    events.append(f"render {worker.name}: autoscaled +2 instances 09:07-18:14 every working day")
    render.schedule("search", ts(12, 10) + 300, suspended=True)
    render.schedule("search", ts(15, 16) + 1500, suspended=False)
    events.append("render search: suspended the 12th 10:05, resumed the 15th 16:25")
    names = [p.name for p in supabase.projects()]
    supabase.schedule(names[0], ts(9, 11) + 600, compute="ci_large")
    events.append(f"supabase {names[0]}: compute resized to ci_large on the 9th, 11:10")
    supabase.schedule(names[1], ts(14, 8) + 900, pitr=True)
    events.append(f"supabase {names[1]}: PITR 7 days on from the 14th, 08:15")
    supabase.schedule(names[2], ts(20, 22), paused=True)
    supabase.schedule(names[2], ts(22, 7) + 1800, paused=False)
    events.append(f"supabase {names[2]}: paused the 20th 22:00 to the 22nd 07:30")
    events.append(f"stackwatch restarted on the {RESTART_DAY}th, 12:00, on the same state file")
    return events


def invoice_total(truth: dict) -> float:
    """Every line the provider invoices (a simulator without an invoice section: its priced figure)."""
    return float(truth.get("invoice", truth)["month_to_date_usd"])


def pct(mine: float, truth: float) -> str:
    if abs(truth) < 1e-9:
        return "   n/a" if abs(mine) < 0.005 else "   inf"
    return f"{100 * (mine - truth) / truth:+6.2f}%"


async def run(step_s: float) -> None:
    world = World(seed=11, scale=MEDIUM, start=MONTH_START, frozen=True)
    sim = Simulator(world, rate_limit_per_minute=10**9)
    await sim.start()
    events = schedule_changes(sim)
    data_dir = tempfile.mkdtemp(prefix="stackwatch-cost-accuracy-")
    overrides = {"providers": {p: {"poll_interval_seconds": step_s, "slow_poll_interval_seconds": step_s}
                               for p in PROVIDERS},
                 "service": {"data_dir": data_dir, "max_observation_gap_seconds": 3 * step_s}}
    config, secrets = simulator_runtime_inputs(sim.base_url, overrides)

    def start():  # type: ignore[no-untyped-def]
        return build_runtime(config, secrets, clock=WorldClock(world))

    runtime = start()
    rows: dict[int, dict] = {}
    failures = 0
    wall = time.perf_counter()
    restarted = False
    while world.now_ts() < MONTH_END.timestamp():
        outcomes = await runtime.collector.run_cycle(force=True)
        failures += sum(1 for o in outcomes if not o.ok)
        now = world.now()
        day = (now - MONTH_START).days + 1
        if not restarted and now.timestamp() >= ts(RESTART_DAY, 12):
            await runtime.aclose()
            runtime.meter_provider.shutdown()
            runtime = start()
            await runtime.collector.run_cycle(force=True)
            restarted = True
        last_poll_of_day = (now + timedelta(seconds=step_s)).date() != now.date()
        if day in CHECKPOINT_DAYS and last_poll_of_day and day not in rows:
            summary = runtime.ledger.summary(now)
            truth = sim.ground_truth()["providers"]
            rows[day] = {p: (summary.month_to_date_by_provider.get(p, 0.0), truth[p]["month_to_date_usd"],
                             invoice_total(truth[p]), summary.forecast_by_provider.get(p, 0.0)) for p in PROVIDERS}
        world.advance(step_s)
    world.advance(-1)  # the month's last second: the whole month's invoice
    final = {p: invoice_total(sim.ground_truth()["providers"][p]) for p in PROVIDERS}
    await runtime.aclose()
    runtime.meter_provider.shutdown()
    await sim.stop()
    wall = time.perf_counter() - wall

    print("Cost accuracy: November 2026 (30 days), medium scale "
          f"({MEDIUM.vercel_projects} Vercel projects, {MEDIUM.render_services} Render services, "
          f"{MEDIUM.supabase_projects} Supabase projects, {MEDIUM.openai_models} OpenAI models x "
          f"{MEDIUM.openai_projects} projects, {MEDIUM.llamacloud_projects} LlamaCloud projects), "
          f"polls every {step_s / 60:.0f} min of simulated time")
    print("Changes:")
    for event in events:
        print(f"  - {event}")
    print()
    header = (f"| {'day':>3} | {'provider':<10} | {'stackwatch MTD':>14} | {'priced truth':>12} | "
              f"{'invoice MTD':>11} | {'MTD vs invoice':>14} | {'forecast':>10} | {'month invoice':>13} | "
              f"{'forecast err':>12} |")
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for day in CHECKPOINT_DAYS:
        totals = [0.0, 0.0, 0.0, 0.0]
        for p in PROVIDERS:
            mine, priced, invoice, forecast = rows[day][p]
            totals = [a + b for a, b in zip(totals, (mine, priced, invoice, forecast), strict=True)]
            print(f"| {day:>3} | {p:<10} | {mine:>14.2f} | {priced:>12.2f} | {invoice:>11.2f} | "
                  f"{pct(mine, invoice):>14} | {forecast:>10.2f} | {final[p]:>13.2f} | "
                  f"{pct(forecast, final[p]):>12} |")
        mine, priced, invoice, forecast = totals
        print(f"| {day:>3} | {'total':<10} | {mine:>14.2f} | {priced:>12.2f} | {invoice:>11.2f} | "
              f"{pct(mine, invoice):>14} | {forecast:>10.2f} | {sum(final.values()):>13.2f} | "
              f"{pct(forecast, sum(final.values())):>12} |")
    print()
    print(f"failed polls: {failures}; wall time {wall:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=3600.0, help="simulated seconds between polls")
    args = parser.parse_args()
    configure("error", "text")
    asyncio.run(run(args.step))


if __name__ == "__main__":
    main()
