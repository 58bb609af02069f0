"""What the boards' queries promise without a server: catalogued or documented metric names,
native-histogram functions, $__rate_interval for rates, template variables applied where they
fit, thresholds drawn from exported series, and Grafana's variable arithmetic."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from exporters.core.catalogue import Kind
from exporters.providers.registry import all_metrics
from exporters.simulator.supabase.sim import SupabaseSim
from exporters.simulator.world import World
from grafana.dashboards.common import ENV
from grafana.queries import (
    interval_s,
    metric_names,
    panel_range_s,
    rate_interval_s,
    request,
    round_interval,
    selectors,
    substitute,
    variable_selector,
)

# Scraped sources documented in prometheus/prometheus.yml and docs/providers/supabase.md.
SCRAPED_PREFIXES = ("probe_", "otelcol_", "prometheus_")
# Series Prometheus itself writes: `up` per scrape target, ALERTS per alert rule's pending/firing alert.
PROMETHEUS_OWN = {"up", "ALERTS"}


def catalogue() -> dict[str, object]:
    return {spec.prometheus_name: spec for spec in all_metrics()}


def supabase_endpoint_metrics() -> set[str]:
    """The series the simulated Supabase metrics endpoint serves (its documented names)."""
    sim = SupabaseSim(World(start=datetime(2026, 11, 18, 12, tzinfo=timezone.utc)))
    text = sim.prometheus_text(sim.projects()[0])
    # The lag series under the name Supabase's read-replica guide gives it; the simulator serves the
    # name supabase-grafana uses (docs/providers/supabase.md): queries read either.
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M)) | {"physical_replication_lag_physical_replica_lag_seconds"}


def test_every_metric_is_catalogued_or_from_a_documented_scraped_source(boards):
    known = set(catalogue()) | supabase_endpoint_metrics() | PROMETHEUS_OWN
    unknown = {}
    for board in boards:
        for panel, query in board.queries():
            recorded = {r.record for r in query.recordings}  # a declared rule's series; its own inputs below
            inputs = set().union(*(metric_names(r.expr) for r in query.recordings))
            for name in (metric_names(query.expr) - recorded) | inputs:
                if name not in known and not name.startswith(SCRAPED_PREFIXES):
                    unknown[name] = f"{board.uid} / {panel.title}"
        for variable in board.variables:
            if variable.kind != "query":
                continue
            for name in metric_names(variable_selector(variable.query)[0]):
                assert name in known or name.startswith(SCRAPED_PREFIXES), (board.uid, variable.name, name)
    assert unknown == {}


def test_histograms_are_queried_as_native_histograms(boards):
    histograms = {n for n, spec in catalogue().items() if spec.kind == Kind.HISTOGRAM}
    used = set()
    for board in boards:
        for panel, query in board.queries():
            # The panel's own expression and those of the recording rules it reads.
            for expr in (query.expr, *(r.expr for r in query.recordings)):
                for name in metric_names(expr):  # no classic-histogram series of a catalogued histogram
                    assert re.sub(r"_(bucket|sum|count)$", "", name) not in histograms - {name}, (panel.title, name)
                for name in metric_names(expr) & histograms:
                    used.add(name)
                    assert re.search(r"histogram_(quantile|sum|count|avg)\(", expr), (panel.title, expr)
    assert len(used) >= 5


def test_rates_use_rate_interval_or_a_stated_window(boards):
    """rate() over $__rate_interval; fixed windows only where the window is the meaning (1d, 1h, $__range…)."""
    allowed_fixed = {"1d", "1h", "5m", "30m", "6h", "$__range"}
    for board in boards:
        for panel, query in board.queries():
            for window in re.findall(r"\brate\([^\[]*\[([^\]]+)\]", query.expr):
                assert window == "$__rate_interval" or window in allowed_fixed, (panel.title, window)


def test_environment_variable_filters_every_otlp_selector(boards):
    otlp = set(catalogue())
    for board in boards:
        for panel, query in board.queries():
            for name, matchers in selectors(query.expr):
                if name in otlp:
                    assert ENV in matchers, (board.uid, panel.title, name)


def test_project_and_service_variables_filter_every_selector_carrying_that_label(boards):
    specs = catalogue()
    endpoint = supabase_endpoint_metrics()
    for board in boards:
        for variable in board.variables:
            if variable.name not in ("project", "service", "provider"):
                continue
            applied = 0
            for panel, query in board.queries():
                for name, matchers in selectors(query.expr):
                    labels = set(specs[name].prometheus_labels) if name in specs else (
                        {"project"} if name in endpoint else set())
                    if variable.name in labels and "threshold" not in name and "budget" not in name:
                        assert f'{variable.name}=~"${variable.name}"' in matchers or (
                            re.search(rf'{variable.name}=~?"[^"$]+"', matchers)), (board.uid, panel.title, name)
                        applied += 1
            assert applied > 0, (board.uid, variable.name)


def test_thresholds_come_from_exported_series_where_they_exist(boards):
    """Panels compared with an objective, threshold or budget draw it from stackwatch_threshold_* /
    stackwatch_budget_* (or max_connections, queue capacity), never a copied literal."""
    threshold_series = re.compile(r"stackwatch_(threshold|budget)_|max_connections|queue_capacity")
    drawn = 0
    for board in boards:
        for panel, query in board.queries():
            if query.threshold:
                assert threshold_series.search(query.expr), (panel.title, query.expr)
                drawn += 1
            wording = panel.description.lower()
            # A higher-is-better value cannot take its threshold from a series (Grafana's "config from query
            # results" adds it as a red step above it): such panels keep static colours, said so in their text.
            static_by_design = panel.better == "higher" and "static colours" in wording
            if any(w in wording for w in ("against the", "threshold", "budget", "objective")) \
                    and "threshold" not in panel.title.lower() and not static_by_design:
                uses_series = any(threshold_series.search(q.expr) for q in panel.queries)
                assert uses_series, (board.uid, panel.title)
    assert drawn >= 15


def test_grafana_interval_arithmetic():
    assert round_interval(30 * 86400 / 500) == 3600  # 5184 s rounds to 1 h
    assert round_interval(6 * 3600 / 500) == 30  # 43.2 s rounds to 30 s
    assert rate_interval_s(15) == 60 and rate_interval_s(3600) == 3615


def test_substitution_replaces_every_variable_as_grafana_would(boards):
    expr = 'sum(rate(x{a=~"$project"}[$__rate_interval])) / avg_over_time(y[$__range]) + z[${__interval}]'
    out = substitute(expr, range_s=86400, interval=180, variables={"project": ".*"})
    assert out == 'sum(rate(x{a=~".*"}[195s])) / avg_over_time(y[86400s]) + z[180s]'
    with pytest.raises(KeyError):
        substitute("$nope", range_s=1, interval=1)
    for board in boards:
        for panel, query in board.queries():
            req = request(board, panel, query, now=1_800_000_000)
            assert not re.search(r"\$[A-Za-z_{]", req.expr), req.expr
            assert req.step == interval_s(panel_range_s(board, panel), panel) >= 15
            if not req.instant:
                assert req.start % req.step == 0 and req.end % req.step == 0 and req.end >= 1_800_000_000
