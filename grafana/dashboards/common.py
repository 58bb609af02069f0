"""What every board shares: the board model, the template variables, threshold wiring
and the rendering through grafanalib (then grafana.normalise for the current schema).

A board is plain data (Board → Row → Panel → Query), so the generator, the tests and
the benchmark all read the same definition: each Query names the simulator scenario
in which it must return data on the native stack (tests/stack/test_dashboards_data.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import grafanalib.core as G
from grafanalib._gen import DashboardEncoder

from exporters.providers.registry import BY_NAME, NAMES

# The provisioned datasource (grafana/provisioning/datasources/prometheus.yaml).
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
# Simulator scenarios a query can need (exporters/simulator/world.py SCENARIOS).
SCENARIOS = ("steady", "cost-spike", "outage", "error-burst", "latency-spike", "rate-limited", "deploy-failure")
# Points Grafana asks for per panel (fixed, so the step Grafana computes is known to tests and benchmark).
MAX_DATA_POINTS = 500
GRID_WIDTH = 24
SINGLE_VALUE_KINDS = ("stat", "gauge", "bargauge", "piechart")
# Min interval of panels that rate() series scraped every 60 s (the Supabase job): Grafana's
# $__rate_interval = max($__interval + 15 s, 4 × 15 s) must span two scrapes, so $__interval ≥ 2m.
SCRAPED_MIN_INTERVAL = "2m"

# Label filters of the template variables. Series pushed over OTLP carry the promoted
# resource attribute deployment_environment; scraped series (Supabase endpoint, blackbox) do not.
ENV = 'deployment_environment=~"$environment"'
PROVIDER = 'provider=~"$provider"'


# Recorded series names: Prometheus' level:metric:operations, with stackwatch as the level
# (what the series is about, then how it was computed: sum_by_provider, rate5m, sum_rate1h…).
RECORD_NAME = re.compile(r"stackwatch:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Recording:
    """A recording rule precomputing the expensive inner expression of a query.

    The generator writes every Recording the boards use to prometheus/rules/dashboards.rules.yaml
    (one source for panel and rule); the query reads `record` instead of recomputing `expr` at every
    step. `expr` keeps the labels the panels filter or group by (deployment_environment, project…),
    since template variables cannot reach into a rule.
    """

    record: str
    expr: str
    why: str
    # Evaluation interval of the rule's group. Long-range boards read recorded series sampled
    # every few minutes: decoding a series sampled each minute over 7–30 days costs more than
    # the panel's step needs (docs/benchmarks.md, Dashboards).
    interval: str = "1m"
    # The simulator scenario in which it records anything: a rule keeping only events (`… > 0`)
    # records nothing in a quiet world (the native-stack test compares it with its source there).
    scenario: str = "steady"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[1-9][0-9]*[smh]", self.interval):
            raise ValueError(f"recording {self.record!r}: interval {self.interval!r} is not like 1m, 3m, 30s")
        if not RECORD_NAME.fullmatch(self.record):
            raise ValueError(f"recording {self.record!r}: name must match {RECORD_NAME.pattern} "
                             "(level:metric:operations)")
        if "$" in self.expr:
            raise ValueError(f"recording {self.record!r}: a rule cannot use Grafana variables: {self.expr!r}")
        if not self.why.strip():
            raise ValueError(f"recording {self.record!r} says not why it exists")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"recording {self.record!r}: unknown scenario {self.scenario!r}")


@dataclass(frozen=True)
class Link:
    """A drill-down link to another board (keeps the time range and the variables)."""

    uid: str
    title: str


@dataclass(frozen=True)
class DataLink:
    """A link from a value (a series, a table row) to where its cause is, e.g. the board of the
    failing project with `var-project=${__field.labels.project}` in the URL."""

    title: str
    url: str
    new_tab: bool = False  # links leaving Grafana (runbooks) open in a new tab


def field_label(name: str) -> str:
    """Grafana's data-link macro for a label of the series a value belongs to."""
    return "${__field.labels.%s}" % name


def row_field(name: str) -> str:
    """Grafana's data-link macro for another column of the same table row."""
    return "${__data.fields.%s}" % name


def board_link(board: Link, title: str = "", keep: tuple[str, ...] = (), **params: str) -> DataLink:
    """A data link to `board` keeping the time range, the environment and the variables in `keep`, with
    `params` as further variables (`project=field_label("project")` → `var-project=${__field.labels.project}`)."""
    url = f"/d/{board.uid}?${{__url_time_range}}&${{environment:queryparam}}"
    url += "".join(f"&${{{name}:queryparam}}" for name in keep)
    url += "".join(f"&var-{name}={value}" for name, value in params.items())
    return DataLink(title or f"{board.title} board", url)


