"""The steady world holds nothing alert-worthy; each condition incident (world.CONDITIONS) creates
its condition as a scenario (from its start, ended by the next scenario) and as a standing condition
of a whole world (`World.incidents`, history included). Checked through the simulator's HTTP APIs
and its ground truth, against the thresholds of docs/alerting.md (CPU 80 %, memory 85 %, disk 80 %,
replication lag 600 s, backup age 26 h without PITR, an autoscaled service at its maximum, any
failed deploy, any unpriced usage)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from simhelpers import FIXED_NOW

from exporters.simulator import Simulator
from exporters.simulator.render.sim import CPU_LIMIT, HOT_CPU_INDEX, HOT_MEMORY_INDEX, MEMORY_LIMIT_BYTES
from exporters.simulator.supabase.sim import HOT_PROJECT_INDEX, STALE_BACKUP_INDEX
from exporters.simulator.world import World

BACKUP_AGE_LIMIT_S = 26 * 3600


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    """The suite's world, frozen: simulated time moves only by `advance` (exact retry counts)."""
    marker = request.node.get_closest_marker("incidents")
    return World(seed=7, start=FIXED_NOW, frozen=True, incidents=frozenset(marker.args if marker else ()))


def client(simulator: Simulator, provider: str, prefix: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=simulator.base_url + prefix,
                             headers={"Authorization": f"Bearer {simulator.tokens[provider]}"})


async def utilisation(simulator: Simulator) -> dict[str, tuple[float, float]]:
    """Per running Render service, (max CPU, max memory) over the last 10 minutes as shares of its limits."""
    render = simulator.providers["render"]
    now = simulator.world.now_ts()
    out = {}
    async with client(simulator, "render", "/render/v1") as http:
        for s in render.services():
            if s.created > now or s.is_suspended(now):
                continue
            plan = s.state_at(now)["plan"]
            window = {"resource": s.id, "startTime": str(int(now - 600)), "endTime": str(int(now)),
                      "resolutionSeconds": "60"}
            cpu = (await http.get("/metrics/cpu", params=window)).json()
            memory = (await http.get("/metrics/memory", params=window)).json()
            out[s.name] = (max(v["value"] for series in cpu for v in series["values"]) / CPU_LIMIT[plan],
                           max(v["value"] for series in memory for v in series["values"]) / MEMORY_LIMIT_BYTES[plan])
    return out


async def failed_deploys(simulator: Simulator) -> dict[str, list[str]]:
    """Failed deploys visible now: Render's by service, Vercel's ERROR deployments under "vercel"."""
    render = simulator.providers["render"]
    out: dict[str, list[str]] = {}
    async with client(simulator, "render", "/render/v1") as http:
        for s in render.services():
            rows = (await http.get(f"/services/{s.id}/deploys",
                                   params={"status": "build_failed,update_failed", "limit": 100})).json()
            if isinstance(rows, list) and rows:
                out[s.name] = [r["deploy"]["id"] for r in rows]
    errors = [d.uid for d in simulator.providers["vercel"].visible_deployments()
              if d.state_at(int(simulator.world.now_ts() * 1000)) == "ERROR"]
    if errors:
        out["vercel"] = errors
    return out


async def stale_backups(simulator: Simulator) -> list[str]:
    """Supabase projects whose latest completed backup is older than 26 h while PITR is off."""
    supabase = simulator.providers["supabase"]
    now = simulator.world.now_ts()
    out = []
    async with client(simulator, "supabase", "/supabase") as http:
        for p in supabase.projects():
            if p.status == "INACTIVE" or p.created > now:
                continue
            body = (await http.get(f"/v1/projects/{p.ref}/database/backups")).json()
            completed = [b["id"] for b in body["backups"] if b["status"] == "COMPLETED"]
            if not body["pitr_enabled"] and (not completed or now - max(completed) > BACKUP_AGE_LIMIT_S):
                out.append(p.name)
    return out


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} {labels}")


