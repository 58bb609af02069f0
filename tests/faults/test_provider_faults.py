"""Fault tier, for every provider: 401, 403, 429 in each header form, 500, a
timeout, malformed JSON and a truncated page. The exporter keeps running,
counts the error, keeps the last good values (never 0 cost), and recovers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
from simhelpers import PROVIDERS, close, counter_value, make_runtime, metric_points, running

from exporters.core.catalogue import Kind
from exporters.providers.registry import all_metrics
from exporters.simulator import Simulator
from exporters.simulator.server import Fault

# One attempt per request, so an injected fault fails the poll at once; the default 10 s
# timeout, so a good request never times out however loaded the machine is.
ONE_ATTEMPT = {"max_retries": 0}
# The timeout fault hangs each request for FLAKY_TIMEOUT_SLEEP_S (15 s): a 3 s client timeout
# fires well before the answer, and still leaves good requests (milliseconds each against the
# in-process simulator) a margin of hundreds under CPU load. The test asserts what the
# exporter did, never how long anything took.
TIMEOUT_FAULT = {"timeout_seconds": 3.0, "max_retries": 0}


def provider_gauges(runtime, provider: str) -> dict:  # type: ignore[no-untyped-def]
    """Every gauge point that belongs to the provider (its own metrics and its cost series)."""
    snapshot = {}
    for spec in all_metrics():
        if spec.kind is not Kind.GAUGE or spec.name.startswith(("stackwatch.provider.", "stackwatch.budget.",
                                                                 "stackwatch.threshold.")):
            continue
        for attrs, value in runtime.store.gauge_points(spec.name).items():
            if spec.name.startswith(provider + ".") or ("provider", provider) in attrs:
                snapshot[(spec.name, attrs)] = value
    return snapshot


def up(runtime, provider: str) -> float:  # type: ignore[no-untyped-def]
    return runtime.store.gauge_points("stackwatch.provider.up")[(("provider", provider),)]


async def first_good_cycle(simulator: Simulator, provider: str, overrides: dict | None = None):  # type: ignore[no-untyped-def]
    runtime, reader = make_runtime(simulator, only=provider,
                                   overrides={"providers": {provider: overrides or ONE_ATTEMPT}})
    outcomes = await runtime.collector.run_cycle(force=True)
    assert all(o.ok for o in outcomes), outcomes
    assert up(runtime, provider) == 1.0
    return runtime, reader


FAULTS = {
    "unauthorized": (Fault("status", status=401, count=10_000), "auth"),
    "forbidden": (Fault("status", status=403, count=10_000), "auth"),
    "server_error": (Fault("status", status=500, count=10_000), "server_error"),
    "timeout": (Fault("timeout", count=10_000), "timeout"),
    "malformed_json": (Fault("malformed", count=10_000), "malformed"),
    "truncated_page": (Fault("truncated", count=10_000), "malformed"),
    "rate_limited_too_long": (Fault("status", status=429, headers={"Retry-After": "3600"}, count=10_000),
                              "rate_limited"),
}


@pytest.mark.parametrize("fault_name", sorted(FAULTS))
@pytest.mark.parametrize("provider", PROVIDERS)
# An unhealthy Supabase project is health-checked every cycle (a healthy one only every slow
# interval), so every Supabase stream asks the API, and fails, under the fault.
@pytest.mark.incidents("supabase-down")
async def test_failed_poll_is_counted_keeps_last_values_and_recovers(
        provider: str, fault_name: str, simulator: Simulator) -> None:
    fault, reason = FAULTS[fault_name]
    runtime, reader = await first_good_cycle(simulator, provider,
                                             TIMEOUT_FAULT if fault.kind == "timeout" else ONE_ATTEMPT)
    try:
        # A minute passes: every stream then has something to ask the API for (Supabase's auth logs
        # read whole minutes since the last poll, and make no request within the same minute).
        simulator.world.advance(60)
        before = provider_gauges(runtime, provider)
        mtd_before = runtime.ledger.summary(simulator.world.now()).month_to_date_by_provider.get(provider)
        assert before, "the first cycle produced no gauges to keep"
        assert mtd_before, "the first cycle produced no cost"

        simulator.inject(provider, Fault(**vars(fault)))
        outcomes = await runtime.collector.run_cycle(force=True)
        assert outcomes and not any(o.ok for o in outcomes)
        assert {o.reason for o in outcomes} == {reason}
        assert up(runtime, provider) == 0.0
        assert counter_value(reader, "stackwatch.provider.poll.errors", provider=provider, reason=reason) == len(outcomes)
        assert provider_gauges(runtime, provider) == before  # last good values, nothing dropped to 0
        mtd_during = runtime.ledger.summary(simulator.world.now()).month_to_date_by_provider.get(provider)
        assert mtd_during == pytest.approx(mtd_before)

        simulator.faults.clear()
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        assert up(runtime, provider) == 1.0
    finally:
        await close(runtime)


def _retry_after_date(simulator: Simulator, seconds: int) -> str:
    moment = datetime.fromtimestamp(simulator.world.now_ts() + seconds, tz=timezone.utc)
    return format_datetime(moment, usegmt=True)


HEADER_FORMS = {
    "retry_after_seconds": lambda sim: {"Retry-After": "7"},
    "retry_after_http_date": lambda sim: {"Retry-After": _retry_after_date(sim, 8)},
    "x_ratelimit_reset_epoch": lambda sim: {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                                            "X-RateLimit-Reset": str(int(sim.world.now_ts()) + 9)},
    "render_reset_seconds_remaining": lambda sim: {"Ratelimit-Limit": "400", "Ratelimit-Remaining": "0",
                                                   "Ratelimit-Reset": "6"},
    "render_reset_epoch": lambda sim: {"Ratelimit-Limit": "400", "Ratelimit-Remaining": "0",
                                       "Ratelimit-Reset": str(int(sim.world.now_ts()) + 7)},
}


@pytest.mark.parametrize("form", sorted(HEADER_FORMS))
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_429_waits_as_the_headers_say_then_succeeds(provider: str, form: str, simulator: Simulator) -> None:
    runtime, reader = await first_good_cycle(simulator, provider, {"max_retries": 2})
    try:
        headers = HEADER_FORMS[form](simulator)
        simulator.inject(provider, Fault("status", status=429, headers=headers, count=1))
        started = simulator.world.now_ts()
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        # The test clock advances simulated time instead of sleeping: the wait the exporter chose.
        waited = simulator.world.now_ts() - started
        assert waited >= 4.5, f"retried after {waited:.2f} s, before the provider's reset"
        assert counter_value(reader, "stackwatch.provider.api.requests", provider=provider, status_code="429") == 1
        assert up(runtime, provider) == 1.0
    finally:
        await close(runtime)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_transient_server_error_is_retried_within_the_same_poll(provider: str, simulator: Simulator) -> None:
    runtime, reader = await first_good_cycle(simulator, provider, {"max_retries": 3})
    try:
        simulator.inject(provider, Fault("status", status=503, count=2))
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        assert counter_value(reader, "stackwatch.provider.api.requests", provider=provider, status_code="503") == 2
        assert counter_value(reader, "stackwatch.provider.poll.errors", provider=provider) == 0
    finally:
        await close(runtime)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_every_request_is_timed_by_operation_failures_included(provider: str, simulator: Simulator) -> None:
    """The request-duration histogram holds one observation per request sent, per operation, answered or
    not: the count of each operation's observations equals its requests counted by status."""
    runtime, reader = await first_good_cycle(simulator, provider, {"max_retries": 3})
    try:
        simulator.inject(provider, Fault("status", status=503, count=2))
        await runtime.collector.run_cycle(force=True)
        requests: dict[str, float] = {}
        for point in metric_points(reader, "stackwatch.provider.api.requests"):
            if point.attributes["provider"] == provider:
                operation = point.attributes["operation"]
                requests[operation] = requests.get(operation, 0) + point.value
        timed = {p.attributes["operation"]: p.count for p in metric_points(
            reader, "stackwatch.provider.api.request.duration") if p.attributes["provider"] == provider}
        assert requests and timed == requests
        assert all(p.sum > 0 for p in metric_points(reader, "stackwatch.provider.api.request.duration")
                   if p.attributes["provider"] == provider)
    finally:
        await close(runtime)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_truncated_later_page_loses_nothing_and_double_counts_nothing(
        provider: str, simulator: Simulator) -> None:
    """Page 1 arrives, page 2 is cut off: nothing of the failed poll is applied, and the
    retry on the next cycle counts every item exactly once."""
    # Both runtimes must see the same "now": a first poll reads a window that ends now.
    simulator.world.frozen = True
    async with running(make_runtime(simulator, only=provider, overrides={"providers": {provider: ONE_ATTEMPT}})) as (runtime, reader):
        simulator.inject(provider, Fault("truncated", count=1, after=1))
        first = await runtime.collector.run_cycle(force=True)
        assert any(not o.ok for o in first)
        await runtime.collector.run_cycle(force=True)  # recovers

        clean_runtime, clean_reader = make_runtime(simulator, only=provider)
        try:
            await clean_runtime.collector.run_cycle(force=True)
            for spec in all_metrics():
                if spec.kind is Kind.COUNTER and spec.name.startswith(provider + "."):
                    assert counter_value(reader, spec.name) == pytest.approx(counter_value(clean_reader, spec.name)), spec.name
            now = simulator.world.now()
            assert runtime.ledger.summary(now).month_to_date_by_provider == pytest.approx(
                clean_runtime.ledger.summary(now).month_to_date_by_provider)
        finally:
            await close(clean_runtime)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_one_invalid_item_is_counted_and_skipped_while_the_rest_counts(
        provider: str, simulator: Simulator) -> None:
    async with running(make_runtime(simulator, only=provider)) as (runtime, reader):
        simulator.inject(provider, Fault("invalid_item", count=1))
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        assert counter_value(reader, "stackwatch.provider.invalid_items", provider=provider) == 1
        assert up(runtime, provider) == 1.0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_outage_from_the_start_reports_no_cost_rather_than_a_partial_one(
        provider: str, simulator: Simulator) -> None:
    """With the first list call failing, later stages are not polled on empty state (which
    would report, say, a plan fee without the compute it pays for): the cost is absent."""
    async with running(make_runtime(simulator, only=provider, overrides={"providers": {provider: ONE_ATTEMPT}})) as (runtime, reader):
        simulator.world.set_scenario("outage", provider)
        outcomes = await runtime.collector.run_cycle(force=True)
        assert outcomes and not any(o.ok for o in outcomes)
        assert up(runtime, provider) == 0.0
        summary = runtime.ledger.summary(simulator.world.now())
        assert provider not in summary.forecast_by_provider
        assert provider not in summary.month_to_date_by_provider
        assert not [a for a in runtime.store.gauge_points("stackwatch.cost.month_to_date_usd") if ("provider", provider) in a]
        skipped = [o for o in outcomes if o.reason == "dependency"]
        assert counter_value(reader, "stackwatch.provider.poll.errors", provider=provider, reason="dependency") == len(skipped)

        simulator.world.set_scenario("steady")
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        assert runtime.ledger.summary(simulator.world.now()).month_to_date_by_provider[provider] > 0
