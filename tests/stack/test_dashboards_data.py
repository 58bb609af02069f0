"""Every panel target of every board returns data on the native stack, queried as Grafana would,
in the simulator scenario it is meant for (each Query names it in grafana/dashboards/*.py).

Grafana's request: a range query (or an instant one where the target says so) with its
variables substituted ($__rate_interval, $__range, $__interval from the step, template
variables at All), step = max(roundInterval(range / maxDataPoints), min interval, 15 s),
start floored and end ceiled to the step (grafana/queries.py).

Two inputs the pipeline cannot produce in the minutes a test stack lives are given to it first,
as an operator's install would have them: the report's recommendations arrive only by
`stackwatch report --push` (pushed here, as a scheduled report would), and the anomaly view's
baseline needs the 14 previous days of the recorded daily cost (written here as a TSDB block of
history before the stack started; today's cost still comes through the live pipeline).

The range: the board's default range, cut to the stack's age. A stack minutes old has no
30-day history, and a 30-day range's 1-hour step would leave its gauges' only samples
between two evaluation points; the same query over the range the stack has existed is what
Grafana shows on a new install. The full default ranges run on 30 days of history in
benchmarks/dashboards.py (which reports any empty result).

The stack's Prometheus evaluates every recording group each minute (the committed 3- and 15-minute
intervals are the only change: tests/stack/conftest.py, cap_rule_intervals), since a group first
runs up to one interval after Prometheus starts.
"""

from __future__ import annotations

import math
import shutil
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from grafana.dashboards import boards
from grafana.dashboards.common import Annotation, Board, Panel, Query, Recording
from grafana.dashboards.recordings import COST_TODAY
from grafana.generate import recordings
from grafana.queries import (
    Request,
    all_selected,
    annotation_request,
    panel_range_s,
    parse_duration,
    request,
    substitute,
)

from .conftest import Stack, http_json, push_report, wait_until
from .test_e2e_metrics import HALF_CENT, POLLS_TIMEOUT_S, latest_export, wait_for_polls_begun_after

pytestmark = pytest.mark.e2e

# Long enough for two scrapes of the 60 s Supabase job inside a 2-minute $__rate_interval.
MIN_STACK_AGE_S = 200.0
WAIT_S = 240.0


def stack_age(stack: Stack) -> float:
    """Seconds since the stack's Prometheus started (its runtime info; no scrape needed)."""
    started = http_json(f"{stack.prom.base_url}/api/v1/status/runtimeinfo")["data"]["startTime"]
    return time.time() - datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()


def returns_data(stack: Stack, req: Request) -> bool:
    body = http_json(f"{stack.prom.base_url}{req.path}?{urllib.parse.urlencode(req.params())}")
    assert body["status"] == "success", body
    result = body["data"]["result"]
    if body["data"]["resultType"] == "scalar":
        result = [{"value": result}]
    values = [float(v) for series in result
              for v in ([series["value"][1]] if "value" in series else [p[1] for p in series["values"]])]
    return any(not math.isnan(v) for v in values)


def has_data(stack: Stack, board: Board, panel: Panel, query: Query) -> bool:
    range_s = min(panel_range_s(board, panel), stack_age(stack))
    return returns_data(stack, request(board, panel, query, now=time.time(), range_s=range_s))


def annotation_has_data(stack: Stack, board: Board, annotation: Annotation) -> bool:
    range_s = min(parse_duration(board.time_from), stack_age(stack))
    return returns_data(stack, annotation_request(board, annotation, now=time.time(), range_s=range_s))


def queries_for(scenario: str, *, alerts: bool = False) -> list[tuple[Board, Panel, Query]]:
    return [(board, panel, query) for board in boards() for panel, query in board.queries()
            if query.scenario == scenario and not query.history and not query.demo_gap and query.alerts == alerts]


