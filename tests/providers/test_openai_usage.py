"""OpenAI usage: pagination, watermarks, deltas (no double counting), requests, bad rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from simhelpers import counter_value, make_runtime, metric_points, running

from exporters.providers.openai.exporter import USAGE_ENDPOINTS, Tokens, parse_usage_result
from exporters.simulator import Simulator, World
from exporters.simulator.openai.sim import COSTS_MAX_LIMIT, USAGE_MAX_LIMIT
from exporters.simulator.server import Fault
from exporters.simulator.world import Scale

FIXED_NOW = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)
HISTORY_DAYS = 40  # the exporter reads the world's whole history: 41 daily buckets


@pytest.fixture
def world() -> World:
    return World(seed=11, scale=Scale(history_days=HISTORY_DAYS), start=FIXED_NOW)


def whole_history(simulator: Simulator):  # type: ignore[no-untyped-def]
    return make_runtime(simulator, only="openai", overrides={"providers": {"openai": {"history_days": HISTORY_DAYS}}})


def sim_usage_total(simulator: Simulator, embeddings: bool) -> Tokens:
    """The simulator's own usage over its whole history, now."""
    sim = simulator.providers["openai"]
    total = Tokens()
    day = simulator.world.history_start().date()
    while day <= simulator.world.today():
        for u in sim.usage_on(day):
            if u.model.startswith("text-embedding") == embeddings:
                total = Tokens(total.input + u.input, total.cached + u.cached, total.output + u.output,
                               total.requests + u.requests)
        day += timedelta(days=1)
    return total


def token_sum(reader, operation: str, token_type: str) -> float:  # type: ignore[no-untyped-def]
    return sum(p.sum for p in metric_points(reader, "gen_ai.client.token.usage")
               if p.attributes["gen_ai.operation.name"] == operation and p.attributes["gen_ai.token.type"] == token_type)


def openai_requests(simulator: Simulator) -> list:  # type: ignore[no-untyped-def]
    return [e for e in simulator.stats.exchanges if e.provider == "openai"]


