"""grafanalib 0.7.1's legacy dashboard JSON → current-schema JSON for the Grafana compose pins.

The one place that knows grafanalib's quirks: old top-level keys (rows, style,
sharedCrosshair, hideControls, __inputs), nulls where the schema has none, string
or null datasources, the old schemaVersion, legacy target keys (step,
intervalFactor, metric, target, query), and the old table keys. The output keeps only what the dashboard schema of
@grafana/schema knows (tests/dashboards/ validate it), with:

- datasource objects {"type": "prometheus", "uid": "prometheus"} on panels and targets;
- panel ids 1..n in layout order (stable while the board's order is unchanged);
- field overrides, data links, noValue, decimals and panel time overrides from the board model
  (grafanalib drops or misplaces them), and the board's Prometheus annotations;
- the dashboard's schemaVersion of the pinned Grafana (42 for 12.2);
- no null anywhere except a threshold step's value (null means -Infinity there).
"""

from __future__ import annotations

from typing import Any

from grafana.dashboards.common import DATASOURCE

SCHEMA_VERSION = 42  # @grafana/schema 12.2.0 defaultDashboard.schemaVersion

DASHBOARD_KEYS = {"annotations", "description", "editable", "fiscalYearStartMonth", "graphTooltip", "links",
                  "panels", "refresh", "schemaVersion", "tags", "templating", "time", "timepicker", "timezone",
                  "title", "uid", "version", "weekStart"}
PANEL_KEYS = {"datasource", "description", "fieldConfig", "gridPos", "id", "interval", "links", "maxDataPoints",
              "options", "targets", "timeFrom", "title", "transformations", "transparent", "type"}
ROW_KEYS = {"collapsed", "gridPos", "id", "panels", "title", "type"}
TARGET_KEYS = {"datasource", "expr", "format", "instant", "legendFormat", "refId"}
VARIABLE_KEYS = {"allValue", "current", "datasource", "description", "hide", "includeAll", "label", "multi", "name",
                 "options", "query", "refresh", "regex", "skipUrlSync", "sort", "type"}
LINK_KEYS = {"asDropdown", "icon", "includeVars", "keepTime", "tags", "targetBlank", "title", "tooltip", "type", "url"}
# Per panel type, the options Grafana 12 reads (grafanalib writes others, or old spellings).
STAT_OPTIONS = {"colorMode", "graphMode", "justifyMode", "orientation", "reduceOptions", "textMode"}


