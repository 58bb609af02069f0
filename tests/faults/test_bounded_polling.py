"""Fault tier, hostile providers: a poll is bounded in bytes (decompressed included), in
time (a deadline), in pages (repeated or endless cursors), in log lines (invalid items)
and in rate-limit waits (a reset in the year 5138). Each bound is a counted failure that
names its reason, and the provider recovers once the provider behaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from simhelpers import PROVIDERS, counter_value, make_runtime, running
from structlog.testing import capture_logs

from exporters.core.http import Clock, ProviderHTTP
from exporters.costs.ledger import CostLedger
from exporters.costs.prices import PriceBook
from exporters.poll.collector import INVALID_ITEMS_LOGGED, Collector, PollContext, Stream
from exporters.simulator import Simulator
from exporters.simulator.server import Fault

MiB = 1024 * 1024
# Generous on purpose: a hostile provider must be cut off by its bound, and the bound is
# what the test asserts, not how fast a loaded machine gets there.
HANG_GUARD_S = 120.0

# The path of each provider's first paginated listing (below the simulator's prefix).
PAGINATED = {
    "vercel": "/v10/projects",
    "render": "/services",
    "openai": "/organization/costs",
    "llamacloud": "/usage-metrics",
}


async def one_cycle(runtime):  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(runtime.collector.run_cycle(force=True), HANG_GUARD_S)


def config(**values: object) -> dict:
    return {"max_retries": 0, "timeout_seconds": 30.0, **values}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_oversized_body_fails_the_poll_as_too_large(provider: str, simulator: Simulator) -> None:
    overrides = {"providers": {provider: config(max_response_bytes=MiB)}}
    async with running(make_runtime(simulator, only=provider, overrides=overrides)) as (runtime, reader):
        simulator.inject(provider, Fault("oversized", size=4 * MiB, count=10_000))
        outcomes = await one_cycle(runtime)
        failed = [o for o in outcomes if not o.ok]
        assert failed and {o.reason for o in failed} <= {"too_large", "dependency"}
        assert any(o.reason == "too_large" for o in failed)
        assert counter_value(reader, "stackwatch.provider.poll.errors", provider=provider,
                             reason="too_large") == sum(o.reason == "too_large" for o in outcomes)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_gzip_bomb_is_cut_off_at_the_decompressed_cap(provider: str, simulator: Simulator) -> None:
    overrides = {"providers": {provider: config(max_response_bytes=MiB)}}
    async with running(make_runtime(simulator, only=provider, overrides=overrides)) as (runtime, reader):
        simulator.inject(provider, Fault("gzip_bomb", size=256 * MiB, count=10_000))
        outcomes = await one_cycle(runtime)
        assert any(o.reason == "too_large" for o in outcomes), outcomes
        assert {o.reason for o in outcomes if not o.ok} <= {"too_large", "dependency"}
        # Cut at the per-response cap (decompressed), or at the budget concurrent bodies share.
        assert all("decompressed" in (o.message or "") or "in flight" in (o.message or "")
                   for o in outcomes if o.reason == "too_large")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_trickling_provider_misses_the_poll_deadline(provider: str, simulator: Simulator) -> None:
    # The simulator sends one byte every 0.2 s; the read timeout (30 s) never fires. A 5 s
    # deadline: the trickle needs minutes, while a good poll (the recovery below, same
    # deadline) takes well under a second even on a loaded machine (1 s failed there).
    overrides = {"providers": {provider: config(poll_deadline_seconds=5.0)}}
    async with running(make_runtime(simulator, only=provider, overrides=overrides)) as (runtime, reader):
        simulator.inject(provider, Fault("trickle", count=10_000))
        outcomes = await one_cycle(runtime)
        assert any(o.reason == "deadline" for o in outcomes), outcomes
        assert {o.reason for o in outcomes if not o.ok} <= {"deadline", "dependency"}
        assert counter_value(reader, "stackwatch.provider.poll.errors", provider=provider,
                             reason="deadline") == sum(o.reason == "deadline" for o in outcomes)
        assert runtime.collector.is_up(provider) is False

        simulator.faults.clear()
        outcomes = await one_cycle(runtime)
        assert all(o.ok for o in outcomes), outcomes


@pytest.mark.parametrize("kind", ["endless", "repeat_cursor"])
@pytest.mark.parametrize("provider", sorted(PAGINATED))
async def test_endless_or_repeating_pagination_ends_with_a_counted_error(
        provider: str, kind: str, simulator: Simulator) -> None:
    max_pages = 5
    overrides = {"providers": {provider: config(max_pages_per_poll=max_pages)}}
    async with running(make_runtime(simulator, only=provider, overrides=overrides)) as (runtime, reader):
        simulator.inject(provider, Fault(kind, path_contains=PAGINATED[provider], count=10_000))
        before = sum(n for op, n in simulator.stats.by_operation.items() if PAGINATED[provider] in op)
        outcomes = await one_cycle(runtime)
        sent = sum(n for op, n in simulator.stats.by_operation.items() if PAGINATED[provider] in op) - before
        assert any(o.reason == "pagination" for o in outcomes), outcomes
        assert counter_value(reader, "stackwatch.provider.poll.errors", provider=provider, reason="pagination") >= 1
        # At most max_pages requests per listing; a repeated cursor stops at the second page.
        listings = sum(o.reason == "pagination" for o in outcomes)
        assert sent <= max_pages * listings * 2  # some providers read a listing per stream or per batch
        if kind == "repeat_cursor":
            assert all("repeats" in (o.message or "") for o in outcomes if o.reason == "pagination")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_rate_limit_reset_in_the_year_5138_locks_out_for_at_most_the_maximum_wait(
        provider: str, simulator: Simulator) -> None:
    simulator.world.frozen = True
    overrides = {"providers": {provider: config(max_rate_limit_wait_seconds=600.0)}}
    async with running(make_runtime(simulator, only=provider, overrides=overrides)) as (runtime, reader):
        headers = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "99999999999"}
        simulator.inject(provider, Fault("status", status=429, headers=headers, count=1))
        outcomes = await one_cycle(runtime)
        assert any(o.reason == "rate_limited" for o in outcomes), outcomes

        simulator.world.advance(300)  # still inside the clamped wait: no request is sent
        sent = simulator.stats.requests[provider]
        fresh_headers = any(o.ok for o in outcomes)  # a concurrent stream's answer replaced the 429's headers
        outcomes = await one_cycle(runtime)
        if not fresh_headers:
            assert not any(o.ok for o in outcomes)
            assert simulator.stats.requests[provider] == sent

        simulator.world.advance(301)  # past 600 s: the client probes, and the provider answers
        outcomes = await one_cycle(runtime)
        assert all(o.ok for o in outcomes), outcomes


class _FloodingProvider:
    """A provider whose one stream reports `count` invalid items in a single poll."""

    name = "flood"

    def __init__(self, count: int, store) -> None:  # type: ignore[no-untyped-def]
        self.count = count
        self.http = ProviderHTTP("flood", "http://127.0.0.1:9", "t", store=store)

    def stages(self) -> Sequence[Sequence[Stream]]:
        return [[Stream("items", self._poll)]]

    async def _poll(self, ctx: PollContext) -> None:
        for number in range(self.count):
            ctx.invalid_item(f"item {number} has no id")

    async def aclose(self) -> None:
        await self.http.aclose()


async def test_invalid_items_are_counted_exactly_and_logged_in_a_few_lines(simulator: Simulator) -> None:
    count = 20_000
    runtime, reader = make_runtime(simulator, only="supabase")
    async with running((runtime, reader)):
        flood = _FloodingProvider(count, runtime.store)
        collector = Collector([flood], store=runtime.store, ledger=CostLedger(), prices=PriceBook.load(),
                              clock=Clock(), intervals={"flood": (60.0, 900.0)})
        try:
            with capture_logs() as logs:
                outcomes = await collector.run_cycle(force=True)
        finally:
            await collector.aclose()
        assert all(o.ok for o in outcomes)
        assert counter_value(reader, "stackwatch.provider.invalid_items", provider="flood") == count
        lines = [e for e in logs if "invalid item" in e["event"]]
        assert len(lines) == INVALID_ITEMS_LOGGED + 1
        summary = lines[-1]
        assert summary["count"] == count and summary["not_logged_individually"] == count - INVALID_ITEMS_LOGGED


async def test_concurrent_large_bodies_share_one_in_flight_budget(simulator: Simulator) -> None:
    """Each body is under the per-response cap, but together they may hold at most the cap itself
    (what the hostile benchmark's RSS target allows: benchmarks/hostile.py)."""
    overrides = {"providers": {"render": config(max_response_bytes=3 * MiB, max_concurrency=8)}}
    async with running(make_runtime(simulator, only="render", overrides=overrides)) as (runtime, reader):
        http = runtime.collector.providers[0].http
        assert http.max_bytes_in_flight == 3 * MiB
        simulator.inject("render", Fault("oversized", size=2 * MiB + 512 * 1024, count=10_000))
        bodies = await asyncio.wait_for(asyncio.gather(
            *(http.get_json("/services", operation="list-services") for _ in range(8)), return_exceptions=True),
            HANG_GUARD_S)
        too_large = [b for b in bodies if getattr(b, "reason", None) == "too_large"]
        assert too_large and all("in flight" in str(b) for b in too_large)
        assert http._bytes_in_flight == 0  # every held byte was released