def assert_all_have_data(stack: Stack, scenario: str, *, alerts: bool = False) -> int:
    pending = queries_for(scenario, alerts=alerts)
    assert pending, scenario
    count = len(pending)
    deadline = time.monotonic() + WAIT_S
    while pending and time.monotonic() < deadline:
        pending = [(b, p, q) for b, p, q in pending if not has_data(stack, b, p, q)]
        if pending:
            time.sleep(5)
    assert not pending, f"{scenario}: no data after {WAIT_S:.0f}s for:\n" + "\n".join(
        f"  {b.uid} / {p.title}: {q.expr}" for b, p, q in pending)
    return count


@pytest.fixture(scope="module")
def aged_stack(stack: Stack) -> Stack:
    """The shared stack once it is old enough for every rate window the boards use."""
    wait = MIN_STACK_AGE_S - stack_age(stack)
    if wait > 0:
        time.sleep(wait)
    return stack


@pytest.fixture(scope="module")
def reported_stack(aged_stack: Stack) -> Stack:
    push_report(aged_stack.prom.base_url, aged_stack.ports.otlp_http)
    return aged_stack


def write_daily_cost_history(stack: Stack, promtool: Path, days: int = 14) -> int:
    """The recorded per-provider daily cost of the `days` UTC days before today, as a TSDB block in
    the stack's data directory (Prometheus loads new blocks within a minute, no restart).

    Each past day rises every 15 minutes to what today has cost so far in the steady world (the
    recorded series now), so the median usual day is today's steady level. The history ends before
    the stack's Prometheus started: no overlap with its head."""
    now = stack.prom.wait_for(COST_TODAY.record, timeout=WAIT_S, what=f"{COST_TODAY.record} recorded live")
    started = time.time() - stack_age(stack)
    midnight = math.floor(time.time() / 86400) * 86400
    lines = [f"# TYPE {COST_TODAY.record} gauge"]
    for series in now:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(series["metric"].items()) if k != "__name__")
        level = float(series["value"][1])
        for day in range(days, 0, -1):
            for step in range(96):
                t = midnight - day * 86400 + step * 900
                if t < started - 60:
                    lines.append(f"{COST_TODAY.record}{{{labels}}} {level * (step + 1) / 96} {t}")
    lines.append("# EOF")
    work = stack.workdir / "cost-history"
    work.mkdir(exist_ok=True)
    (work / "history.om").write_text("\n".join(lines) + "\n")
    out = work / "blocks"
    result = subprocess.run([str(promtool), "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=384h",
                             str(work / "history.om"), str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    blocks = [b for b in out.iterdir() if (b / "meta.json").exists()]
    assert blocks, result.stdout
    for block in blocks:
        shutil.move(str(block), str(stack.workdir / "prometheus-data" / block.name))
    return len(lines) - 2


@pytest.fixture(scope="module")
def cost_history_stack(aged_stack: Stack, tools) -> Stack:
    assert write_daily_cost_history(aged_stack, tools.promtool) > 0
    yesterday_noon = math.floor(time.time() / 86400) * 86400 - 43200
    query = urllib.parse.urlencode({"query": COST_TODAY.record, "time": yesterday_noon})
    wait_until(lambda: http_json(f"{aged_stack.prom.base_url}/api/v1/query?{query}")["data"]["result"],
               timeout=WAIT_S, interval=5, what="the daily cost history block loaded by Prometheus")
    return aged_stack


def test_every_steady_panel_target_returns_data(reported_stack):
    assert assert_all_have_data(reported_stack, "steady") > 100


def instant(stack: Stack, expr: str, at: float) -> dict[tuple[tuple[str, str], ...], float]:
    query = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    body = http_json(f"{stack.prom.base_url}/api/v1/query?{query}")
    assert body["status"] == "success", body
    return {tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(r["value"][1])
            for r in body["data"]["result"]}


# Samples reach Prometheus seconds after their timestamps (export interval, collector batch), so an
# evaluation's inputs are complete only a while later: compare at an evaluation at least this old.
SETTLED_S = 90.0


def recorded_equals_source(stack: Stack, rule: Recording, seen: list[str]) -> bool | None:
    """At a settled evaluation of the rule, the recorded series are the source expression's result
    there: the same label sets and values. None (retry) while nothing is recorded yet; each mismatch
    is kept in `seen` for the failure message."""
    stamps = instant(stack, f"timestamp({rule.record})", time.time() - SETTLED_S)
    if not stamps:
        return None
    at = max(stamps.values())
    recorded, source = instant(stack, rule.record, at), instant(stack, rule.expr, at)
    same = recorded.keys() == source.keys() and all(
        math.isclose(recorded[k], source[k], rel_tol=1e-9, abs_tol=1e-12)
        or (math.isnan(recorded[k]) and math.isnan(source[k])) for k in recorded)
    if not same:
        seen.append(f"at {at}: recorded {sorted(recorded.items())[:3]} vs source {sorted(source.items())[:3]}")
    return same or None


def test_every_recorded_series_equals_its_source_expression(aged_stack):
    """Each recording rule the boards read (prometheus/rules/dashboards.rules.yaml, loaded by the stack's
    Prometheus) holds what its source expression gives at the same instant, so a panel on the recorded
    series shows what the expression would."""
    rules = recordings(list(boards()))
    assert len(rules) >= 10
    for scenario in sorted({rule.scenario for rule in rules}, key=lambda s: s != "steady"):
        # A rule keeping only events (deploys) records something only while they happen.
        aged_stack.set_scenario(scenario)
        try:
            for rule in (r for r in rules if r.scenario == scenario):
                seen: list[str] = []
                try:
                    wait_until(lambda rule=rule, seen=seen: recorded_equals_source(aged_stack, rule, seen),
                               timeout=WAIT_S, interval=5, what=f"{rule.record} recorded and equal to {rule.expr}")
                except AssertionError as error:
                    raise AssertionError(f"{error}; last mismatches: {seen[-2:]}") from None
        finally:
            aged_stack.set_scenario("steady")


def panel_values(stack: Stack, board_uid: str, title: str, legend: str) -> dict[tuple[tuple[str, str], ...], float]:
    """What one target of a panel shows now, requested as Grafana would: the last value of each series."""
    board = next(b for b in boards() if b.uid == board_uid)
    panel, query = next((p, q) for p, q in board.queries() if p.title == title and q.legend == legend)
    range_s = min(parse_duration(board.time_from), stack_age(stack))
    req = request(board, panel, query, now=time.time(), range_s=range_s)
    body = http_json(f"{stack.prom.base_url}{req.path}?{urllib.parse.urlencode(req.params())}")
    assert body["status"] == "success", body
    shown = {}
    for series in body["data"]["result"]:
        points = [series["value"]] if "value" in series else series["values"]
        labels = tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))
        shown[labels] = float(points[-1][1])
    return shown


