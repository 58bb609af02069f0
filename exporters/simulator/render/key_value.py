"""Render Key Value instances, simulated: `GET /key-value` and their lines on the invoice.

`GET /key-value` is documented by Render (docs/providers/render.md, confidence H) but absent from
the vendored OpenAPI document (`tests/contract/specs/render.openapi.json`), so the
shape follows Render's public API reference: a list `[{cursor, keyValue: {…}}]`
whose `keyValue` carries `id, createdAt, updatedAt, status, region, plan, name,
owner, options, ipAllowList, version, dashboardUrl` (and `environmentId`), `plan`
one of free, starter, standard, pro, pro_plus, custom; paged by `cursor` (the
last item's) and `limit` (1-100, default 20), filtered by `name`, `region`,
`ownerId`, `environmentId` and the created/updated bounds like the other lists.

Billing: the plan's monthly price (the simulator's own `price_fixtures.py`, never
price_tables/), prorated per second of the calendar month while the instance
exists. Key Value has no suspension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from exporters.simulator import price_fixtures
from exporters.simulator.invoice import InvoiceLine

PLANS = ("free", "starter", "standard", "pro", "pro_plus", "custom")
FIELDS = {
    "name": lambda b: b.get("name"), "region": lambda b: b.get("region"),
    "ownerId": lambda b: (b.get("owner") or {}).get("id"), "environmentId": lambda b: b.get("environmentId"),
}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class SimKeyValue:
    id: str
    name: str
    plan: str
    created: float
    owner: dict[str, str]

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id, "createdAt": _iso(self.created), "updatedAt": _iso(self.created),
            "status": "available", "region": "oregon", "plan": self.plan, "name": self.name, "owner": self.owner,
            "options": {"maxmemoryPolicy": "allkeys_lru", "persistenceMode": "journal_snapshot"},
            "ipAllowList": [], "version": "8.1.4", "dashboardUrl": f"https://dashboard.render.com/r/{self.id}",
        }


def make_key_values(count: int, ids: list[str], start: float, owner: dict[str, str]) -> list[SimKeyValue]:
    """`count` instances: a cache on standard, a queue on starter, then alternating."""
    plans = ("standard", "starter", "pro")
    return [SimKeyValue(ids[i], ("cache", "queue", "sessions")[i % 3] + (f"-{i // 3}" if i >= 3 else ""),
                        plans[i % len(plans)], start, owner) for i in range(count)]


def key_value_count(render_services: int) -> int:
    return max(1, math.ceil(render_services / 7))


def invoice_lines(instances: list[SimKeyValue], day: date, day0: float, day1: float,
                  month_s: float) -> list[InvoiceLine]:
    lines = []
    for kv in instances:
        seconds = max(0.0, day1 - max(day0, kv.created))
        if seconds > 0:
            lines.append(InvoiceLine(day, kv.name, f"key_value_{kv.plan}",
                                     price_fixtures.RENDER_KEY_VALUE_PLANS[kv.plan].usd * seconds / month_s))
    return lines
