"""Every panel target of every board returns data on the native stack, queried as Grafana would,
in the simulator scenario it is meant for (each Query names it in grafana/dashboards/*.py).

Grafana's request: a range query (or an instant one where the target says so) with its
variables substituted ($__rate_interval, $__range, $__interval from the step, template
variables at All), step = max(roundInterval(range / maxDataPoints), min interval, 15 s),
start floored and end ceiled to the step (grafana/queries.py).

The range: the board's default range, cut to the stack's age. A stack minutes old has no
30-day history, and a 30-day range's 1-hour step would leave its gauges' only samples
between two evaluation points; the same query over the range the stack has existed is what
Grafana shows on a new install. The full default ranges run on 30 days of history in
benchmarks/dashboards.py (which reports any empty result).
"""

from __future__ import annotations

import math
import sys
import time
import urllib.parse
from datetime import datetime

import pytest

from .conftest import REPO, Stack, http_json

if str(REPO) not in sys.path:  # grafana/ is a source tree of the repository, not an installed package
    sys.path.insert(0, str(REPO))

from grafana.dashboards import boards  # noqa: E402
from grafana.dashboards.common import Board, Panel, Query  # noqa: E402
from grafana.queries import all_selected, parse_duration, request, substitute  # noqa: E402

pytestmark = pytest.mark.e2e

# Long enough for two scrapes of the 60 s Supabase job inside a 2-minute $__rate_interval.
MIN_STACK_AGE_S = 200.0
WAIT_S = 240.0


def stack_age(stack: Stack) -> float:
    """Seconds since the stack's Prometheus started (its runtime info; no scrape needed)."""
    started = http_json(f"{stack.prom.base_url}/api/v1/status/runtimeinfo")["data"]["startTime"]
    return time.time() - datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()


def has_data(stack: Stack, board: Board, panel: Panel, query: Query) -> bool:
    range_s = min(parse_duration(board.time_from), stack_age(stack))
    req = request(board, panel, query, now=time.time(), range_s=range_s)
    body = http_json(f"{stack.prom.base_url}{req.path}?{urllib.parse.urlencode(req.params())}")
    assert body["status"] == "success", body
    result = body["data"]["result"]
    if body["data"]["resultType"] == "scalar":
        result = [{"value": result}]
    values = [float(v) for series in result
              for v in ([series["value"][1]] if "value" in series else [p[1] for p in series["values"]])]
    return any(not math.isnan(v) for v in values)


def queries_for(scenario: str) -> list[tuple[Board, Panel, Query]]:
    return [(board, panel, query) for board in boards() for panel, query in board.queries()
            if query.scenario == scenario and not query.history and not query.demo_gap]


def assert_all_have_data(stack: Stack, scenario: str) -> int:
    pending = queries_for(scenario)
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


def test_every_steady_panel_target_returns_data(aged_stack):
    assert assert_all_have_data(aged_stack, "steady") > 100


@pytest.mark.parametrize("scenario", ["error-burst", "cost-spike", "outage"])
def test_panel_targets_meant_for_a_scenario_return_data_in_it(aged_stack, scenario):
    aged_stack.set_scenario(scenario)
    try:
        assert assert_all_have_data(aged_stack, scenario) >= 1
    finally:
        aged_stack.set_scenario("steady")


def test_queries_with_a_stated_demo_gap_are_still_empty_on_the_demo_stack(aged_stack):
    """A demo_gap note is a claim about the demo stack; when the gap closes, the note must go."""
    gaps = [(b, p, q) for b in boards() for p, q in b.queries() if q.demo_gap]
    assert gaps
    for board, panel, query in gaps:
        assert not has_data(aged_stack, board, panel, query), f"{board.uid} / {panel.title} has data now"


def test_status_panels_show_an_outage(aged_stack):
    """The outage scenario's status panel shows a provider DOWN (0), not just any data."""
    overview = next(b for b in boards() if b.uid == "stackwatch-overview")
    panel = next(p for p in overview.panels() if p.title == "Provider status")
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
