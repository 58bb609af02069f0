"""The poll loop: runs each provider's streams on their intervals, in stages,
and keeps the provider's health series.

A stream's poll is a transaction: every metric write, cost record and state
change it makes is buffered in its `PollContext` and applied only when the
poll returns. A poll that fails halfway (a 500 on page 7, a truncated body)
leaves no half-counted data behind, and its watermark does not move, so the
next cycle fetches the same range again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Protocol

import structlog

from exporters.core.http import DEFAULT_MAX_POLL_BYTES, Clock, ProviderError, ProviderHTTP, poll_budget
from exporters.core.metrics import Attrs, MetricStore, attrs_key
from exporters.costs.ledger import CostLedger
from exporters.costs.prices import PriceBook
from exporters.costs.records import CostRecord, CostSource
from exporters.costs.unpriced import UnpricedBook, UnpricedUsage

log = structlog.get_logger("stackwatch.collector")

INVALID_ITEMS_LOGGED = 3  # per poll; the rest are summed up in one line
DEFAULT_POLL_DEADLINE_S = 300.0


@dataclass(frozen=True)
class Stream:
    name: str
    poll: Callable[["PollContext"], Awaitable[None]]
    slow: bool = False  # polled on the provider's slow interval (lists, billing, backups)
    # A stream that makes no request and works on what earlier stages read (e.g. a cost estimate
    # from observed state) runs only when this says there is something new; otherwise it is not
    # polled at all (no outcome, no health change).
    ready: Callable[[], bool] | None = None


class Provider(Protocol):
    name: str
    http: ProviderHTTP

    def stages(self) -> Sequence[Sequence[Stream]]:
        """Streams in stages: a stage starts when the one before has finished."""

    async def aclose(self) -> None: ...


class PollContext:
    """What a stream's poll may touch. Writes are buffered until `commit`."""

    def __init__(self, provider: str, stream: str, *, store: MetricStore, ledger: CostLedger,
                 prices: PriceBook, clock: Clock, unpriced_seen: set[tuple[str, str]]):
        self.provider = provider
        self.stream = stream
        self.prices = prices
        self.clock = clock
        self.log = log.bind(provider=provider, stream=stream)
        self._store = store
        self._ledger = ledger
        self._unpriced_seen = unpriced_seen
        self.unpriced_book: UnpricedBook | None = None  # set by the Collector
        self._actions: list[Callable[[], None]] = []
        self._gauges: dict[str, dict[Attrs, float]] = {}
        self._invalid = 0

    @property
    def owner(self) -> str:
        return f"{self.provider}/{self.stream}"

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), tz=timezone.utc)

    # --- metric writes (buffered) ---

    def add(self, metric: str, value: float, **attributes: object) -> None:
        self._store.check_attributes(metric, attributes)
        self._actions.append(lambda: self._store.add(metric, value, attributes))

    def start_counter(self, metric: str, **attributes: object) -> None:
        """The series exists at 0 from this commit on (a no-op for one that exists), so the first
        event counted later is a rise that `increase()` sees (docs/metrics.md, Counters)."""
        self._store.check_attributes(metric, attributes)
        self._actions.append(lambda: self._store.start_counter(metric, attributes))

    def record(self, metric: str, value: float, **attributes: object) -> None:
        self._store.check_attributes(metric, attributes)
        self._actions.append(lambda: self._store.record(metric, value, attributes))

    def gauge(self, metric: str, value: float, **attributes: object) -> None:
        """A gauge point. At commit, the points a poll set replace all its earlier points of `metric`."""
        self._store.check_attributes(metric, attributes)
        self._gauges.setdefault(metric, {})[attrs_key(attributes)] = value

    def clear_gauge(self, metric: str) -> None:
        """Declare that this poll owns `metric`, so an empty result removes the old points."""
        self._gauges.setdefault(metric, {})

    # --- cost and state (buffered) ---

    def upsert_costs(self, records: Sequence[CostRecord]) -> None:
        self._actions.append(lambda: self._ledger.upsert(records))

    def replace_cost_day(self, source: CostSource, day, records: Sequence[CostRecord]) -> None:  # type: ignore[no-untyped-def]
        self._actions.append(lambda: self._ledger.replace_day(self.provider, source, day, records))

    def cost_history_from(self, day) -> None:  # type: ignore[no-untyped-def]
        self._actions.append(lambda: self._ledger.covers_from(self.provider, day))

    def forecast(self, cycle_start, usd: float) -> None:  # type: ignore[no-untyped-def]
        """This provider's own forecast of its cycle's cost (from usage and plan rules)."""
        self._actions.append(lambda: self._ledger.set_forecast(self.provider, cycle_start, usd))

    def on_commit(self, action: Callable[[], None]) -> None:
        """Defer a state change (a watermark, a cache) until the poll has succeeded."""
        self._actions.append(action)

    # --- bad data ---

    def invalid_item(self, detail: str) -> None:
        """An item failed validation: counted exactly, skipped, and logged in aggregate: the first
        `INVALID_ITEMS_LOGGED` of a poll one by one, the rest in one summary line at its end
        (`log_invalid_summary`), so a provider sending 200,000 bad items writes a few lines."""
        self._invalid += 1
        if self._invalid <= INVALID_ITEMS_LOGGED:
            self.log.warning("invalid item skipped", detail=detail[:300])
        self._store.add("stackwatch.provider.invalid_items", 1, {"provider": self.provider, "stream": self.stream})

    def log_invalid_summary(self) -> None:
        if self._invalid > INVALID_ITEMS_LOGGED:
            self.log.warning("invalid items skipped in this poll", count=self._invalid,
                             not_logged_individually=self._invalid - INVALID_ITEMS_LOGGED)

    def unpriced(self, item: str) -> None:
        """Usage with no price: counted every time, logged once, never priced at $0."""
        self._actions.append(lambda: self._store.add(
            "stackwatch.cost.unpriced_items", 1, {"provider": self.provider, "item": item}))
        key = (self.provider, item)
        if key not in self._unpriced_seen:
            self._unpriced_seen.add(key)
            self.log.warning("no price for item; its cost is not estimated", item=item)

    def unpriced_usage(self, first: date, last: date, usage: Sequence[UnpricedUsage]) -> None:
        """Replace this provider's unpriced usage of the re-read days first..last (at commit)."""
        book = self.unpriced_book
        if book is not None:
            self._actions.append(lambda: book.replace(self.provider, first, last, usage))

    def commit(self) -> None:
        for action in self._actions:
            action()
        for metric, points in self._gauges.items():
            self._store.replace_gauges(metric, self.owner, points)
        self._actions.clear()
        self._gauges.clear()


