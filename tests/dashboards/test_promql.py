"""Every PromQL expression of every panel and template variable parses, by Prometheus' own
parser (`promtool check rules`), after Grafana's variable substitution."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from grafana.queries import request, substitute, variable_selector

sys.path.insert(0, str(REPO / "tools"))
import install_tools  # noqa: E402

sys.path.remove(str(REPO / "tools"))
NOW = 1_800_000_000.0


def promtool() -> Path:
    paths = install_tools.tool_paths()
    if "promtool" in paths.missing():
        message = "promtool missing (run `make tools`)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return paths.promtool


def expressions(boards) -> dict[str, str]:
    """{where: substituted PromQL} for every panel query and template variable."""
    out = {}
    for board in boards:
        for panel, query in board.queries():
            ref = panel.queries.index(query)
            out[f"{board.uid} / {panel.title} / {ref}"] = request(board, panel, query, now=NOW).expr
        for variable in board.variables:
            if variable.kind != "query":
                continue
            selector, _ = variable_selector(variable.query)
            values = {v.name: ".*" for v in board.variables}
            out[f"{board.uid} / variable {variable.name}"] = substitute(selector, range_s=3600, interval=15,
                                                                       variables=values)
    return out


def check(tool: Path, exprs: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """{where: promtool's complaint} for every expression promtool rejects (one rule group each)."""
    names = {f"g{i}": where for i, where in enumerate(exprs)}
    groups = [{"name": g, "rules": [{"record": "dashboard:check", "expr": exprs[where]}]}
              for g, where in names.items()]
    rules = tmp_path / "dashboards.rules.yml"
    rules.write_text(yaml.safe_dump({"groups": groups}))
    result = subprocess.run([str(tool), "check", "rules", "--lint=none", str(rules)], capture_output=True,
                            text=True, timeout=120)
    if result.returncode == 0:
        return {}
    output = result.stdout + result.stderr
    bad = {names[g]: line for line in output.splitlines() for g in re.findall(r'group "(g\d+)"', line)}
    return bad or {"promtool": output[-2000:]}


def test_every_panel_and_variable_expression_parses(boards, tmp_path):
    tool = promtool()
    exprs = expressions(boards)
    assert len(exprs) > 100
    assert check(tool, exprs, tmp_path) == {}


def test_the_parser_check_rejects_invalid_promql(boards, tmp_path):
    """The check above can fail: a broken expression is reported with its board and panel."""
    tool = promtool()
    bad = check(tool, {"board / broken panel / 0": "sum by (x (rate(y[5m]))",
                       "board / fine panel / 0": "sum(rate(y[5m]))"}, tmp_path)
    assert list(bad) == ["board / broken panel / 0"]
