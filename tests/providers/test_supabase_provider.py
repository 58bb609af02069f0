"""Supabase exporter and simulator (Management API and Prometheus endpoint) over loopback HTTP."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timezone

import httpx
import pytest
from simhelpers import counter_value, make_runtime, metric_points
from test_render_provider import counter_total

from exporters.simulator.server import Fault
from exporters.simulator.supabase.sim import HOT_PROJECT_INDEX
from exporters.simulator.world import SUPABASE_SERVICE_ROLE_SECRET, Scale

HISTORY = Scale().history_days


def supabase_runtime(sim):
    return make_runtime(sim, only="supabase", overrides={"providers": {"supabase": {"history_days": HISTORY}}})


async def test_first_poll_mid_month_prices_the_plan_and_reports_unobserved_compute_as_a_gap(simulator):
    """First poll on the 18th with no stored history: the plan fee is config (known for the whole
    month so far); compute and add-ons before the first observation are unknown to the API, so they
    are reported as unobserved seconds, not priced with today's sizes."""
    runtime, reader = supabase_runtime(simulator)
    outcomes = await runtime.collector.run_cycle(force=True)
    assert all(o.ok for o in outcomes), outcomes
    now = simulator.world.now()
    month_start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    summary = runtime.ledger.summary(now)
    plan_so_far = 25.0 * (now - month_start).total_seconds() / (30 * 86400)  # Pro: $25 a month
    assert summary.month_to_date_by_provider["supabase"] == pytest.approx(plan_so_far, abs=0.005)
    unobserved = {p.attributes["project"]: p.value for p in metric_points(reader, "supabase.cost.unobserved")}
    for project in simulator.providers["supabase"].projects():
        since = max(month_start, datetime.fromtimestamp(project.created, tz=timezone.utc))
        assert unobserved[project.name] == pytest.approx((now - since).total_seconds()), project.name
    await runtime.aclose()


@pytest.mark.incidents("backup-missing")  # the stale project's recent backups failed
async def test_backup_age_is_from_the_latest_completed_backup_and_absent_without_one(simulator):
    runtime, _ = supabase_runtime(simulator)
    await runtime.collector.run_cycle(force=True)
    sim = simulator.providers["supabase"]
    ages = runtime.store.gauge_points("supabase.backup.age")
    now = simulator.world.now_ts()
    for project in sim.projects():
        completed = [ts for ts, status in sim.backup_times(project) if status == "COMPLETED"]
        key = (("project", project.name),)
        if not completed:
            assert key not in ages  # the paused project has no backup: no series, not 0
        else:
            # inserted_at has whole seconds; the poll ran a moment before `now`
            assert ages[key] == pytest.approx(now - max(completed), abs=5)
    stale = sim.projects()[1]
    assert ages[(("project", stale.name),)] > 4 * 86400  # its recent backups FAILED
    await runtime.aclose()


async def test_api_request_counter_adds_only_new_buckets(simulator):
    runtime, reader = supabase_runtime(simulator)
    await runtime.collector.run_cycle(force=True)
    first = counter_total(reader, "supabase.api.requests")
    assert first > 0
    simulator.world.advance(120)
    await runtime.collector.run_cycle(force=True)  # force: api_counts is a slow stream
    sim = simulator.providers["supabase"]
    now = simulator.world.now_ts()
    # Two more minutes complete: the one in progress at the first poll, and the next one.
    newest_complete_then = (now - 120) // 60 * 60 - 60
    buckets = (newest_complete_then + 60, newest_complete_then + 120)
    expected = sum(sim.api_count(p, service, t, 60) for p in sim.projects() if sim._active(p)
                   for service in ("rest", "auth", "storage", "realtime") for t in buckets)
    assert counter_total(reader, "supabase.api.requests") - first == expected
    await runtime.aclose()


def auth_expected(sim, minutes) -> dict[tuple[str, str, str], int]:
    """The simulator's own auth events of `minutes`, by (project, kind, outcome)."""
    out: dict[tuple[str, str, str], int] = {}
    for p in sim.projects():
        if not sim._active(p):
            continue
        for minute in minutes:
            for (kind, outcome), count in sim.auth_events(p, minute).items():
                out[(p.name, kind, outcome)] = out.get((p.name, kind, outcome), 0) + count
    return out


def auth_counts(reader) -> dict[tuple[str, str, str], float]:
    return {(p.attributes["project"], p.attributes["kind"], p.attributes["outcome"]): p.value
            for p in metric_points(reader, "supabase.auth.events")}


