"""Cost accuracy over a simulated 30-day month (prints figures; not a test).

A frozen simulated world at medium scale (November 2026, 30 days) with the
changes a real month brings: a Render plan upgrade, an autoscaled service that
scales out every working day, a service suspended for three days, a Supabase
compute resize, a PITR add-on switched on, a project paused for two days, and
one restart of stackwatch on the same state file mid-month. stackwatch polls
every `--step` seconds of simulated time from the 1st, 00:00.

At the end of days 3, 5, 10, 20 and 30 it prints, per provider and in total:
stackwatch's month-to-date cost ("estimate": billed and estimated records), the
amount it reports apart as unpriced ("unpriced": usage it cannot price from a
published price, e.g. today's tokens of an OpenAI model with no published price
at that model's own billed rate; "?" marks unpriced items without an amount),
their sum against the simulator's independent invoice (its own price fixtures,
every line, priced or not), and stackwatch's month-end forecast against the
month's final invoice and against the month's invoice had no one-off change
happened after that day (a second world with the same seed: what a forecast made
that day could at best foresee). The simulated OpenAI organisation uses a model
with no published price (the simulator's `unpriced-usage` condition).

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

from exporters.core.logs import configure  # noqa: E402
from exporters.service.runtime import build_runtime  # noqa: E402
from exporters.simulator import Simulator, World, simulator_runtime_inputs  # noqa: E402
from exporters.simulator.world import Scale, WorldClock  # noqa: E402

MONTH_START = datetime(2026, 11, 1, tzinfo=timezone.utc)
MONTH_END = datetime(2026, 12, 1, tzinfo=timezone.utc)
CHECKPOINT_DAYS = (3, 5, 10, 20, 30)
PROVIDERS = ("vercel", "render", "supabase", "openai", "llamacloud")
RESTART_DAY = 16
MEDIUM = Scale(vercel_projects=20, render_services=14, supabase_projects=6, openai_models=8,
               openai_projects=5, llamacloud_projects=4, history_days=40)


def ts(day: int, hour: int = 0) -> float:
    return (MONTH_START + timedelta(days=day - 1, hours=hour)).timestamp()


def schedule_changes(sim: Simulator, before: float = float("inf")) -> list[str]:
    """The month's changes; returns a description of each. `before`: schedule only the one-off
    changes before this moment (the working-day autoscaling is the service's steady pattern and
    is always scheduled), for the invoice a forecast made then could at best foresee."""
    render, supabase = sim.providers["render"], sim.providers["supabase"]
    services = {s.name: s for s in render.services()}
    events = []

    class OneOff:
        def __init__(self, provider):  # type: ignore[no-untyped-def]
            self.provider = provider

        def schedule(self, name: str, at: float, **change: object) -> None:
            if at < before:
                self.provider.schedule(name, at, **change)

    render_once, supabase_once = OneOff(render), OneOff(supabase)
    render_once.schedule("api", ts(7, 14) + 1234, plan="pro")
    events.append("render api: standard -> pro on the 7th, 14:20")
    worker = next(s for s in services.values() if s.autoscaling)
    for day in range(1, 31):
        if (MONTH_START + timedelta(days=day - 1)).weekday() < 5:  # working days: scale out 09:00-18:00
            render.schedule(worker.name, ts(day, 9) + 420, instances=worker.instances + 2)
            render.schedule(worker.name, ts(day, 18) + 840, instances=worker.instances)
    events.append(f"render {worker.name}: autoscaled +2 instances 09:07-18:14 every working day")
    render_once.schedule("search", ts(12, 10) + 300, suspended=True)
    render_once.schedule("search", ts(15, 16) + 1500, suspended=False)
    events.append("render search: suspended the 12th 10:05, resumed the 15th 16:25")
    names = [p.name for p in supabase.projects()]
    supabase_once.schedule(names[0], ts(9, 11) + 600, compute="ci_large")
    events.append(f"supabase {names[0]}: compute resized to ci_large on the 9th, 11:10")
    supabase_once.schedule(names[1], ts(14, 8) + 900, pitr=True)
    events.append(f"supabase {names[1]}: PITR 7 days on from the 14th, 08:15")
    supabase_once.schedule(names[2], ts(20, 22), paused=True)
    supabase_once.schedule(names[2], ts(22, 7) + 1800, paused=False)
    events.append(f"supabase {names[2]}: paused the 20th 22:00 to the 22nd 07:30")
    events.append(f"stackwatch restarted on the {RESTART_DAY}th, 12:00, on the same state file")
    return events


def world_options() -> dict:
    """The unpriced OpenAI model on every day (a condition of the simulator's world, where it has one)."""
    from exporters.simulator import world
    return {"incidents": frozenset({"unpriced-usage"})} if "unpriced-usage" in getattr(world, "CONDITIONS", ()) else {}


def unpriced_of(runtime, now: datetime) -> dict[str, tuple[float, int]]:  # type: ignore[no-untyped-def]
    """provider → (unpriced amount stackwatch reports this cycle, items it reports without an amount)."""
    out: dict[str, tuple[float, int]] = {}
    for (provider, _item, _unit), (_quantity, usd) in runtime.collector.unpriced_book.month_to_date(now.date()).items():
        amount, unknown = out.get(provider, (0.0, 0))
        out[provider] = (amount + (usd or 0.0), unknown + (usd is None))
    return out


def foreseeable_invoice(checkpoint: float) -> dict[str, float]:
    """provider → the month's invoice had no one-off change happened after the checkpoint's poll
    (the best any forecast made then could do): a second world, same seed, without them."""
    world = World(seed=11, scale=MEDIUM, start=MONTH_START, frozen=True, **world_options())
    sim = Simulator(world, rate_limit_per_minute=10**9)
    schedule_changes(sim, before=checkpoint + 1e-3)
    world.advance(MONTH_END.timestamp() - 1 - world.now_ts())
    return {p: invoice_total(sim.ground_truth()["providers"][p]) for p in PROVIDERS}


def invoice_total(truth: dict) -> float:
    """Every line the provider invoices (a simulator without an invoice section: its priced figure)."""
    return float(truth.get("invoice", truth)["month_to_date_usd"])


def pct(mine: float, truth: float) -> str:
    if abs(truth) < 1e-9:
        return "   n/a" if abs(mine) < 0.005 else "   inf"
    return f"{100 * (mine - truth) / truth:+6.2f}%"


async def run(step_s: float) -> None:
    world = World(seed=11, scale=MEDIUM, start=MONTH_START, frozen=True, **world_options())
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
    checkpoint_at: dict[int, float] = {}
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
            unpriced = unpriced_of(runtime, now)
            checkpoint_at[day] = now.timestamp()
            rows[day] = {p: (summary.month_to_date_by_provider.get(p, 0.0), *unpriced.get(p, (0.0, 0)),
                             invoice_total(truth[p]), summary.forecast_by_provider.get(p, 0.0)) for p in PROVIDERS}
        world.advance(step_s)
    world.advance(-1)  # the month's last second: the whole month's invoice
    final = {p: invoice_total(sim.ground_truth()["providers"][p]) for p in PROVIDERS}
    foreseeable = {day: foreseeable_invoice(at) for day, at in checkpoint_at.items()}
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
    header = (f"| {'day':>3} | {'provider':<10} | {'estimate':>9} | {'unpriced':>9} | {'est+unpriced':>12} | "
              f"{'invoice MTD':>11} | {'vs invoice':>10} | {'forecast':>9} | {'month invoice':>13} | "
              f"{'forecast err':>12} | {'err w/o later changes':>21} |")
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")

    def line(day: int, name: str, mine: float, unpriced: float, unknown: int, invoice: float, forecast: float,
             month: float, foreseen: float) -> None:
        amount = f"{unpriced:.2f}" + ("?" if unknown else "")
        print(f"| {day:>3} | {name:<10} | {mine:>9.2f} | {amount:>9} | {mine + unpriced:>12.2f} | {invoice:>11.2f} | "
              f"{pct(mine + unpriced, invoice):>10} | {forecast:>9.2f} | {month:>13.2f} | "
              f"{pct(forecast, month):>12} | {pct(forecast, foreseen):>21} |")

    for day in CHECKPOINT_DAYS:
        totals = [0.0, 0.0, 0, 0.0, 0.0]
        for p in PROVIDERS:
            mine, unpriced, unknown, invoice, forecast = rows[day][p]
            totals = [a + b for a, b in zip(totals, (mine, unpriced, unknown, invoice, forecast), strict=True)]
            line(day, p, mine, unpriced, unknown, invoice, forecast, final[p], foreseeable[day][p])
        mine, unpriced, unknown, invoice, forecast = totals
        line(day, "total", mine, unpriced, int(unknown), invoice, forecast, sum(final.values()),
             sum(foreseeable[day].values()))
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
