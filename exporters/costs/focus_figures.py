"""FOCUS' other cost figures, month to date: EffectiveCost and ListCost beside BilledCost.

The cost gauges sum BilledCost (what the invoice charges). Providers that
publish FOCUS (Vercel) also state EffectiveCost (after discounts and amortised
commitments) and ListCost (at list price); records keep both, and these gauges
sum them per provider over the same billing cycle as month-to-date, so the
discount Vercel gives shows next to what it bills. A record without its own
figures (an estimate) counts its BilledCost for both.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from exporters.costs.billing import cycle_of
from exporters.costs.ledger import CostLedger


def month_to_date_figures(ledger: CostLedger, now: datetime) -> dict[str, tuple[float, float, float]]:
    """provider → (billed, effective, list) USD over the provider's current billing cycle so far."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    cycles = {}
    for r in ledger.effective():
        today = ledger.billing_today(r.provider, now)
        cycle = cycles.get(r.provider) or cycles.setdefault(r.provider, cycle_of(today, ledger.anchors.get(r.provider, 1)))
        if not cycle.start <= r.day <= today:
            continue
        figures = totals[r.provider]
        figures[0] += r.billed_cost
        figures[1] += r.billed_cost if r.effective_cost is None else r.effective_cost
        figures[2] += r.billed_cost if r.list_cost is None else r.list_cost
    return {p: (b, e, lst) for p, (b, e, lst) in totals.items()}
