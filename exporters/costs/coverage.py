"""What a cost export observed, and what it did not, stated in the dataset itself.

Billed providers (Vercel's FOCUS charges, OpenAI's costs) and usage read back from history
(OpenAI and LlamaCloud usage) cover their whole window once their polls succeed. Render
and Supabase are priced from the states stackwatch observed (exporters/costs/state/): time no
poll observed is not priced, and a one-shot export, with no state file that watched the
cycle, observes little. So the export adds, per resource and UTC day, a row for each
unobserved period (`x_Coverage = unobserved`) and, per failed poll, a row for the
provider's whole period (`x_Coverage = failed`). Their BilledCost is empty: unknown, never
$0. Where the provider's API says enough (a service's plan and creation time), the row
offers `x_UnobservedCostEstimate`, priced at the state stackwatch first observed: a
lower-confidence figure, never added to BilledCost. docs/costs.md, "Coverage of an export".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from exporters.costs.records import day_start, utc_day

# The columns an export adds to FOCUS_COLUMNS (FOCUS custom columns carry the x_ prefix).
COVERAGE_COLUMNS = ("x_Coverage", "x_UnobservedSeconds", "x_UnobservedCostEstimate", "x_CoverageNote")
OBSERVED, UNOBSERVED, FAILED = "observed", "unobserved", "failed"
ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Gap:
    """A period of one resource that no poll observed."""

    provider: str
    resource_id: str
    resource_name: str
    service_name: str
    service_category: str
    start: datetime
    end: datetime
    estimate_usd: float | None  # priced at an observed state: lower confidence; None: nothing to price from
    basis: str  # what the estimate assumes, or why there is none

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class ProviderCoverage:
    provider: str
    period_start: datetime
    period_end: datetime
    gaps: tuple[Gap, ...] = ()
    failed: tuple[str, ...] = ()  # "stream (reason): message" of each failed poll
    observed_usd: float = 0.0  # BilledCost of the provider's rows in the period

    @property
    def complete(self) -> bool:
        return not self.gaps and not self.failed

    @property
    def estimate_usd(self) -> float | None:
        """The unobserved periods' estimate, where every one has one (else None: unknown)."""
        estimates = [g.estimate_usd for g in self.gaps]
        return None if any(e is None for e in estimates) else sum(e for e in estimates if e is not None)


def per_day(gap: Gap) -> Iterator[Gap]:
    """The gap cut at UTC midnights (FOCUS rows of this dataset cover at most one day), estimate prorated."""
    cursor = gap.start
    total = gap.seconds
    while cursor < gap.end:
        end = min(gap.end, day_start(utc_day(cursor) + timedelta(days=1)))
        share = (end - cursor).total_seconds() / total if total else 0.0
        yield Gap(gap.provider, gap.resource_id, gap.resource_name, gap.service_name, gap.service_category,
                  cursor, end, None if gap.estimate_usd is None else gap.estimate_usd * share, gap.basis)
        cursor = end


def _row(provider_name: str, start: datetime, end: datetime) -> dict[str, object]:
    return {"BilledCost": None, "EffectiveCost": None, "ListCost": None, "BillingCurrency": "USD",
            "ChargeCategory": "Usage", "ChargePeriodStart": start.astimezone(timezone.utc).strftime(ISO),
            "ChargePeriodEnd": end.astimezone(timezone.utc).strftime(ISO),
            "ServiceProviderName": provider_name, "x_CostSource": None}


def gap_rows(gap: Gap, provider_name: str) -> Iterator[dict[str, object]]:
    for piece in per_day(gap):
        yield {**_row(provider_name, piece.start, piece.end), "ServiceName": gap.service_name,
               "ServiceCategory": gap.service_category, "ResourceId": gap.resource_id,
               "ResourceName": gap.resource_name, "x_Coverage": UNOBSERVED,
               "x_UnobservedSeconds": round(piece.seconds, 3),
               "x_UnobservedCostEstimate": None if piece.estimate_usd is None else round(piece.estimate_usd, 10),
               "x_CoverageNote": gap.basis}


def failed_rows(coverage: ProviderCoverage, provider_name: str) -> Iterator[dict[str, object]]:
    for failure in coverage.failed:
        yield {**_row(provider_name, coverage.period_start, coverage.period_end), "x_Coverage": FAILED,
               "x_CoverageNote": f"poll failed, nothing of it in this export: {failure}"}


def coverage_rows(coverages: list[ProviderCoverage], provider_names: Mapping[str, str]) -> list[dict[str, object]]:
    """The rows of what was not observed; `provider_names`: FOCUS ServiceProviderName of each provider id."""
    rows: list[dict[str, object]] = []
    for coverage in coverages:
        name = provider_names.get(coverage.provider, coverage.provider)
        rows += failed_rows(coverage, name)
        for gap in coverage.gaps:
            rows += gap_rows(gap, name)
    return rows


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"


def summary(coverages: list[ProviderCoverage]) -> str:
    """One line per provider: complete, partial (what is unobserved, the estimate apart) or failed."""
    lines = ["coverage (rows with x_Coverage unobserved or failed name each unobserved resource and period; "
             "their BilledCost is empty):"]
    for c in coverages:
        period = f"{c.period_start:%Y-%m-%d} to {c.period_end:%Y-%m-%dT%H:%MZ}"
        observed = f"observed ${c.observed_usd:,.2f}"
        if c.failed:
            lines.append(f"  {c.provider:<11} FAILED   {period}: {len(c.failed)} poll(s) failed: "
                         + "; ".join(c.failed)[:400])
            continue
        if not c.gaps:
            lines.append(f"  {c.provider:<11} complete {period}: {observed}")
            continue
        unread = [g for g in c.gaps if not g.resource_id]  # the provider's history does not reach back so far
        if unread:
            lines.append(f"  {c.provider:<11} PARTIAL  {period}: {observed} + unknown; not read before "
                         f"{max(g.end for g in unread):%Y-%m-%d} ({unread[0].basis.removeprefix('not read: ')})")
            continue
        unobserved: dict[str, float] = {}
        for g in c.gaps:
            unobserved[g.resource_id] = unobserved.get(g.resource_id, 0.0) + g.seconds
        estimate = c.estimate_usd
        estimated = (f"estimate for the unobserved time ${estimate:,.2f}" if estimate is not None else
                     f"no estimate for {sum(1 for g in c.gaps if g.estimate_usd is None)} of its periods")
        lines.append(f"  {c.provider:<11} PARTIAL  {period}: {observed} + unknown; {len(unobserved)} resource(s) "
                     f"unobserved for part of it (up to {_duration(max(unobserved.values()))}); {estimated} "
                     "(lower confidence: x_UnobservedCostEstimate, never in BilledCost)")
    return "\n".join(lines)
