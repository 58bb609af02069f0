"""Cost estimated from observed state: what every provider without a billing API shares.

Such a provider (Render, Supabase) records at each poll the state of every resource it sees
(costs/state/history.py) and prices its cost per UTC day from those states. This module does
the part that is the same for all of them: which days a poll prices again, the intervals to
price them from, the unobserved time, and what is kept when the poll commits. The provider
prices one day and forecasts its cycle. docs/costs.md, "Observed state and the state file".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from exporters.core.timeutil import days, utc_moment
from exporters.costs.billing import Cycle, cycle_of
from exporters.costs.records import utc_day
from exporters.costs.state.history import (
    HistoryUpdate,
    Interval,
    Observation,
    StateHistory,
    state_near,
    unobserved_periods,
    unobserved_seconds,
)
from exporters.costs.state.store import StateStore

DEFAULT_MAX_GAP_S = 3600.0  # when no runtime attaches a state store (the config's default)


class PollWrites(Protocol):
    """What an estimate writes through the poll (exporters/poll/collector.py's PollContext), at its commit."""

    def cost_history_from(self, day: date) -> None: ...

    def unpriced(self, item: str) -> None: ...

    def on_commit(self, action: Callable[[], None]) -> None: ...

    def clear_gauge(self, metric: str) -> None: ...

    def gauge(self, metric: str, value: float, **attributes: object) -> None: ...


@dataclass
class Estimate:
    """One poll's estimate: the days it prices again and the intervals after its observations."""

    now: datetime
    cycle: Cycle
    window_start: date  # the oldest day the provider's history_days reach
    first: date  # the first day priced again
    update: HistoryUpdate  # the observations, applied to the history when the poll commits
    intervals: dict[str, list[Interval]]  # resource -> its intervals, the observations included
    unpriced: set[str] = field(default_factory=set)  # what the pricing met without a price

    @property
    def at(self) -> float:
        return self.now.timestamp()

    @property
    def today(self) -> date:
        return utc_day(self.now)

    @property
    def days(self) -> list[date]:
        return days(self.first, self.today)

    def observed_now(self) -> dict[str, list[Interval]]:
        """The resources observed at this poll (the ones a forecast projects)."""
        return {r: items for r, items in self.intervals.items() if items and items[-1].end >= self.at}


class ObservedCost:
    """One provider's observed states and what its estimate keeps between polls."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.history = StateHistory(provider, None, DEFAULT_MAX_GAP_S, 0.0)
        self.resumed = False  # the first estimate since start prices the whole stored window again
        self._reported: set[str] = set()  # unpriced items: reported once per run, not once per poll

    def attach(self, store: StateStore | None, max_gap_s: float, now: float) -> None:
        """Keep observed states in `store` (None: memory) and resume what it holds."""
        self.history = StateHistory(self.provider, store, max_gap_s, now)

    def begin(self, observations: Iterable[Observation], now: datetime, *, anchor_day: int,
              history_days: int) -> Estimate:
        """The poll's observations at `now`, and the days they make to price again.

        The first estimate since start prices every day of the window and the cycle. Later ones price
        from the earliest moment the observations changed, and always the day before: fees the config
        prices (Render's workspace seats, Supabase's plan) accrue through time no poll observed, so a
        day whose last poll came before midnight is priced again to its end
        (tests/costs/test_observed_cost.py, against the simulator's invoice)."""
        at = now.timestamp()
        update = self.history.plan(observations, at)
        today = utc_day(now)
        cycle = cycle_of(today, anchor_day)
        window_start = today - timedelta(days=history_days)
        if not self.resumed:
            first = min(window_start, cycle.start)
        else:
            earliest = utc_day(utc_moment(update.earliest if update.earliest is not None else at))
            first = max(window_start, min(today - timedelta(days=1), earliest))
        intervals = {r: self.history.intervals(r, update) for r in self.history.all_resources(update)}
        return Estimate(now, cycle, window_start, first, update, intervals)

    def finish(self, ctx: PollWrites, estimate: Estimate, keep: Callable[[], None]) -> None:
        """Declare the history priced from `estimate.first`, report what had no price, and at commit
        apply the observations and `keep` what the provider carries to the next poll."""
        ctx.cost_history_from(estimate.first)
        for item in sorted(estimate.unpriced - self._reported):
            ctx.unpriced(item)

        def commit() -> None:
            self.history.apply(estimate.update)
            self.resumed = True
            self._reported.update(estimate.unpriced)
            keep()
        ctx.on_commit(commit)

    def unobserved_gauge(self, ctx: PollWrites, metric: str, label: str, estimate: Estimate,
                         resources: Iterable[tuple[str, str, datetime]]) -> None:
        """`metric`{label}: seconds of the current cycle each (id, name, created) resource existed unobserved."""
        ctx.clear_gauge(metric)
        for resource, name, created in resources:
            start = max(estimate.cycle.start_at, created).timestamp()
            ctx.gauge(metric, unobserved_seconds(estimate.intervals.get(resource, []), start, estimate.at),
                      **{label: name})

    def gaps(self, resources: Iterable[tuple[str, datetime]], since: datetime,
             now: datetime) -> Iterator[tuple[str, float, float, Interval | None]]:
        """For the cost export: each (id, created) resource's parts of [since, now) that no poll observed,
        as (id, start, end, the observed state nearest the gap or None)."""
        for resource, created in resources:
            items = self.history.intervals(resource)
            for a, b in unobserved_periods(items, max(since, created).timestamp(), now.timestamp()):
                yield resource, a, b, state_near(items, a, b)