async def database_hosts(simulator: Simulator) -> dict[str, tuple[float, float, float, float]]:
    """Per active Supabase project, (CPU busy share over the last minute, memory used share, disk used
    share, replication lag s), as its metrics endpoint and the Management API serve them."""
    supabase = simulator.providers["supabase"]
    now = simulator.world.now_ts()
    active = [p for p in supabase.projects() if p.status != "INACTIVE" and p.created <= now]
    auth = httpx.BasicAuth("service_role", "sim-service-role-secret")

    async def scrape(http: httpx.AsyncClient) -> dict[str, str]:
        return {p.name: (await http.get(f"/supabase-metrics/{p.ref}/customer/v1/privileged/metrics")).text for p in active}
    async with httpx.AsyncClient(base_url=simulator.base_url, auth=auth) as http:
        before = await scrape(http)
        simulator.world.advance(60)
        after = await scrape(http)
    out = {}
    async with client(simulator, "supabase", "/supabase") as http:
        for p in active:
            disk = (await http.get(f"/v1/projects/{p.ref}/config/disk/util")).json()["metrics"]
            idle = (sample(after[p.name], "node_cpu_seconds_total", mode="idle")
                    - sample(before[p.name], "node_cpu_seconds_total", mode="idle")) / 60
            text = after[p.name]
            out[p.name] = (1 - idle, 1 - sample(text, "node_memory_MemAvailable_bytes")
                           / sample(text, "node_memory_MemTotal_bytes"),
                           disk["fs_used_bytes"] / disk["fs_size_bytes"],
                           sample(text, "physical_replication_lag_physical_replication_lag_seconds"))
    return out


async def autoscaled(simulator: Simulator) -> dict[str, tuple[list[float], int]]:
    """Per autoscaled Render service, (instance counts over the last 10 minutes, its autoscaling max)."""
    render = simulator.providers["render"]
    now = simulator.world.now_ts()
    out = {}
    async with client(simulator, "render", "/render/v1") as http:
        for s in render.services():
            if not s.autoscaling or s.created > now:
                continue
            details = (await http.get(f"/services/{s.id}")).json()["serviceDetails"]["autoscaling"]
            window = {"resource": s.id, "startTime": str(int(now - 600)), "endTime": str(int(now)),
                      "resolutionSeconds": "60"}
            counts = (await http.get("/metrics/instance-count", params=window)).json()
            out[s.name] = ([v["value"] for series in counts for v in series["values"]], details["max"])
    return out


async def requests(simulator: Simulator, name: str, ago_s: float) -> float:
    """Requests a Render service served in the 5 minutes that ended `ago_s` before now."""
    render = simulator.providers["render"]
    service = next(s for s in render.services() if s.name == name)
    end = simulator.world.now_ts() - ago_s
    async with client(simulator, "render", "/render/v1") as http:
        body = (await http.get("/metrics/http-requests", params={
            "resource": service.id, "startTime": str(int(end - 300)), "endTime": str(int(end - 60)),
            "resolutionSeconds": "60"})).json()
    return sum(v["value"] for series in body for v in series["values"])


def unpriced(simulator: Simulator) -> dict[str, dict[str, float]]:
    return {name: items for name, sim in simulator.providers.items()
            if (items := sim.ground_truth()["unpriced"]["items"])}


async def test_the_steady_world_holds_nothing_alert_worthy(simulator: Simulator) -> None:
    assert simulator.world.scenario == "steady" and not simulator.world.incidents
    assert all(cpu < 0.8 and memory < 0.85 for cpu, memory in (await utilisation(simulator)).values())
    assert await failed_deploys(simulator) == {}
    assert await stale_backups(simulator) == []
    assert unpriced(simulator) == {}
    hosts = await database_hosts(simulator)
    assert hosts and all(cpu < 0.8 and memory < 0.85 and disk < 0.8 and lag < 600
                         for cpu, memory, disk, lag in hosts.values()), hosts
    assert all(max(counts) < top for counts, top in (await autoscaled(simulator)).values())