async def test_first_cycle_pages_with_next_page_and_makes_the_minimum_number_of_requests(
        simulator: Simulator) -> None:
    async with running(whole_history(simulator)) as (runtime, reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        exchanges = openai_requests(simulator)
        minimum = simulator.providers["openai"].minimum_requests()
        # 41 daily buckets: costs fit one page of 180; each usage listing needs ceil(41 / 31) = 2 pages.
        assert minimum == {"costs": 1, "usage": 4}
        assert len(exchanges) == sum(minimum.values())
        completions = [e for e in exchanges if e.path == "/organization/usage/completions"]
        assert len(completions) == 2
        assert "page" not in dict(completions[0].query) and dict(completions[1].query)["page"].startswith("page_")
        # Every bucket of both pages arrived: the token totals equal the simulator's whole history.
        chat = sim_usage_total(simulator, embeddings=False)
        assert token_sum(reader, "chat", "input") == chat.input
        assert token_sum(reader, "chat", "output") == chat.output
        assert counter_value(reader, "openai.usage.cached_input_tokens") == chat.cached
        assert counter_value(reader, "openai.usage.requests", operation="chat") == chat.requests
        assert token_sum(reader, "embeddings", "input") == sim_usage_total(simulator, embeddings=True).input


async def test_requests_send_the_documented_parameters(simulator: Simulator) -> None:
    async with running(whole_history(simulator)) as (runtime, _reader):
        await runtime.collector.run_cycle(force=True)
        by_path = {e.path: e.query for e in openai_requests(simulator)}
        costs = by_path["/organization/costs"]
        assert ("bucket_width", "1d") in costs and ("limit", str(COSTS_MAX_LIMIT)) in costs
        # group_by is a form-exploded array: one group_by=… per value.
        assert [v for k, v in costs if k == "group_by"] == ["project_id", "line_item"]
        start = datetime.fromtimestamp(int(dict(costs)["start_time"]), tz=timezone.utc)
        assert start == datetime(2026, 10, 9, tzinfo=timezone.utc)  # UTC midnight, 40 days before Nov 18
        completions = by_path["/organization/usage/completions"]
        assert [v for k, v in completions if k == "group_by"] == ["model", "project_id", "batch"]
        assert ("limit", str(USAGE_MAX_LIMIT)) in completions
        assert [v for k, v in by_path["/organization/usage/embeddings"] if k == "group_by"] == ["model", "project_id"]


async def test_a_second_cycle_reads_only_today_and_counts_only_the_new_usage(simulator: Simulator) -> None:
    async with running(whole_history(simulator)) as (runtime, reader):
        await runtime.collector.run_cycle(force=True)
        before_in, before_out = token_sum(reader, "chat", "input"), token_sum(reader, "chat", "output")
        before_requests = counter_value(reader, "openai.usage.requests")
        simulator.stats.exchanges.clear()
        simulator.world.advance(600)  # ten minutes of new usage (the slow costs stream is not due)
        await runtime.collector.run_cycle()
        second = openai_requests(simulator)
        assert sorted(e.path for e in second) == ["/organization/usage/completions", "/organization/usage/embeddings"]
        midnight = int(datetime(2026, 11, 18, tzinfo=timezone.utc).timestamp())
        assert all(dict(e.query)["start_time"] == str(midnight) for e in second)
        chat = sim_usage_total(simulator, embeddings=False)
        grown_in = token_sum(reader, "chat", "input") - before_in
        assert grown_in > 0
        assert token_sum(reader, "chat", "input") == chat.input  # history once + today's growth, no double count
        assert token_sum(reader, "chat", "output") == chat.output and token_sum(reader, "chat", "output") > before_out
        assert counter_value(reader, "openai.usage.requests", operation="chat") == chat.requests
        assert counter_value(reader, "openai.usage.requests") > before_requests


async def test_a_failed_usage_poll_counts_nothing_and_the_retry_counts_everything_once(
        simulator: Simulator) -> None:
    async with running(whole_history(simulator)) as (runtime, reader):
        # The embeddings listing fails (after completions succeeded): the whole poll is rolled back.
        simulator.inject("openai", Fault("status", status=500, count=100, path_contains="/usage/embeddings"))
        outcomes = await runtime.collector.run_cycle(force=True)
        usage = next(o for o in outcomes if o.stream == "usage")
        assert not usage.ok and usage.reason == "server_error"
        assert token_sum(reader, "chat", "input") == 0
        assert simulator.world.today() not in {r.day for r in runtime.ledger.records() if r.source == "estimated"}
        simulator.faults.clear()
        simulator.world.advance(60)
        await runtime.collector.run_cycle()
        assert token_sum(reader, "chat", "input") == sim_usage_total(simulator, embeddings=False).input


async def test_rate_limited_requests_are_retried_after_retry_after(simulator: Simulator) -> None:
    sim = simulator.providers["openai"]
    assert sim.rate_limit_headers(100, 0, 1.2)["Retry-After"] == "2"
    assert sim.rate_limit_headers(100, 40, 1.2)["x-ratelimit-reset-requests"] == "2s"
    simulator.world.set_scenario("rate-limited", "openai")
    async with running(whole_history(simulator)) as (runtime, reader):
        outcomes = await runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), outcomes
        assert counter_value(reader, "stackwatch.provider.api.requests", provider="openai", status_code="429") > 0


def test_a_usage_row_missing_required_fields_is_reported_not_counted() -> None:
    completions = USAGE_ENDPOINTS[0]
    day = date(2026, 11, 18)
    good = {"object": "organization.usage.completions.result", "input_tokens": 10, "output_tokens": 2,
            "num_model_requests": 1, "model": "gpt-4o", "project_id": "proj_a", "batch": False}
    key, tokens = parse_usage_result(good, completions, day)  # type: ignore[misc]
    assert tokens == Tokens(10, 0, 2, 1) and key.model == "gpt-4o"
    assert parse_usage_result({**good, "input_tokens": "10"}, completions, day) == \
        "input_tokens is not a non-negative integer"
    no_project = parse_usage_result({**good, "project_id": None}, completions, day)
    assert not isinstance(no_project, str) and no_project[0].project == "(no project)"  # kept, not dropped
    assert parse_usage_result({**good, "project_id": 42}, completions, day) == \
        "result with a project_id that is not a string"
    assert parse_usage_result({**good, "batch": "yes"}, completions, day) == "batch is not a boolean"