@dataclass
class StreamOutcome:
    provider: str
    stream: str
    ok: bool
    seconds: float
    reason: str | None = None
    message: str | None = None
    bytes_read: int = 0  # decoded JSON bytes the poll read (its PollBudget's use)


@dataclass
class ProviderHealth:
    last_ok: dict[str, bool] = field(default_factory=dict)
    ever_ok: set[str] = field(default_factory=set)
    last_polled: dict[str, float] = field(default_factory=dict)
    last_success: float | None = None


class Collector:
    def __init__(self, providers: Sequence[Provider], *, store: MetricStore, ledger: CostLedger,
                 prices: PriceBook, clock: Clock, intervals: Mapping[str, tuple[float, float]],
                 deadlines: Mapping[str, float] | None = None, unpriced_book: UnpricedBook | None = None):
        """`intervals`: provider → (poll interval, slow poll interval), in seconds.
        `deadlines`: provider → the most one stream's poll may take, in seconds.
        `unpriced_book`: where unpriced usage goes (default: a fresh one kept in memory)."""
        self.providers = list(providers)
        self.store = store
        self.ledger = ledger
        self.prices = prices
        self.clock = clock
        self._intervals = dict(intervals)
        self._deadlines = dict(deadlines or {})
        self.health = {p.name: ProviderHealth() for p in self.providers}
        self._unpriced_seen: set[tuple[str, str]] = set()
        self.unpriced_book = unpriced_book or UnpricedBook()  # usage billed but not priceable (unpriced.py)

    def _due(self, provider: str, stream: Stream, now: float, force: bool) -> bool:
        last = self.health[provider].last_polled.get(stream.name)
        if force or last is None:
            return True
        fast, slow = self._intervals[provider]
        # A failed stream is retried on the fast interval, whatever its own.
        interval = slow if stream.slow and self.health[provider].last_ok.get(stream.name) else fast
        return now - last >= interval - 0.001

    async def run_cycle(self, *, force: bool = False) -> list[StreamOutcome]:
        """Poll every due stream of every provider once; providers run concurrently."""
        results = await asyncio.gather(*(self.run_provider(p, force) for p in self.providers))
        return [o for outcomes in results for o in outcomes]

    async def run_provider(self, provider: Provider, force: bool) -> list[StreamOutcome]:
        """Poll every due stream of one provider once, stage by stage (the supervisor's loops call this)."""
        outcomes: list[StreamOutcome] = []
        now = self.clock.time()
        health = self.health[provider.name]
        missing: str | None = None  # a stream later stages depend on, which has never succeeded
        for stage in provider.stages():
            due = [s for s in stage if self._due(provider.name, s, now, force) and (s.ready is None or s.ready())]
            if missing is not None:
                # Polling on state that was never loaded (no project list yet) would report
                # partial figures as whole ones, e.g. a plan fee without any compute cost.
                outcomes += [self._skip(provider.name, s, missing) for s in due]
                continue
            results = await asyncio.gather(*(self._poll(provider, s) for s in due))
            outcomes += results
            for stream, result in zip(due, results, strict=True):
                if result.ok:
                    health.ever_ok.add(stream.name)
                elif stream.name not in health.ever_ok:
                    missing = stream.name
        if outcomes:
            self._update_health(provider.name, now)
        return outcomes

    async def _poll(self, provider: Provider, stream: Stream) -> StreamOutcome:
        ctx = PollContext(provider.name, stream.name, store=self.store, ledger=self.ledger,
                          prices=self.prices, clock=self.clock, unpriced_seen=self._unpriced_seen)
        ctx.unpriced_book = self.unpriced_book
        started = time.perf_counter()
        reason, message = None, None
        deadline = self._deadlines.get(provider.name, DEFAULT_POLL_DEADLINE_S)
        # Bytes as well as time: every body this poll reads counts against one budget (http.py).
        max_bytes = getattr(getattr(provider, "http", None), "max_poll_bytes", DEFAULT_MAX_POLL_BYTES)
        read = 0
        try:
            # Real time on purpose: a trickling provider must not hold a poll for ever,
            # whatever clock the exporter reads.
            scope = asyncio.timeout(deadline)
            try:
                async with scope, poll_budget(max_bytes) as budget:
                    try:
                        await stream.poll(ctx)
                    finally:
                        read = budget.used
            except TimeoutError:
                if not scope.expired():
                    raise
                raise ProviderError("deadline", f"{provider.name} {stream.name}: poll took longer "
                                    f"than its {deadline:g} s deadline") from None
            ctx.commit()
        except ProviderError as exc:
            reason, message = exc.reason, str(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a response shape we did not foresee: never kill the loop
            reason, message = "malformed", f"{exc.__class__.__name__}: {exc}"
            ctx.log.exception("poll failed unexpectedly")
        ctx.log_invalid_summary()
        seconds = time.perf_counter() - started
        health = self.health[provider.name]
        health.last_polled[stream.name] = self.clock.time()
        health.last_ok[stream.name] = reason is None
        outcome = "ok" if reason is None else "error"
        self.store.record("stackwatch.provider.poll.duration", seconds,
                          {"provider": provider.name, "stream": stream.name, "outcome": outcome})
        if reason is not None:
            self.store.add("stackwatch.provider.poll.errors", 1,
                           {"provider": provider.name, "stream": stream.name, "reason": reason})
            ctx.log.warning("poll failed; keeping the last good values", reason=reason, error=message)
        else:
            ctx.log.debug("poll ok", seconds=round(seconds, 3), bytes_read=read)
        return StreamOutcome(provider.name, stream.name, reason is None, seconds, reason, message, read)

    def _skip(self, provider: str, stream: Stream, missing: str) -> StreamOutcome:
        health = self.health[provider]
        health.last_polled[stream.name] = self.clock.time()
        health.last_ok[stream.name] = False
        self.store.add("stackwatch.provider.poll.errors", 1,
                       {"provider": provider, "stream": stream.name, "reason": "dependency"})
        message = f"not polled: {missing} has not succeeded yet"
        log.warning("poll skipped", provider=provider, stream=stream.name, reason="dependency", error=message)
        return StreamOutcome(provider, stream.name, False, 0.0, "dependency", message)

    def _update_health(self, provider: str, cycle_started: float) -> None:
        health = self.health[provider]
        up = all(health.last_ok.values())
        if up:
            health.last_success = cycle_started
            self.store.set_gauge("stackwatch.provider.last_success_timestamp", "collector",
                                 cycle_started, {"provider": provider})
        self.store.set_gauge("stackwatch.provider.up", "collector", 1.0 if up else 0.0, {"provider": provider})

    @property
    def unpriced_items(self) -> set[tuple[str, str]]:
        """(provider, item) pairs seen without a price."""
        return set(self._unpriced_seen)

    def is_up(self, provider: str) -> bool:
        return all(self.health[provider].last_ok.values()) if self.health[provider].last_ok else False

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self.providers), return_exceptions=True)
