"""`stackwatch dashboards diff`: every semantic change a reviewer must see, in boards, recording and alert
rules and alert routing.

Two levels: the comparison itself (exporters.ops.semantic_diff) on the real generated files, each property
mutated in turn and the diff expected to name it; and the command end to end on a throwaway git
repository holding this repository's sources, where each side is generated from its sources and a stale
head is refused.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from typer.testing import CliRunner

from exporters.cli import app
from exporters.ops.dashboards_diff import collect
from exporters.ops.semantic_diff import ALERTMANAGER, DASHBOARD, GRAFANA_ALERTING, RULES, Generated, report
from grafana.generate import OUTPUT

# --- the comparison, on the real generated files ---


@pytest.fixture(scope="module")
def generated() -> Generated:
    found = collect(REPO)
    assert len(found.of(DASHBOARD)) == 8
    assert found.of(RULES) and found.of(ALERTMANAGER) and found.of(GRAFANA_ALERTING)
    return found


def mutated(generated: Generated, kind: str, path_part: str, change) -> Generated:  # type: ignore[no-untyped-def]
    """A deep copy with `change(document)` applied to the one file of `kind` whose path contains `path_part`."""
    out = Generated()
    for k, files in generated.files.items():
        out.files[k] = copy.deepcopy(files)
    matches = [p for p in out.files[kind] if path_part in p]
    assert len(matches) == 1, (kind, path_part, matches)
    change(out.files[kind][matches[0]])
    return out


def diff_of(generated: Generated, kind: str, path_part: str, change) -> str:  # type: ignore[no-untyped-def]
    return report(generated, mutated(generated, kind, path_part, change), base="base", head="head")


def panel(dashboard: dict, title: str) -> dict:
    return next(p for p in dashboard["panels"] if p.get("title") == title)


def test_no_change_says_so(generated):
    out = report(generated, generated, base="base", head="head")
    assert "No changes to dashboards, rules or routing." in out
    assert "###" not in out


def on_overview(title: str, change):  # type: ignore[no-untyped-def]
    def apply(dashboard: dict) -> None:
        change(panel(dashboard, title))
    return apply


# (what changes, the file it is in, the mutation, what the diff must say)
PANEL_CHANGES = {
    "query": (lambda p: p["targets"][0].update(expr=p["targets"][0]["expr"] + " * 2"), "query A changed"),
    "unit": (lambda p: p["fieldConfig"]["defaults"].update(unit="ms"), "unit `s` → `ms`"),
    "decimals": (lambda p: p["fieldConfig"]["defaults"].update(decimals=3), "decimals added: `3`"),
    "description": (lambda p: p.update(description="Something else entirely."), "description changed"),
    "min interval removed": (lambda p: p.pop("interval"), "min interval removed (was `2m`)"),
    "mappings": (lambda p: p["fieldConfig"]["defaults"].update(mappings=[{"type": "value", "options": {
        "0": {"text": "zero"}}}]), "value mappings added"),
    "static thresholds": (lambda p: p["fieldConfig"]["defaults"]["thresholds"]["steps"].append(
        {"color": "red", "value": 9}), "thresholds `green from -inf` → `green from -inf, red from 9`"),
    "threshold from a query": (lambda p: p.update(transformations=[]), "threshold from query B removed"),
    "data links": (lambda p: p["fieldConfig"]["overrides"].clear(), "override byFrameRefID=A: links removed"),
    "panel links": (lambda p: p.update(links=[{"title": "x", "url": "/d/stackwatch-self", "type": "link"}]),
                    "panel links added"),
    "no value text": (lambda p: p["fieldConfig"]["defaults"].update(noValue="fine"), "noValue added: `fine`"),
    "sparkline": (lambda p: p["options"].update(graphMode="none"), "option graphMode `area` → `none`"),
    "instant query": (lambda p: p["targets"][0].update(instant=True, range=False), "query A runs `range` → `instant`"),
    "legend": (lambda p: p["targets"][0].update(legendFormat="x"), "query A legend `database` → `x`"),
    "type": (lambda p: p.update(type="gauge"), "type `stat` → `gauge`"),
}


@pytest.mark.parametrize("what", sorted(PANEL_CHANGES))
def test_each_panel_property_change_is_named(generated, what):
    change, expected = PANEL_CHANGES[what]
    out = diff_of(generated, DASHBOARD, "stackwatch-overview", on_overview("Database response time", change))
    assert "#### stackwatch · Overview (`stackwatch-overview`)" in out
    assert "- panel **Database response time**:" in out
    assert expected in out, out


def test_a_changed_variable_query_is_named(generated):
    def change(dashboard: dict) -> None:
        variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "provider")
        variable["query"] = variable["query"].replace("stackwatch_provider_up", "stackwatch_provider_poll_errors_total")
    out = diff_of(generated, DASHBOARD, "stackwatch-overview", change)
    assert "- variable **provider**:" in out and "query changed" in out and "poll_errors_total" in out


def test_variables_and_annotations_added_and_removed_are_named(generated):
    def change(dashboard: dict) -> None:
        dashboard["templating"]["list"] = [v for v in dashboard["templating"]["list"] if v["name"] != "runbook_base"]
        dashboard["annotations"]["list"] = [a for a in dashboard["annotations"]["list"] if a["name"] != "Render deploys"]
        dashboard["annotations"]["list"][-1]["target"]["expr"] = "vector(1)"
    out = diff_of(generated, DASHBOARD, "stackwatch-overview", change)
    assert "- variable removed: **runbook_base**" in out
    assert "- annotation removed: **Render deploys**" in out
    assert "- annotation **Vercel deploys**:" in out and "target.expr changed" in out


def test_board_links_time_and_refresh_are_named(generated):
    def change(dashboard: dict) -> None:
        dashboard["links"] = []
        dashboard["time"]["from"] = "now-12h"
        dashboard["refresh"] = "10m"
    out = diff_of(generated, DASHBOARD, "stackwatch-costs", change)
    assert "board links removed" in out and "time.from `now-30d` → `now-12h`" in out
    assert "refresh `5m` → `10m`" in out


def test_a_row_added_at_the_top_is_one_line_not_one_per_panel(generated):
    def change(dashboard: dict) -> None:
        for p in dashboard["panels"]:
            p["gridPos"]["y"] += 9
        dashboard["panels"][:0] = [{"type": "row", "title": "News", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1},
                                    "panels": [], "collapsed": False, "id": 99},
                                   {**copy.deepcopy(panel(dashboard, "Spend today")), "title": "Spend right now",
                                    "gridPos": {"x": 0, "y": 1, "w": 24, "h": 8}}]
        panel(dashboard, "Spend right now")["targets"][0]["expr"] = "vector(1)"
    out = diff_of(generated, DASHBOARD, "stackwatch-overview", change)
    panels = len([p for p in json.loads((OUTPUT / "stackwatch-overview.json").read_text())["panels"]
                  if p["type"] != "row"])
    assert "- panel added: **Spend right now** (stat, row “News”)" in out
    assert f"- {panels} panels moved down 9 grid rows, unchanged otherwise" in out
    assert out.count("moved") == 1, out


def test_a_panel_moved_to_another_row_or_renamed_is_reported_as_such(generated):
    def change(dashboard: dict) -> None:
        panels = dashboard["panels"]
        rows = [p for p in panels if p["type"] == "row"]
        moving = panels.pop(panels.index(panel(dashboard, "Spend today")))
        panels.insert(panels.index(rows[-1]) + 1, moving)
        panel(dashboard, "Data age")["title"] = "Age of the data"
    out = diff_of(generated, DASHBOARD, "stackwatch-overview", change)
    assert "- panel **Spend today**: moved from row “Spend against budget” to “Boards”" in out
    assert "- panel **Age of the data**:\n  - renamed from “Data age”" in out
    assert "panel removed" not in out and "panel added" not in out


def test_boards_added_and_removed(generated):
    new = mutated(generated, DASHBOARD, "stackwatch-costs", lambda d: d.update(uid="stackwatch-costs-2"))
    out = report(generated, new, base="base", head="head")
    assert "- **Board added:** stackwatch · Costs & usage (`stackwatch-costs-2`" in out
    assert "- **Board removed:** stackwatch · Costs & usage (`stackwatch-costs`)" in out


def rule(document: dict, key: str, name: str) -> dict:
    return next(r for g in document["groups"] for r in g["rules"] if r.get(key) == name)


def test_a_recording_rule_change_names_the_panels_that_read_it(generated):
    out = diff_of(generated, RULES, "dashboards.rules",
                  lambda d: rule(d, "record", "stackwatch:cost_today_usd:sum_by_provider").update(
                      expr="sum by (deployment_environment) (stackwatch_cost_today_usd)"))
    assert "- recording rule **stackwatch:cost_today_usd:sum_by_provider**" in out
    assert "expr changed" in out
    assert "read by (each panel shows the change): stackwatch · Costs & usage / Daily cost by provider" in out
    assert "stackwatch · Overview / Spend today" in out


def first_alert(document: dict) -> dict:
    return next(r for g in document["groups"] for r in g["rules"] if "alert" in r)


@pytest.mark.parametrize(("what", "change", "expected"), [
    ("expression", lambda r: r.update(expr="vector(1)"), "expr changed"),
    ("for", lambda r: r.update({"for": "1h"}), "for `{for}` → `1h`"),  # {for}: the rule's own, before the change
    ("label", lambda r: r["labels"].update(team="web"), "label team added: `web`"),
    ("severity", lambda r: r["labels"].update(severity="info"), "alert rule added"),
    ("annotation", lambda r: r["annotations"].update(runbook_url="https://x/y.md"), "annotation runbook_url"),
])
def test_each_alert_rule_property_change_is_named(generated, what, change, expected):
    def apply(document: dict) -> None:
        change(first_alert(document))
    rules_file = next(p for p, d in generated.of(RULES).items() if any("alert" in r for g in d["groups"]
                                                                       for r in g["rules"]))
    out = diff_of(generated, RULES, rules_file, apply)
    before = first_alert(generated.of(RULES)[rules_file])
    name = before["alert"]
    assert name in out and expected.format(**before) in out, out


def test_alert_rules_added_and_removed(generated):
    def change(document: dict) -> None:
        group = document["groups"][0]
        removed = group["rules"].pop(0)
        group["rules"].append({**removed, "alert": "SomethingNew"})
    rules_file = next(p for p, d in generated.of(RULES).items() if any("alert" in r for g in d["groups"]
                                                                       for r in g["rules"]))
    out = diff_of(generated, RULES, rules_file, change)
    assert "- alert rule added: **SomethingNew" in out and "- alert rule removed: **" in out


def test_routing_changes_are_named(generated):
    def change(config: dict) -> None:
        routes = config["route"]["routes"]
        routes[0]["repeat_interval"] = "30m"
        routes.append({"receiver": "webhook", "matchers": ['team="data"']})
        config["inhibit_rules"] = []
        config["receivers"][0].setdefault("webhook_configs", []).append({"url": "http://secret-host.invalid/x"})
    out = diff_of(generated, ALERTMANAGER, "", change)
    first = generated.of(ALERTMANAGER)[next(iter(generated.of(ALERTMANAGER)))]["route"]["routes"][0]
    assert f"route root › {first['receiver']}" in out and "repeat_interval `" in out and "→ `30m`" in out
    assert 'route added: root › webhook [team="data"]' in out
    assert "inhibit rule removed" in out
    assert "receiver **" in out and "webhook_configs" in out
    assert "secret-host" not in out  # receivers' settings are named, never printed


def test_route_order_and_matchers_are_named(generated):
    def change(config: dict) -> None:
        routes = config["route"]["routes"]
        routes[0], routes[1] = routes[1], routes[0]
    out = diff_of(generated, ALERTMANAGER, "", change)
    assert "route order changed (the first matching route wins)" in out


def test_grafana_managed_rules_and_policies_are_compared_too(generated):
    def rules_change(document: dict) -> None:
        document["groups"][0]["rules"][0]["for"] = "42m"

    def policy_change(document: dict) -> None:
        document["policies"][0]["routes"][0]["group_wait"] = "1s"
    rules_path = next(p for p, d in generated.of(GRAFANA_ALERTING).items() if "groups" in d)
    policies_path = next(p for p, d in generated.of(GRAFANA_ALERTING).items() if "policies" in d)
    out = diff_of(generated, GRAFANA_ALERTING, rules_path, rules_change)
    assert "Grafana rule **" in out and "for `" in out and "→ `42m`" in out
    out = diff_of(generated, GRAFANA_ALERTING, policies_path, policy_change)
    assert "notification policy" in out and "group_wait `" in out and "→ `1s`" in out


# --- the command end to end, on a git repository of this repository's sources ---


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> Path:
    """A repository whose one commit holds this working tree's files (sources and generated output)."""
    repo = tmp_path_factory.mktemp("origin")
    names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           check=True, capture_output=True, text=True).stdout.split("\0")
    for name in names:
        if name and (REPO / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


@pytest.fixture
def repo(origin, tmp_path) -> Path:
    clone = tmp_path / "repo"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return clone


def generate(repo: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    for module in ("grafana.generate", "alerting.generate"):
        subprocess.run([sys.executable, "-m", module], cwd=repo, env=env, check=True, capture_output=True)


def run(repo: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["dashboards", "diff", "--repo", str(repo), *args])
    return result.exit_code, result.stdout, result.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_cli_no_change_says_so(repo):
    code, out, err = run(repo, "--base", "HEAD")
    assert code == 0, err
    assert "No changes to dashboards, rules or routing." in out


def test_cli_refuses_when_the_heads_committed_json_differs_from_its_sources(repo):
    board = repo / "grafana" / "provisioning" / "dashboards" / "stackwatch-overview.json"
    edit(board, '"title": "Data age"', '"title": "Data age (hand-edited)"')
    code, out, err = run(repo, "--base", "HEAD")
    assert code == 2 and out == ""
    assert "grafana/provisioning/dashboards/stackwatch-overview.json" in err and "make generate" in err


def test_cli_describes_what_the_sources_generate_at_both_revisions(repo):
    """A source change, regenerated and committed, shows as the generated change — a panel's unit and a
    recording rule with the panels reading it; a base whose committed JSON was stale is described from
    its sources (the stale hand edit does not show) with a note."""
    board = repo / "grafana" / "provisioning" / "dashboards" / "stackwatch-self.json"
    edit(board, '"title": "Data age"', '"title": "Stale title"')
    git(repo, "commit", "-q", "-am", "stale base")
    edit(repo / "grafana" / "dashboards" / "overview.py", 'unit="s", width=4, height=5, better="lower"),',
         'unit="ms", width=4, height=5, better="lower"),')
    edit(repo / "grafana" / "dashboards" / "recordings.py",
         '"sum by (deployment_environment, provider) (stackwatch_cost_forecast_month_end_usd)"',
         '"max by (deployment_environment, provider) (stackwatch_cost_forecast_month_end_usd)"')
    generate(repo)
    git(repo, "commit", "-q", "-am", "change")
    code, out, err = run(repo, "--base", "HEAD~1", "--head", "HEAD")
    assert code == 0, err
    assert "- panel **Frontend response time**:\n  - unit `s` → `ms`" in out
    assert "- recording rule **stackwatch:cost_forecast_month_end_usd:sum_by_provider**" in out
    assert "read by (each panel shows the change): stackwatch · Overview / Forecast month end" in out
    assert "committed generated files differed from their sources" in out and "stackwatch-self.json" in out
    assert "Stale title" not in out


def test_cli_unknown_revision_is_a_clear_error_with_exit_2(repo):
    code, out, err = run(repo, "--base", "no-such-branch")
    assert code == 2
    assert "no-such-branch" in err and "Traceback" not in err + out


def test_the_generated_files_are_found_by_structure(tmp_path):
    """Where the files live does not matter: a rule file and an Alertmanager config moved elsewhere are
    still found (the alerting layout is being reworked), and a file of another shape is not."""
    (tmp_path / "anywhere").mkdir()
    (tmp_path / "anywhere" / "r.yml").write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"alert": "A", "expr": "vector(1)", "labels": {"severity": "critical"}}]}]}))
    (tmp_path / "anywhere" / "am.yaml").write_text(yaml.safe_dump({"route": {"receiver": "x"}, "receivers": [
        {"name": "x"}]}))
    (tmp_path / "anywhere" / "other.yaml").write_text(yaml.safe_dump({"groups": [{"name": "g"}]}))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "fixture.yml").write_text((tmp_path / "anywhere" / "r.yml").read_text())
    found = collect(tmp_path)
    assert list(found.of(RULES)) == ["anywhere/r.yml"]
    assert list(found.of(ALERTMANAGER)) == ["anywhere/am.yaml"]
