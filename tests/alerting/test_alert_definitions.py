"""The definitions and what they render: generated files fresh, no static label overwriting a label
an expression keeps (evaluated by Prometheus' engine on every rule's firing case), links absolute
and carrying the firing object, every input a rule reads watched by a dead-source alert, a runbook
per alert, and the inhibitions naming alerts that exist."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ALERTING, REPO, RULES
from test_promtool_rules import CASES, input_series

from alerting import routing
from alerting.channels import read_settings
from alerting.envfile import read_env_file
from alerting.generate import reference_files
from alerting.model import PRODUCTION, Source, duration_seconds
from alerting.render import annotations
from alerting.rules import ALERTS

RUNBOOKS = REPO / "docs" / "runbooks"
BOARDS = REPO / "grafana" / "provisioning" / "dashboards"
EXAMPLE = read_settings(read_env_file(ALERTING / "example.env"))


def test_committed_files_are_the_reference_rendering():
    for name, text in reference_files().items():
        assert (ALERTING / name).read_text() == text, f"alerting/{name} is stale: make generate"


def evaluate(binary: Path, cases: list[dict]) -> list[list[dict]]:
    """Prometheus' engine (tools/promql-eval) on series in promtool's notation."""
    done = subprocess.run([str(binary)], input=json.dumps({"cases": cases}), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["results"]


def test_no_static_label_overwrites_a_label_the_expression_keeps(promql_eval):
    """Every rule's expression, evaluated on its firing case, returns series whose labels the rule's
    static labels do not touch (one that did would make two objects collide, as `tier: slo` did for
    the burn rates: "vector contains metrics with the same labelset after applying alert labels")."""
    checked = set()
    batch, owners = [], []
    for case in CASES:
        for fires in case.fires:
            alert = next(a for a in ALERTS if a.name == case.alert and a.severity.value == fires.severity
                         and a.variant == fires.variant)
            batch.append({"interval": case.interval, "series": [{"series": s, "values": v} for s, v in input_series(case)],
                          "queries": [{"expr": PRODUCTION.expr_of(alert), "at": case.eval_time}]})
            owners.append(alert)
    for alert, (result,) in zip(owners, evaluate(promql_eval, batch), strict=True):
        assert "error" not in result or not result["error"], (alert.key, result.get("error"))
        assert result["samples"], f"{alert.key}: its firing case returns nothing"
        kept = {k for sample in result["samples"] for k in sample["labels"] if k != "__name__"}
        clash = kept & set(alert.static_labels())
        assert not clash, f"{alert.key}: static labels {sorted(clash)} overwrite labels its expression keeps"
        checked.add(alert.key)
    assert checked == {a.key for a in ALERTS}, sorted({a.key for a in ALERTS} - checked)


def test_the_clash_check_would_catch_the_burn_rates_old_static_tier(promql_eval):
    """The old rules' `tier: slo` on the burn rates: with both tiers failing, their series keep `tier`."""
    case = next(c for c in CASES if c.title == "pages for every tier in a full outage")
    burn = next(a for a in ALERTS if a.name == "AvailabilityBudgetBurnFast")
    (result,), = evaluate(promql_eval, [{"interval": case.interval, "series": [
        {"series": s, "values": v} for s, v in input_series(case)],
        "queries": [{"expr": PRODUCTION.expr_of(burn), "at": case.eval_time}]}])
    assert {s["labels"]["tier"] for s in result["samples"]} == {"frontend", "backend"}
    old_static = {"severity": "critical", "tier": "slo", "provider": "blackbox"}
    assert {k for s in result["samples"] for k in s["labels"]} & set(old_static) == {"tier"}


def boards() -> dict[str, dict]:
    return {json.loads(p.read_text())["uid"]: json.loads(p.read_text()) for p in BOARDS.glob("*.json")}


def test_dashboard_links_carry_the_firing_object_through_variables_the_board_has():
    known = boards()
    for alert in ALERTS:
        assert alert.dashboard in known, f"{alert.key}: no board {alert.dashboard}"
        variables = {v["name"] for v in known[alert.dashboard]["templating"]["list"]}
        assert set(alert.dashboard_vars) <= variables, (alert.key, set(alert.dashboard_vars) - variables)
        url = annotations(alert, EXAMPLE, grafana=False)["dashboard_url"]
        assert url.startswith("https://grafana.example.com/d/" + alert.dashboard)
        for var, label in alert.dashboard_vars.items():
            assert f"var-{var}={{{{ $labels.{label} | urlquery }}}}" in url


def test_objects_alerts_name_reach_their_board():
    """An alert about a service, project or tier links its board filtered to it (not just the board)."""
    for alert in ALERTS:
        supabase_rule = alert.variant == "supabase"
        if alert.name in ("BackendResponseTimeHigh", "CpuUtilizationHigh", "MemoryUtilizationHigh",
                          "RenderInstanceCountChanged", "RenderAutoscalingAtMax") and not supabase_rule:
            assert alert.dashboard_vars == {"service": "service"}
        if alert.name in ("DatabaseResponseTimeHigh", "SupabaseProjectUnhealthy", "SupabaseDatabaseDown",
                          "SupabaseBackupMissing", "DatabaseConnectionsHigh", "SupabaseDiskUtilizationHigh",
                          "SupabaseReplicationLagHigh", "SupabaseDatabaseReadOnly") or supabase_rule:
            assert alert.dashboard_vars == {"project": "project"}
        if alert.name.startswith("AvailabilityBudgetBurn"):
            assert alert.dashboard_vars == {"tier": "tier"}


