"""Each validate check proved to pass and to fail on canned evidence (tests/operator_tools/fakeprom.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from exporters.ops.validate import alerting, backups, baselines, delivery, monitoring, scaling, security
from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Check, Level, Status, level_reached, outcome, score
from exporters.ops.validate.runner import exit_code
from exporters.service.config import load_config

from .fakeprom import FakePrometheus

REPO = Path(__file__).resolve().parents[2]
CONFIG = """\
simulator: true
providers:
  vercel: {enabled: true, base_url: "http://127.0.0.1:1"}
  render: {enabled: true, base_url: "http://127.0.0.1:1"}
  supabase: {enabled: true, base_url: "http://127.0.0.1:1"}
  openai: {enabled: false}
  llamacloud: {enabled: false}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's generated alerting, runbooks and compose file."""
    shutil.copytree(REPO / "alerting" / "generated", tmp_path / "alerting" / "generated")
    shutil.copytree(REPO / "docs" / "runbooks", tmp_path / "docs" / "runbooks")
    shutil.copy(REPO / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / "stackwatch.yaml").write_text(CONFIG)
    return tmp_path


def make(project: Path, prom: FakePrometheus | None = None, env: dict | None = None, **kw) -> Context:
    return Context(config=load_config(project / "stackwatch.yaml"), config_path=project / "stackwatch.yaml",
                   prom=prom or FakePrometheus(), project_dir=project, env=env or {}, **kw)


def statuses(checks: list[Check]) -> list[Status]:
    return [c.status for c in checks]


# --- monitoring ---

def test_provider_up_and_fresh_passes_and_a_down_or_stale_or_silent_provider_fails(project):
    prom = (FakePrometheus()
            .answer("stackwatch_provider_up", ({"provider": "vercel"}, 1), ({"provider": "render"}, 0))
            .answer("last_success_age", ({"provider": "vercel"}, 30), ({"provider": "render"}, 30)))
    checks = {c.name: c for c in monitoring.provider_health(make(project, prom))}
    assert checks["vercel up and fresh"].status is Status.PASS
    assert checks["render up and fresh"].status is Status.FAIL  # up=0
    assert checks["supabase up and fresh"].status is Status.FAIL  # no series at all
    assert "no stackwatch_provider_up" in checks["supabase up and fresh"].evidence
    stale = FakePrometheus().answer("stackwatch_provider_up", ({"provider": "vercel"}, 1)).answer(
        "last_success_age", ({"provider": "vercel"}, 901))  # threshold data_staleness_seconds: 900
    assert monitoring.provider_health(make(project, stale))[0].status is Status.FAIL


def test_catalogued_metrics_pass_when_all_present_warn_for_event_driven_and_fail_for_others(project):
    expected = monitoring.expected_metrics(["vercel", "render", "supabase"])
    names = {spec.prometheus_name for spec, _ in expected}
    assert "openai_usage_requests_total" not in names  # openai disabled: not expected
    assert monitoring.catalogued_metrics(make(project, FakePrometheus(names=names)))[0].status is Status.PASS
    without_event = names - {"stackwatch_provider_poll_errors_total", "vercel_requests_total"}
    check = monitoring.catalogued_metrics(make(project, FakePrometheus(names=without_event)))[0]
    assert check.status is Status.WARN and "only after a failed poll" in check.evidence
    without_core = names - {"render_service_cpu_utilization_ratio"}
    check = monitoring.catalogued_metrics(make(project, FakePrometheus(names=without_core)))[0]
    assert check.status is Status.FAIL and "render_service_cpu_utilization_ratio" in check.evidence


def test_scrape_targets_pass_when_up_fail_when_one_is_down_unknown_when_none(project):
    up = {"health": "up", "labels": {"job": "stackwatch", "instance": "a"}}
    down = {"health": "down", "labels": {"job": "supabase", "instance": "b"}, "lastError": "401 Unauthorized"}
    assert monitoring.scrape_targets(make(project, FakePrometheus(active_targets=[up])))[0].status is Status.PASS
    check = monitoring.scrape_targets(make(project, FakePrometheus(active_targets=[up, down])))[0]
    assert check.status is Status.FAIL and "supabase/b: 401 Unauthorized" in check.evidence
    assert monitoring.scrape_targets(make(project))[0].status is Status.UNKNOWN


