"""Every Prometheus query of `stackwatch validate`'s scaling, delivery, security and baselines checks,
run by the native Prometheus on data shaped to pass and data shaped to fail.

Each world is written as OpenMetrics, turned into a TSDB block by `promtool tsdb create-blocks-from
openmetrics` and loaded by a Prometheus of its own (no scrape targets). The checks run through the
validator's own HTTP client, every query evaluated at the end of the data (`AT`), so the result does
not depend on how long the test takes. tests/operator_tools/test_validate_checks.py keeps the fake
Prometheus for the checks' decision logic; this module proves the queries select, aggregate and
window the series the way those checks assume.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from stack.conftest import Service, free_port

from exporters.ops.validate import baselines, delivery, scaling, security
from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Status
from exporters.ops.validate.prom import Prometheus, Sample
from exporters.service.config import load_config

from .test_validate_checks import CONFIG

pytestmark = pytest.mark.e2e

# The evaluation time: a whole hour at least an hour ago, so every sample is in a persisted block.
AT = math.floor(time.time() / 3600) * 3600 - 3600
WEEK = 7 * 86400
MINUTE = 60


@dataclass(frozen=True)
class Series:
    name: str
    labels: dict[str, str]
    points: tuple[tuple[float, float], ...]  # (unix time, value)


def gauge(name: str, labels: dict[str, str], value, *, minutes: int = 120) -> Series:
    """A gauge sampled each minute for `minutes` up to AT; `value(t)` or a constant."""
    at = value if callable(value) else (lambda _t: value)
    return Series(name, labels, tuple((t, float(at(t))) for t in range(AT - minutes * MINUTE, AT + 1, MINUTE)))


def counter_per_minute(name: str, labels: dict[str, str], per_minute: float, *, minutes: int = 120) -> Series:
    return gauge(name, labels, lambda t: (t - (AT - minutes * MINUTE)) / MINUTE * per_minute, minutes=minutes)


def deploys(name: str, labels: dict[str, str], week_ago: float | None, now: float) -> Series:
    """A deploy counter: its value a week before AT (None: the series is born inside the week) and at AT."""
    points = [] if week_ago is None else [(AT - WEEK - MINUTE, week_ago), (AT - WEEK, week_ago)]
    return Series(name, labels, tuple(points + [(AT - 2 * MINUTE, now), (AT - MINUTE, now), (AT, now)]))


def openmetrics(series: list[Series]) -> str:
    lines = []
    for name in sorted({s.name for s in series}):  # a family's samples together, as OpenMetrics requires
        for s in (s for s in series if s.name == name):
            labels = ",".join(f'{k}="{v}"' for k, v in sorted({"job": "stackwatch", **s.labels}.items()))
            lines += [f"{name}{{{labels}}} {v} {t}" for t, v in s.points]
    return "\n".join(lines + ["# EOF"]) + "\n"


class AtEnd:
    """The validator's Prometheus client, every instant query evaluated at AT."""

    def __init__(self, prom: Prometheus):
        self.prom = prom

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        return self.prom.query(expr, at=AT if at is None else at)

    def metric_names(self) -> set[str]:
        return self.prom.metric_names()

    def targets(self) -> list[dict]:
        return self.prom.targets()