@dataclass(frozen=True)
class Query:
    """One PromQL target. `scenario` is the simulator scenario in which it must return data."""

    expr: str
    legend: str = ""
    scenario: str = "steady"
    instant: bool = False
    table: bool = False
    # Drawn as the panel's threshold (a dashed line, or the stat's threshold via "config from query results").
    threshold: bool = False
    # Needs more history than a stack minutes old has (e.g. a p95 over events that happen a few
    # times a day): the native-stack test leaves it out, the benchmark's 30 days must show data.
    history: bool = False
    # Why the demo stack cannot produce it at all (e.g. TLS expiry of its plain-HTTP sites): the
    # native-stack test checks it stays empty there, so the note goes when the gap closes.
    demo_gap: str = ""
    # Recording rules whose series this query reads (each `record` name must appear in `expr`).
    recordings: tuple[Recording, ...] = ()
    # Data links of this query's values (each series carries its object to the board of its cause).
    links: tuple[DataLink, ...] = ()
    # Needs firing alerts in Prometheus (the ALERTS series): the native-stack test loads an alert rule.
    alerts: bool = False

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"query {self.expr!r}: unknown scenario {self.scenario!r}; expected one of {SCENARIOS}")
        declared = {r.record for r in self.recordings}
        used = set(RECORD_NAME.findall(self.expr))
        if declared != used:
            raise ValueError(f"query {self.expr!r}: reads recorded series {sorted(used)} but declares "
                             f"{sorted(declared)}")
        if self.threshold and self.links:
            raise ValueError(f"query {self.expr!r}: a threshold series has no object to link to")


Steps = tuple[tuple[str, "float | None"], ...]
# Which values are good: lower (green base, red above the threshold), higher (red or orange base,
# green from the good level up), or neither (one colour, or a band such as HTTP status classes).
BETTER = ("lower", "higher", "")


@dataclass
class Panel:
    kind: str  # timeseries, stat, gauge, bargauge, table, piechart, text
    title: str
    description: str
    queries: tuple[Query, ...] = ()
    unit: str = "short"
    width: int = 6
    height: int = 6
    stack: bool = False
    bars: bool = False
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    # Display colours for values with no exported threshold series: (colour, from value) pairs.
    steps: Steps = (("green", None),)
    # Minimum step (Grafana's "min interval"), e.g. "1d" for one bar per UTC day.
    interval: str = ""
    links: tuple[Link, ...] = ()
    mappings: tuple[dict, ...] = ()
    content: str = ""  # text panels (markdown)
    reduce: str = "lastNotNull"
    better: str = ""
    # Shown instead of "No data" where an empty result means nothing is wrong ("All healthy").
    no_value: str = ""
    # The panel's own relative range (Grafana's "relative time"), e.g. "1d" on a 30-day board.
    time_from: str = ""
    # Stats draw the range as a sparkline behind the value (range queries; the latest value shown).
    sparkline: bool = True
    # Table columns whose cells link somewhere: (column name, links).
    column_links: tuple[tuple[str, tuple[DataLink, ...]], ...] = ()
    # Colours per field (series display name) where one panel shows several kinds: (name, steps).
    field_steps: tuple[tuple[str, Steps], ...] = ()
    # Bars drawn from their timestamp on (1), centred on it (0): a daily bar stamped at 00:00 spans its day.
    bar_alignment: int = 0

    def __post_init__(self) -> None:
        if self.kind in SINGLE_VALUE_KINDS and self.reduce == "lastNotNull":
            # A stat with a sparkline reads the range (the value is its latest point); other single-value
            # panels show only the latest value: an instant query, not a range of points to reduce.
            instant = not (self.kind == "stat" and self.sparkline)
            self.queries = tuple(replace(q, instant=instant) for q in self.queries)
        if not self.description.strip():
            raise ValueError(f"panel {self.title!r} has no description")
        if self.kind not in ("text",) and not self.queries:
            raise ValueError(f"panel {self.title!r} has no queries")
        if self.better not in BETTER:
            raise ValueError(f"panel {self.title!r}: better={self.better!r}, expected one of {BETTER}")
        for name, steps in ((self.title, self.steps), *self.field_steps):
            values = [v for _, v in steps[1:]]
            if steps[0][1] is not None or None in values or values != sorted(values):
                raise ValueError(f"panel {self.title!r} ({name}): steps must start at None (-Infinity) and rise")
        if self.kind in SINGLE_VALUE_KINDS and any(q.threshold for q in self.queries) and self.better != "lower":
            # Grafana's "config from query results" pushes the threshold as a red step (its threshold1
            # handler): above it is bad, so only a lower-is-better panel can take its threshold from a series.
            raise ValueError(f"panel {self.title!r}: a threshold from a series needs better='lower'")