def drop_nulls(value: Any, *, in_steps: bool = False) -> Any:
    """Remove null-valued keys recursively; a threshold step keeps `value: null` (-Infinity)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v, in_steps=(k == "steps")) for k, v in value.items()
                if v is not None or (in_steps and k == "value")}
    if isinstance(value, list):
        return [drop_nulls(v, in_steps=in_steps) for v in value]
    return value


def _keep(obj: dict, keys: set[str]) -> dict:
    return {k: v for k, v in obj.items() if k in keys}


def _link(link: dict) -> dict:
    link = dict(link)
    if "uri" in link:
        link["url"] = link.pop("uri")
    link.setdefault("url", "")
    if link.get("type") == "dashboards":
        link.pop("url")
    return _keep(link, LINK_KEYS)


def _target(target: dict) -> dict:
    out = _keep(target, TARGET_KEYS)
    out["datasource"] = dict(DATASOURCE)
    out["editorMode"] = "code"
    out["range"] = not out.get("instant", False)
    return out


def _thresholds(extra: dict) -> dict:
    steps = extra.get("steps") or [{"color": "green", "value": None}]
    return {"mode": "absolute", "steps": steps}


def _field_defaults(panel: dict, extra: dict) -> dict:
    defaults = dict(panel.get("fieldConfig", {}).get("defaults", {}))
    defaults["thresholds"] = _thresholds(extra)
    defaults["mappings"] = extra.get("mappings", [])
    defaults["unit"] = extra.get("unit", defaults.get("unit", "short"))
    for key in ("min", "max", "decimals", "noValue"):
        defaults.pop(key, None)
        if key in extra:
            defaults[key] = extra[key]
    if panel["type"] in ("stat", "gauge", "bargauge"):
        defaults["color"] = {"mode": "thresholds"}
        defaults.pop("custom", None)
    if panel["type"] == "table":
        defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True, "inspect": False}
        defaults["color"] = {"mode": "thresholds"}
    if panel["type"] == "piechart":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {"hideFrom": {"legend": False, "tooltip": False, "viz": False}}
    if panel["type"] == "timeseries":
        custom = defaults.get("custom", {})
        custom.pop("axisSoftMin", None)
        custom.pop("axisSoftMax", None)
        custom["lineStyle"] = {"fill": "solid"}
        custom["thresholdsStyle"] = {"mode": "dashed" if len(extra.get("steps", [])) > 1 else "off"}
        defaults["custom"] = custom
    return defaults


def _reduce(extra: dict) -> dict:
    return {"calcs": [extra.get("reduce", "lastNotNull")], "fields": "", "values": False}


def _options(panel: dict, extra: dict) -> dict:
    options = dict(panel.get("options") or {})
    kind = panel["type"]
    if kind == "stat":
        options = _keep(options, STAT_OPTIONS)
        options["reduceOptions"] = _reduce(extra)
        options.update({"showPercentChange": False, "wideLayout": True, "percentChangeColorMode": "standard"})
    elif kind in ("gauge", "bargauge"):
        options = {"orientation": "horizontal" if kind == "bargauge" else "auto", "reduceOptions": _reduce(extra),
                   "showThresholdLabels": False, "showThresholdMarkers": True, "minVizHeight": 16,
                   "minVizWidth": 8, "sizing": "auto"}
        if kind == "bargauge":
            options = {k: v for k, v in options.items() if not k.startswith("showThreshold")}
            options.update({"displayMode": "gradient", "valueMode": "color", "namePlacement": "auto",
                            "showUnfilled": True, "maxVizHeight": 300,
                            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False,
                                       "calcs": []}})
    elif kind == "timeseries":
        options["legend"] = {**options.get("legend", {}), "showLegend": True}
        options["tooltip"] = {**options.get("tooltip", {}), "hideZeros": False}
    elif kind == "table":
        options = {"showHeader": True, "cellHeight": "sm", "frameIndex": 0}
    elif kind == "piechart":
        options = {"pieType": "donut", "reduceOptions": _reduce(extra), "displayLabels": ["percent"],
                   "orientation": "auto", "sort": "desc",
                   "legend": {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": [],
                              "values": ["value", "percent"]},
                   "tooltip": {"mode": "single", "sort": "none", "hideZeros": False}}
    elif kind == "text":
        options = {"mode": "markdown", "content": panel.get("content", ""),
                   "code": {"language": "plaintext", "showLineNumbers": False, "showMiniMap": False}}
    return options


def _panel(panel: dict, extra: dict, panel_id: int) -> dict:
    if panel.get("type") == "row":
        row = _keep(panel, ROW_KEYS)
        row.update({"id": panel_id, "panels": [], "collapsed": bool(panel.get("collapsed"))})
        return row
    out = _keep(panel, PANEL_KEYS)
    out["id"] = panel_id
    out["links"] = [_link(link) for link in panel.get("links", [])]
    out["options"] = _options(panel, extra)
    if panel["type"] != "text":
        out["datasource"] = dict(DATASOURCE)
        out["targets"] = [_target(t) for t in panel.get("targets", [])]
        out["fieldConfig"] = {"defaults": _field_defaults(panel, extra), "overrides": extra.get("overrides", [])}
        out["transformations"] = panel.get("transformations", [])
    else:
        for key in ("datasource", "targets", "fieldConfig", "transformations", "maxDataPoints", "interval"):
            out.pop(key, None)
    if not out.get("interval"):
        out.pop("interval", None)
    out.pop("timeFrom", None)
    if extra.get("timeFrom"):
        out["timeFrom"] = extra["timeFrom"]
    return out


def _variable(variable: dict) -> dict:
    if variable.get("type") == "textbox":
        # A free-text value (a URL base the links use): its default is current and only option.
        value = variable.get("query", "")
        option = {"selected": True, "text": value, "value": value}
        return {"type": "textbox", "name": variable["name"], "label": variable.get("label", ""), "query": value,
                "current": option, "options": [option], "hide": 0, "skipUrlSync": False}
    out = _keep(variable, VARIABLE_KEYS)
    out["datasource"] = dict(DATASOURCE)
    out["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    out["options"] = []
    out["regex"] = variable.get("regex") or ""
    out["skipUrlSync"] = False
    return out


def normalise(legacy: dict, extras: list[dict], annotations: list[dict] | None = None) -> dict:
    """`extras[i]` carries what grafanalib cannot express for the i-th panel (see common.panel_extras)."""
    panels = legacy.get("panels", [])
    if len(panels) != len(extras):
        raise ValueError(f"{legacy.get('uid')}: {len(panels)} panels but {len(extras)} extras")
    out = _keep(legacy, DASHBOARD_KEYS)
    out["schemaVersion"] = SCHEMA_VERSION
    out["version"] = 1
    out["editable"] = False  # provisioned from files: edits belong in grafana/dashboards/*.py
    out["fiscalYearStartMonth"] = 0
    out["weekStart"] = "monday"
    out["links"] = [_link(link) for link in legacy.get("links", [])]
    out["panels"] = [_panel(p, e, i) for i, (p, e) in enumerate(zip(panels, extras, strict=True), start=1)]
    out["templating"] = {"list": [_variable(v) for v in legacy.get("templating", {}).get("list", [])]}
    out["timepicker"] = {"refresh_intervals": legacy.get("timepicker", {}).get(
        "refresh_intervals", ["30s", "1m", "5m", "15m", "1h"])}
    out["annotations"] = {"list": [{
        "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"},
        *(annotations or [])]}
    return drop_nulls(out)