# --- alerting ---

CRITICAL_VARS = {"PAGERDUTY_INTEGRATION_KEY": "k" * 32, "SMS_WEBHOOK_URL": "https://sms.example/hook"}


def test_alerting_passes_on_the_generated_files_with_critical_channels_set(project):
    checks = alerting.run(make(project, env=CRITICAL_VARS))
    assert statuses(checks) == [Status.PASS] * 4, checks


def test_critical_channel_unset_fails_and_names_the_variable_read_from_dotenv_too(project):
    check = alerting.run(make(project, env={"PAGERDUTY_INTEGRATION_KEY": "k" * 32}))[-1]
    assert check.status is Status.FAIL and "SMS_WEBHOOK_URL" in check.evidence
    ctx = make(project, env={"PAGERDUTY_INTEGRATION_KEY": "k" * 32}, dotenv={"SMS_WEBHOOK_URL": "https://x"})
    assert alerting.run(ctx)[-1].status is Status.PASS


def test_missing_runbook_fails_naming_the_alert(project):
    (project / "docs" / "runbooks" / "DeployFailed.md").unlink()
    check = alerting.runbooks(make(project), alerting.rules_valid(make(project))[1])[0]
    assert check.status is Status.FAIL and "DeployFailed" in check.evidence


def test_broken_or_missing_rules_and_undefined_receiver_fail(project):
    rules = project / "alerting" / "generated" / "rules.yaml"
    rules.write_text("groups: [ {")
    assert alerting.rules_valid(make(project))[0][0].status is Status.FAIL
    rules.unlink()
    check = alerting.rules_valid(make(project))[0][0]
    assert check.status is Status.FAIL and "missing" in check.evidence
    points = project / "alerting" / "generated" / "contact-points.yaml"
    data = yaml.safe_load(points.read_text())
    data["contactPoints"] = [cp for cp in data["contactPoints"] if cp["name"] != "pager"]
    points.write_text(yaml.safe_dump(data))
    check = alerting.contact_points_valid(make(project))[0][0]
    assert check.status is Status.FAIL and "pager" in check.evidence


# --- backups ---

def test_backup_passes_with_pitr_or_a_young_backup_and_fails_when_old_without_pitr(project):
    prom = (FakePrometheus()
            .answer("supabase_project_up", ({"project": "a"}, 1), ({"project": "b"}, 1), ({"project": "c"}, 1))
            .answer("pitr_enabled", ({"project": "a"}, 1), ({"project": "b"}, 0), ({"project": "c"}, 0))
            .answer("backup_age", ({"project": "b"}, 25 * 3600), ({"project": "c"}, 27 * 3600)))
    checks = {c.name: c.status for c in backups.run(make(project, prom))}
    assert checks == {"Supabase a backup": Status.PASS, "Supabase b backup": Status.PASS,
                      "Supabase c backup": Status.FAIL}
    none = FakePrometheus().answer("supabase_project_up", ({"project": "d"}, 1)).answer(
        "pitr_enabled", ({"project": "d"}, 0))
    assert backups.run(make(project, none))[0].status is Status.FAIL  # no completed backup at all
    assert backups.run(make(project))[0].status is Status.UNKNOWN


# --- scaling ---

def test_render_headroom_passes_below_thresholds_or_autoscaled_and_fails_above(project):
    prom = (FakePrometheus()
            .answer("autoscaling_max_instances", ({"service": "auto"}, 4))
            .answer("cpu_utilization", ({"service": "calm"}, 0.5), ({"service": "hot"}, 0.95), ({"service": "auto"}, 0.99))
            .answer("memory_utilization", ({"service": "calm"}, 0.6), ({"service": "hot"}, 0.5), ({"service": "auto"}, 0.9)))
    checks = {c.name: c.status for c in scaling.render_headroom(make(project, prom))}
    assert checks == {"Render auto scaling": Status.PASS, "Render calm scaling": Status.PASS,
                      "Render hot scaling": Status.FAIL}


def test_supabase_connections_headroom_pass_fail_and_unknown(project):
    prom = FakePrometheus().answer("pg_stat_database_num_backends", ({"project": "a"}, 0.4), ({"project": "b"}, 0.9))
    checks = {c.name: c.status for c in scaling.supabase_connections(make(project, prom))}
    assert checks == {"Supabase a connections headroom": Status.PASS, "Supabase b connections headroom": Status.FAIL}
    assert scaling.supabase_connections(make(project))[0].status is Status.UNKNOWN


