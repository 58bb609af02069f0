"""What Grafana's published models do not check in the generated files: references between
refIds, durations, uids, datasources, contact points, titles, environment variables, runbooks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import GENERATED, REPO, TWIN

from alerting import generate, render, routing
from alerting.model import duration_seconds
from alerting.rules import ALERTS

DURATION = re.compile(r"^(\d+[dhms])+$|^0s$")
NO_DATA_STATES = {"NoData", "Alerting", "OK", "KeepLast"}  # Grafana's provisioning values
EXEC_ERR_STATES = {"Error", "Alerting", "OK", "KeepLast"}
RUNBOOKS = REPO / "docs" / "runbooks"


def load(name: str) -> dict:
    return yaml.safe_load((GENERATED / name).read_text())


def rules() -> list[dict]:
    return [rule for group in load("rules.yaml")["groups"] for rule in group["rules"]]


def datasource_uids() -> set[str]:
    uids = {"__expr__"}  # Grafana's server-side expressions
    for path in (REPO / "grafana" / "provisioning" / "datasources").glob("*.yaml"):
        uids |= {d["uid"] for d in yaml.safe_load(path.read_text())["datasources"]}
    return uids


def refs_in(model: dict) -> set[str]:
    """refIds an expression step refers to (reduce/threshold: `expression: A`; math: `$A`)."""
    expression = model.get("expression", "")
    if model.get("type") == "math":
        return set(re.findall(r"\$\{?([A-Za-z][A-Za-z0-9_]*)\}?", expression))
    return {expression} if expression else set()


def test_generated_files_are_what_the_definitions_render():
    for name, text in generate.files().items():
        assert (render.ALERTMANAGER_TEMPLATE_FILE in name) or text.startswith(generate.HEADER)
        assert (REPO / "alerting" / name).read_text() == text, f"alerting/{name} is stale: make generate"


def test_every_definition_is_one_grafana_rule_and_one_prometheus_rule():
    prometheus = [r for g in yaml.safe_load((TWIN / "prometheus-rules.yaml").read_text())["groups"] for r in g["rules"]]
    assert len(rules()) == len(prometheus) == len(ALERTS)
    grafana_exprs = sorted(r["data"][0]["model"]["expr"] for r in rules())
    assert grafana_exprs == sorted(r["expr"] for r in prometheus), "the two renderings query differently"


def test_condition_names_an_existing_ref_id_and_expressions_refer_to_existing_ones():
    for rule in rules():
        ref_ids = [step["refId"] for step in rule["data"]]
        assert len(ref_ids) == len(set(ref_ids)), rule["uid"]
        assert rule["condition"] in ref_ids, rule["uid"]
        for step in rule["data"]:
            assert step["model"]["refId"] == step["refId"], rule["uid"]
            if step["datasourceUid"] == "__expr__":
                refs = refs_in(step["model"])
                assert refs, f"{rule['uid']} {step['refId']}: an expression that reads nothing"
                assert refs <= set(ref_ids) - {step["refId"]}, f"{rule['uid']} {step['refId']} refers to {refs}"


def test_durations_parse_and_group_intervals_are_multiples_of_10s():
    for group in load("rules.yaml")["groups"]:
        assert duration_seconds(group["interval"]) % 10 == 0 and duration_seconds(group["interval"]) > 0
        for rule in group["rules"]:
            assert DURATION.match(rule["for"]), rule["for"]
            duration_seconds(rule["for"])
    policies = load("policies.yaml")["policies"][0]
    for route in [policies, *policies["routes"]]:
        for key in ("group_wait", "group_interval", "repeat_interval"):
            if key in route:
                assert DURATION.match(route[key]) and duration_seconds(route[key]) >= 0, (key, route[key])


def test_uids_are_unique_short_and_titles_unique_in_their_folder():
    uids = [rule["uid"] for rule in rules()]
    assert len(uids) == len(set(uids))
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", uid) for uid in uids), [u for u in uids if len(u) > 40]
    by_folder: dict[str, list[str]] = {}
    for group in load("rules.yaml")["groups"]:
        by_folder.setdefault(group["folder"], []).extend(r["title"] for r in group["rules"])
    for titles in by_folder.values():
        assert len(titles) == len(set(titles))


def test_datasource_uids_exist_and_states_are_allowed():
    known = datasource_uids()
    for rule in rules():
        assert {step["datasourceUid"] for step in rule["data"]} <= known, rule["uid"]
        assert rule["noDataState"] in NO_DATA_STATES and rule["execErrState"] in EXEC_ERR_STATES


def test_contact_points_named_by_policies_and_mute_timings_exist():
    contact_points = {cp["name"] for cp in load("contact-points.yaml")["contactPoints"]}
    mute_times = {m["name"] for m in load("policies.yaml")["muteTimes"]}
    tree = load("policies.yaml")["policies"][0]
    named, muted = {tree["receiver"]}, set()
    for route in tree["routes"]:
        named.add(route["receiver"])
        muted |= set(route.get("mute_time_intervals", []))
    assert named <= contact_points, named - contact_points
    assert muted and muted <= mute_times


def test_policy_tree_sends_each_severity_to_the_issue_s_channels():
    kinds = {r.name: r.kind for r in routing.RECEIVERS}
    assert [kinds[r] for r in routing.receivers_for("critical")] == ["pagerduty", "webhook", "slack"]
    assert routing.receivers_for("critical")[1] == "sms"
    assert [kinds[r] for r in routing.receivers_for("warning")] == ["slack", "email"]
    assert [kinds[r] for r in routing.receivers_for("info")] == ["email"]


def test_contact_point_secrets_come_from_variables_compose_passes_and_env_example_lists():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["grafana"]["environment"]
    env_example = (REPO / ".env.example").read_text()
    used = set()
    for cp in load("contact-points.yaml")["contactPoints"]:
        for receiver in cp["receivers"]:
            for key, value in receiver["settings"].items():
                used |= set(re.findall(r"\$\{([A-Z0-9_]+)\}", str(value)))
                # Any other `$` would be interpolated (and eaten) by Grafana's provisioning.
                assert "$" not in re.sub(r"\$\{[A-Z0-9_]+\}", "", str(value)), (cp["name"], key)
    assert used == set(routing.ENV_DEFAULTS)
    for var in used:
        # An unset channel must not stop Grafana: compose always gives a non-empty default.
        assert compose[var] == f"${{{var}:-{routing.ENV_DEFAULTS[var]}}}", var
        assert routing.ENV_DEFAULTS[var] and var in env_example


def test_labels_and_templates_carry_no_dollar_grafana_would_interpolate():
    for rule in rules():
        assert not any("$" in v for v in rule["labels"].values()), rule["uid"]
    for template in load("templates.yaml")["templates"]:
        assert "$" not in template["template"]


def test_every_rule_links_its_runbook_and_a_dashboard_and_shows_its_value():
    for alert in ALERTS:
        notes = render.annotations(alert, grafana=True)
        assert notes["runbook_url"].endswith(f"/{alert.name}.md")
        assert re.search(r"/d/stackwatch-[a-z]+$", notes["dashboard_url"])
        assert "$values.B.Value" in notes["summary"], f"{alert.name}: the summary must carry the value"
        assert alert.static_labels()["severity"] in {"critical", "warning", "info"}


def test_escalations_raise_severity_with_a_longer_breach():
    steps: dict[str, dict[str, int]] = {}
    for alert in ALERTS:
        steps.setdefault(alert.name, {})[alert.severity.value] = duration_seconds(alert.for_)
    escalating = {name: s for name, s in steps.items() if len(s) > 1}
    assert {"FrontendResponseTimeHigh", "BackendResponseTimeHigh", "DatabaseResponseTimeHigh", "ErrorRateHigh",
            "CpuUtilizationHigh", "MemoryUtilizationHigh"} <= set(escalating)
    for name, s in escalating.items():
        assert s["critical"] > s["warning"], name


def test_every_threshold_series_an_alert_reads_is_catalogued():
    metrics = (REPO / "docs" / "metrics.md").read_text()
    read = {m for a in ALERTS for m in re.findall(r"stackwatch_(?:threshold|budget)_[a-z_]+", a.expr)}
    assert read and all(f"`{name}`" in metrics for name in read), read


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
