"""A minimal stand-in for Prometheus' answers: canned vectors per query, for the checks' logic.

The validator's HTTP client and the queries themselves are proved against a real Prometheus
in tests/operator_tools/test_validate_stack.py; this fake answers only what a test puts in it, and an
unexpected query gets an empty vector (what Prometheus answers for a series that does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporters.ops.validate.prom import Sample


@dataclass
class FakePrometheus:
    vectors: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    active_targets: list[dict] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def answer(self, fragment: str, *samples: tuple[dict[str, str], float]) -> "FakePrometheus":
        """Queries containing `fragment` get these samples (the first matching fragment wins)."""
        self.vectors[fragment] = list(samples)
        return self

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        self.asked.append(expr)
        for fragment, samples in self.vectors.items():
            if fragment in expr:
                return [Sample(dict(labels), value) for labels, value in samples]
        return []

    def metric_names(self) -> set[str]:
        return set(self.names)

    def targets(self) -> list[dict]:
        return list(self.active_targets)
