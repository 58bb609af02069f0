"""The simulated Render API honours its documented list filters, limits, metrics parameters and error body."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from openapi_schema_validator import OAS30Validator

from exporters.simulator import Simulator

SPEC = json.loads((Path(__file__).resolve().parents[1] / "contract" / "specs" / "render.openapi.json").read_text())


def client(simulator: Simulator, token: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=simulator.base_url + "/render/v1",
                             headers={"Authorization": f"Bearer {token or simulator.tokens['render']}"})


def assert_render_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    OAS30Validator({"$ref": "#/components/schemas/error", "components": SPEC["components"]}).validate(body)
    assert set(body) == {"id", "message"} and body["message"]
    return body


async def every_service(http: httpx.AsyncClient, params: list[tuple[str, str]]) -> list[dict]:
    out, cursor = [], None
    while True:
        page = await http.get("/services", params=[*params, ("limit", "100"), *([("cursor", cursor)] if cursor else [])])
        assert page.status_code == 200, page.text
        items = page.json()
        out += [item["service"] for item in items]
        if len(items) < 100:
            return out
        cursor = items[-1]["cursor"]


async def test_service_filters_work_comma_joined_and_repeated_and_match_the_world(simulator: Simulator) -> None:
    sim = simulator.providers["render"]
    now = simulator.world.now_ts()
    visible = [s for s in sim.services() if s.created <= now]
    wanted = {"web_service", "cron_job"}
    expected = sorted(s.id for s in visible if s.type in wanted)
    assert expected and len(expected) < len(visible)  # the filter has something to leave out
    async with client(simulator) as http:
        comma = await every_service(http, [("type", "web_service,cron_job")])
        repeated = await every_service(http, [("type", "web_service"), ("type", "cron_job")])
        assert sorted(s["id"] for s in comma) == sorted(s["id"] for s in repeated) == expected
        region = visible[0].region
        in_region = await every_service(http, [("region", region)])
        assert sorted(s["id"] for s in in_region) == sorted(s.id for s in visible if s.region == region)
        suspended = await every_service(http, [("suspended", "suspended")])
        assert {s["id"] for s in suspended} == {s.id for s in visible if s.is_suspended(now)}
        named = await every_service(http, [("name", visible[1].name)])
        assert [s["id"] for s in named] == [visible[1].id]
        created_before = datetime.fromtimestamp(visible[0].created + 1, tz=timezone.utc).isoformat()
        early = await every_service(http, [("createdBefore", created_before)])
        assert {s["id"] for s in early} == {s.id for s in visible if s.created < visible[0].created + 1}


async def test_bad_filters_limits_and_tokens_get_renders_error_object(simulator: Simulator) -> None:
    async with client(simulator) as http:
        assert_render_error(await http.get("/services", params={"type": "spaceship"}), 400)
        assert_render_error(await http.get("/services", params={"limit": "101"}), 400)
        assert (await http.get("/services", params={"limit": "100"})).status_code == 200
        assert_render_error(await http.get("/postgres", params={"region": "mars"}), 400)
        assert_render_error(await http.get("/services/srv-doesnotexist"), 404)
        assert_render_error(await http.get("/nothing-here"), 404)
    async with client(simulator, token="rnd_wrong") as wrong:
        assert_render_error(await wrong.get("/services"), 401)


@pytest.mark.incidents("deploy-failure")  # failed deploys in the history
async def test_deploys_filter_by_status_before_paging(simulator: Simulator) -> None:
    sim = simulator.providers["render"]
    service = max(sim.services(), key=lambda s: len(s.deploys))
    async with client(simulator) as http:
        everything, cursor = [], None
        while True:
            page = (await http.get(f"/services/{service.id}/deploys",
                                   params={"limit": 100, **({"cursor": cursor} if cursor else {})})).json()
            everything += [d["deploy"] for d in page]
            if len(page) < 100:
                break
            cursor = page[-1]["cursor"]
        failed = [d["id"] for d in everything if d["status"] in ("build_failed", "update_failed")]
        assert failed
        listed = (await http.get(f"/services/{service.id}/deploys",
                                 params={"status": "build_failed,update_failed", "limit": 100})).json()
        assert [d["deploy"]["id"] for d in listed] == failed[:100]
        assert_render_error(await http.get(f"/services/{service.id}/deploys", params={"status": "exploded"}), 400)


async def test_metrics_take_comma_joined_resources_both_time_forms_and_reject_bad_enums(simulator: Simulator) -> None:
    sim = simulator.providers["render"]
    now = simulator.world.now_ts()
    running = [s for s in sim.services() if s.created <= now and not s.is_suspended(now)][:2]
    end = int(now) - int(now) % 60
    epoch = {"startTime": str(end - 600), "endTime": str(end)}
    rfc = {k: datetime.fromtimestamp(int(v), tz=timezone.utc).isoformat().replace("+00:00", "Z")
           for k, v in epoch.items()}
    async with client(simulator) as http:
        joined = (await http.get("/metrics/instance-count",
                                 params={"resource": ",".join(s.id for s in running), **epoch})).json()
        assert {series["labels"][0]["value"] for series in joined} == {s.id for s in running}
        by_rfc = (await http.get("/metrics/instance-count",
                                 params=[("resource", s.id) for s in running] + list(rfc.items()))).json()
        assert by_rfc == joined
        assert_render_error(await http.get("/metrics/cpu", params={"resource": running[0].id,
                                                                   "aggregationMethod": "MEDIAN"}), 400)
        assert_render_error(await http.get("/metrics/http-latency", params={"resource": running[0].id,
                                                                            "quantile": "p95"}), 400)
        assert_render_error(await http.get("/metrics/http-requests", params={"resource": running[0].id,
                                                                             "aggregateBy": "colour"}), 400)
        assert_render_error(await http.get("/metrics/cpu", params={"resource": running[0].id,
                                                                   "startTime": str(end), "endTime": str(end - 60)}),
                            400)


async def test_http_requests_aggregated_by_host_total_the_per_status_code_series(simulator: Simulator) -> None:
    sim = simulator.providers["render"]
    now = simulator.world.now_ts()
    web = next(s for s in sim.services() if s.type == "web_service" and s.created <= now and not s.is_suspended(now))
    # Complete buckets only: the world's clock runs, and the current bucket [end, end + 60) grows
    # between the two requests (a loaded machine saw 1 request, then 2).
    end = int(now) - int(now) % 60 - 60
    window = {"resource": web.id, "startTime": str(end - 600), "endTime": str(end)}
    async with client(simulator) as http:
        by_code = (await http.get("/metrics/http-requests", params=window)).json()
        by_host = (await http.get("/metrics/http-requests", params={**window, "aggregateBy": "host"})).json()
    assert {series["labels"][1]["field"] for series in by_code} == {"statusCode"}
    assert len(by_host) == 1 and by_host[0]["labels"][1] == {"field": "host", "value": f"{web.name}.onrender.com"}
    totals = [sum(series["values"][k]["value"] for series in by_code) for k in range(len(by_code[0]["values"]))]
    assert [v["value"] for v in by_host[0]["values"]] == totals and sum(totals) > 0


async def test_metrics_filter_by_instance_and_host(simulator: Simulator) -> None:
    sim = simulator.providers["render"]
    now = simulator.world.now_ts()
    web = next(s for s in sim.services() if s.type == "web_service" and s.created <= now
               and not s.is_suspended(now) and s.state_at(now)["instances"] >= 2)  # so one instance is a real subset
    # One fixed window of complete minutes for both requests: the default (the last hour up to
    # now) moves if a minute boundary passes between them.
    end = int(now) - int(now) % 60 - 60
    window = {"resource": web.id, "startTime": str(end - 3600), "endTime": str(end)}
    async with client(simulator) as http:
        every = (await http.get("/metrics/cpu", params=window)).json()
        instances = [label["value"] for series in every for label in series["labels"] if label["field"] == "instance"]
        assert len(instances) >= 2 and len(instances) == len(every)
        one = (await http.get("/metrics/cpu", params={**window, "instance": instances[-1]})).json()
        assert one == [every[-1]]
        own_host = (await http.get("/metrics/http-requests", params={"resource": web.id,
                                                                     "host": f"{web.name}.onrender.com"})).json()
        other_host = (await http.get("/metrics/http-requests", params={"resource": web.id,
                                                                       "host": "elsewhere.example.com"})).json()
    assert own_host and other_host == []
