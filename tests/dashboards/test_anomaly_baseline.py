"""The Costs board's anomaly view measures a day against alerting/rules.py BASELINE's
usual day: the median of the previous 14 days' totals. Proved by evaluation, not by comparing text:
`promtool test rules` runs the dashboards' recording rules over 15 days of cost series and
evaluates the board's queries (variables at All) and the alert's baseline at noon of the 15th day,
against medians and ratios worked out by hand from the days' totals below."""

from __future__ import annotations

import statistics
import subprocess
from string import Template

import yaml
from test_promql import promtool

from alerting.model import PRODUCTION
from alerting.rules import BASELINE
from grafana.generate import RULES
from grafana.queries import all_selected, substitute

# Each day's final total (USD) for the 14 days before "today" (the 15th day), per provider:
# one expensive day (100, 50) that a median ignores and an average would not.
HISTORY = {
    "openai": [10, 10, 12, 11, 10, 9, 10, 100, 10, 11, 10, 12, 9, 10],
    "vercel": [1, 1, 1, 1, 50, 1, 1, 1, 1, 1, 1, 1, 1, 1],
}
TODAY_AT_NOON = {"openai": 30.0, "vercel": 0.5}
FACTOR, FLOOR = 3.0, 5.0
STEPS_PER_DAY = 96  # one sample every 15 minutes


def daily_values(history: list[float], today_at_noon: float) -> str:
    """The running daily total: rises to the day's total by 23:45, back near 0 after midnight."""
    values = []
    for total in history:
        values += [total * (i + 1) / STEPS_PER_DAY for i in range(STEPS_PER_DAY)]
    # Today: rising at a constant pace to today_at_noon at 12:00 (step 48), then on.
    values += [today_at_noon * i / 48 for i in range(STEPS_PER_DAY)]
    return " ".join(f"{v:.6f}" for v in values)


def panel_query(boards, title: str, index: int = 0) -> str:
    costs = next(b for b in boards if b.uid == "stackwatch-costs")
    panel = next(p for p in costs.panels() if p.title == title)
    return substitute(panel.queries[index].expr, range_s=30 * 86400, interval=3600, variables=all_selected(costs))


def rules_without_query_offset(path):
    """The committed rule file with each group's query_offset removed (the only change). promtool 3.15's
    `test rules` stores no recorded sample of a group with any query_offset (measured: even 1 s gives an
    empty recorded series), while Prometheus itself records at the evaluation time minus the offset."""
    document = yaml.safe_load(RULES.read_text())
    assert all(group.pop("query_offset", None) for group in document["groups"])
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1000))
    return path


def test_board_and_alert_share_the_median_of_the_previous_14_days(boards, tmp_path):
    usual = {p: statistics.median(days) for p, days in HISTORY.items()}
    assert usual == {"openai": 10.0, "vercel": 1.0}  # the expensive day does not move it
    series = [{"series": f'stackwatch_cost_today_usd{{deployment_environment="prod", provider="{p}", '
                         f'service="s", project="p", cost_source="billed"}}',
               "values": daily_values(days, TODAY_AT_NOON[p])} for p, days in HISTORY.items()]
    series += [{"series": f'stackwatch_threshold_{name}{{deployment_environment="prod"}}',
                "values": f"{value}x{15 * STEPS_PER_DAY}"}
               for name, value in (("spend_anomaly_factor", FACTOR), ("spend_anomaly_floor_usd", FLOOR))]
    noon = "14d12h"
    alert_baseline = " ".join(Template(BASELINE).substitute(vars(PRODUCTION.windows)).split())
    rules = rules_without_query_offset(tmp_path / "dashboards.rules.yaml")
    tests = {"rule_files": [str(rules)], "evaluation_interval": "15m", "tests": [{
        "interval": "15m", "input_series": series,
        "promql_expr_test": [
            {"expr": alert_baseline, "eval_time": noon,
             "exp_samples": [{"labels": f'{{provider="{p}"}}', "value": usual[p]} for p in HISTORY]},
            {"expr": panel_query(boards, "Today vs its usual level"), "eval_time": noon,
             "exp_samples": [{"labels": f'{{provider="{p}"}}', "value": TODAY_AT_NOON[p] / usual[p]}
                             for p in HISTORY]},
            {"expr": panel_query(boards, "Today vs the anomaly line", 1), "eval_time": noon,
             "exp_samples": [{"labels": f'{{provider="{p}"}}', "value": max(usual[p] * FACTOR, FLOOR)}
                             for p in HISTORY]},
        ]}]}
    path = tmp_path / "anomaly.test.yaml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([str(promtool()), "test", "rules", str(path)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