def test_links_come_from_configuration():
    settings = read_settings({"GF_SERVER_ROOT_URL": "https://grafana.acme.test/", "RUNBOOK_BASE_URL": "https://wiki.acme.test/rb/"})
    notes = annotations(ALERTS[0], settings, grafana=False)
    assert notes["runbook_url"] == f"https://wiki.acme.test/rb/{ALERTS[0].name}.md"
    assert notes["dashboard_url"].startswith("https://grafana.acme.test/d/")
    # No runbook base: no broken relative link, the runbook's path in the repository instead.
    bare = annotations(ALERTS[0], read_settings({}), grafana=False)
    assert "runbook_url" not in bare and bare["runbook"] == f"docs/runbooks/{ALERTS[0].name}.md"
    assert bare["dashboard_url"].startswith("http://localhost:3000/d/")
    assert read_settings({"RUNBOOK_BASE_URL": "docs/runbooks"}).problems


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (strings, label lists, matchers and durations removed)."""
    text = re.sub(r'"[^"]*"', '""', expr)
    text = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\boffset\s+\w+", " ", text)
    return {m for m in re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", text)
            if m not in FUNCTIONS and not re.fullmatch(r"\d.*", m)}
# Inputs a rule reads that may be absent by design: events counted only when they happen (their
# absence means none), series only some objects have, and the budgets (optional in config).
OPTIONAL_INPUTS = {
    "vercel_requests_total": "drains deliver requests only when configured and when traffic comes",
    "render_service_http_requests_total": "requests of services with traffic",
    "render_service_http_latency_seconds": "web services with traffic only",
    "render_service_cpu_utilization_ratio": "Render services' gauges; a failed poll keeps them (ProviderApiDown)",
    "render_service_memory_utilization_ratio": "as CPU",
    "vercel_deployments_total": "a counter of deploy events",
    "render_deploys_total": "a counter of deploy events",
    "supabase_backup_age_seconds": "absent while a project has no completed backup (documented gap)",
    "supabase_backup_pitr_enabled": "from the backups poll, kept when it fails (ProviderApiDown)",
    "supabase_project_up": "from the projects poll, kept when it fails (ProviderApiDown)",
    "supabase_database_readonly": "from the readonly poll (active projects only), kept when it fails (ProviderApiDown)",
    "supabase_disk_utilization_ratio": "from the disk poll (active projects only), kept when it fails (ProviderApiDown)",
    "physical_replication_lag_physical_replica_lag_seconds": "only where replication runs (read replicas); "
                                                             "Supabase's sources name it two ways, the rule reads either",
    "physical_replication_lag_physical_replication_lag_seconds": "as the other name",
    "render_service_instances": "Render services' gauges; a failed poll keeps them (ProviderApiDown)",
    "render_service_autoscaling_max_instances": "autoscaled services only",
    "probe_ssl_earliest_cert_expiry": "only https targets have certificates",
    "stackwatch_budget_monthly_usd": "budgets are optional",
    "stackwatch_budget_daily_usd": "budgets are optional",
    "stackwatch_cost_month_to_date_usd": "cost gauges of enabled providers; kept when a poll fails",
    "stackwatch_cost_forecast_month_end_usd": "as the month to date",
    "stackwatch_cost_today_usd": "as the month to date",
    "stackwatch_cost_unpriced_items_total": "a counter of unpriced usage events",
    "stackwatch_provider_last_success_timestamp_seconds": "set with stackwatch_provider_up (StackwatchAbsent)",
    "stackwatch_provider_ratelimit_remaining_ratio": "only providers that send rate-limit headers",
    "otelcol_exporter_send_failed_metric_points": "appears with the first failed export (the collector's counter)",
    "stackwatch_drain_rejected_total": "a counter of rejected deliveries",
    "supabase_auth_events_total": "counters born with a project's first authentication event; a failed auth-logs poll is ProviderApiDown",
    "alertmanager_notifications_failed_total": "Alertmanager's own counter (its target: ScrapeTargetDown)",
    "stackwatch_provider_up": "StackwatchAbsent watches it",
    "up": "ScrapeTargetDown and StackwatchAbsent watch it",
}
FUNCTIONS = {"sum", "max", "min", "avg", "rate", "increase", "avg_over_time", "min_over_time", "absent_over_time",
             "label_replace", "time", "vector", "count", "day_of_month", "count_over_time", "by", "on", "and", "or",
             "unless", "group_left", "offset", "bool", "changes"}


def test_every_input_a_rule_reads_is_watched_by_a_dead_source_alert_or_documented_optional():
    watched = {a.labels["input"].split("/")[0] for a in ALERTS if a.name == "AlertInputAbsent"}
    assert metric_names('sum by (project) (rate(x_total{a="b"}[5m])) > on () group_left () max(y)') == {"x_total", "y"}
    for alert in ALERTS:
        if alert.name in ("AlertInputAbsent", "Watchdog"):
            continue
        for name in metric_names(PRODUCTION.expr_of(alert)):
            assert name in watched or name in OPTIONAL_INPUTS, f"{alert.key} reads {name}: no dead-source alert"


def test_every_scrape_job_is_watched():
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"] for j in config["scrape_configs"]}
    scrape_down = next(a for a in ALERTS if a.name == "ScrapeTargetDown")
    assert 'up{job!="stackwatch"} == 0' in scrape_down.expr  # every job but stackwatch's own…
    assert any(a.name == "StackwatchAbsent" and 'up{job="stackwatch"}' in a.expr for a in ALERTS)  # …which this watches
    assert {"supabase", "blackbox", "otel-collector", "stackwatch", "prometheus", "alertmanager"} <= jobs


def test_every_rule_says_where_its_data_comes_from():
    for alert in ALERTS:
        assert alert.static_labels()["source"] in {s.value for s in Source}
        expr = alert.expr
        if alert.source is Source.STACKWATCH and alert.name != "AlertInputAbsent":
            assert "stackwatch_" in expr or "vercel_" in expr or "render_" in expr or "supabase_" in expr, alert.key


def test_inhibitions_name_alerts_that_exist():
    names = {a.name for a in ALERTS}
    for inhibition in routing.INHIBITIONS:
        for matcher in (*inhibition.source, *inhibition.target):
            for name in re.findall(r'alertname=~?"([^"]+)"', matcher):
                for alt in name.split("|"):
                    assert alt in names, (inhibition.why, alt)


def test_escalations_raise_severity_with_a_longer_breach():
    steps: dict[str, dict[str, int]] = {}
    for alert in ALERTS:
        steps.setdefault(alert.name, {})[alert.severity.value] = duration_seconds(alert.for_)
    escalating = {name: s for name, s in steps.items() if len(s) > 1}
    assert {"FrontendResponseTimeHigh", "BackendResponseTimeHigh", "DatabaseResponseTimeHigh", "ErrorRateHigh",
            "CpuUtilizationHigh", "MemoryUtilizationHigh", "SupabaseProjectUnhealthy", "RunawaySpend"} <= set(escalating)
    for name, s in escalating.items():
        assert s["critical"] > s["warning"], name


def test_a_critical_step_is_evaluated_before_its_warning_so_both_resolutions_are_sent():
    # Prometheus sends each rule's alerts as it evaluates it; a warning Alertmanager sees resolved
    # while the same alert's critical still fires is muted by the inhibition and then dropped, so
    # its "resolved" message never goes out (prometheus/alertmanager#2754). Critical first, then.
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        order = [(rule["alert"], rule["labels"]["severity"]) for rule in group["rules"]]
        for name in {n for n, severity in order if severity == "warning"}:
            if (name, "critical") in order:
                assert order.index((name, "critical")) < order.index((name, "warning")), (group["name"], name)


def test_cost_alerts_match_their_urgency():
    by = {(a.name, a.severity.value): a for a in ALERTS}
    assert {a.severity.value for a in ALERTS if a.name == "MonthlyBudgetExceeded"} == {"warning"}
    assert by[("MonthlyBudgetExceeded", "warning")].cadence == "daily"
    assert {a.severity.value for a in ALERTS if a.name == "MonthEndForecastOverBudget"} == {"warning"}
    assert ("RunawaySpend", "critical") in by  # a runaway can page


def test_every_threshold_series_an_alert_reads_is_catalogued():
    metrics = (REPO / "docs" / "metrics.md").read_text()
    read = {m for a in ALERTS for m in re.findall(r"stackwatch_(?:threshold|budget)_[a-z_]+", a.expr)}
    assert read and all(f"`{name}`" in metrics for name in read), read


def test_the_rule_file_prometheus_loads_is_where_compose_mounts_the_rendering():
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    assert "alerting/*.rules.yaml" in config["rule_files"]
    assert RULES.name.endswith(".rules.yaml")


@pytest.mark.parametrize("name", sorted({a.name for a in ALERTS}))
def test_every_alert_has_a_complete_runbook(name: str):
    path = RUNBOOKS / f"{name}.md"
    assert path.is_file(), f"docs/runbooks/{name}.md is missing"
    text = path.read_text()
    for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation", "## Escalation"):
        assert section in text, f"{path.name} lacks {section}"
    assert "/d/stackwatch-" in text, f"{path.name} links no dashboard"


def test_every_runbook_belongs_to_an_alert():
    names = {a.name for a in ALERTS}
    orphans = sorted(p.stem for p in Path(RUNBOOKS).glob("*.md") if p.stem not in names and p.stem != "README")
    assert not orphans, f"runbooks without an alert: {orphans}"
