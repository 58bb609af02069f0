"""Turn a board's queries into the HTTP requests Grafana 12's Prometheus datasource sends.

Shared by the tests (PromQL parses; data on the native stack) and benchmarks/dashboards.py,
so both run exactly what a browser would:

- $__interval = max(roundInterval(range / maxDataPoints), panel min interval, datasource
  scrape interval 15 s) — Grafana's rangeutil.roundInterval table;
- $__rate_interval = max($__interval + scrape interval, 4 × scrape interval);
- $__range = the range in seconds; template variables at "All" become their allValue `.*`;
- a range query's start is floored and its end ceiled to a multiple of the step
  (the Prometheus datasource aligns them); an instant query runs at the range's end.
Metric names used by an expression are extracted here too (the catalogue test).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grafana.dashboards.common import MAX_DATA_POINTS, Annotation, Board, Panel, Query

SCRAPE_INTERVAL_S = 15.0  # grafana/provisioning/datasources/prometheus.yaml jsonData.timeInterval
ALL_VALUE = ".*"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}

# Grafana's roundInterval (public/app/core/utils/rangeutil / @grafana/data rangeutil): (below ms, result ms).
_ROUND_TABLE_MS = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000),
    (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000),
    (1500000, 1200000), (2700000, 1800000), (5400000, 3600000), (9000000, 7200000),
    (16200000, 10800000), (32400000, 21600000), (86400000, 43200000), (604800000, 86400000),
    (1814400000, 604800000), (3628800000, 2592000000),
)


def parse_duration(text: str) -> float:
    """"30d", "2m", "15s", "now-6h" (the part after now-) → seconds."""
    match = re.fullmatch(r"(?:now-)?(\d+)(ms|s|m|h|d|w|y)", text)
    if not match:
        raise ValueError(f"not a Grafana duration: {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def round_interval(seconds: float) -> float:
    ms = seconds * 1000
    for below, result in _ROUND_TABLE_MS:
        if ms < below:
            return result / 1000
    return 31536000.0


def interval_s(range_s: float, panel: Panel | Annotation) -> float:
    floor = parse_duration(panel.interval) if panel.interval else SCRAPE_INTERVAL_S
    return max(round_interval(range_s / MAX_DATA_POINTS), floor, SCRAPE_INTERVAL_S)


def panel_range_s(board: Board, panel: Panel) -> float:
    """The range a panel shows: its own relative time ("1d" on a 30-day board) or the board's."""
    return parse_duration(panel.time_from or board.time_from)


def rate_interval_s(interval: float) -> float:
    return max(interval + SCRAPE_INTERVAL_S, 4 * SCRAPE_INTERVAL_S)


def _seconds(value: float) -> str:
    return f"{int(value)}s"


def substitute(expr: str, *, range_s: float, interval: float, variables: dict[str, str] | None = None) -> str:
    """Grafana's interpolation of the built-in and template variables."""
    values = {"__rate_interval": _seconds(rate_interval_s(interval)), "__interval": _seconds(interval),
              "__range": _seconds(range_s), **(variables or {})}

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name.isdigit():  # a regex back-reference ($1 in label_replace), not a variable
            return match.group(0)
        if name not in values:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return values[name]

    # Longest names first is implicit: \w+ is greedy, so $__rate_interval is not read as $__range.
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, expr)


def all_selected(board: Board) -> dict[str, str]:
    """Every template variable at its default: All (allValue .*), a textbox's default text."""
    return {v.name: v.query if v.kind == "textbox" else ALL_VALUE for v in board.variables}


@dataclass(frozen=True)
class Request:
    """One request to Prometheus' HTTP API, as Grafana would send it."""

    expr: str
    instant: bool
    start: float
    end: float
    step: float

    def params(self) -> dict[str, str]:
        if self.instant:
            return {"query": self.expr, "time": f"{self.end:.3f}"}
        return {"query": self.expr, "start": f"{self.start:.3f}", "end": f"{self.end:.3f}", "step": f"{self.step:g}"}

    @property
    def path(self) -> str:
        return "/api/v1/query" if self.instant else "/api/v1/query_range"


def request(board: Board, panel: Panel, query: Query, *, now: float, range_s: float | None = None) -> Request:
    """The request for `query` over the panel's default range (or `range_s`) ending `now`."""
    range_s = panel_range_s(board, panel) if range_s is None else range_s
    interval = interval_s(range_s, panel)
    expr = substitute(query.expr, range_s=range_s, interval=interval, variables=all_selected(board))
    start, end = now - range_s, now
    if query.instant:
        return Request(expr, True, start, end, interval)
    step = interval
    return Request(expr, False, (start // step) * step, -(-end // step) * step, step)


def annotation_request(board: Board, annotation: Annotation, *, now: float,
                       range_s: float | None = None) -> Request:
    """An annotation query: a range query over the board's range, its `interval` taken as the min step
    (as a panel's min interval)."""
    range_s = parse_duration(board.time_from) if range_s is None else range_s
    step = interval_s(range_s, annotation)
    expr = substitute(annotation.expr, range_s=range_s, interval=step, variables=all_selected(board))
    start = now - range_s
    return Request(expr, False, (start // step) * step, -(-now // step) * step, step)


# --- metric names in an expression ---

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
             "offset", "inf", "nan", "atan2",
             # aggregation operators: followed by `by (…)` rather than `(` when grouped
             "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
             "count_values", "limitk", "limit_ratio"}
_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]|\d[\w.]*|[A-Za-z_:][A-Za-z0-9_:]*|\(|\)|\S')


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric name, matchers text or "") of every vector selector with a metric name."""
    tokens = _TOKEN.findall(expr)
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in _GROUPING and following == "(":
            depth, i = 0, i + 1  # skip the label list
            while i < len(tokens):
                depth += tokens[i] == "("
                depth -= tokens[i] == ")"
                i += 1
                if depth == 0:
                    break
            continue
        if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", token) and token.lower() not in _KEYWORDS and following != "(":
            found.append((token, following if following.startswith("{") else ""))
        i += 1
    return found


def metric_names(expr: str) -> set[str]:
    """Metric names of the vector selectors in a PromQL expression (not functions, labels or keywords)."""
    return {name for name, _ in selectors(expr)}


def variable_selector(query: str) -> tuple[str, str]:
    """label_values(<series selector>, <label>) → (selector, label)."""
    match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
    if not match:
        raise ValueError(f"not a label_values(selector, label) query: {query!r}")
    return match.group(1), match.group(2)