async def test_auth_outcomes_count_each_complete_minute_once_by_kind_and_outcome(simulator):
    """The first poll reads the last complete minute; the next, the minutes completed since (each once)."""
    sim = simulator.providers["supabase"]
    runtime, reader = supabase_runtime(simulator)
    first_end = simulator.world.now_ts() // 60 * 60
    await runtime.collector.run_cycle(force=True)
    simulator.world.advance(150)
    second_end = simulator.world.now_ts() // 60 * 60
    await runtime.collector.run_cycle(force=True)
    minutes = range(int(first_end - 60), int(second_end), 60)
    expected = {k: v for k, v in auth_expected(sim, minutes).items() if v}
    assert expected and {k[2] for k in expected} == {"success", "failure"}
    assert auth_counts(reader) == pytest.approx(expected)
    await runtime.aclose()


async def test_a_bad_auth_logs_answer_is_counted_skipped_and_its_minutes_read_again(simulator):
    """An answer with an error or an unknown row counts nothing (no partial count, no 0) and is one
    invalid item; the mark stays, so the next good poll counts those minutes."""
    sim = simulator.providers["supabase"]
    runtime, reader = supabase_runtime(simulator)
    active = sum(1 for p in sim.projects() if sim._active(p))
    first_end = simulator.world.now_ts() // 60 * 60
    simulator.inject("supabase", Fault("invalid_item", count=active, path_contains="/logs.all"))
    await runtime.collector.run_cycle(force=True)
    assert auth_counts(reader) == {}
    assert counter_value(reader, "stackwatch.provider.invalid_items", provider="supabase") == active
    simulator.world.advance(60)
    second_end = simulator.world.now_ts() // 60 * 60
    await runtime.collector.run_cycle(force=True)
    expected = auth_expected(sim, range(int(first_end - 60), int(second_end), 60))
    assert auth_counts(reader) == pytest.approx({k: v for k, v in expected.items() if v})
    await runtime.aclose()


async def test_a_failed_auth_logs_poll_reports_nothing_and_loses_no_minute(simulator):
    sim = simulator.providers["supabase"]
    runtime, reader = supabase_runtime(simulator)
    first_end = simulator.world.now_ts() // 60 * 60
    simulator.inject("supabase", Fault("status", status=500, count=100, path_contains="/logs.all"))
    outcomes = await runtime.collector.run_cycle(force=True)
    assert not next(o for o in outcomes if o.stream == "auth_logs").ok
    assert all(o.ok for o in outcomes if o.provider == "supabase" and o.stream != "auth_logs"), outcomes
    assert metric_points(reader, "supabase.auth.events") == []
    simulator.faults.clear()
    simulator.world.advance(60)
    second_end = simulator.world.now_ts() // 60 * 60
    await runtime.collector.run_cycle(force=True)
    expected = auth_expected(sim, range(int(first_end - 60), int(second_end), 60))
    assert auth_counts(reader) == pytest.approx({k: v for k, v in expected.items() if v})
    await runtime.aclose()


@pytest.mark.incidents("supabase-down")
async def test_health_and_status_gauges_show_the_unhealthy_and_paused_projects(simulator):
    runtime, _ = supabase_runtime(simulator)
    await runtime.collector.run_cycle(force=True)
    sim = simulator.providers["supabase"]
    healthy, paused = sim.projects()[0], sim.projects()[-1]
    up = runtime.store.gauge_points("supabase.project.up")
    assert up[(("project", healthy.name), ("status", "ACTIVE_HEALTHY"))] == 1
    assert up[(("project", paused.name), ("status", "INACTIVE"))] == 0
    services = runtime.store.gauge_points("supabase.service.healthy")
    assert up[(("project", sim.projects()[1].name), ("status", "ACTIVE_UNHEALTHY"))] == 0
    assert services[(("project", sim.projects()[1].name), ("service", "storage"))] == 0
    assert services[(("project", healthy.name), ("service", "db"))] == 1
    assert not any(dict(k)["project"] == paused.name for k in services)
    await runtime.aclose()


@pytest.mark.incidents("supabase-down")
async def test_steady_cycle_checks_health_only_where_needed(simulator):
    runtime, _ = supabase_runtime(simulator)
    await runtime.collector.run_cycle(force=True)
    before = simulator.stats.requests["supabase"]
    simulator.world.advance(60)
    await runtime.collector.run_cycle()
    # projects list + the one ACTIVE_UNHEALTHY project's health + the minute's auth logs of each active project
    active = sum(1 for p in simulator.providers["supabase"].projects() if simulator.providers["supabase"]._active(p))
    assert simulator.stats.requests["supabase"] - before == 2 + active
    await runtime.aclose()


# --- the Prometheus endpoint ---

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\} '
                     r'(-?[0-9.eE+-]+|NaN|[+-]Inf)$')


