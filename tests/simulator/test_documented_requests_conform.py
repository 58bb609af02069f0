"""Requests using the documented parameters beyond what stackwatch itself sends (filters, other
bucket widths, groupings, error cases) get answers that validate against the published documents.

Each exchange is checked by the contract tier's own checker (tests/contract/test_openapi.py):
the operation and every query parameter must be declared, and the body must match the
response schema of its status when the document declares that status.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import httpx
from openapi_schema_validator import OAS30Validator

from exporters.providers.supabase.exporter import AUTH_OUTCOMES_SQL
from exporters.simulator import LLAMACLOUD_ORGANIZATION_ID, VERCEL_TEAM_ID, Simulator
from exporters.simulator.supabase.sim import iso

_spec = importlib.util.spec_from_file_location(
    "contract_checker", Path(__file__).resolve().parents[1] / "contract" / "test_openapi.py")
assert _spec is not None and _spec.loader is not None
contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(contract)

PREFIXES = {"vercel": "/vercel", "render": "/render/v1", "supabase": "/supabase", "openai": "/openai/v1",
            "llamacloud": "/llamacloud"}


async def test_documented_filters_widths_groupings_and_errors_conform_to_the_published_documents(
        simulator: Simulator) -> None:
    openai_sim = simulator.providers["openai"]
    render_sim = simulator.providers["render"]
    now = simulator.world.now_ts()
    service = next(s for s in render_sim.services() if s.created <= now and not s.is_suspended(now))
    supabase_ref = simulator.providers["supabase"].projects()[0].ref
    vercel_project = simulator.providers["vercel"].projects[0].id
    day = int(now) - int(now) % 86400
    requests: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
        "openai": [
            ("/organization/usage/completions", [("start_time", str(day)), ("bucket_width", "1h"), ("limit", "24"),
                                                 ("group_by", "user_id"), ("group_by", "api_key_id"),
                                                 ("group_by", "service_tier")]),
            ("/organization/usage/embeddings", [("start_time", str(day)), ("bucket_width", "1m"),
                                                ("group_by", "model"), ("models", "text-embedding-3-small")]),
            ("/organization/costs", [("start_time", str(day - 3 * 86400)), ("group_by", "api_key_id"),
                                     ("group_by", "project_id"), ("project_ids", openai_sim.projects[0])]),
        ],
        "render": [
            ("/services", [("type", "web_service,cron_job"), ("region", service.region),
                           ("suspended", "not_suspended"), ("limit", "100")]),
            ("/postgres", [("region", "oregon")]),
            ("/postgres", [("region", "mars")]),  # 400, declared
            (f"/services/{service.id}/deploys", [("status", "live"), ("limit", "5")]),
            ("/services/srv-unknown", []),  # 404, declared
            ("/metrics/cpu", [("resource", service.id), ("aggregationMethod", "MAX")]),
            ("/metrics/cpu", [("resource", service.id), ("aggregationMethod", "MEDIAN")]),  # 400, declared
        ],
        "vercel": [
            ("/v6/deployments", [("slug", "acme"), ("projectIds", vercel_project), ("state", "READY,ERROR"),
                                 ("limit", "20")]),
            ("/v10/projects", [("teamId", VERCEL_TEAM_ID), ("search", "a"), ("limit", "5")]),
        ],
        "supabase": [
            (f"/v1/projects/{supabase_ref}/health", [("services", "auth"), ("services", "db"),
                                                     ("timeout_ms", "2000")]),
            (f"/v1/projects/{supabase_ref}/analytics/endpoints/usage.api-counts", [("interval", "3hr")]),
            # logs.all: no parameter (the last minute of edge_logs), a range alone, raw auth rows, an aggregate.
            (f"/v1/projects/{supabase_ref}/analytics/endpoints/logs.all", []),
            (f"/v1/projects/{supabase_ref}/analytics/endpoints/logs.all",
             [("iso_timestamp_start", iso(now - 600)), ("iso_timestamp_end", iso(now))]),
            (f"/v1/projects/{supabase_ref}/analytics/endpoints/logs.all",
             [("sql", "select id, timestamp, event_message, metadata from auth_logs limit 10"),
              ("iso_timestamp_start", iso(now - 300))]),
            (f"/v1/projects/{supabase_ref}/analytics/endpoints/logs.all",
             [("sql", AUTH_OUTCOMES_SQL), ("iso_timestamp_start", iso(now - 3600)),
              ("iso_timestamp_end", iso(now))]),
        ],
        "llamacloud": [
            # (event_types is left out: openapi-core cannot deserialise its anyOf[array, null] query schema;
            # test_supabase_llamacloud_requests.py covers it.)
            ("/api/v1/beta/usage-metrics", [("organization_id", LLAMACLOUD_ORGANIZATION_ID),
                                            ("day_on_or_after", "2026-11-01"), ("include_total", "true"),
                                            ("page_size", "10")]),
            ("/api/v1/beta/usage-metrics", [("organization_id", "not-a-uuid")]),  # 422, declared
            ("/api/v2/organizations", [("page_size", "10")]),
        ],
    }
    simulator.stats.exchanges.clear()
    for provider, calls in requests.items():
        async with httpx.AsyncClient(base_url=simulator.base_url + PREFIXES[provider],
                                     headers={"Authorization": f"Bearer {simulator.tokens[provider]}"}) as http:
            for path, params in calls:
                await http.get(path, params=params)
    exchanges = simulator.stats.exchanges
    assert len(exchanges) == sum(len(c) for c in requests.values())
    statuses = {(e.provider, e.path, e.status) for e in exchanges}
    assert ("render", "/postgres", 400) in statuses and ("llamacloud", "/api/v1/beta/usage-metrics", 422) in statuses
    assert all(e.status in (200, 400, 404, 422) for e in exchanges), statuses
    problems = []
    for e in exchanges:
        found = contract.check_exchange(e, simulator.tokens[e.provider])
        # A deliberately invalid request is flagged by the checker as such; its answer must still conform.
        problems += [p for p in found if e.status < 400 or p.startswith("response")]
    assert not problems, "\n".join(problems[:20])


def drains_schema() -> dict:
    """A copy (spec_dict is cached and shared)."""
    return copy.deepcopy(contract.spec_dict("vercel"))["paths"]["/v1/drains"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]


def test_vercels_drains_one_of_has_two_alternatives_no_list_can_satisfy_alone() -> None:
    """Why the drains listing is validated with anyOf: the published `drains` oneOf offers two
    array alternatives with the same required fields and open objects, so every real listing
    matches both, and "exactly one" can never hold (as with Render's serviceDetails)."""
    first, second = drains_schema()["properties"]["drains"]["oneOf"]
    assert first["items"]["required"] == second["items"]["required"]
    assert "additionalProperties" not in first["items"] and "additionalProperties" not in second["items"]


async def test_vercel_drains_listing_filters_by_project_and_matches_the_published_items(
        simulator: Simulator) -> None:
    schema = drains_schema()
    schema["properties"]["drains"] = {"anyOf": schema["properties"]["drains"]["oneOf"]}
    project = simulator.providers["vercel"].projects[0].id
    async with httpx.AsyncClient(base_url=simulator.base_url + "/vercel",
                                 headers={"Authorization": f"Bearer {simulator.tokens['vercel']}"}) as http:
        listed = await http.get("/v1/drains", params={"teamId": VERCEL_TEAM_ID, "projectId": project})
        none = await http.get("/v1/drains", params={"teamId": VERCEL_TEAM_ID, "projectId": "prj_elsewhere"})
        bad = await http.get("/v1/drains", params={"teamId": VERCEL_TEAM_ID, "includeMetadata": "perhaps"})
    assert listed.status_code == 200 and none.json() == {"drains": []} and bad.status_code == 400
    body = listed.json()
    OAS30Validator(schema).validate(body)
    assert {tuple(d["schemas"]) for d in body["drains"]} == {("log",), ("speed_insights",), ("trace",)}
    assert all(project in d["projectIds"] for d in body["drains"])
