"""The cost ledger, written through to the state file so a restart resumes it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from exporters.costs.ledger import CostLedger
from exporters.costs.records import CostRecord, CostSource
from exporters.costs.state.store import StateStore

_RECORD_FIELDS = tuple(f.name for f in fields(CostRecord) if f.init)


def record_to_row(record: CostRecord) -> dict[str, Any]:
    row = {k: v for k, v in asdict(record).items() if k in _RECORD_FIELDS}
    row["period_start"] = record.period_start.isoformat()
    row["period_end"] = record.period_end.isoformat()
    if record.billing_day is not None:  # a provider's own billing day (Vercel: Pacific), as text
        row["billing_day"] = record.billing_day.isoformat()
    return row


def row_to_record(row: dict[str, Any]) -> CostRecord:
    values = {k: row[k] for k in _RECORD_FIELDS if k in row}
    values["period_start"] = datetime.fromisoformat(row["period_start"])
    values["period_end"] = datetime.fromisoformat(row["period_end"])
    if row.get("billing_day"):
        values["billing_day"] = date.fromisoformat(row["billing_day"])
    return CostRecord(**values)


def _key(record: CostRecord) -> str:
    return "\x1f".join(map(str, record.key))


class PersistentLedger(CostLedger):
    """A CostLedger loaded from, and written through to, a StateStore."""

    def __init__(self, store: StateStore, anchors: dict[str, int] | None = None,
                 zones: dict[str, ZoneInfo] | None = None):
        super().__init__(anchors, zones)
        self._store = store
        records = [row_to_record(row) for row in store.cost_records()]
        if records:
            super().upsert(records)
        for provider, first_day in store.coverage().items():
            super().covers_from(provider, date.fromisoformat(first_day))

    def upsert(self, records: Iterable[CostRecord]) -> None:
        records = list(records)
        self._store.save_cost_records((r.provider, r.source, r.day.isoformat(), _key(r), record_to_row(r))
                                      for r in records)
        super().upsert(records)

    def replace_day(self, provider: str, source: CostSource, day: date, records: Iterable[CostRecord]) -> None:
        records = list(records)
        super().replace_day(provider, source, day, records)  # validates first
        self._store.replace_cost_day(provider, source, day.isoformat(), ((_key(r), record_to_row(r)) for r in records))

    def covers_from(self, provider: str, day: date) -> None:
        self._store.save_coverage(provider, day.isoformat())
        super().covers_from(provider, day)
