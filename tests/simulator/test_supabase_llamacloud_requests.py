"""The simulated Supabase Management API and LlamaCloud API honour their documented parameters and errors."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
from openapi_schema_validator import OAS31Validator

from exporters.simulator import LLAMACLOUD_ORGANIZATION_ID, Simulator
from exporters.simulator.supabase.sim import iso

SPECS = Path(__file__).resolve().parents[1] / "contract" / "specs"
LLAMA_SPEC = json.loads((SPECS / "llamacloud.openapi.json").read_text())


def client(simulator: Simulator, provider: str, prefix: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=simulator.base_url + prefix,
                             headers={"Authorization": f"Bearer {simulator.tokens[provider]}"})


# --- Supabase ---

async def test_supabase_health_requires_services_in_any_array_form(simulator: Simulator) -> None:
    ref = simulator.providers["supabase"].projects()[0].ref
    async with client(simulator, "supabase", "/supabase") as http:
        path = f"/v1/projects/{ref}/health"
        missing = await http.get(path)
        assert missing.status_code == 400 and missing.json()["message"]
        repeated = (await http.get(path, params=[("services", "auth"), ("services", "db")])).json()
        comma = (await http.get(path, params={"services": "auth,db"})).json()
        brackets = (await http.get(path, params=[("services[]", "auth"), ("services[]", "db")])).json()
        assert [s["name"] for s in repeated] == ["auth", "db"] and repeated == comma == brackets
        assert (await http.get(path, params={"services": "auth,teleport"})).status_code == 400
        assert (await http.get(path, params={"services": "db", "timeout_ms": "2000"})).status_code == 200
        too_long = await http.get(path, params={"services": "db", "timeout_ms": "10001"})
        assert too_long.status_code == 400 and set(too_long.json()) == {"message"}


async def test_supabase_api_counts_take_every_documented_interval(simulator: Simulator) -> None:
    ref = simulator.providers["supabase"].projects()[0].ref
    async with client(simulator, "supabase", "/supabase") as http:
        path = f"/v1/projects/{ref}/analytics/endpoints/usage.api-counts"
        # The document's enum, with the span each name states.
        spans = {"15min": 900, "30min": 1800, "1hr": 3600, "3hr": 10800, "1day": 86400, "3day": 259200,
                 "7day": 604800}
        for interval, span in spans.items():
            response = await http.get(path, params={"interval": interval})
            assert response.status_code == 200, (interval, response.text)
            stamps = [datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp()
                      for r in response.json()["result"]]
            assert stamps and stamps == sorted(stamps), interval
            assert stamps[-1] - stamps[0] <= span and stamps[-1] <= simulator.world.now_ts(), interval
        bad = await http.get(path, params={"interval": "2weeks"})
        assert bad.status_code == 400 and set(bad.json()) == {"message"}
    async with httpx.AsyncClient(base_url=simulator.base_url + "/supabase",
                                 headers={"Authorization": "Bearer sbp_wrong"}) as wrong:
        denied = await wrong.get("/v1/projects")
        assert denied.status_code == 401 and set(denied.json()) == {"message"}


async def test_supabase_logs_take_every_documented_form_and_reject_a_range_over_a_day(simulator: Simulator) -> None:
    """logs.all: sql, iso_timestamp_start and iso_timestamp_end each optional; neither timestamp means the
    last minute; a range over 24 hours, or one that ends before it starts, is refused with the document's
    error shape; an aggregate over auth_logs counts the simulated minutes wholly inside the range."""
    sim = simulator.providers["supabase"]
    project = sim.projects()[0]
    now = simulator.world.now_ts()
    end = now // 60 * 60
    async with client(simulator, "supabase", "/supabase") as http:
        path = f"/v1/projects/{project.ref}/analytics/endpoints/logs.all"
        assert (await http.get(path)).json() == {"result": []}  # no sql: edge_logs, which are not simulated
        grouped = "select kind, outcome, count(*) as count from auth_logs group by kind, outcome"
        hour = await http.get(path, params={"sql": grouped, "iso_timestamp_start": iso(end - 3600),
                                            "iso_timestamp_end": iso(end)})
        assert hour.status_code == 200
        expected: dict[tuple[str, str], int] = {}
        for minute in range(int(end - 3600), int(end), 60):
            for key, count in sim.auth_events(project, minute).items():
                expected[key] = expected.get(key, 0) + count
        got = {(r["kind"], r["outcome"]): r["count"] for r in hour.json()["result"]}
        assert got == {k: v for k, v in expected.items() if v} and sum(got.values()) > 0
        # Rounded to the nearest minute: 20 s either side of the same range gives the same answer.
        rounded = await http.get(path, params={"sql": grouped, "iso_timestamp_start": iso(end - 3600 - 20),
                                               "iso_timestamp_end": iso(end + 20)})
        assert rounded.json() == hour.json()
        last_minute = await http.get(path, params={"sql": grouped})  # neither timestamp: the last minute
        assert sum(r["count"] for r in last_minute.json()["result"]) <= max(
            sum(sim.auth_events(project, m).values()) for m in (end - 120, end - 60))
        raw = (await http.get(path, params={"sql": "select timestamp, metadata from auth_logs",
                                            "iso_timestamp_start": iso(end - 600)})).json()["result"]
        assert 0 < len(raw) <= 100 and all(r["metadata"][0]["path"] in ("/token", "/signup") for r in raw)
        for params in ({"iso_timestamp_start": iso(end - 86400 - 120), "iso_timestamp_end": iso(end)},
                       {"iso_timestamp_start": iso(end), "iso_timestamp_end": iso(end - 600)},
                       {"iso_timestamp_start": "yesterday"},
                       {"sql": "select 1 from secrets"}):
            refused = await http.get(path, params=params)
            assert refused.status_code == 400, params
            assert set(refused.json()) == {"error"} and refused.json()["error"]["message"], params


# --- LlamaCloud ---

def assert_validation_error(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    schema = {"$ref": "#/components/schemas/HTTPValidationError", "components": LLAMA_SPEC["components"]}
    OAS31Validator(schema).validate(body)
    assert body["detail"][0]["loc"] == ["query", field]


async def all_items(http: httpx.AsyncClient, params: list[tuple[str, str]]) -> list[dict]:
    items, token = [], None
    while True:
        response = await http.get("/api/v1/beta/usage-metrics", params=[
            ("organization_id", LLAMACLOUD_ORGANIZATION_ID), ("page_size", "1000"), *params,
            *([("page_token", token)] if token else [])])
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        token = body.get("next_page_token")
        if not token:
            return items


async def test_llamacloud_event_types_in_every_array_form_and_day_bounds(simulator: Simulator) -> None:
    today = simulator.world.today()
    week = [("day_on_or_after", (today - timedelta(days=6)).isoformat()), ("day_on_or_before", today.isoformat())]
    async with client(simulator, "llamacloud", "/llamacloud") as http:
        everything = await all_items(http, week)
        kinds = sorted({i["event_type"] for i in everything})
        assert len(kinds) >= 2 and all(today - timedelta(days=6) <= _day(i) <= today for i in everything)
        two = [kinds[0], "event_that_never_happened"]  # two values, so each array form is really exercised
        expected = [i["id"] for i in everything if i["event_type"] in two]
        repeated = await all_items(http, [*week, ("event_types", two[0]), ("event_types", two[1])])
        brackets = await all_items(http, [*week, ("event_types[]", two[0]), ("event_types[]", two[1])])
        comma = await all_items(http, [*week, ("event_types", ",".join(two))])
        assert [i["id"] for i in repeated] == [i["id"] for i in brackets] == [i["id"] for i in comma] == expected
        rich = [i for i in everything if (i["credits"] or 0) >= 10]
        assert rich and len(rich) < len(everything)
        filtered = await all_items(http, [*week, ("credits_consumed_greater_than_or_equal", "10")])
        assert [i["id"] for i in filtered] == [i["id"] for i in rich]
        total = (await http.get("/api/v1/beta/usage-metrics", params=[
            ("organization_id", LLAMACLOUD_ORGANIZATION_ID), ("include_total", "true"), ("page_size", "5"),
            *week])).json()
        assert total["total_size"] == len(everything) and len(total["items"]) == 5


async def test_llamacloud_rejects_what_fastapi_cannot_parse_with_422(simulator: Simulator) -> None:
    org = ("organization_id", LLAMACLOUD_ORGANIZATION_ID)
    async with client(simulator, "llamacloud", "/llamacloud") as http:
        get = http.get
        assert_validation_error(await get("/api/v1/beta/usage-metrics"), "organization_id")
        assert_validation_error(await get("/api/v1/beta/usage-metrics", params={"organization_id": "acme"}),
                                "organization_id")
        assert_validation_error(await get("/api/v1/beta/usage-metrics", params=[org, ("page_size", "ten")]),
                                "page_size")
        assert_validation_error(await get("/api/v1/beta/usage-metrics", params=[org, ("day_on_or_after", "3/1")]),
                                "day_on_or_after")
        assert_validation_error(await get("/api/v1/beta/usage-metrics", params=[org, ("include_total", "maybe")]),
                                "include_total")
        assert_validation_error(await get("/api/v1/beta/usage-metrics", params=[org, ("project_id", "p1")]),
                                "project_id")
        v2 = await get("/api/v2/organizations")
        assert v2.status_code == 200 and [o["id"] for o in v2.json()["items"]] == [LLAMACLOUD_ORGANIZATION_ID]
        missing = await get("/api/v9/nothing")
        assert missing.status_code == 404 and set(missing.json()) == {"detail"}


def _day(item: dict) -> date:
    return date.fromisoformat(item["day"])
