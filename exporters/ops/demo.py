"""`stackwatch demo`: the embedded simulator, one collection cycle, a terminal summary.

Nothing to set up: the simulator serves every provider API on loopback with
its own credentials. When an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_*),
the cycle's metrics are exported there too.
"""

from __future__ import annotations

import calendar
import secrets as random_secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from rich.console import Console
from rich.table import Table

from exporters.core.logs import REDACTOR
from exporters.core.telemetry import in_memory_reader, otlp_endpoint_configured
from exporters.poll.collector import StreamOutcome
from exporters.providers.registry import NAMES, PROVIDERS
from exporters.service.config import Config, Secrets
from exporters.service.runtime import Runtime, build_runtime
from exporters.simulator import Simulator, World, simulator_runtime_inputs
from exporters.simulator.world import Scale, WorldClock


@dataclass(frozen=True)
class Finding:
    severity: str  # "critical" | "warning"
    text: str


def counter_totals(reader: InMemoryMetricReader, name: str) -> dict[tuple, float]:
    """Current values of a counter by attribute set (from an in-memory reader)."""
    totals: dict[tuple, float] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        totals[tuple(sorted(point.attributes.items()))] = point.value
    return totals


def findings(runtime: Runtime, reader: InMemoryMetricReader, outcomes: list[StreamOutcome]) -> list[Finding]:
    config, store = runtime.config, runtime.store
    now = datetime.fromtimestamp(runtime.clock.time(), tz=timezone.utc)
    summary = runtime.ledger.summary(now)
    found: list[Finding] = []
    for o in outcomes:
        if not o.ok:
            found.append(Finding("critical", f"{o.provider}: {o.stream} poll failed ({o.reason})"))

    budgets = config.budgets
    for provider in ("total", *NAMES):
        monthly = getattr(budgets.monthly_usd, provider)
        daily = getattr(budgets.daily_usd, provider)
        if provider == "total":
            mtd = sum(summary.month_to_date_by_provider.values())
            forecast = sum(summary.forecast_by_provider.values())
            today = sum(summary.today_by_provider.values())
        else:
            mtd = summary.month_to_date_by_provider.get(provider, 0.0)
            forecast = summary.forecast_by_provider.get(provider, 0.0)
            today = summary.today_by_provider.get(provider, 0.0)
        if monthly is not None and mtd > monthly:
            found.append(Finding("critical", f"{provider}: month-to-date ${mtd:,.2f} is over the ${monthly:,.2f} budget"))
        elif monthly is not None and forecast > monthly:
            found.append(Finding("warning", f"{provider}: forecast ${forecast:,.2f} exceeds the ${monthly:,.2f} monthly budget"))
        if daily is not None and today > daily:
            found.append(Finding("warning", f"{provider}: today ${today:,.2f} is over the ${daily:,.2f} daily budget"))

    t = config.thresholds
    gauge_rules = (
        ("render.service.cpu.utilization", t.cpu_utilization_ratio, "CPU", "{:.0%}"),
        ("render.service.memory.utilization", t.memory_utilization_ratio, "memory", "{:.0%}"),
        ("supabase.disk.utilization", t.disk_utilization_ratio, "disk", "{:.0%}"),
    )
    for metric, limit, what, fmt in gauge_rules:
        for attrs, value in store.gauge_points(metric).items():
            if value > limit:
                who = dict(attrs).get("service") or dict(attrs).get("project")
                found.append(Finding("warning", f"{who}: {what} {fmt.format(value)} > {fmt.format(limit)}"))
    for attrs, value in store.gauge_points("render.service.http.latency").items():
        a = dict(attrs)
        if a.get("quantile") == "0.95" and value > t.response_time_seconds.backend:
            found.append(Finding("warning", f"{a['service']}: p95 latency {value:.2f} s > {t.response_time_seconds.backend} s"))
    requests = counter_totals(reader, "render.service.http.requests")
    by_service: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for attrs, value in requests.items():
        a = dict(attrs)
        by_service[a["service"]][a["status_class"]] += value
    for service, classes in sorted(by_service.items()):
        total = sum(classes.values())
        if total and classes.get("5xx", 0) / total > t.error_rate_ratio:
            found.append(Finding("warning", f"{service}: error rate {classes['5xx'] / total:.1%} > {t.error_rate_ratio:.0%}"))
    paused = set(paused_projects(runtime))  # paused on purpose: shown, not a finding (as the alerts)
    for attrs, value in store.gauge_points("supabase.project.up").items():
        a = dict(attrs)
        if value == 0 and a["project"] not in paused:
            found.append(Finding("critical", f"{a['project']}: Supabase project status {a['status']}"))
    for attrs, value in store.gauge_points("supabase.database.readonly").items():
        if value == 1:
            found.append(Finding("critical", f"{dict(attrs)['project']}: Supabase database read-only (disk near full)"))
    for attrs, value in store.gauge_points("supabase.service.healthy").items():
        if value == 0:
            a = dict(attrs)
            found.append(Finding("warning", f"{a['project']}: Supabase {a['service']} unhealthy"))
    backup_age = {dict(a)["project"]: v for a, v in store.gauge_points("supabase.backup.age").items()}
    pitr = {dict(a)["project"]: v for a, v in store.gauge_points("supabase.backup.pitr_enabled").items()}
    for project in sorted((set(pitr) | set(backup_age)) - paused):
        age = backup_age.get(project)
        if not pitr.get(project) and (age is None or age > t.backup_age_seconds):
            shown = "none" if age is None else f"{age / 3600:.0f} h old"
            found.append(Finding("critical", f"{project}: no recent backup ({shown}) and PITR off"))
    for provider, item in sorted(runtime.collector.unpriced_items):
        found.append(Finding("warning", f"{provider}: no price for {item!r} (counted, not priced at $0)"))
    return found


