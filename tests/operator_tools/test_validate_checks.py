"""Each validate check's decision proved on canned evidence (tests/operator_tools/fakeprom.py).

The scaling, delivery, security and baselines checks' queries run on the native Prometheus, on data
shaped to pass and to fail, in tests/operator_tools/test_validate_queries.py; what stays here is the
decision logic those queries feed and the checks that read no Prometheus."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from exporters.ops.validate import (
    alerting,
    backups,
    baselines,
    delivery,
    monitoring,
    restore_drill,
    security,
)
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
    """A copy of the project's runbooks and compose file."""
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

ONLY_SLACK = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"}
LOADED = (FakePrometheus()
          .answer("prometheus_rule_group_rules", ({}, 200))
          .answer("prometheus_rule_evaluation_failures_total", ({}, 0))
          .answer("prometheus_notifications_alertmanagers_discovered", ({}, 1))
          .answer('up{job="alertmanager"}', ({}, 1)))


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_a_team_with_only_slack_reaches_bronze_and_is_told_what_is_live(project):
    checks = by_name(alerting.run(make(project, LOADED, env=ONLY_SLACK)))
    bronze = [c for c in checks.values() if c.level is Level.BRONZE]
    assert all(c.status is Status.PASS for c in bronze), bronze
    critical = checks["critical alerts have a configured channel"].evidence
    assert "reach slack" in critical and "live: slack" in critical and "skipped (not set): pagerduty, sms" in critical
    # No dead-man's switch: told, at silver (knowing when the alert path itself is down).
    heartbeat = checks["a dead-man's switch receives the Watchdog"]
    assert heartbeat.status is Status.WARN and heartbeat.level is Level.SILVER


def test_no_channel_for_critical_alerts_fails_and_dotenv_counts(project):
    check = by_name(alerting.run(make(project, LOADED)))["critical alerts have a configured channel"]
    assert check.status is Status.FAIL and "reach nobody" in check.evidence and "SLACK_WEBHOOK_URL" in check.fix
    ctx = make(project, LOADED, dotenv={"PAGERDUTY_INTEGRATION_KEY": "k" * 32})
    assert by_name(alerting.run(ctx))["critical alerts have a configured channel"].status is Status.PASS
    # E-mail without a mail server is not a channel: warnings and info then reach nobody.
    ctx = make(project, LOADED, env={"PAGERDUTY_INTEGRATION_KEY": "k" * 32, "ALERT_EMAIL_ADDRESSES": "a@b.example"})
    checks = by_name(alerting.run(ctx))
    assert checks["alerting settings valid"].status is Status.FAIL and "GF_SMTP_HOST" in checks["alerting settings valid"].evidence
    assert checks["warnings and info have a channel"].status is Status.WARN


def test_rules_not_loaded_failing_or_no_alertmanager_fail(project):
    check = alerting.rules_loaded(make(project, FakePrometheus()))[0]
    assert check.status is Status.FAIL and "no stackwatch rule group" in check.evidence
    few = FakePrometheus().answer("prometheus_rule_group_rules", ({}, 3))
    assert alerting.rules_loaded(make(project, few))[0].status is Status.FAIL
    failing = FakePrometheus().answer("prometheus_rule_group_rules", ({}, 200)).answer(
        "prometheus_rule_evaluation_failures_total", ({}, 4))
    check = alerting.rules_loaded(make(project, failing))[0]
    assert check.status is Status.FAIL and "4 failed evaluations" in check.evidence
    assert alerting.rules_loaded(make(project, LOADED))[0].status is Status.PASS
    assert alerting.alertmanager_connected(make(project, FakePrometheus()))[0].status is Status.FAIL
    assert alerting.alertmanager_connected(make(project, LOADED))[0].status is Status.PASS


def test_missing_runbook_fails_naming_the_alert(project):
    (project / "docs" / "runbooks" / "DeployFailed.md").unlink()
    check = alerting.runbooks(make(project))[0]
    assert check.status is Status.FAIL and "DeployFailed" in check.evidence


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


# --- scaling: tests/operator_tools/test_validate_queries.py (the native Prometheus) ---

# --- delivery (its queries: tests/operator_tools/test_validate_queries.py) ---