async def test_saturation_heats_the_hot_services_while_it_runs(simulator: Simulator) -> None:
    render = simulator.providers["render"]
    hot_cpu, hot_memory = render.services()[HOT_CPU_INDEX].name, render.services()[HOT_MEMORY_INDEX].name
    simulator.world.set_scenario("saturation")
    hot = await utilisation(simulator)
    assert hot[hot_cpu][0] > 0.9 and hot[hot_memory][1] > 0.9
    assert all(cpu < 0.8 for name, (cpu, _m) in hot.items() if name != hot_cpu)
    simulator.world.set_scenario("steady")
    assert all(cpu < 0.8 and memory < 0.85 for cpu, memory in (await utilisation(simulator)).values())


async def test_saturation_runs_a_database_hot_and_an_autoscaled_service_at_its_maximum(simulator: Simulator) -> None:
    hot_project = simulator.providers["supabase"].projects()[HOT_PROJECT_INDEX].name
    hot_service = simulator.providers["render"].services()[HOT_CPU_INDEX].name
    assert set(await autoscaled(simulator)) == {hot_service}  # the hot-CPU service is the autoscaled one
    simulator.world.set_scenario("saturation")
    simulator.world.advance(300)
    hosts = await database_hosts(simulator)
    cpu, memory, disk, lag = hosts[hot_project]
    assert cpu > 0.8 and memory > 0.85 and disk > 0.8 and lag > 600
    assert all(c < 0.8 and m < 0.85 and d < 0.8 and lg < 600 for name, (c, m, d, lg) in hosts.items() if name != hot_project)
    counts, top = (await autoscaled(simulator))[hot_service]
    assert counts[-1] == top and min(counts) < top  # scaled up within the window, now at its maximum
    # ...because its traffic surged: far above the same 10 minutes a day before.
    assert await requests(simulator, hot_service, 0) > 3 * await requests(simulator, hot_service, 86400)
    simulator.world.set_scenario("steady")
    simulator.world.advance(600)
    counts, top = (await autoscaled(simulator))[hot_service]
    assert max(counts) < top
    cpu, memory, disk, lag = (await database_hosts(simulator))[hot_project]
    assert cpu < 0.8 and memory < 0.85 and disk < 0.8 and lag < 600


async def test_backup_missing_fails_the_stale_projects_backups_until_it_ends(simulator: Simulator) -> None:
    stale = simulator.providers["supabase"].projects()[STALE_BACKUP_INDEX].name
    simulator.world.set_scenario("backup-missing")
    assert await stale_backups(simulator) == [stale]
    simulator.world.set_scenario("steady")
    assert await stale_backups(simulator) == []


async def test_deploy_failure_fails_one_deploy_when_it_starts_and_its_end_deploys_a_fix(simulator: Simulator) -> None:
    world = simulator.world
    world.set_scenario("deploy-failure")
    world.advance(30)  # the failing deploy is final 6 s after it starts; no other attempt follows
    failed = await failed_deploys(simulator)
    assert set(failed) == {simulator.providers["render"].services()[0].name, "vercel"}
    assert all(len(ids) == 1 for ids in failed.values()), failed
    world.set_scenario("steady")
    world.advance(60)
    assert await failed_deploys(simulator) == failed  # history stays: the failures happened
    # The newest deploy of each is the fix, and it succeeded.
    async with client(simulator, "render", "/render/v1") as http:
        newest = (await http.get(f"/services/{simulator.providers['render'].services()[0].id}/deploys",
                                 params={"limit": 1})).json()[0]["deploy"]
    assert newest["status"] == "live" and newest["id"] not in failed[simulator.providers["render"].services()[0].name]
    deployments = simulator.providers["vercel"].visible_deployments()
    fix = max((d for d in deployments if d.project == 0), key=lambda d: d.created_ms)
    assert fix.state_at(int(world.now_ts() * 1000)) == "READY" and fix.uid not in failed["vercel"]


async def test_unpriced_usage_appears_today_while_it_runs(simulator: Simulator) -> None:
    simulator.world.set_scenario("unpriced-usage")
    assert "openai" in unpriced(simulator)
    simulator.world.set_scenario("steady")
    assert unpriced(simulator) == {}


