"""`stackwatch costs export`: one collection cycle, then every cost record as FOCUS CSV or JSONL,
with what the cycle did not observe stated in the dataset (exporters/costs/coverage.py)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Literal

from exporters.core.http import Clock
from exporters.core.logs import REDACTOR
from exporters.costs.billing import cycle_of
from exporters.costs.coverage import COVERAGE_COLUMNS, OBSERVED, Gap, ProviderCoverage, coverage_rows
from exporters.costs.focus import FOCUS_COLUMNS, focus_row, write_rows
from exporters.costs.records import CostRecord, day_start, utc_day
from exporters.poll.collector import StreamOutcome
from exporters.providers.registry import display_names
from exporters.service.config import Config, Secrets
from exporters.service.runtime import Runtime, build_runtime
from exporters.simulator import Simulator, World, simulator_runtime_inputs
from exporters.simulator.world import WorldClock

EXPORT_COLUMNS = FOCUS_COLUMNS + COVERAGE_COLUMNS


@dataclass(frozen=True)
class Export:
    records: int  # cost records written (rows with x_Coverage = observed)
    coverage: list[ProviderCoverage]

    @property
    def failed(self) -> bool:
        return any(c.failed for c in self.coverage)

    @property
    def complete(self) -> bool:
        return all(c.complete for c in self.coverage)


def provider_coverage(runtime: Runtime, outcomes: list[StreamOutcome], records: list[CostRecord],
                      since: dict[str, date], now: datetime) -> list[ProviderCoverage]:
    """Per provider, what the export's period [since, now) holds: failed polls, unobserved periods."""
    coverages = []
    for provider in runtime.collector.providers:
        name = provider.name
        start = day_start(since[name])
        failed = tuple(REDACTOR.scrub(f"{o.stream} ({o.reason})" + (f": {o.message}" if o.message else ""))
                       for o in outcomes if o.provider == name and not o.ok)
        if hasattr(provider, "unobserved"):  # state-priced: what no poll observed, resource by resource
            gaps = provider.unobserved(start, now, runtime.prices)
        else:  # read from the provider's history: complete from the first day that history covers
            first = runtime.ledger.first_day(name)
            covered = start if first is None and failed else day_start(first) if first else now
            gaps = [] if covered <= start else [Gap(
                name, "", "", "", "", start, min(covered, now), None,
                f"not read: before the history stackwatch reads (providers.{name}.history_days)")]
        observed = sum(r.billed_cost for r in records if r.provider == name)
        coverages.append(ProviderCoverage(name, start, now, tuple(gaps), failed, observed))
    return coverages


def period_start(runtime: Runtime, today: date, since: date | None) -> dict[str, date]:
    """Each provider's first day of the export: `since`, else its current billing cycle's first day."""
    anchors = runtime.ledger.anchors
    return {p.name: since or cycle_of(today, anchors.get(p.name, 1)).start for p in runtime.collector.providers}


def focus_rows(records: Iterable[CostRecord], anchors: Mapping[str, int]) -> Iterator[dict[str, object]]:
    """FOCUS rows of `records`, each provider named as FOCUS wants it (the registry's display name)."""
    names = display_names()
    for r in records:
        yield focus_row(r, anchors.get(r.provider, 1), names.get(r.provider))


def write_focus(records: Iterable[CostRecord], fmt: Literal["csv", "jsonl"], out: io.TextIOBase,
                anchors: Mapping[str, int] | None = None) -> int:
    """Records as a FOCUS dataset. `anchors`: each provider's billing-cycle anchor day (absent: the calendar month)."""
    return write_rows(focus_rows(records, anchors or {}), FOCUS_COLUMNS, fmt, out)


def write_dataset(records: list[CostRecord], extra: list[dict[str, object]], fmt: str, out: io.TextIOBase,
                  anchors: dict[str, int]) -> None:
    rows = [{**row, "x_Coverage": OBSERVED} for row in focus_rows(records, anchors)] + extra
    write_rows(rows, EXPORT_COLUMNS, fmt, out)  # type: ignore[arg-type]


async def export_costs(config: Config | None, secrets: Secrets | None, fmt: str, output: Path | None,
                       *, clock: Clock | None = None, since: date | None = None) -> Export:
    """Collect once and write the records of each provider's period (from `since`, else from the start of its
    billing cycle) and their coverage; with no config, from a fresh embedded simulator."""
    simulator = None
    if config is None:
        simulator = Simulator(World())
        config, secrets = simulator_runtime_inputs(await simulator.start())
        clock = WorldClock(simulator.world)
    assert secrets is not None
    runtime = build_runtime(config, secrets, clock=clock)
    try:
        # The period ends where the cycle starts: what its polls observed reaches at least this far.
        now = datetime.fromtimestamp(runtime.clock.time(), tz=timezone.utc)
        outcomes = await runtime.collector.run_cycle(force=True)
        first = period_start(runtime, utc_day(now), since)
        records = [r for r in runtime.ledger.records() if r.day >= first.get(r.provider, r.day)]
        coverage = provider_coverage(runtime, outcomes, records, first, now)
        anchors = runtime.ledger.anchors  # each provider's billing cycle: FOCUS BillingPeriodStart/End
        if output is None:
            write_dataset(records, coverage_rows(coverage, display_names()), fmt, sys.stdout, anchors)  # type: ignore[arg-type]
        else:
            with output.open("w", encoding="utf-8", newline="") as handle:
                write_dataset(records, coverage_rows(coverage, display_names()), fmt, handle, anchors)
        return Export(len(records), coverage)
    finally:
        await runtime.aclose()
        runtime.shutdown_metrics()
        if simulator is not None:
            await simulator.stop()
