"""Observed resource states as intervals, and integration over them.

Consecutive observations of a resource's state become intervals; a change starts a new one
(where the provider dates it, there); a silence longer than `max_gap_s` is a gap, never filled
with either state. The rules: docs/costs.md, "Observed state and the state file".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from exporters.costs.state.store import StateStore, StoredInterval

# Only this much of the past is loaded on start (two cycles and some margin).
LOAD_HORIZON_S = 75 * 86400.0


def canonical(state: Mapping[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Interval:
    start: float  # epoch seconds
    end: float
    state: str  # canonical JSON

    @property
    def values(self) -> dict[str, Any]:
        return json.loads(self.state)


@dataclass(frozen=True)
class Observation:
    resource: str
    state: Mapping[str, Any]
    known_since: float | None = None  # the provider attests the state has held since then


@dataclass
class HistoryUpdate:
    """Intervals a poll would write; applied when the poll commits."""

    at: float
    changed: dict[str, list[Interval]] = field(default_factory=dict)  # resource -> its full new list tail
    earliest: float | None = None  # the earliest moment whose integration changed


def advance(last: Interval | None, at: float, state: str, known_since: float | None,
            max_gap_s: float) -> tuple[list[Interval], float]:
    """The intervals replacing `last` (itself, possibly changed, then perhaps a new one) after an
    observation of `state` at `at`, and the earliest moment affected."""
    k = None if known_since is None else min(known_since, at)
    if last is None:
        start = k if k is not None else at
        return [Interval(start, at, state)], start
    gap = at - last.end
    if state == last.state:
        if gap <= max_gap_s or (k is not None and k <= last.end):
            return [replace(last, end=at)], last.end
        start = k if k is not None and k > last.end else at
        return [last, Interval(start, at, state)], start
    if k is not None and k <= last.end:
        boundary = max(k, last.start)
        kept = [replace(last, end=boundary)] if boundary > last.start else []
        return [*kept, Interval(boundary, at, state)], boundary
    if k is not None:  # changed after the last observation, at a moment the provider states
        if gap <= max_gap_s:
            return [replace(last, end=k), Interval(k, at, state)], last.end
        return [last, Interval(k, at, state)], k
    if gap <= max_gap_s:
        return [replace(last, end=at), Interval(at, at, state)], last.end
    return [last, Interval(at, at, state)], at


class StateHistory:
    """One provider's observed intervals, in memory and (when given a store) on disk."""

    def __init__(self, provider: str, store: StateStore | None, max_gap_s: float, now: float):
        self.provider = provider
        self.store = store
        self.max_gap_s = max_gap_s
        self._intervals: dict[str, list[Interval]] = {}
        if store is not None:
            for row in store.intervals(provider, now - LOAD_HORIZON_S):
                self._intervals.setdefault(row.resource, []).append(Interval(row.start, row.end, row.state))

    def resources(self) -> list[str]:
        return list(self._intervals)

    def last(self, resource: str) -> Interval | None:
        intervals = self._intervals.get(resource)
        return intervals[-1] if intervals else None

    def plan(self, observations: Iterable[Observation], at: float) -> HistoryUpdate:
        update = HistoryUpdate(at)
        for obs in observations:
            new, affected = advance(self.last(obs.resource), at, canonical(obs.state), obs.known_since,
                                    self.max_gap_s)
            update.changed[obs.resource] = new
            update.earliest = affected if update.earliest is None else min(update.earliest, affected)
        return update

    def apply(self, update: HistoryUpdate) -> None:
        rows = []
        for resource, new in update.changed.items():
            intervals = self._intervals.setdefault(resource, [])
            if intervals:
                intervals.pop()
            intervals.extend(new)
            rows += [StoredInterval(self.provider, resource, i.start, i.end, i.state) for i in new]
        if self.store is not None and rows:
            self.store.save_intervals(rows)

    def intervals(self, resource: str, update: HistoryUpdate | None = None) -> list[Interval]:
        """A resource's intervals, as they are after `update` (when given)."""
        current = list(self._intervals.get(resource, []))
        if update is not None and resource in update.changed:
            if current:
                current.pop()
            current += update.changed[resource]
        return current

    def all_resources(self, update: HistoryUpdate | None = None) -> list[str]:
        names = dict.fromkeys(self._intervals)
        if update is not None:
            names.update(dict.fromkeys(update.changed))
        return list(names)


def clipped(intervals: Iterable[Interval], start: float, end: float) -> Iterator[Interval]:
    """The parts of `intervals` inside [start, end)."""
    for i in intervals:
        a, b = max(i.start, start), min(i.end, end)
        if b > a:
            yield Interval(a, b, i.state)


def observed_seconds(intervals: Iterable[Interval], start: float, end: float) -> float:
    return sum(i.end - i.start for i in clipped(intervals, start, end))


def unobserved_seconds(intervals: list[Interval], start: float, end: float) -> float:
    """Seconds of [start, end) not covered by any interval (the gaps, including any before the first)."""
    return max(0.0, (end - start) - observed_seconds(intervals, start, end))


def unobserved_periods(intervals: list[Interval], start: float, end: float) -> list[tuple[float, float]]:
    """The parts of [start, end) no interval covers, in time order (their lengths sum to unobserved_seconds)."""
    periods, cursor = [], start
    for i in sorted(clipped(intervals, start, end), key=lambda i: i.start):
        if i.start > cursor:
            periods.append((cursor, i.start))
        cursor = max(cursor, i.end)
    if cursor < end:
        periods.append((cursor, end))
    return periods


def state_near(intervals: list[Interval], start: float, end: float) -> Interval | None:
    """The observed state nearest an unobserved [start, end): the first seen after its start (a zero-length
    observation inside it included), else the last before it."""
    after = [i for i in intervals if i.start >= start]
    if after:
        return min(after, key=lambda i: i.start)
    before = [i for i in intervals if i.end <= start]
    return max(before, key=lambda i: i.end) if before else None
