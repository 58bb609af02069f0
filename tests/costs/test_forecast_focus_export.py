"""FOCUS export: every row carries its billing period (the provider's cycle) and pricing quantity."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

from exporters.costs.focus import FOCUS_COLUMNS
from exporters.costs.records import CostRecord
from exporters.ops.export import write_focus


def record(provider: str, day: int) -> CostRecord:
    start = datetime(2026, 11, day, 3, tzinfo=timezone.utc)
    return CostRecord(provider=provider, service_name="Compute", service_category="Databases",
                      resource_id="ref", resource_name="production", period_start=start,
                      period_end=start + timedelta(hours=1), billed_cost=0.0822, source="estimated",
                      consumed_quantity=1.0, consumed_unit="Hours", sku="ci_medium")


def test_billing_period_follows_each_providers_anchor_day_and_pricing_quantity_is_the_priced_one():
    out = io.StringIO()
    write_focus([record("supabase", 14), record("supabase", 15), record("render", 14)], "jsonl", out,
                {"supabase": 15})
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    periods = [(r["ServiceProviderName"], r["BillingPeriodStart"], r["BillingPeriodEnd"]) for r in rows]
    assert periods == [("Supabase", "2026-10-15T00:00:00Z", "2026-11-15T00:00:00Z"),
                       ("Supabase", "2026-11-15T00:00:00Z", "2026-12-15T00:00:00Z"),
                       ("Render", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z")]
    assert all(r["PricingQuantity"] == 1.0 and r["PricingUnit"] == "Hours" for r in rows)
    assert all(r["EffectiveCost"] == r["ListCost"] == r["BilledCost"] == 0.0822 for r in rows)


def test_csv_has_every_focus_column_including_the_billing_period():
    out = io.StringIO()
    write_focus([record("render", 2)], "csv", out)
    reader = csv.DictReader(io.StringIO(out.getvalue()))
    assert tuple(reader.fieldnames or ()) == FOCUS_COLUMNS
    assert {"BillingPeriodStart", "BillingPeriodEnd", "ListCost", "EffectiveCost", "PricingQuantity",
            "PricingUnit"} <= set(FOCUS_COLUMNS)
    row = next(reader)
    assert (row["BillingPeriodStart"], row["PricingQuantity"]) == ("2026-11-01T00:00:00Z", "1.0")
