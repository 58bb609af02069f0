"""LlamaCloud: parses of a document already parsed in the billing cycle (repeated parses).

How a repeat is recognised (`event_aggregation_key`), why its credits are a saving, and the
memory bound: docs/providers/llamacloud.md, "Repeated parses".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from exporters.costs.billing import cycle_of

MAX_DOCUMENTS = 100_000  # documents remembered per cycle (~100 bytes each in a dict)


@dataclass(frozen=True, slots=True)
class Parse:
    day: date
    project: str
    document: str  # the item's event_aggregation_key
    item_id: str  # the item's id: a re-read of the same item is not a repeat
    credits: float  # priced credits (0 when unknown)


@dataclass(frozen=True, slots=True)
class RepeatTotals:
    parses: int = 0
    credits: float = 0.0

    def plus(self, parses: int, credits: float) -> "RepeatTotals":
        return RepeatTotals(self.parses + parses, self.credits + credits)


@dataclass
class Classified:
    totals: dict[tuple[date, str], RepeatTotals] = field(default_factory=dict)  # (day, project) → repeats
    first_parses: dict[int, tuple[date, int]] = field(default_factory=dict)  # to remember on commit
    untracked: int = 0  # documents not remembered because the memory was full


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest(), "big")


class DocumentMemory:
    """Each document's first parse in its billing cycle: (project, key) hash → (day, item hash)."""

    def __init__(self, anchor_day: int = 1, limit: int = MAX_DOCUMENTS):
        self.anchor_day = anchor_day
        self.limit = limit
        self._first: dict[int, tuple[date, int]] = {}

    def __len__(self) -> int:
        return len(self._first)

    def classify(self, parses: Iterable[Parse]) -> Classified:
        """Repeated parses among `parses` (in the order the API listed them); changes nothing
        until `remember` (a poll that fails must not advance the memory)."""
        out = Classified()
        for p in parses:
            key, item = _hash(p.project, p.document), _hash(p.item_id)
            first = out.first_parses.get(key) or self._first.get(key)
            if first is None or first[0] < cycle_of(p.day, self.anchor_day).start:
                if key in self._first or len(self._first) + len(out.first_parses) < self.limit:
                    out.first_parses[key] = (p.day, item)
                else:
                    out.untracked += 1
                continue
            if first[1] == item:  # the document's first parse, read again
                continue
            out.totals[(p.day, p.project)] = out.totals.get((p.day, p.project), RepeatTotals()).plus(1, p.credits)
        return out

    def remember(self, first_parses: Mapping[int, tuple[date, int]], today: date) -> None:
        """Keeps the new first parses; forgets documents first parsed before today's cycle."""
        self._first.update(first_parses)
        start = cycle_of(today, self.anchor_day).start
        if any(day < start for day, _ in self._first.values()):
            self._first = {k: v for k, v in self._first.items() if v[0] >= start}
