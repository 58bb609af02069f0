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


def test_every_dashboard_validates_against_the_dashboard_schema(dashboards, grafana_schema):
    assert len(dashboards) == 8
    for name, dashboard in dashboards.items():
        assert errors(grafana_schema["dashboard"], dashboard) == [], name


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
        return [path] if value is None and not re.search(r"/thresholds/steps/\d+/value$", path) else []
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
        without_panels = {k: v for k, v in dashboard.items() if k != "panels"}
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
