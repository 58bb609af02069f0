"""The simulated OpenAI organisation's usage, as both the simulator (sim.py) and its API (api.py) read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from exporters.simulator.world import World

# Real model names, the most used first; the scale takes the first `openai_models` of them.
BASE_MODELS = ("gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "text-embedding-3-small",
               "text-embedding-3-large", "gpt-4o-2024-11-20", "gpt-4o-mini", "gpt-4o", "gpt-4o-2024-05-13")
MODELS = BASE_MODELS + (
    "gpt-4.1", "gpt-4.1-2025-04-14", "gpt-4.1-mini", "gpt-4.1-mini-2025-04-14", "gpt-4.1-nano",
    "gpt-4.1-nano-2025-04-14", "o3", "o3-2025-04-16", "o4-mini", "o4-mini-2025-04-16", "o3-mini",
    "o3-mini-2025-01-31", "o1-2024-12-17", "gpt-5", "gpt-5-2025-08-07", "gpt-5-mini", "gpt-5-mini-2025-08-07",
    "gpt-5-nano-2025-08-07", "gpt-3.5-turbo-0125", "text-embedding-ada-002", "o1", "gpt-5-nano")
SPIKE_MODEL = BASE_MODELS[0]  # cost-spike: this model's usage today ×10


@dataclass(frozen=True)
class Usage:
    """One (project, model, batch) on one day: input includes cached."""

    project: str
    model: str
    batch: bool
    input: int
    cached: int
    output: int
    requests: int

    def plus(self, other: "Usage") -> "Usage":
        return Usage(self.project, self.model, self.batch, self.input + other.input, self.cached + other.cached,
                     self.output + other.output, self.requests + other.requests)

    def scaled(self, numerator: int, denominator: int) -> "Usage":
        def part(v: int) -> int:
            return v * numerator // denominator
        return Usage(self.project, self.model, self.batch, part(self.input), part(self.cached),
                     part(self.output), part(self.requests))


class Organisation(Protocol):
    """What the API serves from: the simulated organisation (sim.OpenAISim)."""

    name: str
    world: World
    projects: list[str]

    def full_day(self, day: date) -> list[Usage]: ...

    def usage_on(self, day: date) -> list[Usage]: ...

    def line_items(self, usage: Usage, day: date, *, billed: bool) -> list[tuple[str, float, int]]: ...

    def costs_on(self, day: date) -> list[tuple[str | None, str, float, int]]: ...