@pytest.mark.incidents("saturation", "backup-missing", "deploy-failure", "unpriced-usage")
async def test_standing_incidents_hold_in_the_steady_scenario_history_included(simulator: Simulator) -> None:
    render = simulator.providers["render"]
    hot = await utilisation(simulator)
    assert hot[render.services()[HOT_CPU_INDEX].name][0] > 0.9
    assert hot[render.services()[HOT_MEMORY_INDEX].name][1] > 0.9
    failed = await failed_deploys(simulator)
    assert "vercel" in failed and len(failed) > 1  # failures all over the history, Render's too
    assert await stale_backups(simulator) == [simulator.providers["supabase"].projects()[STALE_BACKUP_INDEX].name]
    assert set(unpriced(simulator)) == {"openai", "llamacloud"}


def test_an_unknown_incident_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown incidents \\['meltdown'\\]"):
        World(incidents=frozenset({"meltdown"}))


async def test_rate_limited_answers_between_its_429s_leave_under_10_percent_headroom(simulator: Simulator) -> None:
    """RateLimitHeadroomLow (remaining / limit < 10 %) holds for the whole scenario, not only at each 429."""
    simulator.world.set_scenario("rate-limited", "openai")
    async with client(simulator, "openai", "/openai/v1") as http:
        answers = [await http.get("/organization/costs", params={"start_time": 0}) for _ in range(6)]
    assert {r.status_code for r in answers} == {200, 429}
    for r in answers:
        ratio = int(r.headers["x-ratelimit-remaining-requests"]) / int(r.headers["x-ratelimit-limit-requests"])
        assert ratio < 0.1, (r.status_code, dict(r.headers))
    simulator.world.set_scenario("steady")
    async with client(simulator, "openai", "/openai/v1") as http:
        calm = await http.get("/organization/costs", params={"start_time": 0})
    assert int(calm.headers["x-ratelimit-remaining-requests"]) / int(calm.headers["x-ratelimit-limit-requests"]) > 0.5


async def project_health(simulator: Simulator) -> dict[str, str]:
    async with client(simulator, "supabase", "/supabase") as http:
        return {p["name"]: p["status"] for p in (await http.get("/v1/projects")).json()}


def metrics_text(simulator: Simulator, index: int) -> tuple[int, str]:
    sim = simulator.providers["supabase"]
    project = sim.projects()[index]
    import base64

    from exporters.simulator.world import SUPABASE_SERVICE_ROLE_SECRET
    auth = "Basic " + base64.b64encode(f"service_role:{SUPABASE_SERVICE_ROLE_SECRET}".encode()).decode()
    response = httpx.get(f"{simulator.base_url}/supabase-metrics/{project.ref}/customer/v1/privileged/metrics",
                         headers={"Authorization": auth})
    return response.status_code, response.text


async def test_the_steady_world_has_no_unhealthy_project_but_shows_a_paused_one(simulator: Simulator) -> None:
    statuses = await project_health(simulator)
    assert sorted(set(statuses.values())) == ["ACTIVE_HEALTHY", "INACTIVE"]  # paused on purpose, shown not paged


async def test_supabase_down_makes_one_project_unhealthy_with_its_database_down_until_it_ends(simulator: Simulator) -> None:
    from exporters.simulator.supabase.sim import UNHEALTHY_INDEX
    name = simulator.providers["supabase"].projects()[UNHEALTHY_INDEX].name
    simulator.world.set_scenario("supabase-down")
    assert (await project_health(simulator))[name] == "ACTIVE_UNHEALTHY"
    status, text = await asyncio.to_thread(metrics_text, simulator, UNHEALTHY_INDEX)
    assert status == 200 and "\npg_up{" in text and [line for line in text.splitlines() if line.startswith("pg_up")][0].endswith(" 0")
    simulator.world.set_scenario("steady")
    assert (await project_health(simulator))[name] == "ACTIVE_HEALTHY"


