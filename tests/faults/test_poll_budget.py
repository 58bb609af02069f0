"""Fault tier, hostile providers: a poll is bounded in bytes across its pages, not only per
response. A provider that pages for ever (a fresh cursor every time, the simulator's
`endless` mode) is stopped once the poll's responses pass `max_poll_bytes` together, with a
counted `too_large` failure, long before `max_pages_per_poll` or the poll deadline.
"""

from __future__ import annotations

import asyncio

import pytest
from simhelpers import counter_value, make_runtime, running

from exporters.core.http import PollBudget, ProviderError, all_or_none, poll_budget
from exporters.simulator import Simulator
from exporters.simulator.server import Fault

KiB = 1024
HANG_GUARD_S = 120.0

# The path of each provider's first paginated listing (below the simulator's prefix).
PAGINATED = {
    "vercel": "/v10/projects",
    "render": "/services",
    "openai": "/organization/costs",
    "llamacloud": "/usage-metrics",
}


@pytest.mark.parametrize("provider", sorted(PAGINATED))
async def test_an_endless_listing_stops_at_the_poll_byte_budget_with_a_counted_failure(
        provider: str, simulator: Simulator) -> None:
    budget = 1024 * KiB  # several pages of every provider (a LlamaCloud page alone passes 64 KiB)
    # Pages and time are left almost unbounded, so only the byte budget can end the listing.
    overrides = {"providers": {provider: {"max_retries": 0, "timeout_seconds": 30.0, "max_poll_bytes": budget,
                                          "max_pages_per_poll": 100_000, "poll_deadline_seconds": 600.0}}}
    async with running(make_runtime(simulator, only=provider, overrides=overrides)) as (runtime, reader):
        simulator.inject(provider, Fault("endless", path_contains=PAGINATED[provider], count=1_000_000))
        before = sum(n for op, n in simulator.stats.by_operation.items() if PAGINATED[provider] in op)
        outcomes = await asyncio.wait_for(runtime.collector.run_cycle(force=True), HANG_GUARD_S)
        sent = sum(n for op, n in simulator.stats.by_operation.items() if PAGINATED[provider] in op) - before

        stopped = [o for o in outcomes if o.reason == "too_large" and "max_poll_bytes" in (o.message or "")]
        assert stopped, outcomes
        assert counter_value(reader, "stackwatch.provider.poll.errors", provider=provider,
                             reason="too_large") == sum(o.reason == "too_large" for o in outcomes)
        for outcome in stopped:
            # Stopped by the response that passed the budget: read more than it, by less than one response.
            assert budget < outcome.bytes_read <= budget + runtime.config.providers.enabled()[provider].max_response_bytes
        # Every page is at least 1 byte, so the budget allows at most `budget` requests; in practice
        # pages are hundreds of bytes and more: far fewer. An endless listing without it sends 100,000.
        assert 1 < sent < budget // 100, sent
        assert runtime.collector.is_up(provider) is False

        simulator.faults.clear()
        outcomes = await asyncio.wait_for(runtime.collector.run_cycle(force=True), HANG_GUARD_S)
        assert all(o.ok for o in outcomes), outcomes


async def test_the_budget_is_shared_by_every_request_of_one_poll_and_not_by_other_polls() -> None:
    async def poll(reads: list[int]) -> int:
        async with poll_budget(1000) as budget:
            from exporters.core.http import _POLL_BUDGET  # the budget the client charges
            for size in reads:
                current = _POLL_BUDGET.get()
                assert current is budget
                current.charge("test listing", size)
            return budget.used

    # Two concurrent polls of 600 bytes each: neither passes its own 1000.
    assert await asyncio.gather(poll([300, 300]), poll([600])) == [600, 600]
    # One poll of 400 + 400 + 400 passes it on the third response.
    with pytest.raises(ProviderError) as raised:
        await poll([400, 400, 400])
    assert raised.value.reason == "too_large"
    assert "3 responses passed 1000 bytes" in str(raised.value)


def test_a_budget_counts_responses_and_bytes() -> None:
    budget = PollBudget(10)
    budget.charge("x", 4)
    budget.charge("x", 6)
    assert (budget.used, budget.responses) == (10, 2)
    with pytest.raises(ProviderError):
        budget.charge("x", 1)


async def test_a_failed_request_of_a_poll_cancels_its_other_requests() -> None:
    # Concurrent requests of one poll (Render's deploys of every service): once one fails the
    # poll has failed, and the others must stop reading, not run on holding their bodies.
    still_reading = asyncio.Event()
    finished: list[str] = []

    async def slow_body() -> str:
        still_reading.set()
        await asyncio.sleep(HANG_GUARD_S)
        finished.append("slow")
        return "slow"

    async def failing() -> str:
        await still_reading.wait()
        raise ProviderError("too_large", "render list-deploys: 8 MiB passed")

    slow = asyncio.ensure_future(slow_body())
    with pytest.raises(ProviderError):
        await all_or_none(slow, failing())
    assert slow.cancelled() and finished == []
    assert await all_or_none(asyncio.sleep(0, "a"), asyncio.sleep(0, "b")) == ["a", "b"]