def test_cost_and_status_panels_show_the_simulators_ground_truth(reported_stack):
    """The overview's spend and status panels and the AI board's LlamaParse month to date equal the
    simulator's ground truth (its invoice), to the cent: read between two ground-truth reads, once
    Prometheus holds an export of costs from polls begun after the first (costs only grow)."""
    stack = reported_stack
    before = stack.ground_truth()["providers"]
    polled = wait_for_polls_begun_after(stack, time.time())
    wait_until(lambda: latest_export(stack, 'stackwatch_cost_month_to_date_usd{job="stackwatch"}') >= polled,
               timeout=POLLS_TIMEOUT_S, what="an export of the costs after every stream's new polls")
    # The spend panels read recorded series: wait for an evaluation after that export was in Prometheus.
    ingested = time.time()
    for record in ("stackwatch:cost_today_usd:sum_by_provider", "stackwatch:cost_month_to_date_usd:sum_by_provider"):
        wait_until(lambda record=record: latest_export(stack, record) >= ingested, timeout=POLLS_TIMEOUT_S,
                   what=f"{record} evaluated after the export")
    shown = {
        "today": panel_values(stack, "stackwatch-overview", "Spend today", "today"),
        "month": panel_values(stack, "stackwatch-overview", "Month to date", "month to date"),
        "llamacloud": panel_values(stack, "stackwatch-ai", "Cost this month", "month to date"),
        "status": panel_values(stack, "stackwatch-overview", "Provider polls", "{{provider}}"),
    }
    after = stack.ground_truth()["providers"]

    def truth(key: str, providers=tuple(before)) -> tuple[float, float]:
        return (sum(before[p][key] for p in providers), sum(after[p][key] for p in providers))

    for name, key, providers in (("today", "today_usd", tuple(before)), ("month", "month_to_date_usd", tuple(before)),
                                 ("llamacloud", "month_to_date_usd", ("llamacloud",))):
        (value,) = shown[name].values()
        low, high = truth(key, providers)
        assert low - HALF_CENT <= value <= high + HALF_CENT, f"{name}: panel ${value:.4f}, truth ${low:.4f}..${high:.4f}"
        assert value > 0, name
    # Steady: every provider the simulator serves is UP (1) on the status panel, and no other.
    assert {dict(labels)["provider"]: value for labels, value in shown["status"].items()} == dict.fromkeys(before, 1.0)