def paused_projects(runtime: Runtime) -> list[str]:
    """Supabase projects paused (INACTIVE): an intentional state, shown but not alerted on."""
    return sorted(dict(a)["project"] for a in runtime.store.gauge_points("supabase.project.up")
                  if dict(a).get("status") == "INACTIVE")


def unobserved_gauges() -> dict[str, tuple[str, str]]:
    """Providers estimated from observed state report, in `<provider>.cost.unobserved`, the time of the
    cycle no poll observed (priced resources only): {provider: (that gauge, its resource label)}."""
    return {p.name: (m.name, m.attributes[0]) for p in PROVIDERS for m in p.metrics
            if m.name == f"{p.name}.cost.unobserved"}


def unobserved_by_provider(runtime: Runtime) -> dict[str, dict[str, float]]:
    """{provider: {resource: seconds of the billing cycle not observed}}, resources with a gap only."""
    out: dict[str, dict[str, float]] = {}
    for provider, (gauge, label) in unobserved_gauges().items():
        gaps = {dict(attrs)[label]: seconds for attrs, seconds in runtime.store.gauge_points(gauge).items()
                if seconds >= 1.0}
        if gaps:
            out[provider] = gaps
    return out


def duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"


def render_summary(console: Console, runtime: Runtime, outcomes: list[StreamOutcome],
                   found: list[Finding]) -> None:
    now = datetime.fromtimestamp(runtime.clock.time(), tz=timezone.utc)
    summary = runtime.ledger.summary(now)
    config: Config = runtime.config

    health = Table(title="Providers", title_justify="left")
    for column in ("provider", "status", "streams ok", "requests", "slowest poll"):
        health.add_column(column)
    for provider in runtime.collector.providers:
        mine = [o for o in outcomes if o.provider == provider.name]
        up = runtime.collector.is_up(provider.name)
        health.add_row(provider.name, "[green]up[/]" if up else "[red]down[/]",
                       f"{sum(o.ok for o in mine)}/{len(mine)}", str(provider.http.requests_sent),
                       f"{max((o.seconds for o in mine), default=0):.2f} s")
    console.print(health)

    days = calendar.monthrange(now.year, now.month)[1]
    costs = Table(title=f"Spend (UTC, {now:%Y-%m-%d}, day {now.day} of {days})", title_justify="left")
    for column in ("provider", "today", "month to date", "forecast", "monthly budget", "forecast / budget"):
        costs.add_column(column, justify="right" if column != "provider" else "left")
    # A provider whose cost was never read shows "unknown", never $0.00.
    enabled = [p for p in NAMES if p in config.providers.enabled()]
    known = [p for p in enabled if p in summary.forecast_by_provider]
    rows: list[tuple[str, float | None, float | None, float | None, float | None]] = [
        (p, summary.today_by_provider.get(p, 0.0), summary.month_to_date_by_provider.get(p, 0.0),
         summary.forecast_by_provider[p], getattr(config.budgets.monthly_usd, p)) if p in known
        else (p, None, None, None, getattr(config.budgets.monthly_usd, p)) for p in enabled]
    complete = len(known) == len(enabled)
    totals = [sum(r[i] or 0.0 for r in rows) if known else None for i in (1, 2, 3)]
    rows.append(("total" if complete else "total (incomplete)", *totals, config.budgets.monthly_usd.total))

    def usd(value: float | None) -> str:
        return "unknown" if value is None else f"${value:,.2f}"

    # Render and Supabase are estimated from the states stackwatch observed: time of the cycle no poll
    # observed (before the first) is unknown, so their today, month to date and forecast are lower
    # bounds ("+ unknown"), never presented as the bill.
    gaps = unobserved_by_provider(runtime)
    partial = {p for p in gaps if p in known}

    def at_least(value: float | None, part_unknown: bool) -> str:
        return f"{usd(value)} + unknown" if part_unknown and value is not None else usd(value)

    for name, today, mtd, forecast, budget in rows:
        part_unknown = name in partial or (name.startswith("total") and bool(partial))
        share = f"{forecast / budget:.0%}" if budget and forecast is not None else "—"
        share = f"≥ {share}" if part_unknown and share != "—" else share
        colour = "red" if budget and forecast is not None and forecast > budget else "green"
        costs.add_row(name, at_least(today, part_unknown), at_least(mtd, part_unknown), at_least(forecast, part_unknown),
                      usd(budget) if budget is not None else "—",
                      f"[{colour}]{share}[/]" if share != "—" else share)
    console.print(costs)
    for provider in sorted(partial):
        longest = max(gaps[provider].values())
        console.print(f"[yellow]{provider}[/]: estimated from observed states only; up to {duration(longest)} "
                      f"of this billing cycle was not observed (stackwatch started after it began): "
                      f"its cost is unknown, not priced ({', '.join(sorted(gaps[provider]))}).")

    if paused := paused_projects(runtime):
        console.print(f"Paused Supabase projects (shown, not alerted on): {', '.join(paused)}")
    if found:
        console.print("[bold]Over a threshold[/]")
        for f in found:
            colour = "red" if f.severity == "critical" else "yellow"
            console.print(f"  [{colour}]{f.severity:8}[/] {f.text}")
    else:
        console.print("[green]Nothing over a threshold.[/]")
    if otlp_endpoint_configured():
        console.print("Metrics exported over OTLP (OTEL_EXPORTER_OTLP_* is set).")
    else:
        console.print("[dim]No OTLP endpoint set: set OTEL_EXPORTER_OTLP_ENDPOINT to export these metrics.[/]")