# --- delivery ---

def _deploys(ready: float, error: float, live: float, failed: float) -> FakePrometheus:
    return (FakePrometheus()
            .answer('sum((vercel_deployments_total{state="READY"}', ({}, ready))
            .answer('sum((vercel_deployments_total{state="ERROR"}', ({}, error))
            .answer('target="production", state="READY"', ({"project": "web"}, ready))
            .answer("sum by (project) (vercel_deployments_total)", ({"project": "web"}, ready + error))
            .answer('sum((render_deploys_total{status="live"}', ({}, live))
            .answer("sum((render_deploys_total{status=~", ({}, failed))
            .answer('sum by (service) (render_deploys_total{status="live"})', ({"service": "api"}, live))
            .answer("sum by (service) (render_deploys_total)", ({"service": "api"}, live + failed)))


def test_deploy_success_rate_and_rollback_target_pass_and_fail(project):
    good = {c.name: c.status for c in delivery.run(make(project, _deploys(19, 1, 10, 0)))}
    assert set(good.values()) == {Status.PASS}, good  # 19/20 = 95 % ≥ 90 %
    bad = {c.name: c.status for c in delivery.run(make(project, _deploys(0, 5, 7, 3)))}
    assert bad["Vercel deploy success rate"] is Status.FAIL  # 0/5
    assert bad["Vercel production rollback target"] is Status.FAIL  # no READY production deploy
    assert bad["Render deploy success rate"] is Status.FAIL  # 7/10 = 70 % < 75 %
    middling = {c.name: c.status for c in delivery.run(make(project, _deploys(8, 2, 1, 0)))}
    assert middling["Vercel deploy success rate"] is Status.WARN  # 8/10 = 80 %


# --- baselines ---

def test_regressions_beyond_tolerance_only():
    base = {"latency_p95_seconds": {"render:api": 0.5}, "error_rate": {"render:api": 0.01},
            "daily_cost_usd": {"openai": 20.0}}
    within = {"latency_p95_seconds": {"render:api": 0.59}, "error_rate": {"render:api": 0.014},
              "daily_cost_usd": {"openai": 23.9}}
    assert baselines.regressions(base, within) == []  # +18 %, +40 %, +19.5 %
    beyond = {"latency_p95_seconds": {"render:api": 0.61}, "error_rate": {"render:api": 0.016},
              "daily_cost_usd": {"openai": 24.1}}
    found = baselines.regressions(base, beyond)
    assert len(found) == 3 and all(any(k in f for f in found) for k in ("latency", "error_rate", "daily_cost"))
    tiny = {"error_rate": {"render:api": 0.001}}
    assert baselines.regressions(tiny, {"error_rate": {"render:api": 0.003}}) == []  # under the 0.005 floor


def test_baseline_record_then_compare_passes_and_a_slower_service_fails(project, tmp_path):
    prom = FakePrometheus().answer('quantile="0.95"', ({"service": "api"}, 0.4))
    path = tmp_path / "baseline.json"
    recorded = baselines.record(make(project, prom), path)
    assert recorded["figures"]["latency_p95_seconds"] == {"render:api": 0.4}
    same = baselines.run(make(project, prom, baseline=recorded))[0]
    assert same.status is Status.PASS
    slower = FakePrometheus().answer('quantile="0.95"', ({"service": "api"}, 0.6))
    check = baselines.run(make(project, slower, baseline=recorded))[0]
    assert check.status is Status.FAIL and "render:api" in check.evidence
    assert baselines.run(make(project, prom))[0].status is Status.UNKNOWN  # no baseline given


# --- security ---

def test_config_without_tokens_passes_and_a_token_in_it_fails(project):
    assert security.config_tokens(make(project))[0].status is Status.PASS
    (project / "stackwatch.yaml").write_text(CONFIG + "# key: sbp_" + "a1" * 20 + "\n")
    check = security.config_tokens(make(project))[0]
    assert check.status is Status.FAIL and "line 8" in check.evidence and "a1a1" not in check.evidence
    (project / "stackwatch.yaml").write_text(CONFIG + "# plain-looking-secret-value\n")
    env = {"VERCEL_TOKEN": "plain-looking-secret-value"}
    check = security.config_tokens(make(project, env=env))[0]
    assert check.status is Status.FAIL and "VERCEL_TOKEN" in check.evidence and "plain-looking" not in check.evidence


