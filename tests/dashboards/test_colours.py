"""Each colour and threshold rule, judged on the generated JSON the way Grafana 12.2 colours a value.

Grafana's rules, as its source has them (@grafana/data):
- a field's colour in "thresholds" mode is the last step whose value is at or below the value, the first
  step standing for -Infinity (getActiveThreshold, fieldColor.ts / thresholds.ts);
- "config from query results" (transformers/configFromQuery.ts) consumes the config query's frame and,
  for every field its `applyTo` matcher selects (default: every number field), the threshold1 handler
  pushes a *red* step at the config value after the field's own steps (fieldToConfigMapping.ts);
- a value mapping with a colour wins over the threshold colour;
- field overrides (byName) replace the field's steps.
So a panel whose threshold comes from a series must be lower-is-better with a green base, and a
higher-is-better panel starts red (or orange) and turns green at its good level.
"""

from __future__ import annotations

import math

import pytest
from conftest import all_panels

from grafana.dashboards.common import SINGLE_VALUE_KINDS

INF = math.inf


def panel(dashboards: dict, uid: str, title: str) -> dict:
    found = [p for p in all_panels(dashboards[f"{uid}.json"]) if p.get("title") == title]
    assert len(found) == 1, (uid, title, len(found))
    return found[0]


def config_from_query(p: dict) -> list[dict]:
    return [t["options"] for t in p.get("transformations", []) if t["id"] == "configFromData"]


def steps_of(p: dict, field: str = "") -> list[tuple[float, str]]:
    steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
    for override in p["fieldConfig"].get("overrides", []):
        if override["matcher"] == {"id": "byName", "options": field}:
            for prop in override["properties"]:
                if prop["id"] == "thresholds":
                    steps = prop["value"]["steps"]
    return [(-INF if s["value"] is None else s["value"], s["color"]) for s in steps]


def colour(p: dict, value: float, *, field: str = "", threshold: float | None = None) -> str:
    """The colour Grafana gives `value` in field `field` of panel `p`, the threshold series at `threshold`."""
    for mapping in p["fieldConfig"]["defaults"].get("mappings", []):
        if mapping["type"] == "value":
            hit = mapping["options"].get(f"{value:g}")
            if hit and hit.get("color"):
                return hit["color"]
    steps = steps_of(p, field)
    if threshold is not None:
        for options in config_from_query(p):
            assert options["applyTo"] == {"id": "byType", "options": "number"}, p["title"]
            assert [m["handlerKey"] for m in options["mappings"]] == ["threshold1"]
            steps = [*steps, (threshold, "red")]
    active = steps[0][1]
    for step_value, step_colour in sorted(steps, key=lambda s: s[0]):
        if value >= step_value:
            active = step_colour
        else:
            break
    return active


def single_value_panels(dashboards: dict) -> list[tuple[str, dict]]:
    return [(name, p) for name, d in dashboards.items() for p in all_panels(d) if p["type"] in SINGLE_VALUE_KINDS]


def test_the_colour_model_follows_grafana_on_a_known_panel():
    p = {"title": "t", "fieldConfig": {"defaults": {"thresholds": {"steps": [
        {"color": "green", "value": None}]}, "mappings": []}, "overrides": []},
         "transformations": [{"id": "configFromData", "options": {
             "configRefId": "B", "applyTo": {"id": "byType", "options": "number"},
             "mappings": [{"fieldName": "t", "handlerKey": "threshold1"}]}}]}
    assert colour(p, 0.5, threshold=1) == "green"
    assert colour(p, 1.0, threshold=1) == "red"  # a step starts at its value
    # The finding: a red base plus the pushed red step is red whatever the value.
    p["fieldConfig"]["defaults"]["thresholds"]["steps"][0]["color"] = "red"
    assert {colour(p, v, threshold=0.99) for v in (0.5, 0.995, 1.0)} == {"red"}


def test_thresholds_from_series_apply_to_every_value_query(boards, dashboards):
    """The config query's threshold reaches every value query's fields (it used to reach refId A only),
    and only panels with a threshold query carry the transformation."""
    by_title = {(b.uid, p.title): p for b in boards for p in b.panels()}
    checked = 0
    for name, p in single_value_panels(dashboards):
        spec = by_title[(name.removesuffix(".json"), p["title"])]
        thresholds = [q for q in spec.queries if q.threshold]
        options = config_from_query(p)
        assert len(options) == len(thresholds), p["title"]
        for option in options:
            refs = [t["refId"] for t in p["targets"]]
            values = [t for t in p["targets"] if t["refId"] != option["configRefId"]]
            assert option["configRefId"] in refs and values, p["title"]
            # byType number: every number field of the other frames (refIds A, B, …), not one refId.
            assert option["applyTo"] == {"id": "byType", "options": "number"}, p["title"]
            checked += len(values)
    assert checked >= 15
    # The finding's panels: Render's error rate and Supabase's CPU were refId B.
    for title in ("Error rate", "CPU (busiest)", "Memory (busiest)"):
        p = panel(dashboards, "stackwatch-overview", title)
        assert [t["refId"] for t in p["targets"]] == ["A", "B", "C"]
        assert config_from_query(p)[0]["configRefId"] == "C"
        assert colour(p, 0.9, threshold=0.8) == "red" and colour(p, 0.5, threshold=0.8) == "green"


def test_a_threshold_from_a_series_sits_on_a_green_base(boards, dashboards):
    for name, p in single_value_panels(dashboards):
        if config_from_query(p):
            assert [c for _, c in steps_of(p)] == ["green"], (name, p["title"])
            assert colour(p, 5, threshold=10) == "green" and colour(p, 15, threshold=10) == "red", p["title"]