async def test_auth_attack_floods_one_projects_auth_logs_with_failed_sign_ins_until_it_ends(simulator: Simulator) -> None:
    from exporters.simulator.supabase.sim import AUTH_ATTACK_FAILED_SIGN_INS_PER_MIN, AUTH_ATTACK_INDEX, iso
    sim = simulator.providers["supabase"]
    attacked, other = sim.projects()[AUTH_ATTACK_INDEX], sim.projects()[AUTH_ATTACK_INDEX + 1]

    async def failures(p) -> dict[str, int]:  # type: ignore[no-untyped-def]
        """The last complete minute's outcomes of `p`, by outcome, as logs.all answers them."""
        end = simulator.world.now_ts() // 60 * 60
        async with client(simulator, "supabase", "/supabase") as http:
            rows = (await http.get(f"/v1/projects/{p.ref}/analytics/endpoints/logs.all", params={
                "sql": "select kind, outcome, count(*) as count from auth_logs group by kind, outcome",
                "iso_timestamp_start": iso(end - 60), "iso_timestamp_end": iso(end)})).json()["result"]
        out = {"success": 0, "failure": 0}
        for row in rows:
            out[row["outcome"]] += row["count"]
        return out

    steady = await failures(attacked)
    assert steady["failure"] < 0.1 * (steady["failure"] + steady["success"])  # a few per cent in steady state
    simulator.world.set_scenario("auth-attack")
    simulator.world.advance(120)
    attack = await failures(attacked)
    assert attack["failure"] >= AUTH_ATTACK_FAILED_SIGN_INS_PER_MIN
    assert attack["failure"] > 0.25 * (attack["failure"] + attack["success"])  # over the alert's share
    untouched = await failures(other)
    assert untouched["failure"] < 0.1 * (untouched["failure"] + untouched["success"])
    simulator.world.set_scenario("steady")
    simulator.world.advance(60)
    after = await failures(attacked)
    assert after["failure"] < AUTH_ATTACK_FAILED_SIGN_INS_PER_MIN / 2


async def test_metrics_endpoint_down_answers_503_until_it_ends(simulator: Simulator) -> None:
    simulator.world.set_scenario("metrics-endpoint-down")
    assert (await asyncio.to_thread(metrics_text, simulator, 0))[0] == 503
    simulator.world.set_scenario("steady")
    assert (await asyncio.to_thread(metrics_text, simulator, 0))[0] == 200


def test_runaway_spend_accrues_the_model_s_usage_faster_from_its_start(world: World) -> None:
    from exporters.simulator.openai.sim import RUNAWAY_FACTOR, SPIKE_MODEL, OpenAISim
    sim = OpenAISim(world)
    def spike_tokens() -> int:
        return sum(r.input for r in sim.usage_on(world.today()) if r.model == SPIKE_MODEL)
    before = spike_tokens()
    world.set_scenario("runaway-spend")
    world.advance(600)
    during = spike_tokens()
    world.set_scenario("steady")
    world.advance(600)
    after = spike_tokens()
    # In 10 minutes the model's usage grew RUNAWAY_FACTOR + 1 times as fast as in 10 usual minutes.
    usual = after - during
    assert usual > 0 and (during - before) > RUNAWAY_FACTOR * usual * 0.9


def test_several_scenarios_run_side_by_side_and_one_no_longer_named_ends(world: World) -> None:
    world.set_scenarios(["saturation", "cost-spike"])
    assert world.scenario_applies("saturation", "render") and world.scenario_applies("cost-spike", "openai")
    started = world.since("saturation")
    world.advance(30)
    world.set_scenarios(["saturation", "deploy-failure"])
    assert world.since("saturation") == started  # still running, not restarted
    assert not world.scenario_applies("cost-spike", "openai")
    assert [(e.name, e.until is None) for e in world.episodes] == [("saturation", True), ("cost-spike", False),
                                                                   ("deploy-failure", True)]
    world.set_scenarios([])
    assert world.scenario == "steady" and not world.active
    with pytest.raises(ValueError, match="unknown scenario"):
        world.set_scenarios(["no-such-thing"])
