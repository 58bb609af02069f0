"""The Costs board's windows, proved by evaluation with `promtool test rules` on hand-made series:

- Cost per unit of work divides a cost and a count over the same last 24 hours: at a flat unit cost it
  reads the same at 06:00 and at 18:00 (today's cost since midnight over the last 24 hours' requests
  climbed all day, from a quarter of the true figure to the whole);
- Daily cost by provider draws each day's bar at that day: the step Grafana stamps at a day's 00:00
  reads that day's final total, not the day before's.
"""

from __future__ import annotations

import subprocess

import yaml
from test_promql import promtool

from grafana.dashboards.recordings import COST_TODAY, REQUESTS_BY_PROVIDER
from grafana.queries import all_selected, substitute

STEP_S = 180  # the requests recording's interval (the panel multiplies its samples by it)
PER_DAY = 86400 // STEP_S
# Flat unit costs: USD per second of cost, requests (or pages) per second.
COST_PER_S = {"vercel": 0.0001, "render": 0.00005, "llamacloud": 0.00002}
REQUESTS_PER_S = {"vercel": 50.0, "render": 10.0}
PAGES_PER_S = 0.01


def costs_panel(boards, title: str):  # type: ignore[no-untyped-def]
    costs = next(b for b in boards if b.uid == "stackwatch-costs")
    return costs, next(p for p in costs.panels() if p.title == title)


def expr(board, query) -> str:  # type: ignore[no-untyped-def]
    return substitute(query.expr, range_s=86400, interval=900, variables=all_selected(board))


def run_promtool(tmp_path, series: list[dict], tests: list[dict]) -> None:  # type: ignore[no-untyped-def]
    document = {"rule_files": [], "evaluation_interval": "3m", "tests": [
        {"interval": "3m", "input_series": series, "promql_expr_test": tests}]}
    path = tmp_path / "costs.test.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=100000))
    result = subprocess.run([str(promtool()), "test", "rules", str(path)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def running_daily_total(per_s: float, days: int) -> str:
    """A running total of the UTC day sampled every 3 minutes: from 0 at 00:00, back to 0 at each midnight."""
    return " ".join(f"0+{per_s * STEP_S}x{PER_DAY - 1}" for _ in range(days))


def test_cost_per_unit_of_work_compares_the_same_24_hours_and_is_flat_at_a_flat_unit_cost(boards, tmp_path):
    board, panel = costs_panel(boards, "Cost per unit of work")
    env = 'deployment_environment="prod"'
    series = [{"series": f'{COST_TODAY.record}{{{env}, provider="{p}"}}', "values": running_daily_total(c, 3)}
              for p, c in COST_PER_S.items()]
    series += [{"series": f'{REQUESTS_BY_PROVIDER.record}{{{env}, provider="{p}"}}', "values": f"{r}x{3 * PER_DAY}"}
               for p, r in REQUESTS_PER_S.items()]
    series.append({"series": f'llamacloud_pages_total{{{env}, project="docs", mode="fast"}}',
                   "values": f"0+{PAGES_PER_S * STEP_S}x{3 * PER_DAY}"})
    per_1000 = {p: COST_PER_S[p] / REQUESTS_PER_S[p] * 1000 for p in REQUESTS_PER_S}  # 0.002, 0.005
    per_page = COST_PER_S["llamacloud"] / PAGES_PER_S  # 0.002
    requests_q, pages_q = (expr(board, q) for q in panel.queries)
    tests = []
    for at in ("2d6h", "2d18h"):  # early and late in a day: the same unit cost
        tests.append({"expr": f"abs(({requests_q}) / on (provider) group_left () ("
                              + " or ".join(f'label_replace(vector({v}), "provider", "{p}", "", "")'
                                            for p, v in per_1000.items())
                              + ") - 1) < bool 0.01", "eval_time": at,
                      "exp_samples": [{"labels": f'{{provider="{p}"}}', "value": 1} for p in per_1000]})
        tests.append({"expr": f"abs(({pages_q}) / {per_page} - 1) < bool 0.01", "eval_time": at,
                      "exp_samples": [{"labels": '{provider="llamacloud"}', "value": 1}]})
    run_promtool(tmp_path, series, tests)


def test_the_comparison_above_fails_for_todays_cost_over_a_days_requests(boards, tmp_path):
    """The check can fail: the former numerator (today's cost since 00:00) at 06:00 reads a quarter."""
    board, panel = costs_panel(boards, "Cost per unit of work")
    env = 'deployment_environment="prod"'
    series = [{"series": f'{COST_TODAY.record}{{{env}, provider="vercel"}}',
               "values": running_daily_total(COST_PER_S["vercel"], 3)},
              {"series": f'{REQUESTS_BY_PROVIDER.record}{{{env}, provider="vercel"}}',
               "values": f"{REQUESTS_PER_S['vercel']}x{3 * PER_DAY}"}]
    former = expr(board, panel.queries[0]).replace(f"increase({COST_TODAY.record}", f"max_over_time({COST_TODAY.record}")
    former = former.replace("[1d])) /", "[1m])) /", 1)
    flat = COST_PER_S["vercel"] / REQUESTS_PER_S["vercel"] * 1000
    tests = [{"expr": f"abs(({former}) / {flat} - 0.25) < bool 0.01", "eval_time": "2d6h",
              "exp_samples": [{"labels": '{provider="vercel"}', "value": 1}]}]
    run_promtool(tmp_path, series, tests)


def test_each_daily_bar_is_stamped_at_its_own_day(boards, tmp_path):
    board, panel = costs_panel(boards, "Daily cost by provider")
    assert panel.interval == "1d" and panel.bar_alignment == 1  # stamped at 00:00, drawn over the day after it
    totals = [10.0, 20.0, 40.0]  # each day's final total
    values = " ".join(" ".join(f"{total * (i + 1) / PER_DAY:.6f}" for i in range(PER_DAY)) for total in totals)
    series = [{"series": f'{COST_TODAY.record}{{deployment_environment="prod", provider="vercel"}}',
               "values": values}]
    query = expr(board, panel.queries[0])
    tests = [{"expr": query, "eval_time": f"{day}d", "exp_samples": [{"labels": '{provider="vercel"}', "value": total}]}
             for day, total in enumerate(totals)]
    # promtool loads the input only up to the latest evaluation time: one at the end keeps the last day readable.
    tests.append({"expr": "vector(1)", "eval_time": f"{len(totals)}d", "exp_samples": [{"labels": "{}", "value": 1}]})
    run_promtool(tmp_path, series, tests)


def test_the_bar_check_fails_for_the_former_query_a_day_late(boards, tmp_path):
    """The check can fail: without `offset -1d`, the step at a day's 00:00 reads the day before."""
    board, panel = costs_panel(boards, "Daily cost by provider")
    values = " ".join(" ".join(f"{total * (i + 1) / PER_DAY:.6f}" for i in range(PER_DAY)) for total in (10.0, 20.0))
    series = [{"series": f'{COST_TODAY.record}{{deployment_environment="prod", provider="vercel"}}',
               "values": values}]
    former = expr(board, panel.queries[0]).replace(" offset -1d", "")
    tests = [{"expr": former, "eval_time": "1d", "exp_samples": [{"labels": '{provider="vercel"}', "value": 10.0}]},
             {"expr": "vector(1)", "eval_time": "2d", "exp_samples": [{"labels": "{}", "value": 1}]}]
    run_promtool(tmp_path, series, tests)
