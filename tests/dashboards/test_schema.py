"""Every generated dashboard validates against the JSON Schema of the pinned Grafana's
dashboard and panel types (from @grafana/schema, see tools/grafana_schema.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO, all_panels, grafana_version

from grafana.dashboards.common import grafanalib_json

# Panel types whose plugin publishes no types in @grafana/schema (alertlist is an old
# core panel without a CUE kind): only the generic Panel schema applies to them.
NO_PUBLISHED_TYPES = {"alertlist", "row"}
SHARED = REPO.parent / "shared" / "grafana-schemas"


def errors(schema: dict, instance: object) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))]


def test_schema_is_for_the_grafana_version_compose_pins(grafana_schema):
    assert grafana_schema["grafana_version"] == grafana_version()
    assert "Dashboard" in grafana_schema["dashboard"]["definitions"]


# Prometheus annotations (deploy markers). The published 12.2 types describe only the built-in Grafana
# annotation: AnnotationQuery is closed, and its AnnotationTarget holds the grafana datasource's
# limit / matchAny / tags / type. Grafana's Prometheus data source keeps its annotation's query in
# `target` (expr, refId, interval) and reads titleFormat, textFormat, tagKeys and useValueForTime beside
# it (@grafana/prometheus src/annotations.ts: prepareAnnotation moves a legacy top-level expr/step into
# `target`; processEvents reads the formats). Those keys are checked against that shape; the rest of the
# annotation against the schema.
PROMETHEUS_ANNOTATION_KEYS = {"titleFormat": str, "textFormat": str, "tagKeys": str, "useValueForTime": bool}
PROMETHEUS_ANNOTATION_TARGET = {"expr": str, "refId": str, "interval": str}


def prometheus_annotation_problems(annotation: dict) -> list[str]:
    if annotation.get("datasource", {}).get("type") != "prometheus":
        return []
    problems = [f"{key}: expected {kind.__name__}" for key, kind in PROMETHEUS_ANNOTATION_KEYS.items()
                if not isinstance(annotation.get(key), kind)]
    target = annotation.get("target", {})
    if set(target) != set(PROMETHEUS_ANNOTATION_TARGET) or not all(
            isinstance(target[k], kind) and target[k] for k, kind in PROMETHEUS_ANNOTATION_TARGET.items()):
        problems.append(f"target: expected exactly {sorted(PROMETHEUS_ANNOTATION_TARGET)}, non-empty: {target}")
    return problems


def without_prometheus_annotation_keys(dashboard: dict) -> dict:
    out = dict(dashboard)
    out["annotations"] = {"list": [
        {k: v for k, v in a.items() if k not in PROMETHEUS_ANNOTATION_KEYS and k != "target"}
        if a.get("datasource", {}).get("type") == "prometheus" else a
        for a in dashboard["annotations"]["list"]]}
    return out


def test_every_dashboard_validates_against_the_dashboard_schema(dashboards, grafana_schema):
    assert len(dashboards) == 8
    for name, dashboard in dashboards.items():
        assert errors(grafana_schema["dashboard"], without_prometheus_annotation_keys(dashboard)) == [], name
        for annotation in dashboard["annotations"]["list"]:
            assert prometheus_annotation_problems(annotation) == [], (name, annotation["name"])


def test_the_prometheus_annotation_check_can_fail():
    good = {"datasource": {"type": "prometheus", "uid": "prometheus"}, "titleFormat": "t", "textFormat": "x",
            "tagKeys": "a,b", "useValueForTime": False, "target": {"expr": "up", "refId": "Anno", "interval": "1m"}}
    assert prometheus_annotation_problems(good) == []
    assert prometheus_annotation_problems({**good, "target": {"expr": "up", "refId": "Anno"}})
    assert prometheus_annotation_problems({**good, "expr": "up", "target": {"expr": "", "refId": "A", "interval": "1m"}})
    assert prometheus_annotation_problems({**good, "titleFormat": None})


def test_every_panel_validates_against_its_panel_types_options_and_field_config(dashboards, grafana_schema):
    checked = 0
    for name, dashboard in dashboards.items():
        for panel in all_panels(dashboard):
            kind = panel["type"]
            if kind in NO_PUBLISHED_TYPES:
                continue
            assert kind in grafana_schema["panels"], f"{name}: panel type {kind!r} has no schema " \
                f"({grafana_schema['unavailable_panels'].get(kind, 'not in @grafana/schema')})"
            types = grafana_schema["panels"][kind]
            where = f"{name} panel {panel['id']} {panel['title']!r}"
            assert errors(types["options"], panel.get("options", {})) == [], where
            if "fieldConfig" in types and "custom" in panel.get("fieldConfig", {}).get("defaults", {}):
                assert errors(types["fieldConfig"], panel["fieldConfig"]["defaults"]["custom"]) == [], where
            checked += 1
    assert checked > 60


def test_the_schema_rejects_grafanalibs_raw_output(boards, grafana_schema):
    """Why the normaliser exists: grafanalib 0.7.1's legacy keys and nulls fail the current schema."""
    raw = grafanalib_json(boards[0])
    problems = errors(grafana_schema["dashboard"], raw)
    assert any("rows" in p or "sharedCrosshair" in p for p in problems), problems[:5]
    assert any("None is not of type" in p for p in problems), problems[:5]