def parse_prometheus_text(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A strict reading of text format 0.0.4: HELP and TYPE before samples, known types, valid samples."""
    declared: dict[str, str] = {}
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in declared, f"TYPE declared twice: {name}"
            declared[name] = kind
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a valid sample line: {line!r}"
        name, labels, value = match.groups()
        assert name in declared, f"sample before its TYPE: {name}"
        pairs = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels))
        samples.setdefault(name, []).append((pairs, float(value)))
    return samples


async def test_prometheus_endpoint_requires_service_role_basic_auth(simulator):
    ref = simulator.providers["supabase"].projects()[0].ref
    url = f"{simulator.base_url}/supabase-metrics/{ref}/customer/v1/privileged/metrics"
    good = base64.b64encode(f"service_role:{SUPABASE_SERVICE_ROLE_SECRET}".encode()).decode()
    bad = base64.b64encode(b"service_role:wrong").decode()
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers={"Authorization": f"Basic {bad}"})).status_code == 401
        ok = await client.get(url, headers={"Authorization": f"Basic {good}"})
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")


async def test_prometheus_body_parses_and_counters_grow_with_time(simulator):
    sim = simulator.providers["supabase"]
    project = sim.projects()[0]
    first = parse_prometheus_text(sim.prometheus_text(project))
    for name in ("pg_up", "pg_stat_database_num_backends", "max_connections_connection_count",
                 "supavisor_connections_active", "pg_database_size_bytes", "node_cpu_seconds_total",
                 "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "node_filesystem_avail_bytes",
                 "node_filesystem_size_bytes", "physical_replication_lag_physical_replication_lag_seconds",
                 "pg_stat_statements_total_time_seconds", "auth_users_user_count"):
        assert name in first, name
        for labels, _ in first[name]:
            assert labels["supabase_project_ref"] == project.ref and labels["service_type"] == "db"
    assert first["pg_up"][0][1] == 1
    simulator.world.advance(60)
    later = parse_prometheus_text(sim.prometheus_text(project))
    assert later["node_cpu_seconds_total"][0][1] > first["node_cpu_seconds_total"][0][1]
    simulator.world.set_scenario("outage", "supabase")
    assert parse_prometheus_text(sim.prometheus_text(project))["pg_up"][0][1] == 0


# What the project's metrics endpoint publishes for the Supabase board's database state panels, as
# supabase/supabase-grafana docs/metrics.md lists it: name, type and labels beyond the project's.
PUBLISHED = {
    "pg_settings_default_transaction_read_only": ("gauge", {"server"}),
    "replication_slots_max_lag_bytes": ("gauge", {"server"}),
    "node_disk_read_bytes_total": ("counter", {"device"}),
    "node_disk_written_bytes_total": ("counter", {"device"}),
    "node_disk_io_time_seconds_total": ("counter", {"device"}),
    "node_vmstat_oom_kill": ("untyped", set()),
}


async def test_the_endpoint_serves_the_database_state_series_supabase_publishes(simulator):
    sim = simulator.providers["supabase"]
    active = next(p for p in sim.projects() if p.status != "INACTIVE")
    text = sim.prometheus_text(active)
    samples = parse_prometheus_text(text)
    for name, (kind, labels) in PUBLISHED.items():
        assert f"# TYPE {name} {kind}\n" in text, name
        for series, value in samples[name]:
            assert set(series) - {"supabase_project_ref", "service_type"} == labels, (name, series)
            assert value >= 0, (name, value)
    assert {s["device"] for s, _ in samples["node_disk_read_bytes_total"]} == {"nvme0n1", "nvme1n1"}
    assert samples["node_vmstat_oom_kill"][0][1] == 0
    before = {s["device"]: v for s, v in samples["node_disk_written_bytes_total"]}
    simulator.world.advance(60)
    after = {s["device"]: v for s, v in parse_prometheus_text(sim.prometheus_text(active))["node_disk_written_bytes_total"]}
    assert all(after[d] > before[d] for d in before)


@pytest.mark.incidents("saturation")
async def test_read_only_mode_follows_the_disk_and_a_paused_project_has_no_slot_lag(simulator):
    """Supabase turns read-only mode on at 95 % disk (saturation's hot project: 97 %); a paused project
    holds no replication slot (NaN, as the exporter reports a slotless database)."""
    sim = simulator.providers["supabase"]
    def read_only(project) -> float:  # noqa: ANN001
        return parse_prometheus_text(sim.prometheus_text(project))["pg_settings_default_transaction_read_only"][0][1]
    active = [p for p in sim.projects() if p.status != "INACTIVE"]
    hot = next(p for p in active if p.index == HOT_PROJECT_INDEX)
    assert sim.disk_used(hot) >= 0.95 * hot.disk_size and read_only(hot) == 1
    for calm in (p for p in active if p is not hot):
        assert sim.disk_used(calm) < 0.95 * calm.disk_size and read_only(calm) == 0
    paused = next(p for p in sim.projects() if p.status == "INACTIVE")
    lag = parse_prometheus_text(sim.prometheus_text(paused))["replication_slots_max_lag_bytes"][0][1]
    assert lag != lag  # NaN
