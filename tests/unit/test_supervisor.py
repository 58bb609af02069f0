"""The loop supervisor: a dead or hung poll loop is restarted with back-off, and
freshness (the age of the last successful cycle) is told truthfully, in
/healthz and as a metric, even while the loop is dead. Time is injected: a
fake monotonic clock drives back-off and hang decisions, a fake wall clock the
success ages; the tests step the supervisor with `check()`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from opentelemetry.sdk.metrics import MeterProvider

from exporters.core.metrics import MetricStore
from exporters.core.telemetry import in_memory_reader
from exporters.costs.ledger import CostLedger
from exporters.costs.prices import PriceBook
from exporters.poll.collector import Collector, PollContext, Stream
from exporters.poll.supervisor import HUNG_AFTER_MIN_S, STALE_AFTER_INTERVALS, Supervisor
from exporters.providers.registry import all_metrics

INTERVAL = 60.0


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0

    def time(self) -> float:  # the collector's wall clock
        return 1_800_000_000.0 + self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, _seconds: float) -> None:
        await asyncio.sleep(0)


class ScriptedProvider:
    """A provider whose one stream runs `behaviour` on each poll."""

    def __init__(self, name: str, behaviour: Callable[[int], object]):
        self.name = name
        self.http = None
        self.polls = 0
        self._behaviour = behaviour

    def stages(self) -> Sequence[Sequence[Stream]]:
        async def poll(_ctx: PollContext) -> None:
            self.polls += 1
            result = self._behaviour(self.polls)
            if asyncio.iscoroutine(result):
                await result
        return [[Stream("main", poll)]]

    async def aclose(self) -> None:
        pass


def build(*providers: ScriptedProvider) -> tuple[Supervisor, Collector, FakeTime, object]:
    clock = FakeTime()
    reader = in_memory_reader()
    store = MetricStore(MeterProvider(metric_readers=[reader]).get_meter("t"), all_metrics())
    collector = Collector(list(providers), store=store, ledger=CostLedger(), prices=PriceBook.load(),
                          clock=clock, intervals={p.name: (INTERVAL, 900.0) for p in providers})  # type: ignore[arg-type]
    supervisor = Supervisor(collector, {p.name: INTERVAL for p in providers}, tick_s=3600,
                            monotonic=clock.monotonic, sleep=clock.sleep)
    return supervisor, collector, clock, reader


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def points(reader, name: str) -> dict[tuple, float]:  # type: ignore[no-untyped-def]
    data = reader.get_metrics_data()
    found = {}
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    for p in metric.data.data_points:
                        found[tuple(sorted(p.attributes.items()))] = p.value
    return found


def restarts(reader) -> dict[tuple, float]:  # type: ignore[no-untyped-def]
    """Restart counts that are not 0 (every provider and reason starts at 0)."""
    return {k: v for k, v in points(reader, "stackwatch.provider.loop.restarts").items() if v}


async def test_restart_counters_exist_from_the_start_at_zero() -> None:
    supervisor, _collector, _clock, reader = build(ScriptedProvider("vercel", lambda n: None))
    stop = asyncio.Event()
    supervisor.start(stop)
    assert points(reader, "stackwatch.provider.loop.restarts") == {
        (("provider", "vercel"), ("reason", "died")): 0, (("provider", "vercel"), ("reason", "hung")): 0}
    stop.set()
    await supervisor.stop_loops(timeout_s=5)


async def test_a_loop_killed_by_an_escaping_cancelled_error_is_restarted_after_backoff() -> None:
    def first_poll_escapes(n: int) -> object:
        if n == 1:
            raise asyncio.CancelledError()  # a library that swallowed our cancel and raised its own
        return None

    flaky = ScriptedProvider("vercel", first_poll_escapes)
    steady = ScriptedProvider("render", lambda n: None)
    supervisor, _collector, clock, reader = build(flaky, steady)
    stop = asyncio.Event()
    supervisor.start(stop)
    await settle()
    supervisor.check()
    assert supervisor.loops["vercel"].task is None  # noticed dead, waiting for its back-off
    assert supervisor.loops["render"].task is not None and steady.polls == 1  # the other is untouched
    assert "CancelledError" in (supervisor.loops["vercel"].last_error or "")
    clock.now += 0.5  # back-off is 1 s: not yet
    supervisor.check()
    await settle()
    assert flaky.polls == 1
    clock.now += 0.6
    supervisor.check()
    await settle()
    assert flaky.polls == 2 and supervisor.loops["vercel"].task is not None
    assert restarts(reader) == {
        (("provider", "vercel"), ("reason", "died")): 1}
    stop.set()
    await supervisor.stop_loops(timeout_s=5)


async def test_back_off_doubles_while_the_loop_keeps_dying_and_is_capped() -> None:
    def always_crashes(_n: int) -> object:
        raise SystemError("bug outside the poll's own error handling")

    provider = ScriptedProvider("openai", always_crashes)
    supervisor, collector, clock, _reader = build(provider)
    # The collector catches Exception from a poll; make the loop itself die instead.
    async def dying(_provider, force):  # type: ignore[no-untyped-def]
        raise SystemError("loop crashed")
    collector.run_provider = dying  # type: ignore[method-assign]
    stop = asyncio.Event()
    supervisor.start(stop)
    waits = []
    for _ in range(9):
        await settle()
        supervisor.check()
        state = supervisor.loops["openai"]
        assert state.task is None and state.restart_at is not None
        waits.append(state.restart_at - clock.now)
        clock.now = state.restart_at
        supervisor.check()  # restarts it; it dies again
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert "SystemError: loop crashed" in (supervisor.loops["openai"].last_error or "")
    stop.set()
    await supervisor.stop_loops(timeout_s=5)


async def test_a_hung_cycle_is_cancelled_and_restarted() -> None:
    never = asyncio.Event()

    def first_poll_hangs(n: int) -> object:
        return never.wait() if n == 1 else None

    provider = ScriptedProvider("supabase", first_poll_hangs)
    supervisor, _collector, clock, reader = build(provider)
    stop = asyncio.Event()
    supervisor.start(stop)
    await settle()
    hung_after = max(10 * INTERVAL, HUNG_AFTER_MIN_S)
    clock.now += hung_after - 1
    supervisor.check()
    assert supervisor.loops["supabase"].task is not None and provider.polls == 1
    assert [f.loop for f in supervisor.freshness()] == ["running"]
    clock.now += 2
    assert [f.loop for f in supervisor.freshness()] == ["hung"]
    supervisor.check()  # cancels it, restart after 1 s
    assert [f.loop for f in supervisor.freshness()] == ["restarting"]
    clock.now += 1
    supervisor.check()
    await settle()
    assert provider.polls == 2 and [f.loop for f in supervisor.freshness()] == ["running"]
    assert restarts(reader) == {
        (("provider", "supabase"), ("reason", "hung")): 1}
    stop.set()
    await supervisor.stop_loops(timeout_s=5)


async def test_last_success_age_grows_and_turns_stale_after_three_intervals_even_with_a_dead_loop() -> None:
    from exporters.core.http import ProviderError

    def ok_then_fails(n: int) -> object:
        if n > 1:
            raise ProviderError("server_error", "HTTP 503")
        return None

    provider = ScriptedProvider("llamacloud", ok_then_fails)
    supervisor, collector, clock, reader = build(provider)
    stop = asyncio.Event()
    supervisor.start(stop)
    await settle()
    assert collector.health["llamacloud"].last_success == clock.time()
    supervisor.check()
    assert points(reader, "stackwatch.provider.last_success_age") == {(("provider", "llamacloud"),): 0.0}
    # The loop dies for good (say, a bug); nobody polls any more, but the age keeps growing.
    supervisor.loops["llamacloud"].task.cancel()  # type: ignore[union-attr]
    await settle()
    clock.now += STALE_AFTER_INTERVALS * INTERVAL
    supervisor.check()
    fresh = supervisor.freshness()[0]
    assert fresh.last_success_age_s == STALE_AFTER_INTERVALS * INTERVAL and not fresh.stale
    clock.now += 1
    supervisor.check()
    assert supervisor.freshness()[0].stale
    assert points(reader, "stackwatch.provider.last_success_age") == {
        (("provider", "llamacloud"),): STALE_AFTER_INTERVALS * INTERVAL + 1}
    stop.set()
    await supervisor.stop_loops(timeout_s=5)


async def test_a_provider_that_never_succeeded_is_stale_three_intervals_after_start() -> None:
    from exporters.core.http import ProviderError

    def fails(_n: int) -> object:
        raise ProviderError("auth", "HTTP 401")

    supervisor, _collector, clock, _reader = build(ScriptedProvider("render", fails))
    stop = asyncio.Event()
    supervisor.start(stop)
    await settle()
    assert not supervisor.freshness()[0].stale
    clock.now += STALE_AFTER_INTERVALS * INTERVAL + 1
    fresh = supervisor.freshness()[0]
    assert fresh.stale and fresh.loop_ok and fresh.last_success is None
    stop.set()
    await supervisor.stop_loops(timeout_s=5)


async def test_healthz_is_503_naming_a_dead_loop_but_200_degraded_for_a_provider_outage() -> None:
    from types import SimpleNamespace

    from exporters.core.http import ProviderError
    from exporters.service.service import health_body

    def fails(_n: int) -> object:
        raise ProviderError("server_error", "HTTP 503")

    outage = ScriptedProvider("render", fails)
    fine = ScriptedProvider("vercel", lambda n: None)
    supervisor, collector, clock, _reader = build(outage, fine)
    runtime = SimpleNamespace(collector=collector)
    stop = asyncio.Event()
    supervisor.start(stop)
    await settle()
    status, body = health_body(runtime, supervisor)  # type: ignore[arg-type]
    assert (status, body["status"], body["stale"]) == (200, "ok", [])

    clock.now += STALE_AFTER_INTERVALS * INTERVAL + 1  # render has never succeeded; vercel's success is old too
    collector.health["vercel"].last_success = clock.time() - 5
    status, body = health_body(runtime, supervisor)  # type: ignore[arg-type]
    assert (status, body["status"], body["stale"]) == (200, "degraded", ["render"])
    assert body["providers"]["render"]["healthy"] is False and body["providers"]["vercel"]["healthy"] is True
    assert body["providers"]["vercel"]["last_success_age_seconds"] == 5

    supervisor.loops["vercel"].task.cancel()  # type: ignore[union-attr]
    await settle()
    supervisor.check()
    status, body = health_body(runtime, supervisor)  # type: ignore[arg-type]
    assert (status, body["status"], body["loops_not_running"]) == (503, "unhealthy", ["vercel"])
    assert body["providers"]["vercel"]["loop"] == "restarting"
    stop.set()
    await supervisor.stop_loops(timeout_s=5)


def test_the_otlp_exporter_times_out_well_inside_the_shutdown_budget_unless_the_environment_says() -> None:
    from exporters.core.telemetry import DEFAULT_EXPORT_TIMEOUT_S, otlp_exporter
    from exporters.service.service import SHUTDOWN_BUDGET_S

    assert DEFAULT_EXPORT_TIMEOUT_S < SHUTDOWN_BUDGET_S
    for protocol in ("grpc", "http/protobuf"):
        exporter = otlp_exporter({"OTEL_EXPORTER_OTLP_PROTOCOL": protocol})
        client = getattr(exporter, "_client", None)
        timeout = getattr(exporter, "_timeout", None) or getattr(client, "_timeout", None)
        assert timeout == DEFAULT_EXPORT_TIMEOUT_S, protocol
        exporter.shutdown()