def test_no_null_except_threshold_step_values(dashboards):
    def walk(value: object, path: str) -> list[str]:
        if isinstance(value, dict):
            return [p for k, v in value.items() for p in walk(v, f"{path}/{k}")]
        if isinstance(value, list):
            return [p for i, v in enumerate(value) for p in walk(v, f"{path}/{i}")]
        threshold_step = re.search(r"/(thresholds|properties/\d+/value)/steps/\d+/value$", path)
        return [path] if value is None and not threshold_step else []
    for name, dashboard in dashboards.items():
        assert walk(dashboard, name) == []


# Where the older grafana-foundation-sdk schemas in ../shared are stricter than Grafana 12.2's
# own types (which declare these `unknown`), and a panel option newer than them.
SHARED_KNOWN_DIVERGENCES = (
    (re.compile(r"fieldConfig/overrides/\d+/matcher/options$"), "is not of type 'object'"),
    (re.compile(r"fieldConfig/overrides/\d+/properties/\d+/value$"), "is not of type 'object'"),
    (re.compile(r"^piechart options$"), "('sort' was unexpected)"),
)


def known_divergence(path: str, message: str) -> bool:
    return any(p.search(path) and m in message for p, m in SHARED_KNOWN_DIVERGENCES)


@pytest.mark.shared
def test_dashboards_also_validate_against_the_foundation_sdk_schemas_in_shared(dashboards):
    """The older reference schemas in ../shared (grafana-foundation-sdk), where present,
    apart from the listed divergences where they are stricter than Grafana 12.2's types."""
    dashboard_schema = json.loads((SHARED / "dashboard.jsonschema.json").read_text())
    panel_schema = {**dashboard_schema, "$ref": "#/definitions/Panel"}
    problems: list[str] = []
    divergences = 0
    for name, dashboard in dashboards.items():
        without_panels = {k: v for k, v in without_prometheus_annotation_keys(dashboard).items() if k != "panels"}
        problems += [f"{name} {e}" for e in errors(dashboard_schema, without_panels)]
        for panel in all_panels(dashboard):
            found = [] if panel["type"] == "row" else errors(panel_schema, panel)
            panel_file: Path = SHARED / f"{panel['type']}.jsonschema.json"
            if panel_file.exists():
                schema = json.loads(panel_file.read_text())
                if "Options" in schema.get("definitions", {}):
                    found += [f"{panel['type']} options{e}" for e in
                              errors({**schema, "$ref": "#/definitions/Options"}, panel.get("options", {}))]
            for error in found:
                path, _, message = error.partition(": ")
                if known_divergence(path, message):
                    divergences += 1
                else:
                    problems.append(f"{name} / {panel['title']}: {error}")
    assert problems == []