def test_drain_secret_is_needed_only_when_vercel_sends_drains(project):
    assert security.drain_secret(make(project, env={"VERCEL_DRAIN_SECRET": "s" * 24}))[0].status is Status.PASS
    # Unset, and no delivery refused: a team without drains (real mode without drains must start and pass).
    quiet = security.drain_secret(make(project))[0]
    assert quiet.status is Status.PASS and "no Vercel drain is configured" in quiet.evidence
    # Unset while Vercel delivers drains: they are refused (503 unconfigured), a failure.
    refused = FakePrometheus().answer('stackwatch_drain_rejected_total{reason="unconfigured"}', ({}, 12.0))
    failing = security.drain_secret(make(project, refused))[0]
    assert failing.status is Status.FAIL and "12 drain deliveries were refused" in failing.evidence


def test_grafana_password_and_anonymous_access(project):
    strong = {"GF_SECURITY_ADMIN_PASSWORD": "correct-horse-battery-staple"}
    password, anonymous = security.grafana(make(project, env=strong))
    assert password.status is Status.PASS and anonymous.status is Status.PASS
    assert security.grafana(make(project, env={"GF_SECURITY_ADMIN_PASSWORD": "admin"}))[0].status is Status.FAIL
    assert security.grafana(make(project))[0].status is Status.UNKNOWN  # not readable anywhere
    compose = project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace('GF_AUTH_ANONYMOUS_ENABLED: "false"', 'GF_AUTH_ANONYMOUS_ENABLED: "true"'))
    assert security.grafana(make(project, env=strong))[1].status is Status.FAIL


def test_tls_certificates_pass_with_14_days_left_and_fail_below(project):
    ok = FakePrometheus().answer("probe_ssl_earliest_cert_expiry", ({"instance": "https://a"}, 30 * 86400))
    assert security.tls(make(project, ok))[0].status is Status.PASS
    short = FakePrometheus().answer("probe_ssl_earliest_cert_expiry", ({"instance": "https://a"}, 13 * 86400))
    check = security.tls(make(project, short))[0]
    assert check.status is Status.FAIL and "https://a: 13.0 d" in check.evidence
    assert security.tls(make(project))[0].status is Status.UNKNOWN


# --- levels, score, exit codes ---

def _c(group: str, status: Status) -> Check:
    return Check(group, f"{group}-{status.value}", status, "")


def test_levels_need_every_check_of_the_level_and_below_to_pass():
    bronze = [_c("monitoring", Status.PASS), _c("alerting", Status.PASS)]
    silver = [_c("backups", Status.PASS), _c("security", Status.PASS)]
    gold = [_c("scaling", Status.PASS), _c("delivery", Status.PASS), _c("baselines", Status.PASS)]
    assert level_reached(tuple(bronze + silver + gold)) is Level.GOLD
    assert level_reached(tuple(bronze + silver + gold[:2] + [_c("baselines", Status.UNKNOWN)])) is Level.SILVER
    # A failing silver check caps the level at bronze even when gold's checks pass.
    assert level_reached(tuple(bronze + [_c("backups", Status.FAIL)] + gold)) is Level.BRONZE
    assert level_reached(tuple([_c("monitoring", Status.WARN)] + silver)) is None


def test_score_counts_pass_as_one_warn_as_half_and_exit_codes_follow_fails_or_the_level():
    checks = [_c("monitoring", Status.PASS), _c("alerting", Status.WARN), _c("backups", Status.FAIL),
              _c("security", Status.UNKNOWN)]
    assert score(tuple(checks)) == 37.5  # (1 + 0.5 + 0 + 0) / 4
    result = outcome(checks)
    assert exit_code(result, None) == 1
    assert exit_code(outcome(checks[:2] + checks[3:]), None) == 0  # warn and unknown alone do not fail
    assert exit_code(outcome([_c("monitoring", Status.PASS), _c("alerting", Status.PASS)]), Level.BRONZE) == 0
    assert exit_code(outcome([_c("monitoring", Status.PASS), _c("alerting", Status.PASS)]), Level.SILVER) == 1