def test_base_colours_follow_which_values_are_good(boards, dashboards):
    """Lower is better: green at the bottom, not green at the top. Higher is better: red or orange at the
    bottom, green at the top (the good level). Every single-value panel says which it is, or is neutral."""
    better = {(b.uid, p.title): p.better for b in boards for p in b.panels()}
    directional = 0
    for name, p in single_value_panels(dashboards):
        way = better[(name.removesuffix(".json"), p["title"])]
        steps = steps_of(p)
        if way == "lower":
            assert steps[0][1] == "green", p["title"]
            if len(steps) > 1:
                assert steps[-1][1] in ("red", "orange"), p["title"]
            directional += 1
        elif way == "higher":
            assert steps[0][1] in ("red", "orange") and steps[-1][1] == "green", p["title"]
            assert not config_from_query(p), p["title"]
            directional += 1
        else:
            assert not config_from_query(p), p["title"]
    assert directional >= 20


@pytest.mark.parametrize(("uid", "title"), [("stackwatch-overview", "Error budget left (30 d)"),
                                            ("stackwatch-slo", "Error budget left (30 d)")])
def test_error_budget_colours(dashboards, uid, title):
    p = panel(dashboards, uid, title)
    assert colour(p, -0.5) == "red"  # objective missed
    assert colour(p, 0.1) == "orange"
    assert colour(p, 0.9) == "green"


def test_up_down_panels_map_to_red_and_green(dashboards):
    for uid, title in (("stackwatch-overview", "Tiers up"), ("stackwatch-overview", "Provider polls"),
                       ("stackwatch-supabase", "Database up")):
        p = panel(dashboards, uid, title)
        assert colour(p, 0) == "red" and colour(p, 1) == "green", title


def test_firing_alerts_are_coloured_by_severity_and_green_when_none(dashboards):
    p = panel(dashboards, "stackwatch-overview", "Firing alerts by severity")
    expected = {"critical": "red", "warning": "orange", "info": "blue"}
    for severity, hot in expected.items():
        assert colour(p, 0, field=severity) == "green"
        assert colour(p, 1, field=severity) == hot
        assert colour(p, 7, field=severity) == hot


# web.dev, "Core Web Vitals" and each metric's article (LCP, INP, CLS, FCP, TTFB): the 75th percentile of
# page loads is good up to the first figure and poor above the second.
WEB_DEV = {"p75 LCP": (2.5, 4.0), "p75 INP": (0.2, 0.5), "p75 CLS": (0.1, 0.25), "p75 FCP": (1.8, 3.0),
           "p75 TTFB": (0.8, 1.8)}


@pytest.mark.parametrize("title", sorted(WEB_DEV))
def test_each_web_vital_has_its_own_good_and_poor_marks(dashboards, title):
    good, poor = WEB_DEV[title]
    p = panel(dashboards, "stackwatch-vercel", title)
    assert colour(p, good * 0.99) == "green"
    assert colour(p, (good + poor) / 2) == "orange"
    assert colour(p, poor * 1.01) == "red"
    assert p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    # No longer the frontend response-time threshold drawn on every vital.
    assert not any("stackwatch_threshold_response_time" in t["expr"] for t in p["targets"])


def test_time_series_draw_the_thresholds_they_have(boards, dashboards):
    """Static steps are drawn as dashed lines; a threshold series as a dashed red line; none is hidden."""
    drawn = 0
    for name, d in dashboards.items():
        for p in all_panels(d):
            if p["type"] != "timeseries":
                continue
            style = p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"]
            static = len(p["fieldConfig"]["defaults"]["thresholds"]["steps"]) > 1
            assert style == ("dashed" if static else "off"), (name, p["title"])
            threshold_refs = {o["matcher"]["options"] for o in p["fieldConfig"]["overrides"]
                              if o["matcher"]["id"] == "byFrameRefID"
                              and any(prop["id"] == "custom.lineStyle" for prop in o["properties"])}
            drawn += static + len(threshold_refs)
    spec_thresholds = sum(1 for b in boards for p in b.panels() if p.kind == "timeseries"
                          for q in p.queries if q.threshold)
    assert drawn >= spec_thresholds + 10


def test_every_stat_draws_a_sparkline_from_range_queries(dashboards):
    stats = [(name, p) for name, d in dashboards.items() for p in all_panels(d) if p["type"] == "stat"]
    assert len(stats) >= 15
    for name, p in stats:
        assert p["options"]["graphMode"] == "area", (name, p["title"])
        assert all(t["range"] and not t["instant"] for t in p["targets"]), (name, p["title"])


# Panels whose empty result means nothing is wrong: they say so instead of "No data".
NOTHING_WRONG = {("stackwatch-supabase", "Unhealthy services"): "All services healthy",
                 ("stackwatch-overview", "Firing alerts"): "No alerts firing",
                 ("stackwatch-vercel", "Function crashes"): "No crashes",
                 ("stackwatch-self", "Poll errors by reason"): "No poll errors"}


def test_no_value_is_kept_where_empty_means_nothing_is_wrong(dashboards):
    for (uid, title), text in NOTHING_WRONG.items():
        assert panel(dashboards, uid, title)["fieldConfig"]["defaults"].get("noValue") == text


def test_no_other_panel_hides_an_empty_result(dashboards):
    """noValue only where empty is good news: elsewhere "No data" must stay visible."""
    for name, d in dashboards.items():
        for p in all_panels(d):
            if "noValue" in p.get("fieldConfig", {}).get("defaults", {}):
                assert (name.removesuffix(".json"), p["title"]) in NOTHING_WRONG, (name, p["title"])