async def run_demo(*, seed: int = 42, scenario: str = "steady", scale: Scale | None = None,
                   console: Console | None = None, simulator: Simulator | None = None,
                   overrides: dict | None = None) -> int:
    """`overrides`: config sections merged into the simulator's config (tests resume a state file)."""
    console = console or Console()
    if simulator is None:
        # Fresh random tokens per demo: they are secrets like any other (redacted everywhere), and
        # the simulator's fixed ones would make the redactor eat provider names ("supabase").
        tokens = {name: f"demo-{random_secrets.token_urlsafe(18)}" for name in NAMES}
        simulator = Simulator(World(seed=seed, scale=scale or Scale()), tokens=tokens,
                              drain_secret=random_secrets.token_urlsafe(18))
    simulator.world.set_scenario(scenario)
    base_url = await simulator.start()
    try:
        config, _fixed = simulator_runtime_inputs(base_url, overrides)
        secrets = Secrets(tokens={name: simulator.tokens[name] for name in config.providers.enabled()},
                          drain_secret=simulator.drain_secret)
        REDACTOR.add(secrets.values())
        reader = in_memory_reader()
        runtime = build_runtime(config, secrets, extra_readers=(reader,), clock=WorldClock(simulator.world))
        try:
            console.print(f"[dim]Simulator on {base_url} (seed {seed}, scenario {scenario}); one collection cycle…[/]")
            outcomes = await runtime.collector.run_cycle(force=True)
            render_summary(console, runtime, outcomes, findings(runtime, reader, outcomes))
        finally:
            await runtime.aclose()
            runtime.shutdown_metrics()
    finally:
        await simulator.stop()
    return 0