@dataclass
class Row:
    title: str
    panels: list[Panel]


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    query: str  # label_values(...) as Grafana's Prometheus datasource takes it; a textbox's default value
    description: str
    kind: str = "query"  # query (label values, All by default) or textbox (free text, e.g. a URL base)


@dataclass(frozen=True)
class Annotation:
    """Events drawn on every time series of a board (deploys): a Prometheus query whose positive values
    mark the events (Grafana's Prometheus annotation support groups points a step apart into one region)."""

    name: str
    expr: str
    title: str  # titleFormat: legend-style template over the series' labels
    text: str
    tags: tuple[str, ...]  # labels that become the event's tags
    color: str
    scenario: str = "steady"
    interval: str = "1m"
    recordings: tuple[Recording, ...] = ()

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"annotation {self.name!r}: unknown scenario {self.scenario!r}")
        if {r.record for r in self.recordings} != set(RECORD_NAME.findall(self.expr)):
            raise ValueError(f"annotation {self.name!r}: declare exactly the recorded series it reads")


@dataclass
class Board:
    uid: str
    title: str
    description: str
    time_from: str  # default range, e.g. "now-30d"
    rows: list[Row]
    variables: tuple[Variable, ...]
    refresh: str = "1m"
    tags: tuple[str, ...] = ("stackwatch",)
    links: tuple[Link, ...] = field(default_factory=tuple)
    annotations: tuple[Annotation, ...] = ()

    def panels(self) -> Iterator[Panel]:
        for row in self.rows:
            yield from row.panels

    def queries(self) -> Iterator[tuple[Panel, Query]]:
        for panel in self.panels():
            for query in panel.queries:
                yield panel, query


# --- query helpers ---

def error_ratio(metric: str, selector: str, by: str = "") -> str:
    """Share of 5xx as 1 - non-5xx / all: zero (not empty) when there are no 5xx series, two rate passes."""
    agg = f"sum by ({by}) " if by else "sum"
    return (f"1 - {agg}(rate({metric}{{{selector}, status_class!=\"5xx\"}}[$__rate_interval])) / "
            f"{agg}(rate({metric}{{{selector}}}[$__rate_interval]))")



# --- template variables ---

ENVIRONMENT = Variable(
    "environment", "Environment", "label_values(stackwatch_provider_up, deployment_environment)",
    "deployment.environment of the stackwatch instance (stackwatch.yaml environment).")
PROVIDER_VAR = Variable(
    "provider", "Provider", 'label_values(stackwatch_provider_up{deployment_environment=~"$environment"}, provider)',
    f"Provider whose series are shown ({', '.join(NAMES)}).")


def project_variable(metric: str, label: str = "project", title: str = "Project") -> Variable:
    return Variable(label, title, f'label_values({metric}{{deployment_environment=~"$environment"}}, {label})',
                    f"{title} (the {label} label of {metric}).")


# --- board uids and titles (links between boards) ---

OVERVIEW = Link("stackwatch-overview", "Overview")
COSTS = Link("stackwatch-costs", "Costs & usage")
# A provider's board is the one the registry names for it (alerts link to the same uid).
VERCEL = Link(BY_NAME["vercel"].board_uid, "Vercel")
RENDER = Link(BY_NAME["render"].board_uid, "Render")
SUPABASE = Link(BY_NAME["supabase"].board_uid, "Supabase")
AI = Link(BY_NAME["openai"].board_uid, "AI services")  # OpenAI and LlamaCloud
SLO = Link("stackwatch-slo", "Probes & SLOs")
SELF = Link("stackwatch-self", "stackwatch itself")
ALL_BOARDS = (OVERVIEW, COSTS, VERCEL, RENDER, SUPABASE, AI, SLO, SELF)


# --- rendering (grafanalib, then grafana.normalise) ---

def _target(query: Query, ref_id: str) -> G.Target:
    return G.Target(expr=query.expr, legendFormat=query.legend, refId=ref_id, instant=query.instant,
                    format="table" if query.table else "time_series", datasource=DATASOURCE)


