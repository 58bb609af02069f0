"""Keeps one poll loop per provider alive, and says truthfully how fresh each is.

A dead or hung loop is restarted after an exponential back-off (`stackwatch.provider.loop.restarts`);
the age of each provider's latest fully successful cycle is published on every check
(`stackwatch.provider.last_success_age`), so it grows even while a loop is dead. Time is
injected. The rules and thresholds: docs/operations.md, "Health".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog

from exporters.poll.collector import Collector, Provider

log = structlog.get_logger("stackwatch.supervisor")

STALE_AFTER_INTERVALS = 3
# A cycle running this many poll intervals (and at least HUNG_AFTER_MIN_S) is hung: every request
# has a timeout and a bounded number of retries, so a healthy cycle ends well before.
HUNG_AFTER_INTERVALS = 10
HUNG_AFTER_MIN_S = 600.0
BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 60.0
RESTART_REASONS = ("died", "hung")
OWNER = "supervisor"


@dataclass
class LoopState:
    provider: str
    interval_s: float
    task: asyncio.Task[None] | None = None
    cycle_started: float | None = None  # monotonic; None between cycles
    restart_at: float | None = None  # monotonic; set while a dead loop waits for its back-off
    deaths_in_a_row: int = 0
    restarts: int = 0
    last_error: str | None = None
    cycles: int = 0
    history: list[str] = field(default_factory=list)  # reasons of the latest restarts (bounded)

    @property
    def hung_after_s(self) -> float:
        return max(HUNG_AFTER_INTERVALS * self.interval_s, HUNG_AFTER_MIN_S)


@dataclass(frozen=True)
class ProviderFreshness:
    provider: str
    loop: str  # "running", "hung", "restarting"
    last_success: float | None
    last_success_age_s: float
    stale_after_s: float
    restarts: int
    last_error: str | None

    @property
    def stale(self) -> bool:
        return self.last_success_age_s > self.stale_after_s

    @property
    def loop_ok(self) -> bool:
        return self.loop == "running"


class Supervisor:
    def __init__(self, collector: Collector, intervals: Mapping[str, float], *, tick_s: float = 1.0,
                 check_every_s: float = 1.0, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 backoff_initial_s: float = BACKOFF_INITIAL_S, backoff_max_s: float = BACKOFF_MAX_S):
        """`intervals`: provider → its poll interval in seconds (the fast one)."""
        self.collector = collector
        self._providers = {p.name: p for p in collector.providers}
        self._tick_s = tick_s
        self._check_every_s = check_every_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self.loops = {name: LoopState(name, intervals[name]) for name in self._providers}
        self._started_wall: float | None = None
        self._stop: asyncio.Event | None = None

    # --- lifecycle ---

    def start(self, stop: asyncio.Event) -> None:
        self._stop = stop
        self._started_wall = self.collector.clock.time()
        for state in self.loops.values():
            # Counted from 0, so the series exists (and increase() sees the first restart) before any.
            for reason in RESTART_REASONS:
                self.collector.store.start_counter("stackwatch.provider.loop.restarts",
                                                   {"provider": state.provider, "reason": reason})
            self._spawn(state)

    async def run(self, stop: asyncio.Event) -> None:
        """Start every loop, then check them until `stop` is set. Loops are cancelled on return."""
        self.start(stop)
        try:
            while not stop.is_set():
                self.check()
                await self._pause(stop)
        finally:
            await self.stop_loops(timeout_s=2.0)

    async def stop_loops(self, timeout_s: float) -> None:
        """Cancel every loop and wait at most `timeout_s` for them to unwind."""
        tasks = [s.task for s in self.loops.values() if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=timeout_s)
            if pending:
                log.warning("poll loops did not stop in time; abandoning them",
                            providers=sorted(t.get_name() for t in pending))

    async def _pause(self, stop: asyncio.Event) -> None:
        waiter = asyncio.ensure_future(stop.wait())
        sleeper = asyncio.ensure_future(self._sleep(self._check_every_s))
        try:
            await asyncio.wait([waiter, sleeper], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            sleeper.cancel()

    # --- one supervision step ---

    def check(self) -> None:
        """Restart dead and hung loops whose back-off has passed; publish freshness."""
        now = self._monotonic()
        for state in self.loops.values():
            task = state.task
            if task is not None and task.done() and not self._stopping():
                self._record_death(state, task, now)
            elif (task is not None and not task.done() and state.cycle_started is not None
                  and now - state.cycle_started > state.hung_after_s):
                log.error("poll loop hung; restarting it", provider=state.provider,
                          cycle_seconds=round(now - state.cycle_started, 1))
                task.cancel()
                state.task = None
                self._schedule_restart(state, "hung", now)
            if state.task is None and state.restart_at is not None and now >= state.restart_at \
                    and not self._stopping():
                state.restart_at = None
                state.restarts += 1
                self._spawn(state)
        for fresh in self.freshness():
            self.collector.store.set_gauge("stackwatch.provider.last_success_age", OWNER,
                                           fresh.last_success_age_s, {"provider": fresh.provider})

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _record_death(self, state: LoopState, task: asyncio.Task[None], now: float) -> None:
        if task.cancelled():
            error = "CancelledError escaped the poll loop"
        else:
            exc = task.exception()
            error = f"{exc.__class__.__name__}: {exc}" if exc is not None else "the loop returned"
        state.task = None
        state.last_error = error[:300]
        log.error("poll loop died; restarting it", provider=state.provider, error=state.last_error,
                  restart_in_s=round(self._backoff(state.deaths_in_a_row), 1))
        self._schedule_restart(state, "died", now)

    def _schedule_restart(self, state: LoopState, reason: str, now: float) -> None:
        state.restart_at = now + self._backoff(state.deaths_in_a_row)
        state.deaths_in_a_row += 1
        state.cycle_started = None
        state.history = [*state.history[-9:], reason]
        self.collector.store.add("stackwatch.provider.loop.restarts", 1,
                                 {"provider": state.provider, "reason": reason})

    def _backoff(self, deaths_in_a_row: int) -> float:
        return min(self._backoff_initial_s * 2 ** deaths_in_a_row, self._backoff_max_s)

    def _spawn(self, state: LoopState) -> None:
        assert self._stop is not None
        state.task = asyncio.get_running_loop().create_task(
            self._loop(self._providers[state.provider], state, self._stop), name=state.provider)

    async def _loop(self, provider: Provider, state: LoopState, stop: asyncio.Event) -> None:
        while not stop.is_set():
            state.cycle_started = self._monotonic()
            await self.collector.run_provider(provider, force=False)
            state.cycle_started = None
            state.cycles += 1
            state.deaths_in_a_row = 0  # a whole cycle ran: the back-off starts over
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._tick_s)
            except asyncio.TimeoutError:
                pass

    # --- what /healthz and the age gauge report ---

    def freshness(self) -> list[ProviderFreshness]:
        wall = self.collector.clock.time()
        mono = self._monotonic()
        started = self._started_wall if self._started_wall is not None else wall
        report = []
        for name, state in self.loops.items():
            last = self.collector.health[name].last_success
            age = max(0.0, wall - (last if last is not None else started))
            if state.task is None:
                loop = "restarting"
            elif state.cycle_started is not None and mono - state.cycle_started > state.hung_after_s:
                loop = "hung"
            else:
                loop = "running"
            report.append(ProviderFreshness(name, loop, last, age, STALE_AFTER_INTERVALS * state.interval_s,
                                            state.restarts, state.last_error))
        return report
