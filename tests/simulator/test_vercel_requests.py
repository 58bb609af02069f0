"""The simulated Vercel API honours its documented scope, filters and validation."""

from __future__ import annotations

import httpx

from exporters.simulator import VERCEL_TEAM_ID, Simulator
from exporters.simulator.vercel.sim import TEAM_SLUG


def client(simulator: Simulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=simulator.base_url + "/vercel",
                             headers={"Authorization": f"Bearer {simulator.tokens['vercel']}"})


def assert_vercel_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    return error


async def deployments(http: httpx.AsyncClient, params: list[tuple[str, str]]) -> list[dict]:
    response = await http.get("/v6/deployments", params=[("limit", "100"), *params])
    assert response.status_code == 200, response.text
    return response.json()["deployments"]


async def test_the_team_is_named_by_team_id_or_slug_and_another_team_is_forbidden(simulator: Simulator) -> None:
    async with client(simulator) as http:
        by_id = await deployments(http, [("teamId", VERCEL_TEAM_ID)])
        by_slug = await deployments(http, [("slug", TEAM_SLUG)])
        assert by_id and by_id == by_slug
        assert_vercel_error(await http.get("/v6/deployments", params={"teamId": "team_someoneelse"}), 403)
        assert_vercel_error(await http.get("/v10/projects", params={"slug": "not-our-team"}), 403)
        assert_vercel_error(await http.get("/v1/billing/charges", params={
            "teamId": "team_someoneelse", "from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}), 403)


async def test_deployment_filters_project_ids_state_and_the_from_to_aliases(simulator: Simulator) -> None:
    sim = simulator.providers["vercel"]
    two = sim.projects[:2]
    async with client(simulator) as http:
        everything = await deployments(http, [])  # the newest 100; filtered listings below cover the same window
        window = [("since", str(everything[-1]["created"] - 1))]
        expected = [d["uid"] for d in everything if d["projectId"] in {p.id for p in two}]
        assert expected and len(expected) < len(everything)
        comma = await deployments(http, [*window, ("projectIds", ",".join(p.id for p in two))])
        repeated = await deployments(http, [*window, ("projectIds", two[0].id), ("projectIds", two[1].id)])
        assert [d["uid"] for d in comma] == [d["uid"] for d in repeated] == expected
        by_name = await deployments(http, [("projectId", two[0].name)])
        assert by_name and {d["projectId"] for d in by_name} == {two[0].id}
        assert_vercel_error(await http.get("/v6/deployments", params={"projectId": two[0].id,
                                                                      "projectIds": two[1].id}), 400)
        states = await deployments(http, [*window, ("state", "ready,error")])
        assert states and {d["state"] for d in states} <= {"READY", "ERROR"}
        assert [d["uid"] for d in states] == [d["uid"] for d in everything if d["state"] in ("READY", "ERROR")]
        assert_vercel_error(await http.get("/v6/deployments", params={"state": "EXPLODED"}), 400)
        middle = everything[len(everything) // 2]["created"]
        newest = everything[0]["created"]
        since_until = await deployments(http, [("since", str(middle)), ("until", str(newest))])
        from_to = await deployments(http, [("from", str(middle)), ("to", str(newest))])
        assert since_until and since_until == from_to
        assert all(middle < d["created"] < newest for d in since_until)


async def test_project_search_and_billing_range_validation(simulator: Simulator) -> None:
    sim = simulator.providers["vercel"]
    fragment = sim.projects[0].name[:4].upper()
    async with client(simulator) as http:
        found = (await http.get("/v10/projects", params={"search": fragment, "limit": "100"})).json()["projects"]
        assert {p["id"] for p in found} == {p.id for p in sim.projects if fragment.lower() in p.name.lower()}
        assert_vercel_error(await http.get("/v10/projects", params={"search": "x" * 101}), 400)
        assert_vercel_error(await http.get("/v1/billing/charges", params={"to": "2026-11-02T00:00:00Z"}), 400)
        assert_vercel_error(await http.get("/v1/billing/charges", params={
            "from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}), 400)
        assert_vercel_error(await http.get("/v1/billing/charges", params={
            "from": "2024-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z"}), 400)
        assert_vercel_error(await http.get("/v1/billing/charges", params={"from": "yesterday",
                                                                          "to": "2026-11-02T00:00:00Z"}), 400)