def test_recommendations_panel_shows_the_pushed_savings(reported_stack):
    """The Costs board's recommendations table shows what `stackwatch report --push` sent: savings > 0."""
    costs = next(b for b in boards() if b.uid == "stackwatch-costs")
    panel = next(p for p in costs.panels() if p.title == "Top savings recommendations")
    expr = substitute(panel.queries[0].expr, range_s=86400, interval=60, variables=all_selected(costs))
    result = reported_stack.prom.query(expr)
    assert result and all(float(r["value"][1]) > 0 for r in result), result
    assert {"provider", "kind", "resource"} <= set(result[0]["metric"]), result[0]["metric"]


def scenarios_in_use() -> list[str]:
    used = {q.scenario for b in boards() for _, q in b.queries()} | {a.scenario for b in boards() for a in b.annotations}
    return sorted(used - {"steady"})


def test_the_scenario_tests_cover_every_scenario_a_query_names():
    assert scenarios_in_use() == ["cost-spike", "deploy-failure", "error-burst", "outage", "rate-limited", "saturation"]


@pytest.mark.parametrize("scenario", ["error-burst", "cost-spike", "outage", "rate-limited"])
def test_panel_targets_meant_for_a_scenario_return_data_in_it(cost_history_stack, scenario):
    cost_history_stack.set_scenario(scenario)
    try:
        assert assert_all_have_data(cost_history_stack, scenario) >= 1
    finally:
        cost_history_stack.set_scenario("steady")


@pytest.mark.parametrize("scenario", ["deploy-failure", "saturation"])
def test_change_markers_show_their_events_on_every_board_that_has_them(aged_stack, scenario):
    """Each board's annotations return events (positive values) while their changes happen: in
    deploy-failure, Vercel and Render deploys fail and are retried every few seconds (deploy markers);
    in saturation, the hot Render service scales to its autoscaling maximum (instance-count changes)."""
    pending = [(b, a) for b in boards() for a in b.annotations if a.scenario == scenario]
    assert len(pending) >= (10 if scenario == "deploy-failure" else 1)
    aged_stack.set_scenario(scenario)
    try:
        deadline = time.monotonic() + WAIT_S
        while pending and time.monotonic() < deadline:
            pending = [(b, a) for b, a in pending if not annotation_has_data(aged_stack, b, a)]
            if pending:
                time.sleep(5)
        assert not pending, "no change marked on:\n" + "\n".join(f"  {b.uid} / {a.name}: {a.expr}" for b, a in pending)
    finally:
        aged_stack.set_scenario("steady")


TEST_ALERT = {"groups": [{"name": "dashboards-test", "interval": "15s", "rules": [{
    "alert": "DashboardTestAlert", "expr": 'vector(1)', "labels": {"severity": "critical", "provider": "render"},
    "annotations": {"summary": "a test alert for the Overview's alert panels"}}]}]}