def test_deploy_success_rate_passes_from_90_percent_warns_from_75_and_fails_below_or_unknown_without_deploys():
    assert delivery._rate_check("r", 9, 1).status is Status.PASS
    assert delivery._rate_check("r", 8, 2).status is Status.WARN  # 80 %
    assert delivery._rate_check("r", 3, 1).status is Status.WARN  # 75 %
    assert delivery._rate_check("r", 7, 3).status is Status.FAIL  # 70 %
    assert delivery._rate_check("r", 0, 0).status is Status.UNKNOWN


# --- baselines (their queries, record and compare: tests/operator_tools/test_validate_queries.py) ---

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
    # Unset while Vercel delivers drains (refused, 503 unconfigured): tests/operator_tools/test_validate_queries.py


def test_grafana_password_and_anonymous_access(project):
    strong = {"GF_SECURITY_ADMIN_PASSWORD": "correct-horse-battery-staple"}
    password, anonymous = security.grafana(make(project, env=strong))
    assert password.status is Status.PASS and anonymous.status is Status.PASS
    assert security.grafana(make(project, env={"GF_SECURITY_ADMIN_PASSWORD": "admin"}))[0].status is Status.FAIL
    assert security.grafana(make(project))[0].status is Status.UNKNOWN  # not readable anywhere
    compose = project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace('GF_AUTH_ANONYMOUS_ENABLED: "false"', 'GF_AUTH_ANONYMOUS_ENABLED: "true"'))
    assert security.grafana(make(project, env=strong))[1].status is Status.FAIL


# --- levels, score, exit codes ---

# --- restore drill ---

TODAY = datetime(2026, 12, 6, 9, 30, tzinfo=timezone.utc)


def drill(project: Path, lines: str, required: Level | None = None) -> Check:
    config = CONFIG.replace('  supabase: {enabled: true, base_url: "http://127.0.0.1:1"}',
                            '  supabase:\n    enabled: true\n    base_url: "http://127.0.0.1:1"\n' + lines)
    assert config != CONFIG
    (project / "stackwatch.yaml").write_text(config)
    (check,) = restore_drill.run(make(project, required=required, now=TODAY))
    return check


def test_a_recent_restore_drill_passes_at_every_level(project):
    for required in (None, Level.SILVER, Level.GOLD):
        check = drill(project, "    last_restore_drill: 2026-09-07\n", required)  # 90 days: the limit itself
        assert check.status is Status.PASS and "90 days ago" in check.evidence, check
        assert check.level is Level.GOLD


def test_a_missing_drill_warns_below_gold_and_fails_when_gold_is_required(project):
    for required, status in ((None, Status.WARN), (Level.SILVER, Status.WARN), (Level.GOLD, Status.FAIL)):
        check = drill(project, "", required)
        assert check.status is status and "last_restore_drill is not set" in check.evidence, check
        assert "docs/operations.md" in check.fix


def test_an_old_drill_warns_below_gold_and_fails_at_gold_against_the_configured_limit(project):
    assert drill(project, "    last_restore_drill: 2026-09-06\n").status is Status.WARN  # 91 days > 90
    check = drill(project, "    last_restore_drill: 2026-09-06\n", Level.GOLD)
    assert check.status is Status.FAIL and "91 days ago (limit 90 days" in check.evidence
    assert drill(project, "    last_restore_drill: 2026-09-06\n    restore_drill_max_age_days: 120\n",
                 Level.GOLD).status is Status.PASS


def test_a_drill_dated_in_the_future_fails(project):
    check = drill(project, "    last_restore_drill: 2026-12-07\n")
    assert check.status is Status.FAIL and "in the future" in check.evidence


def test_a_missing_drill_keeps_silver_but_not_gold():
    passing = [_c(g, Status.PASS) for g in ("monitoring", "alerting", "backups", "security", "scaling", "delivery",
                                            "baselines")]
    missing = Check("restore drill", "Supabase restore drill", Status.WARN, "not set")
    assert level_reached(tuple(passing)) is Level.GOLD
    assert level_reached(tuple(passing + [missing])) is Level.SILVER
    assert exit_code(outcome(passing + [missing]), None) == 0 and exit_code(outcome(passing + [missing]), Level.SILVER) == 0


def test_no_drill_check_without_supabase(project):
    (project / "stackwatch.yaml").write_text(CONFIG.replace("supabase: {enabled: true", "supabase: {enabled: false"))
    assert restore_drill.run(make(project, now=TODAY)) == []


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
