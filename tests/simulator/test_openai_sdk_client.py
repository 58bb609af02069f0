"""OpenAI's official Python SDK, unchanged, reads costs, usage, projects and keys from the simulator.

The SDK (`openai`, `client.admin.organization.*`) encodes arrays as bracket keys
(`group_by[]=model`), which is how third-party usage exporters built on it call OpenAI;
the simulator once ignored that form and such clients saw nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import openai
import pytest

from exporters.simulator import Simulator


@pytest.fixture
async def sdk(simulator: Simulator) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(api_key="sk-unused", admin_api_key=simulator.tokens["openai"],
                                  base_url=simulator.base_url + "/openai/v1", max_retries=0) as client:
        yield client


def day_start(simulator: Simulator, days_back: int) -> int:
    now = simulator.world.now()
    return int((now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_back)).timestamp())


async def test_sdk_completions_usage_grouped_by_model_matches_the_simulated_world(
        simulator: Simulator, sdk: openai.AsyncOpenAI) -> None:
    sim = simulator.providers["openai"]
    project = sim.projects[0]
    page = await sdk.admin.organization.usage.completions(
        start_time=day_start(simulator, 2), bucket_width="1d", group_by=["model", "project_id"],
        project_ids=[project])
    results = [r for bucket in page.data for r in bucket.results]
    assert results and {r.project_id for r in results} == {project}
    by_model: dict[str, int] = {}
    for r in results:
        by_model[r.model] = by_model.get(r.model, 0) + r.input_tokens
    expected: dict[str, int] = {}
    for days_back in (2, 1, 0):
        for u in sim.usage_on(simulator.world.today() - timedelta(days=days_back)):
            if u.project == project and not u.model.startswith("text-embedding"):
                expected[u.model] = expected.get(u.model, 0) + u.input
    assert by_model == expected
    # The SDK really sent the bracket form (so this test covers it).
    sent = [e.query for e in simulator.stats.exchanges if e.path == "/organization/usage/completions"]
    assert ("group_by[]", "model") in sent[-1] and ("project_ids[]", project) in sent[-1]


async def test_sdk_costs_by_line_item_add_up_to_the_simulated_bill(
        simulator: Simulator, sdk: openai.AsyncOpenAI) -> None:
    sim = simulator.providers["openai"]
    yesterday = simulator.world.today() - timedelta(days=1)
    page = await sdk.admin.organization.usage.costs(
        start_time=day_start(simulator, 1), end_time=day_start(simulator, 0), group_by=["project_id", "line_item"])
    assert len(page.data) == 1
    results = page.data[0].results
    assert results and all(r.line_item for r in results) and any(r.project_id for r in results)
    billed = sum(usd for _p, _item, usd, _t in sim.costs_on(yesterday))
    assert sum(float(r.amount.value) for r in results) == pytest.approx(billed)


async def test_sdk_hourly_usage_and_every_usage_endpoint_parse(simulator: Simulator, sdk: openai.AsyncOpenAI) -> None:
    usage = sdk.admin.organization.usage
    hourly = await usage.completions(start_time=day_start(simulator, 0), bucket_width="1h")
    assert len(hourly.data) == simulator.world.now().hour + 1  # today's hours so far, the current one included
    start = day_start(simulator, 1)
    for call in (usage.embeddings, usage.moderations, usage.images, usage.audio_speeches,
                 usage.audio_transcriptions, usage.vector_stores, usage.code_interpreter_sessions,
                 usage.file_search_calls, usage.web_search_calls):
        page = await call(start_time=start, group_by=["project_id"])
        assert any(bucket.results for bucket in page.data), call.__name__


async def test_sdk_lists_projects_and_their_api_keys_with_auto_pagination(
        simulator: Simulator, sdk: openai.AsyncOpenAI) -> None:
    sim = simulator.providers["openai"]
    projects = [p.id async for p in sdk.admin.organization.projects.list(limit=1)]
    assert projects == sim.projects
    keys = [k async for k in sdk.admin.organization.projects.api_keys.list(projects[0], limit=1)]
    assert keys and all(k.owner.type in ("user", "service_account") for k in keys)
    assert [k.id for k in keys] == [k.id for k in sim.api.directory.keys[projects[0]]]


async def test_sdk_raises_its_own_typed_errors_from_the_simulators_error_objects(
        simulator: Simulator, sdk: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        await sdk.admin.organization.usage.completions(start_time=0, bucket_width="1m", limit=1441)
    assert bad.value.param == "limit"
    with pytest.raises(openai.NotFoundError):
        await sdk.admin.organization.projects.retrieve("proj_missing")
    async with openai.AsyncOpenAI(api_key="sk-unused", admin_api_key="sk-admin-wrong",
                                  base_url=simulator.base_url + "/openai/v1", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as denied:
            await wrong.admin.organization.usage.costs(start_time=0)
    assert denied.value.code == "invalid_api_key"
