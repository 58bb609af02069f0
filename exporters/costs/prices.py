"""Versioned price tables (data files in `price_tables/`), never prices in code.

Each file holds one provider's table as a list of versions, each with an
`effective_from` date and a `source` with its confidence (docs/providers/README.md).
A lookup for a day returns the version in force that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class PriceVersion:
    provider: str
    effective_from: date
    source: str
    confidence: str
    table: dict[str, Any]


class PriceBook:
    def __init__(self, versions: dict[str, list[PriceVersion]]):
        self._versions = {p: sorted(v, key=lambda x: x.effective_from) for p, v in versions.items()}

    @classmethod
    def load(cls, directory: Path | None = None) -> "PriceBook":
        """The tables shipped in `exporters/costs/price_tables/` (or in `directory`, for tests)."""
        versions: dict[str, list[PriceVersion]] = {}
        source = directory if directory is not None else resources.files("exporters.costs").joinpath("price_tables")
        for entry in source.iterdir():
            if not entry.name.endswith(".yaml"):
                continue
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            provider = data["provider"]
            for v in data["versions"]:
                versions.setdefault(provider, []).append(PriceVersion(
                    provider=provider, effective_from=v["effective_from"], source=v["source"],
                    confidence=v["confidence"], table=v["table"]))
        return cls(versions)

    def version(self, provider: str, on: date) -> PriceVersion:
        """The table in force on `on`; the earliest one for days before any version."""
        candidates = self._versions.get(provider)
        if not candidates:
            raise KeyError(f"no price table for {provider}")
        current = candidates[0]
        for v in candidates:
            if v.effective_from <= on:
                current = v
        return current

    def table(self, provider: str, on: date) -> dict[str, Any]:
        return self.version(provider, on).table
