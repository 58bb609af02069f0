"""Invoice lines and the ground-truth document every provider simulator returns.

In detail: exporters/simulator/README.md, "Ground truth — `invoice.py`".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

Status = Literal["priced", "unpriced", "pending"]


@dataclass(frozen=True)
class InvoiceLine:
    day: date  # the provider's billing day of the charge
    project: str  # as stackwatch labels it (project name, "(team)", "(no project)", organisation id)
    item: str  # line item / SKU, e.g. "gpt-4o-2024-08-06, input", "mode:legacy_premium"
    usd: float
    status: Status = "priced"
    category: str = "Usage"  # FOCUS ChargeCategory: Usage, Purchase, Credit, …


def ground_truth(lines: Iterable[InvoiceLine], today: date, month_start: date | None = None,
                 projects: Iterable[str] = ()) -> dict:
    """The ground-truth document of one provider for the month (or billing period) from `month_start`."""
    first = month_start or today.replace(day=1)
    totals: dict[str, dict[str, float]] = {s: {"today": 0.0, "mtd": 0.0} for s in ("priced", "unpriced", "pending")}
    by_project: dict[str, dict[str, float]] = {"priced": defaultdict(float), "invoice": defaultdict(float)}
    for project in projects:
        by_project["priced"][project] += 0.0
        by_project["invoice"][project] += 0.0
    unpriced_items: dict[str, float] = defaultdict(float)
    for line in lines:
        if not first <= line.day <= today:
            continue
        bucket = totals[line.status]
        bucket["mtd"] += line.usd
        if line.day == today:
            bucket["today"] += line.usd
        by_project["invoice"][line.project] += line.usd
        if line.status == "priced":
            by_project["priced"][line.project] += line.usd
        elif line.status == "unpriced":
            unpriced_items[line.item] += line.usd
    invoice_today = sum(t["today"] for t in totals.values())
    invoice_mtd = sum(t["mtd"] for t in totals.values())
    return {
        "today_usd": totals["priced"]["today"],
        "month_to_date_usd": totals["priced"]["mtd"],
        "month_to_date_by_project": dict(by_project["priced"]),
        "invoice": {"today_usd": invoice_today, "month_to_date_usd": invoice_mtd,
                    "month_to_date_by_project": dict(by_project["invoice"])},
        "unpriced": {"today_usd": totals["unpriced"]["today"], "month_to_date_usd": totals["unpriced"]["mtd"],
                     "items": dict(unpriced_items)},
        "pending": {"today_usd": totals["pending"]["today"], "month_to_date_usd": totals["pending"]["mtd"]},
    }