def _ref_ids(panel: Panel) -> list[str]:
    return [chr(ord("A") + i) for i in range(len(panel.queries))]


def _dashed_red(ref: str) -> dict:
    """A threshold series on a time series panel: a dashed red line, not stacked, not filled."""
    return {"matcher": {"id": "byFrameRefID", "options": ref},
            "properties": [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                           {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
                           {"id": "custom.stacking", "value": {"mode": "none", "group": "A"}},
                           {"id": "custom.fillOpacity", "value": 0}]}


def _data_links(links: tuple[DataLink, ...]) -> list[dict]:
    return [{"title": link.title, "url": link.url, "targetBlank": link.new_tab} for link in links]


def thresholds(steps: Steps) -> dict:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def overrides(panel: Panel) -> list[dict]:
    """Field overrides: threshold lines (time series), each query's data links, per-column links
    (tables) and per-field colours."""
    refs = _ref_ids(panel)
    out = []
    for query, ref in zip(panel.queries, refs, strict=True):
        if query.threshold and panel.kind == "timeseries":
            out.append(_dashed_red(ref))
        if query.links:
            out.append({"matcher": {"id": "byFrameRefID", "options": ref},
                        "properties": [{"id": "links", "value": _data_links(query.links)}]})
    for column, links in panel.column_links:
        out.append({"matcher": {"id": "byName", "options": column},
                    "properties": [{"id": "links", "value": _data_links(links)}]})
    for name, steps in panel.field_steps:
        out.append({"matcher": {"id": "byName", "options": name},
                    "properties": [{"id": "thresholds", "value": thresholds(steps)}]})
    return out


def config_from_query(panel: Panel) -> list[dict]:
    """Single-value panels: each threshold series becomes the threshold of every value query's fields
    (Grafana's "config from query results": the config frame is consumed, the threshold applies to
    every numeric field of the other queries; its threshold1 handler adds a red step at the value)."""
    transformations = []
    if panel.kind not in SINGLE_VALUE_KINDS:
        return transformations
    for query, ref in zip(panel.queries, _ref_ids(panel), strict=True):
        if query.threshold:
            transformations.append({"id": "configFromData", "options": {
                "configRefId": ref, "applyTo": {"id": "byType", "options": "number"},
                "mappings": [{"fieldName": query.legend, "handlerKey": "threshold1", "reducerId": "lastNotNull"}]}})
    return transformations


def _links(panel: Panel) -> list[G.DashboardLink]:
    return [G.DashboardLink(title=f"{link.title} board", uri=f"/d/{link.uid}", type="link", keepTime=True,
                            includeVars=True, icon="dashboard", tooltip=f"Open the {link.title} board")
            for link in panel.links]


def _grafanalib_panel(panel: Panel, pos: G.GridPos) -> G.Panel:
    ref_ids = _ref_ids(panel)
    targets = [_target(q, r) for q, r in zip(panel.queries, ref_ids, strict=True)]
    common = {"title": panel.title, "description": panel.description, "gridPos": pos, "links": _links(panel),
              "maxDataPoints": MAX_DATA_POINTS, "interval": panel.interval or None}
    if panel.kind == "timeseries":
        return G.TimeSeries(targets=targets, unit=panel.unit, valueMin=panel.min, valueMax=panel.max,
                            valueDecimals=panel.decimals, drawStyle="bars" if panel.bars else "line",
                            fillOpacity=80 if panel.bars else 10, barAlignment=panel.bar_alignment,
                            stacking={"mode": "normal", "group": "A"} if panel.stack else {"mode": "none", "group": "A"},
                            legendDisplayMode="table", legendCalcs=["lastNotNull", "max"],
                            thresholdsStyleMode="dashed" if len(panel.steps) > 1 else "off",
                            tooltipMode="multi", **common)
    if panel.kind == "stat":
        return G.Stat(targets=targets, format=panel.unit, decimals=panel.decimals, reduceCalc=panel.reduce,
                      graphMode="area" if panel.sparkline else "none", colorMode="background",
                      textMode="value_and_name", transformations=config_from_query(panel), **common)
    if panel.kind == "gauge":
        return G.GaugePanel(targets=targets, format=panel.unit, decimals=panel.decimals, min=panel.min or 0,
                            max=panel.max if panel.max is not None else 1, calc=panel.reduce,
                            transformations=config_from_query(panel), **common)
    if panel.kind == "bargauge":
        return G.BarGauge(targets=targets, format=panel.unit, decimals=panel.decimals, min=panel.min or 0,
                          max=panel.max, calc=panel.reduce, orientation="horizontal", displayMode="gradient",
                          transformations=config_from_query(panel), **common)
    if panel.kind == "table":
        return G.Table(targets=targets, unit=panel.unit, **common)
    if panel.kind == "piechart":
        return G.PieChartv2(targets=targets, unit=panel.unit, pieType="donut", legendDisplayMode="table",
                            legendPlacement="right", legendValues=["value", "percent"],
                            reduceOptionsCalcs=[panel.reduce], **common)
    if panel.kind == "text":
        return G.Text(title=panel.title, description=panel.description, gridPos=pos, content=panel.content,
                      mode="markdown", links=_links(panel))
    raise ValueError(f"panel {panel.title!r}: unknown kind {panel.kind!r}")


def _layout(board: Board) -> list[tuple[Panel | Row, G.GridPos]]:
    """Rows one under another; panels flow left to right, wrapping at 24 columns."""
    placed: list[tuple[Panel | Row, G.GridPos]] = []
    y = 0
    for row in board.rows:
        placed.append((row, G.GridPos(h=1, w=GRID_WIDTH, x=0, y=y)))
        y += 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                x, y, line_height = 0, y + line_height, 0
            placed.append((panel, G.GridPos(h=panel.height, w=panel.width, x=x, y=y)))
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return placed


def _variable(variable: Variable) -> G.Template:
    if variable.kind == "textbox":
        return G.Template(name=variable.name, label=variable.label, query=variable.query, type="textbox",
                          default=variable.query, includeAll=False, multi=False, dataSource=None)
    return G.Template(name=variable.name, label=variable.label, query=variable.query, dataSource=DATASOURCE,
                      includeAll=True, multi=True, allValue=".*", refresh=2, sort=1,
                      default="$__all")


def grafanalib_dashboard(board: Board) -> G.Dashboard:
    panels: list[G.Panel] = []
    for item, pos in _layout(board):
        if isinstance(item, Row):
            panels.append(G.RowPanel(title=item.title, gridPos=pos, collapsed=False))
        else:
            panels.append(_grafanalib_panel(item, pos))
    links = [G.DashboardLink(title="stackwatch boards", type="dashboards", tags=["stackwatch"], asDropdown=True,
                             keepTime=True, includeVars=True, icon="external link", tooltip="Every stackwatch board")]
    return G.Dashboard(title=board.title, uid=board.uid, description=board.description, panels=panels,
                       tags=list(board.tags), links=links, refresh=board.refresh, timezone="utc",
                       time=G.Time(board.time_from, "now"), graphTooltip=1,
                       templating=G.Templating(list=[_variable(v) for v in board.variables]))


def board_panels(board: Board) -> list[Panel | Row]:
    """Rows and panels in layout order (the order of the generated JSON's panels)."""
    return [item for item, _ in _layout(board)]


def grafanalib_json(board: Board) -> dict:
    """grafanalib's own (legacy) JSON for the board, as plain data."""
    return json.loads(json.dumps(grafanalib_dashboard(board).to_json_data(), cls=DashboardEncoder))


def panel_extras(board: Board) -> list[dict]:
    """What grafanalib 0.7.1 cannot express, per panel in layout order, for the normaliser to apply."""
    extras: list[dict] = []
    for item in board_panels(board):
        if isinstance(item, Row):
            extras.append({})
            continue
        extra: dict = {"kind": item.kind, "steps": thresholds(item.steps)["steps"],
                       "mappings": list(item.mappings), "unit": item.unit, "reduce": item.reduce,
                       "overrides": overrides(item)}
        if item.min is not None:
            extra["min"] = item.min
        if item.max is not None:
            extra["max"] = item.max
        if item.decimals is not None:
            extra["decimals"] = item.decimals
        if item.no_value:
            extra["noValue"] = item.no_value
        if item.time_from:
            extra["timeFrom"] = item.time_from
        extras.append(extra)
    return extras


def annotation_json(annotation: Annotation) -> dict:
    """A Prometheus annotation as Grafana's Prometheus data source reads it (@grafana/prometheus
    annotations.ts: the query in `target`, titleFormat / textFormat / tagKeys beside it)."""
    return {"datasource": dict(DATASOURCE), "enable": True, "hide": False, "iconColor": annotation.color,
            "name": annotation.name,
            "target": {"expr": annotation.expr, "refId": "Anno", "interval": annotation.interval},
            "titleFormat": annotation.title, "textFormat": annotation.text, "tagKeys": ",".join(annotation.tags),
            "useValueForTime": False}
