"""The recording rules the boards read: generated from the same source as the panels, valid for
Prometheus (`promtool check rules`, lint included), loaded by the shipped configuration, and
read by the panels with the template variables applied."""

from __future__ import annotations

import fnmatch
import re
import subprocess

import pytest
import yaml
from conftest import REPO
from test_promql import promtool

from grafana.dashboards.common import ENV, Panel, Query, Recording
from grafana.generate import RULES, recordings, rules_text
from grafana.queries import parse_duration, selectors


def test_committed_rule_file_is_what_the_boards_generate(boards):
    assert RULES.read_text() == rules_text(boards), "run `make generate` and commit"


def test_generated_rule_file_passes_promtool_check_rules():
    result = subprocess.run([str(promtool()), "check", "rules", str(RULES)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_is_read_by_a_panel_and_every_read_rule_is_generated(boards):
    groups = yaml.safe_load(RULES.read_text())["groups"]
    generated = {rule["record"]: (rule["expr"], group["interval"]) for group in groups for rule in group["rules"]}
    read = {r.record: (r.expr, r.interval) for board in boards for _, q in board.queries() for r in q.recordings}
    read |= {r.record: (r.expr, r.interval) for board in boards for a in board.annotations for r in a.recordings}
    assert generated == read
    assert len(generated) >= 5


def test_rules_are_grouped_by_their_evaluation_interval(boards):
    groups = yaml.safe_load(RULES.read_text())["groups"]
    intervals = [group["interval"] for group in groups]
    assert len(intervals) == len(set(intervals)) >= 2, intervals  # one group per interval, two in use
    assert len({group["name"] for group in groups}) == len(groups)
    assert groups[0]["name"] == "stackwatch-dashboards" and groups[0]["interval"] == "1m"
    # Late OTLP samples: every group reads data at least 30 s old (recordings.QUERY_OFFSET).
    assert {group.get("query_offset") for group in groups} == {"30s"}


# Inputs scraped by Prometheus carry no deployment_environment (the blackbox probes): rules over them cannot keep it.
SCRAPED_INPUTS = re.compile(r"\bprobe_\w+")


def test_panels_filter_recorded_series_by_the_environment_the_rule_keeps(boards):
    checked = 0
    for board in boards:
        for panel, query in board.queries():
            for recording in query.recordings:
                if SCRAPED_INPUTS.search(recording.expr):
                    assert "deployment_environment" not in recording.expr, recording.record
                    continue
                assert "deployment_environment" in recording.expr, recording.record
                for name, matchers in selectors(query.expr):
                    if name == recording.record:
                        assert ENV in matchers, (board.uid, panel.title, query.expr)
                        checked += 1
    assert checked >= 6


def test_prometheus_loads_the_rules_directory_in_compose_and_beside_its_config():
    config = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    relative = RULES.relative_to(REPO / "prometheus").as_posix()
    assert any(fnmatch.fnmatch(relative, pattern) for pattern in config["rule_files"]), config["rule_files"]
    volumes = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["prometheus"]["volumes"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in volumes


def test_recordings_need_a_conventional_name_and_a_declaration_where_read():
    rule = Recording("stackwatch:x_total:rate5m", "sum by (deployment_environment) (rate(x_total[5m]))", "why")
    with pytest.raises(ValueError, match="level:metric:operations"):
        Recording("x_total_rate5m", "sum(rate(x_total[5m]))", "why")
    with pytest.raises(ValueError, match="not like 1m"):
        Recording("stackwatch:x_total:rate5m", "sum(rate(x_total[5m]))", "why", interval="3 minutes")
    with pytest.raises(ValueError, match="Grafana variables"):
        Recording("stackwatch:x_total:rate5m", "sum(rate(x_total[$__rate_interval]))", "why")
    with pytest.raises(ValueError, match="declares"):
        Query(f"sum({rule.record})")
    assert Query(f"sum({rule.record})", recordings=(rule,)).recordings == (rule,)


def test_one_name_cannot_record_two_expressions():
    class FakeBoard:
        uid = "b"

        def __init__(self, rule: Recording) -> None:
            self.rule = rule

        def queries(self):
            yield type("P", (), {"title": "p"})(), Query(f"sum({self.rule.record})", recordings=(self.rule,))

    first = Recording("stackwatch:x_total:rate5m", "sum(rate(x_total[5m]))", "why")
    second = Recording("stackwatch:x_total:rate5m", "sum(rate(x_total[1m]))", "why")
    assert recordings([FakeBoard(first), FakeBoard(first)]) == [first]
    with pytest.raises(ValueError, match="defined twice"):
        recordings([FakeBoard(first), FakeBoard(second)])
    slower = Recording("stackwatch:x_total:rate5m", "sum(rate(x_total[5m]))", "why", interval="3m")
    with pytest.raises(ValueError, match="defined twice"):
        recordings([FakeBoard(first), FakeBoard(slower)])


# Prometheus' default --query.lookback-delta (compose does not change it): a plain selector at a step
# sees a sample at most this old.
LOOKBACK_S = 300.0


def sparse_read_problems(panel: Panel, query: Query) -> list[str]:
    """Why a panel could draw gaps from a recorded series sampled less often than the lookback: each
    read must take the latest (or the mean) sample over the step — `<fn>_over_time(record{…}[$__interval])`
    with a panel min interval at least the recording's — or over the whole range in an instant query."""
    problems = []
    for recording in query.recordings:
        every = parse_duration(recording.interval)
        if every <= LOOKBACK_S:
            continue
        name = re.escape(recording.record)
        reads = len(re.findall(rf"{name}(?![\w:])", query.expr))
        windows = re.findall(rf"\b(?:last|avg|max|min)_over_time\({name}(?:\{{[^}}]*\}})?\[\$__(interval|range)\]\)",
                             query.expr)
        over_step = windows.count("interval")
        over_range = windows.count("range") if query.instant else 0
        if over_step + over_range != reads:
            problems.append(f"{recording.record} (every {recording.interval}) read without *_over_time over the "
                            f"step: {query.expr}")
        if over_step and (not panel.interval or parse_duration(panel.interval) < every):
            problems.append(f"{recording.record} (every {recording.interval}) read over $__interval in a panel "
                            f"whose min interval is {panel.interval or 'unset'}")
    return problems


def test_panels_reading_series_recorded_less_often_than_the_lookback_take_the_latest_in_each_step(boards):
    sparse = 0
    for board in boards:
        for panel, query in board.queries():
            assert not sparse_read_problems(panel, query), (board.uid, panel.title)
            sparse += sum(parse_duration(r.interval) > LOOKBACK_S for r in query.recordings)
    assert sparse >= 3  # Tokens per request (two series) and OpenAI tokens by model and type


def test_a_plain_or_too_fine_read_of_a_sparse_recording_is_reported():
    sparse = Recording("stackwatch:x_total:rate1h", "sum by (deployment_environment) (rate(x_total[1h]))",
                       "why", interval="15m")
    good = Query(f"sum(last_over_time({sparse.record}{{{ENV}}}[$__interval]))", recordings=(sparse,))
    plain = Query(f"sum({sparse.record}{{{ENV}}})", recordings=(sparse,))
    half = Query(f"sum(last_over_time({sparse.record}[$__interval])) / sum({sparse.record})", recordings=(sparse,))
    assert sparse_read_problems(Panel("timeseries", "t", "d", (good,), interval="1h"), good) == []
    assert sparse_read_problems(Panel("timeseries", "t", "d", (plain,), interval="1h"), plain)
    assert sparse_read_problems(Panel("timeseries", "t", "d", (half,), interval="1h"), half)
    assert sparse_read_problems(Panel("timeseries", "t", "d", (good,), interval="5m"), good)
    assert sparse_read_problems(Panel("timeseries", "t", "d", (good,)), good)
