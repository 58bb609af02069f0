"""FOCUS 1.3 rows of cost records, and the CSV / JSON Lines writer every dataset uses (docs/costs.md)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import timezone
from typing import Literal

from exporters.costs.billing import cycle_of
from exporters.costs.records import CostRecord

FOCUS_COLUMNS = (
    "BilledCost", "EffectiveCost", "ListCost", "BillingCurrency", "ChargeCategory", "ChargePeriodStart",
    "ChargePeriodEnd", "ServiceProviderName", "ServiceName", "ServiceCategory", "ResourceId",
    "ResourceName", "RegionId", "ConsumedQuantity", "ConsumedUnit", "x_CostSource", "x_Model", "x_Sku",
    "BillingPeriodStart", "BillingPeriodEnd", "PricingQuantity", "PricingUnit",
)


def focus_row(record: CostRecord, anchor: int = 1, provider_name: str | None = None) -> dict[str, object]:
    """One FOCUS row. The billing period is the provider's cycle (anchor day) containing the record's
    billing day, so rows sum to an invoice; pricing quantity and unit are what the price applies to.
    `provider_name`: ServiceProviderName (the provider's display name; its id when not given)."""
    iso = "%Y-%m-%dT%H:%M:%SZ"
    period = cycle_of(record.day, anchor)
    return {
        "BilledCost": round(record.billed_cost, 10),
        "EffectiveCost": round(record.billed_cost if record.effective_cost is None else record.effective_cost, 10),
        "ListCost": round(record.billed_cost if record.list_cost is None else record.list_cost, 10),
        "BillingCurrency": "USD",
        "ChargeCategory": record.charge_category,
        "ChargePeriodStart": record.period_start.astimezone(timezone.utc).strftime(iso),
        "ChargePeriodEnd": record.period_end.astimezone(timezone.utc).strftime(iso),
        "ServiceProviderName": provider_name or record.provider,
        "ServiceName": record.service_name,
        "ServiceCategory": record.service_category,
        "ResourceId": record.resource_id,
        "ResourceName": record.resource_name,
        "RegionId": record.region,
        "ConsumedQuantity": record.consumed_quantity,
        "ConsumedUnit": record.consumed_unit,
        "x_CostSource": record.source,
        "x_Model": record.model,
        "x_Sku": record.sku or None,
        "BillingPeriodStart": period.start_at.strftime(iso),
        "BillingPeriodEnd": period.end_at.strftime(iso),
        "PricingQuantity": record.consumed_quantity,
        "PricingUnit": record.consumed_unit,
    }


def write_rows(rows: Iterable[dict[str, object]], columns: tuple[str, ...], fmt: Literal["csv", "jsonl"],
               out: io.TextIOBase) -> int:
    """Rows as CSV (header first; None is empty) or JSON Lines (None is null), in `columns` order."""
    count = 0
    writer = None
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
    for row in rows:
        if writer is None:
            out.write(json.dumps({c: row.get(c) for c in columns}, separators=(",", ":")) + "\n")
        else:
            writer.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in columns})
        count += 1
    return count