@pytest.fixture
def firing_stack(aged_stack: Stack) -> Iterator[Stack]:
    """The stack's Prometheus with one more rule file holding an always-firing alert, reloaded by SIGHUP
    (its rule_files glob picks the file up); removed and reloaded again afterwards."""
    path = aged_stack.workdir / "prometheus" / "rules" / "zz-dashboards-test-alert.yaml"
    path.write_text(yaml.safe_dump(TEST_ALERT))
    process = aged_stack.prometheus.process
    assert process is not None
    process.send_signal(signal.SIGHUP)
    try:
        yield aged_stack
    finally:
        path.unlink()
        process.send_signal(signal.SIGHUP)


def test_overview_alert_panels_show_a_firing_alert(firing_stack):
    assert assert_all_have_data(firing_stack, "steady", alerts=True) >= 1
    overview = next(b for b in boards() if b.uid == "stackwatch-overview")
    by_severity = next(p for p in overview.panels() if p.title == "Firing alerts by severity")
    expr = substitute(by_severity.queries[0].expr, range_s=300, interval=15, variables=all_selected(overview))

    table = next(p for p in overview.panels() if p.title == "Firing alerts")
    table_expr = substitute(table.queries[0].expr, range_s=300, interval=15, variables=all_selected(overview))

    # The stack's own rules may have a critical alert firing already (its standing scenarios): wait
    # for this test's alert in the table, then count.
    def listed() -> list[dict] | None:
        return [r for r in firing_stack.prom.query(table_expr) if r["metric"]["alertname"] == "DashboardTestAlert"] or None
    mine = wait_until(listed, timeout=WAIT_S, interval=5, what="the test alert listed in the table")
    values = {r["metric"]["severity"]: float(r["value"][1]) for r in firing_stack.prom.query(expr)}
    assert values.get("critical", 0) >= 1
    assert set(values) == {"critical", "warning", "info"}  # every severity shown, 0 when none fires
    assert mine and mine[0]["metric"]["severity"] == "critical" and mine[0]["metric"]["provider"] == "render"
    assert float(mine[0]["value"][1]) == 3  # critical first


def test_anomaly_view_shows_the_cost_spike_above_the_usual_day(cost_history_stack):
    """In cost-spike, some provider's today / usual-day ratio rises above 1: the baseline is the
    steady level the history was written at, and the spike multiplies a provider's usage today."""
    costs = next(b for b in boards() if b.uid == "stackwatch-costs")
    panel = next(p for p in costs.panels() if p.title == "Today vs its usual level")
    expr = substitute(panel.queries[0].expr, range_s=300, interval=15, variables=all_selected(costs))
    cost_history_stack.set_scenario("cost-spike")
    try:
        def spiking() -> list[dict] | None:
            result = cost_history_stack.prom.query(expr)
            return [r for r in result if float(r["value"][1]) > 1.05] or None
        assert wait_until(spiking, timeout=WAIT_S, interval=5, what="a provider above its usual day")
    finally:
        cost_history_stack.set_scenario("steady")


def test_queries_with_a_stated_demo_gap_are_still_empty_on_the_demo_stack(aged_stack):
    """A demo_gap note is a claim about the demo stack; when the gap closes, the note must go."""
    gaps = [(b, p, q) for b in boards() for p, q in b.queries() if q.demo_gap]
    assert gaps
    for board, panel, query in gaps:
        assert not has_data(aged_stack, board, panel, query), f"{board.uid} / {panel.title} has data now"


def test_status_panels_show_an_outage(aged_stack):
    """The outage scenario's status panel shows a provider DOWN (0), not just any data."""
    overview = next(b for b in boards() if b.uid == "stackwatch-overview")
    panel = next(p for p in overview.panels() if p.title == "Provider polls")
    aged_stack.set_scenario("outage", "render")
    try:
        def down() -> bool:
            expr = substitute(panel.queries[0].expr, range_s=60, interval=15, variables=all_selected(overview))
            result = aged_stack.prom.query(expr)
            return any(r["metric"].get("provider") == "render" and float(r["value"][1]) == 0 for r in result)
        deadline = time.monotonic() + WAIT_S
        while not down() and time.monotonic() < deadline:
            time.sleep(2)
        assert down()
    finally:
        aged_stack.set_scenario("steady")
