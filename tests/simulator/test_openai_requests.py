"""The simulated OpenAI organisation API accepts what OpenAI documents and answers like it.

Raw HTTP requests (httpx) in each array encoding, every bucket width and usage endpoint,
the projects and API-key listings, and OpenAI's error object. Figures are checked against
the simulator's own world (`OpenAISim.usage_on`), never against the handler's output alone.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from openapi_schema_validator import OAS31Validator

from exporters.simulator import Simulator
from exporters.simulator.openai.api import COSTS_WIDTHS, ENDPOINTS, USAGE_WIDTHS

SPEC = json.loads((Path(__file__).resolve().parents[1] / "contract" / "specs" / "openai.openapi.json").read_text())
RESULT_SCHEMAS = {  # each usage endpoint's result object in the published document
    "usage/completions": "UsageCompletionsResult", "usage/embeddings": "UsageEmbeddingsResult",
    "usage/moderations": "UsageModerationsResult", "usage/images": "UsageImagesResult",
    "usage/audio_speeches": "UsageAudioSpeechesResult",
    "usage/audio_transcriptions": "UsageAudioTranscriptionsResult",
    "usage/vector_stores": "UsageVectorStoresResult",
    "usage/code_interpreter_sessions": "UsageCodeInterpreterSessionsResult",
    "usage/file_search_calls": "UsageFileSearchCallsResult", "usage/web_search_calls": "UsageWebSearchCallsResult",
    "costs": "CostsResult"}


def validate(instance: object, schema_name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    OAS31Validator(schema).validate(instance)


def client(simulator: Simulator, token: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=simulator.base_url + "/openai/v1",
                             headers={"Authorization": f"Bearer {token or simulator.tokens['openai']}"})


def midnight(simulator: Simulator, days_back: int) -> int:
    day = simulator.world.today() - timedelta(days=days_back)
    return int(simulator.world.now().replace(year=day.year, month=day.month, day=day.day, hour=0, minute=0,
                                             second=0, microsecond=0).timestamp())


def assert_openai_error(response: httpx.Response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    validate(body, "ErrorResponse")
    assert set(body["error"]) == {"message", "type", "param", "code"}
    if param is not None:
        assert body["error"]["param"] == param
    return body["error"]


async def test_group_by_and_project_ids_work_as_repeated_keys_bracket_keys_and_comma_joined_values(
        simulator: Simulator) -> None:
    sim = simulator.providers["openai"]
    projects = sim.projects[:2]
    start = midnight(simulator, 3)
    encodings = {
        "repeated": [("group_by", "model"), ("group_by", "project_id"),
                     ("project_ids", projects[0]), ("project_ids", projects[1])],
        "brackets": [("group_by[]", "model"), ("group_by[]", "project_id"),
                     ("project_ids[]", projects[0]), ("project_ids[]", projects[1])],
        "comma": [("group_by", "model,project_id"), ("project_ids", ",".join(projects))],
    }
    answers = {}
    async with client(simulator) as http:
        for name, params in encodings.items():
            response = await http.get("/organization/usage/completions", params=[("start_time", start), *params])
            assert response.status_code == 200, (name, response.text)
            answers[name] = response.json()
    assert answers["brackets"] == answers["repeated"] == answers["comma"]
    results = [r for bucket in answers["brackets"]["data"] for r in bucket["results"]]
    assert results and all(r["model"] is not None and r["project_id"] in projects for r in results)
    # Independent figure: the world's own usage of those two projects on those days.
    expected = sum(u.input for d in range(3, -1, -1)
                   for u in sim.usage_on(simulator.world.today() - timedelta(days=d))
                   if u.project in projects and not u.model.startswith("text-embedding"))
    assert sum(r["input_tokens"] for r in results) == expected


@pytest.mark.parametrize("width", sorted(USAGE_WIDTHS))
async def test_each_bucket_width_has_its_documented_default_and_maximum_limit(
        simulator: Simulator, width: str) -> None:
    spec = USAGE_WIDTHS[width]
    # Documented figures (OpenAI API reference; docs/providers/openai.md), not the module's own table.
    assert (spec.default_limit, spec.max_limit) == {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}[width]
    start = int(simulator.world.now().timestamp()) - (spec.max_limit + 5) * spec.seconds
    async with client(simulator) as http:
        default = await http.get("/organization/usage/completions",
                                 params={"start_time": start, "bucket_width": width})
        assert default.status_code == 200, default.text
        page = default.json()
        assert len(page["data"]) == spec.default_limit and page["has_more"] is True
        assert all(b["end_time"] - b["start_time"] == spec.seconds for b in page["data"])
        widest = await http.get("/organization/usage/completions",
                                params={"start_time": start, "bucket_width": width, "limit": spec.max_limit})
        assert widest.status_code == 200 and len(widest.json()["data"]) == spec.max_limit
        too_many = await http.get("/organization/usage/completions",
                                  params={"start_time": start, "bucket_width": width, "limit": spec.max_limit + 1})
        assert_openai_error(too_many, 400, "limit")


async def test_costs_take_only_daily_buckets_with_up_to_180_per_page(simulator: Simulator) -> None:
    assert COSTS_WIDTHS["1d"].max_limit == 180 and COSTS_WIDTHS["1d"].default_limit == 7
    async with client(simulator) as http:
        start = midnight(simulator, 10)
        assert_openai_error(await http.get("/organization/costs", params={"start_time": start,
                                                                          "bucket_width": "1h"}), 400, "bucket_width")
        ok = await http.get("/organization/costs", params={"start_time": start, "limit": 180})
        assert ok.status_code == 200 and len(ok.json()["data"]) == 11
        assert_openai_error(await http.get("/organization/costs", params={"start_time": start, "limit": 181}),
                            400, "limit")


async def test_hourly_and_minute_buckets_of_a_day_add_up_to_its_daily_bucket(simulator: Simulator) -> None:
    async with client(simulator) as http:
        for days_back in (1, 0):  # a complete day and today (partial)
            start = midnight(simulator, days_back)
            totals = {}
            for width, limit in (("1d", 1), ("1h", 24), ("1m", 1440)):
                response = await http.get("/organization/usage/completions", params={
                    "start_time": start, "end_time": start + 86400, "bucket_width": width, "limit": limit})
                assert response.status_code == 200, response.text
                totals[width] = sum(r["output_tokens"] for b in response.json()["data"] for r in b["results"])
            assert totals["1d"] > 0
            assert totals["1h"] == totals["1d"] == totals["1m"], (days_back, totals)


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
async def test_every_documented_usage_endpoint_answers_with_its_published_result_object(
        simulator: Simulator, path: str) -> None:
    async with client(simulator) as http:
        response = await http.get(f"/organization/{path}", params={"start_time": midnight(simulator, 2),
                                                                    "group_by": "project_id"})
    assert response.status_code == 200, response.text
    page = response.json()
    validate(page, "UsageResponse")
    results = [r for bucket in page["data"] for r in bucket["results"]]
    assert results, f"{path} has no usage in the simulated world"
    for result in results:
        validate(result, RESULT_SCHEMAS[path])
        # Costs may carry organisation-level lines (project_id null, as the document allows).
        assert result["project_id"] in simulator.providers["openai"].projects or (
            path == "costs" and result["project_id"] is None)


async def test_grouping_by_user_and_api_key_gives_the_ids_the_project_key_listing_shows(
        simulator: Simulator) -> None:
    sim = simulator.providers["openai"]
    async with client(simulator) as http:
        usage = (await http.get("/organization/usage/completions", params=[
            ("start_time", midnight(simulator, 1)), ("group_by[]", "project_id"), ("group_by[]", "user_id"),
            ("group_by[]", "api_key_id")])).json()
        results = [r for b in usage["data"] for r in b["results"]]
        assert results and all(r["user_id"] and r["api_key_id"] for r in results)
        listed = {}
        for project in sim.projects:
            keys = (await http.get(f"/organization/projects/{project}/api_keys")).json()
            for key in keys["data"]:
                owner = key["owner"].get("user") or key["owner"].get("service_account")
                listed[key["id"]] = (project, owner["id"])
        for r in results:
            assert listed[r["api_key_id"]] == (r["project_id"], r["user_id"])
        costs = (await http.get("/organization/costs", params={"start_time": midnight(simulator, 1),
                                                                "group_by": "api_key_id,project_id"})).json()
        cost_results = [r for b in costs["data"] for r in b["results"]]
        project_lines = [r for r in cost_results if r["project_id"] is not None]  # org-level lines have no key
        assert project_lines and all(listed[r["api_key_id"]][0] == r["project_id"] for r in project_lines)


async def test_projects_list_pages_with_after_and_hides_archived_projects_unless_asked(
        simulator: Simulator) -> None:
    sim = simulator.providers["openai"]
    async with client(simulator) as http:
        seen, after = [], None
        while True:
            params = {"limit": 1, **({"after": after} if after else {})}
            page = (await http.get("/organization/projects", params=params)).json()
            assert page["object"] == "list" and len(page["data"]) <= 1
            seen += [p["id"] for p in page["data"]]
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert seen == sim.projects
        everything = (await http.get("/organization/projects", params={"include_archived": "true"})).json()
        archived = [p for p in everything["data"] if p["status"] == "archived"]
        assert len(everything["data"]) == len(sim.projects) + 1 and archived and archived[0]["archived_at"]
        assert_openai_error(await http.get("/organization/projects", params={"limit": 101}), 400, "limit")
        missing = assert_openai_error(await http.get("/organization/projects/proj_nope/api_keys"), 404)
        assert "proj_nope" in missing["message"]


async def test_errors_are_openai_error_objects_with_the_right_status(simulator: Simulator) -> None:
    async with client(simulator, token="sk-admin-wrong") as bad:
        denied = assert_openai_error(await bad.get("/organization/costs", params={"start_time": 0}), 401)
        assert denied["code"] == "invalid_api_key" and "wrong" not in denied["message"]
    async with client(simulator) as http:
        assert_openai_error(await http.get("/organization/usage/completions"), 400, "start_time")
        assert_openai_error(await http.get("/organization/usage/completions",
                                           params={"start_time": 0, "bucket_width": "1w"}), 400, "bucket_width")
        assert_openai_error(await http.get("/organization/usage/completions",
                                           params={"start_time": 0, "group_by[]": "colour"}), 400, "group_by")
        assert_openai_error(await http.get("/organization/usage/completions",
                                           params={"start_time": 0, "batch": "maybe"}), 400, "batch")
        assert_openai_error(await http.get("/organization/usage/completions",
                                           params={"start_time": 0, "page": "garbage"}), 400, "page")
        unknown = assert_openai_error(await http.get("/organization/usage/teleport"), 404)
        assert unknown["message"] == "Invalid URL (GET /v1/organization/usage/teleport)"
        wrong_method = await http.post("/organization/costs", json={})
        assert assert_openai_error(wrong_method, 405)["message"] == "Invalid URL (POST /v1/organization/costs)"
        assert "GET" in wrong_method.headers.get("Allow", "")
        simulator.world.set_scenario("rate-limited", "openai")
        statuses = [(await http.get("/organization/costs", params={"start_time": 0})) for _ in range(3)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited and assert_openai_error(limited[0], 429)["code"] == "rate_limit_exceeded"


async def test_costs_include_the_current_partial_day_when_switched_on(simulator: Simulator) -> None:
    sim = simulator.providers["openai"]
    today = simulator.world.today()
    params = {"start_time": midnight(simulator, 0), "group_by": "line_item"}
    async with client(simulator) as http:
        off = (await http.get("/organization/costs", params=params)).json()
        assert off["data"][0]["results"] == []  # stackwatch's default world: billing lags a day
        sim.api.costs_include_today = True
        on = (await http.get("/organization/costs", params=params)).json()
    billed = sum(usd for u in sim.usage_on(today) for _item, usd, _t in sim.line_items(u, today, billed=True))
    assert billed > 0
    assert sum(r["amount"]["value"] for r in on["data"][0]["results"]) == pytest.approx(billed)


async def test_search_call_endpoints_group_by_their_own_fields_and_validate_context_levels(
        simulator: Simulator) -> None:
    start = midnight(simulator, 1)
    async with client(simulator) as http:
        files = (await http.get("/organization/usage/file_search_calls",
                                params={"start_time": start, "group_by[]": "vector_store_id"})).json()
        stores = {r["vector_store_id"] for b in files["data"] for r in b["results"]}
        assert stores and None not in stores
        one = sorted(stores)[0]
        only = (await http.get("/organization/usage/file_search_calls", params={
            "start_time": start, "group_by": "vector_store_id", "vector_store_ids": one})).json()
        assert {r["vector_store_id"] for b in only["data"] for r in b["results"]} == {one}
        web = (await http.get("/organization/usage/web_search_calls",
                              params={"start_time": start, "group_by": "context_level,model"})).json()
        results = [r for b in web["data"] for r in b["results"]]
        assert results and all(r["context_level"] in ("low", "medium", "high") and r["model"] for r in results)
        assert_openai_error(await http.get("/organization/usage/web_search_calls", params={
            "start_time": start, "context_levels": "extreme"}), 400, "context_levels")


async def test_newer_sdk_groupings_api_source_and_costs_by_user_are_accepted(simulator: Simulator) -> None:
    """OpenAI SDK 3.x documents `api_source` (completions, web searches, costs) and costs by `user_id`."""
    start = midnight(simulator, 1)
    async with client(simulator) as http:
        usage = (await http.get("/organization/usage/completions", params={
            "start_time": start, "group_by": "api_source"})).json()
        sources = {r["api_source"] for b in usage["data"] for r in b["results"]}
        assert sources == {"unlabeled"}  # no Agents API activity in the simulated world
        plain = (await http.get("/organization/usage/completions", params={"start_time": start})).json()
        assert all(r["api_source"] is None for b in plain["data"] for r in b["results"])
        costs = (await http.get("/organization/costs", params=[
            ("start_time", start), ("group_by[]", "user_id"), ("group_by[]", "project_id")])).json()
        results = [r for b in costs["data"] for r in b["results"]]
        by_user = [r for r in results if r["project_id"] is not None]
        assert by_user and all(r["user_id"] for r in by_user)
        total = sum(r["amount"]["value"] for r in results)
        ungrouped = (await http.get("/organization/costs", params={"start_time": start})).json()
        assert total == pytest.approx(sum(r["amount"]["value"] for b in ungrouped["data"] for r in b["results"]))