def start_prometheus(tools, workdir: Path, series: list[Series]) -> Service:
    workdir.mkdir(parents=True)
    blocks = workdir / "data"
    if series:
        (workdir / "data.om").write_text(openmetrics(series))
        done = subprocess.run([str(tools.promtool), "tsdb", "create-blocks-from", "openmetrics",
                               "--max-block-duration=384h", str(workdir / "data.om"), str(blocks)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    (workdir / "prometheus.yml").write_text("global:\n  evaluation_interval: 1m\n")
    port = free_port()
    service = Service("prometheus", [str(tools.prometheus), f"--config.file={workdir / 'prometheus.yml'}",
                                     f"--storage.tsdb.path={blocks}", f"--web.listen-address=127.0.0.1:{port}"],
                      f"http://127.0.0.1:{port}/-/ready", workdir)
    service.start(timeout=120)
    return service


# --- the two worlds ---

def passing_world() -> list[Series]:
    return [
        # scaling: autoscaled (busy, still a pass), calm; a service with CPU but no memory series is unknown
        gauge("render_service_autoscaling_max_instances", {"service": "auto"}, 4),
        gauge("render_service_cpu_utilization_ratio", {"service": "auto", "instance": "i1"}, 0.99),
        gauge("render_service_memory_utilization_ratio", {"service": "auto", "instance": "i1"}, 0.9),
        gauge("render_service_cpu_utilization_ratio", {"service": "calm", "instance": "i1"}, 0.5),
        gauge("render_service_memory_utilization_ratio", {"service": "calm", "instance": "i1"}, 0.6),
        gauge("render_service_cpu_utilization_ratio", {"service": "half", "instance": "i1"}, 0.1),
        # Supabase: 2 databases × 20 backends of 100 connections
        gauge("pg_stat_database_num_backends", {"project": "a", "datname": "postgres"}, 20),
        gauge("pg_stat_database_num_backends", {"project": "a", "datname": "app"}, 20),
        gauge("max_connections_connection_count", {"project": "a"}, 100),
        # delivery: Vercel 19 READY, 1 ERROR in the week; Render 10 live, none failed
        deploys("vercel_deployments_total", {"project": "web", "target": "production", "state": "READY"}, 100, 119),
        deploys("vercel_deployments_total", {"project": "web", "target": "preview", "state": "ERROR"}, 10, 11),
        deploys("render_deploys_total", {"service": "api", "status": "live"}, 5, 15),
        deploys("render_deploys_total", {"service": "api", "status": "build_failed"}, 2, 2),
        # security: drain deliveries refused only for a bad signature; certificates 30 days from AT;
        # a short one outside the blackbox job is not the frontend's or backend's
        counter_per_minute("stackwatch_drain_rejected_total", {"drain": "vercel", "reason": "signature"}, 1),
        gauge("stackwatch_drain_rejected_total", {"drain": "vercel", "reason": "unconfigured"}, 3),
        gauge("probe_ssl_earliest_cert_expiry", {"job": "blackbox", "instance": "https://a"}, AT + 30 * 86400),
        gauge("probe_ssl_earliest_cert_expiry", {"job": "other", "instance": "https://b"}, AT + 86400),
        # baselines: p95 0.4 s, probe 0.2 s, 5 % of Render's and 1 % of Vercel's requests 5xx, $31 this month
        gauge("render_service_http_latency_seconds", {"service": "api", "quantile": "0.95"}, 0.4),
        gauge("render_service_http_latency_seconds", {"service": "api", "quantile": "0.5"}, 9.0),
        gauge("probe_duration_seconds", {"job": "blackbox", "instance": "https://a"}, 0.2),
        counter_per_minute("render_service_http_requests_total", {"service": "api", "status_class": "5xx"}, 1),
        counter_per_minute("render_service_http_requests_total", {"service": "api", "status_class": "2xx"}, 19),
        counter_per_minute("vercel_requests_total", {"project": "web", "status_class": "5xx"}, 1),
        counter_per_minute("vercel_requests_total", {"project": "web", "status_class": "2xx"}, 99),
        gauge("stackwatch_cost_month_to_date_usd", {"provider": "openai", "project": "p1"}, 20.0),
        gauge("stackwatch_cost_month_to_date_usd", {"provider": "openai", "project": "p2"}, 11.0),
    ]


def failing_world() -> list[Series]:
    return [
        # scaling: one service hot for ten minutes of the hour (its peak counts), no autoscaling
        gauge("render_service_cpu_utilization_ratio", {"service": "hot", "instance": "i1"},
              lambda t: 0.95 if AT - 30 * MINUTE <= t < AT - 20 * MINUTE else 0.5),
        gauge("render_service_memory_utilization_ratio", {"service": "hot", "instance": "i1"}, 0.5),
        # Supabase: 90 of 100 connections at a peak twenty minutes ago
        gauge("pg_stat_database_num_backends", {"project": "b", "datname": "postgres"},
              lambda t: 90 if t == AT - 20 * MINUTE else 10),
        gauge("max_connections_connection_count", {"project": "b"}, 100),
        # delivery: Vercel's 5 deploys of the week all failed (the ERROR series born this week), no READY
        # production deploy; Render 7 live, 3 failed (70 %)
        deploys("vercel_deployments_total", {"project": "web", "target": "preview", "state": "READY"}, 3, 3),
        deploys("vercel_deployments_total", {"project": "web", "target": "production", "state": "ERROR"}, None, 5),
        deploys("render_deploys_total", {"service": "api", "status": "live"}, 10, 17),
        deploys("render_deploys_total", {"service": "api", "status": "update_failed"}, None, 3),
        # security: deliveries refused for want of a secret; one certificate 13 days from AT
        counter_per_minute("stackwatch_drain_rejected_total", {"drain": "vercel", "reason": "unconfigured"}, 0.2),
        gauge("probe_ssl_earliest_cert_expiry", {"job": "blackbox", "instance": "https://a"}, AT + 30 * 86400),
        gauge("probe_ssl_earliest_cert_expiry", {"job": "blackbox", "instance": "https://b"}, AT + 13 * 86400),
        # baselines: the same service, slower
        gauge("render_service_http_latency_seconds", {"service": "api", "quantile": "0.95"}, 0.6),
    ]


@pytest.fixture(scope="module")
def worlds(tools, tmp_path_factory) -> Iterator[dict[str, AtEnd]]:
    work = tmp_path_factory.mktemp("validate-queries")
    services = []
    try:
        names = ("passing", "failing", "empty")
        for name, series in zip(names, (passing_world(), failing_world(), []), strict=True):
            services.append(start_prometheus(tools, work / name, series))
        yield {name: AtEnd(Prometheus(service.ready_url.removesuffix("/-/ready")))
               for name, service in zip(names, services, strict=True)}
    finally:
        for service in services:
            service.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "stackwatch.yaml").write_text(CONFIG)
    shutil.copy(Path(__file__).resolve().parents[2] / "docker-compose.yml", tmp_path / "docker-compose.yml")
    return tmp_path


def context(project: Path, prom: AtEnd, **kw) -> Context:
    return Context(config=load_config(project / "stackwatch.yaml"), config_path=project / "stackwatch.yaml",
                   prom=prom, project_dir=project, env={}, **kw)


def by_name(checks) -> dict[str, Status]:
    return {c.name: c.status for c in checks}


def test_render_headroom_passes_when_autoscaled_or_calm_and_fails_on_a_peak_inside_the_window(worlds, project):
    assert by_name(scaling.render_headroom(context(project, worlds["passing"]))) == {
        "Render auto scaling": Status.PASS, "Render calm scaling": Status.PASS, "Render half scaling": Status.UNKNOWN}
    hot = scaling.render_headroom(context(project, worlds["failing"]))
    assert by_name(hot) == {"Render hot scaling": Status.FAIL}
    assert "CPU 95%" in hot[0].evidence, hot[0].evidence


def test_supabase_connections_sum_databases_and_fail_on_the_windows_peak(worlds, project):
    passing = scaling.supabase_connections(context(project, worlds["passing"]))
    assert by_name(passing) == {"Supabase a connections headroom": Status.PASS}
    assert "40% of max_connections" in passing[0].evidence, passing[0].evidence
    failing = scaling.supabase_connections(context(project, worlds["failing"]))
    assert by_name(failing) == {"Supabase b connections headroom": Status.FAIL}
    assert "90% of max_connections" in failing[0].evidence, failing[0].evidence


def test_deploy_success_counts_the_weeks_deploys_and_a_series_born_inside_it(worlds, project):
    passing = {c.name: c for c in delivery.run(context(project, worlds["passing"]))}
    assert {n: c.status for n, c in passing.items()} == dict.fromkeys(
        ["Vercel deploy success rate", "Vercel production rollback target", "Render deploy success rate",
         "Render rollback target"], Status.PASS)
    assert passing["Vercel deploy success rate"].evidence.startswith("19 succeeded, 1 failed")
    assert passing["Render deploy success rate"].evidence.startswith("10 succeeded, 0 failed")
    failing = {c.name: c for c in delivery.run(context(project, worlds["failing"]))}
    assert {n: c.status for n, c in failing.items()} == {
        "Vercel deploy success rate": Status.FAIL, "Vercel production rollback target": Status.FAIL,
        "Render deploy success rate": Status.FAIL, "Render rollback target": Status.PASS}
    assert failing["Vercel deploy success rate"].evidence.startswith("0 succeeded, 5 failed")
    assert failing["Render deploy success rate"].evidence.startswith("7 succeeded, 3 failed")


def test_drain_secret_fails_only_on_deliveries_refused_as_unconfigured_inside_the_window(worlds, project):
    quiet = security.drain_secret(context(project, worlds["passing"]))[0]
    assert quiet.status is Status.PASS and "no drain delivery refused" in quiet.evidence, quiet
    refused = security.drain_secret(context(project, worlds["failing"]))[0]
    # 0.2 a minute over the 1-hour window: 12
    assert refused.status is Status.FAIL and "12 drain deliveries were refused" in refused.evidence, refused


def test_tls_reads_the_blackbox_probes_days_left_at_query_time(worlds, project):
    ok = security.tls(context(project, worlds["passing"]))[0]
    assert ok.status is Status.PASS and "1 certificates; shortest 30.0 d" in ok.evidence, ok
    short = security.tls(context(project, worlds["failing"]))[0]
    assert short.status is Status.FAIL and "https://b: 13.0 d" in short.evidence, short


def test_baseline_figures_from_real_queries_and_a_slower_service_fails_against_them(worlds, project, tmp_path):
    recorded = baselines.record(context(project, worlds["passing"]), tmp_path / "baseline.json")
    figures = recorded["figures"]
    assert figures["latency_p95_seconds"] == pytest.approx({"render:api": 0.4, "probe:https://a": 0.2})
    assert figures["error_rate"] == pytest.approx({"render:api": 0.05, "vercel:web": 0.01})
    day = datetime.now(timezone.utc).day
    assert figures["daily_cost_usd"] == pytest.approx({"openai": 31.0 / day})
    same = baselines.run(context(project, worlds["passing"], baseline=recorded))[0]
    assert same.status is Status.PASS and "5 figures compared" in same.evidence, same
    slower = baselines.run(context(project, worlds["failing"], baseline=recorded))[0]
    assert slower.status is Status.FAIL and "latency_p95_seconds render:api: 0.4 → 0.6" in slower.evidence, slower


def test_a_prometheus_without_the_series_leaves_each_check_unknown_not_passed(worlds, project, tmp_path):
    ctx = context(project, worlds["empty"])
    assert by_name(scaling.run(ctx)) == {"Render headroom": Status.UNKNOWN,
                                         "Supabase connections headroom": Status.UNKNOWN}
    assert by_name(delivery.run(ctx)) == dict.fromkeys(
        ["Vercel deploy success rate", "Vercel production rollback target", "Render deploy success rate",
         "Render rollback target"], Status.UNKNOWN)
    assert security.tls(ctx)[0].status is Status.UNKNOWN
    recorded = baselines.record(context(project, worlds["passing"]), tmp_path / "baseline.json")
    assert baselines.run(context(project, worlds["empty"], baseline=recorded))[0].status is Status.UNKNOWN
