"""`stackwatch dashboards diff --base <ref>`: a semantic Markdown diff of the generated
dashboards, proved on a throwaway git repository holding real generated boards."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exporters.cli import app
from exporters.ops.dashboards_diff import DASHBOARDS_DIR
from grafana.generate import OUTPUT


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


def write(repo: Path, dashboard: dict) -> None:
    (repo / DASHBOARDS_DIR / f"{dashboard['uid']}.json").write_text(json.dumps(dashboard, indent=2))


def panel(dashboard: dict, title: str) -> dict:
    return next(p for p in dashboard["panels"] if p.get("title") == title)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose first commit holds the real generated Overview and Costs boards."""
    (tmp_path / DASHBOARDS_DIR).mkdir(parents=True)
    for name in ("stackwatch-overview.json", "stackwatch-costs.json"):
        (tmp_path / DASHBOARDS_DIR / name).write_text((OUTPUT / name).read_text())
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def run(repo: Path, base: str = "HEAD") -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["dashboards", "diff", "--base", base, "--repo", str(repo)])
    return result.exit_code, result.stdout, result.stderr


def test_no_change_says_so(repo):
    code, out, _ = run(repo)
    assert code == 0
    assert "No dashboard changes." in out


def test_reports_changed_query_unit_threshold_and_a_move(repo):
    overview = json.loads((repo / DASHBOARDS_DIR / "stackwatch-overview.json").read_text())
    spend = panel(overview, "Spend today")
    old_expr = spend["targets"][0]["expr"]
    spend["targets"][0]["expr"] = old_expr.replace("sum(", "sum by (provider) (")
    spend["fieldConfig"]["defaults"]["unit"] = "currencyEUR"
    age = panel(overview, "Data age")
    age["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] = 600
    age["gridPos"]["x"] += 1
    write(repo, overview)
    code, out, _ = run(repo)
    assert code == 0
    assert "### stackwatch · Overview (`stackwatch-overview`)" in out
    assert "- panel **Spend today**:" in out
    assert f"before: `{old_expr}`" in out and "after: `sum by (provider) (" in out
    assert "unit `currencyUSD` → `currencyEUR`" in out
    assert "threshold steps green from -inf, orange from 300, red from 900 → " \
           "green from -inf, orange from 600, red from 900" in out
    assert "- panel **Data age**:\n  - moved (x, y, w, h) (8, 1, 8, 5) → (9, 1, 8, 5)" in out
    assert "Costs & usage" not in out  # unchanged board: not mentioned


def test_reports_panels_and_boards_added_and_removed(repo):
    costs = json.loads((repo / DASHBOARDS_DIR / "stackwatch-costs.json").read_text())
    removed = costs["panels"].pop(2)
    added = copy.deepcopy(panel(costs, "Top cost drivers"))
    added["title"] = "Cost by team"
    costs["panels"].append(added)
    write(repo, costs)
    (repo / DASHBOARDS_DIR / "stackwatch-overview.json").unlink()
    (repo / DASHBOARDS_DIR / "stackwatch-ai.json").write_text((OUTPUT / "stackwatch-ai.json").read_text())
    code, out, _ = run(repo)
    assert code == 0
    assert f"- panel removed: **{removed['title']}**" in out
    assert "- panel added: **Cost by team** (table" in out
    assert "- **Board removed:** stackwatch · Overview (`stackwatch-overview`)" in out
    assert "- **Board added:** stackwatch · AI services (`stackwatch-ai`" in out


def test_a_panel_moved_to_another_row_is_reported_as_moved_not_removed(repo):
    costs = json.loads((repo / DASHBOARDS_DIR / "stackwatch-costs.json").read_text())
    rows = [p for p in costs["panels"] if p["type"] == "row"]
    moving = costs["panels"].pop(1)  # first panel of the first row
    costs["panels"].insert(costs["panels"].index(rows[-1]) + 1, moving)
    write(repo, costs)
    _, out, _ = run(repo)
    assert f"- panel **{moving['title']}**:\n  - moved from row “{rows[0]['title']}” to “{rows[-1]['title']}”" in out
    assert "panel removed" not in out


def test_an_unknown_revision_is_a_clear_error_with_exit_2(repo):
    code, out, err = run(repo, "no-such-branch")
    assert code == 2
    assert "no-such-branch" in err and "Traceback" not in err + out
