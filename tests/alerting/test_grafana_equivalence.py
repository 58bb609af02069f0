"""The Grafana-managed form fires for the same objects as the default path, proved by evaluation.

No Grafana server runs here. On every promtool case's input series, Prometheus' engine
(tools/promql-eval, the engine `promtool test rules` runs) evaluates, at every evaluation of each
rule's pending period:
- the Prometheus rule's expression (the default path: every series it returns is an alert;
  firing when present at every evaluation over its `for`), then Alertmanager's inhibition rules
  applied to what fires (the notifications a person gets);
- the Grafana rule's query A, then Grafana's server-side expressions applied in Python, as
  Grafana's source does them: reduce B (`last`, mode `dropNN`: NaN, ±Inf and null points dropped,
  then the last point; an instant query's single number passes through — grafana/grafana
  pkg/expr/commands.go, ReduceCommand.Execute), math C (`is_number($B)`: 1 for a real number, 0 for
  NaN/±Inf/null — pkg/expr/mathexp/funcs.go), and the state of each series (C = 0 Normal, any other
  value, NaN included, Alerting; no series NoData, which the rules map to OK — pkg/services/ngalert/
  eval/eval.go, evaluateExecutionResult), firing when Alerting at every evaluation over its `for`.
The two sets must be equal, label for label (Grafana's labels are the series' plus the rule's).
`for`, labels, routing and the inhibitions' Grafana equivalent (alerting/grafana_form.py writes each
inhibition into the target's query) are compared too. A condition changed to `$B > 0` fails here:
ProviderApiDown's value is 0.
"""

from __future__ import annotations

import copy
import json
import math
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ALERTING
from test_promtool_rules import CASES, humanize, input_series

from alerting import grafana_form, render, routing
from alerting.channels import read_settings
from alerting.envfile import read_env_file
from alerting.model import PRODUCTION, Alert, duration_seconds, format_duration
from alerting.rules import ALERTS

SETTINGS = read_settings(read_env_file(ALERTING / "example.env"))


def evaluate(binary: Path, batch: list[dict]) -> list[list[dict]]:
    done = subprocess.run([str(binary)], input=json.dumps({"cases": batch}), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["results"]


# --- Grafana's expressions (the subset the rules use), after Grafana's source ---

def reduce(values: list[float | None], reducer: str, mode: str) -> float | None:
    if mode == "dropNN":
        values = [v for v in values if v is not None and math.isfinite(v)]
    elif mode == "replaceNN":
        raise AssertionError("replaceNN is not used by the rules")
    if not values:
        return math.nan
    return {"last": values[-1], "max": max(values), "min": min(values), "sum": sum(values),
            "mean": sum(values) / len(values), "count": float(len(values))}[reducer]


def math_expression(expression: str, variables: dict[str, float | None]) -> float | None:
    match = re.fullmatch(r"is_number\(\$(\w+)\)", expression)
    if match:
        v = variables[match.group(1)]
        return 1.0 if v is not None and math.isfinite(v) else 0.0
    match = re.fullmatch(r"\$(\w+)\s*(>=|<=|>|<|==|!=)\s*(-?[0-9.]+)", expression)
    if match:
        v, op, n = variables[match.group(1)], match.group(2), float(match.group(3))
        if v is None or math.isnan(v):
            return math.nan
        return 1.0 if {">": v > n, ">=": v >= n, "<": v < n, "<=": v <= n, "==": v == n, "!=": v != n}[op] else 0.0
    raise AssertionError(f"a math expression this test does not implement: {expression!r}")


def grafana_alerting(rule: dict, samples: list[dict]) -> dict[tuple, bool]:
    """Each series of query A's result -> whether Grafana's condition is Alerting for it."""
    steps = {step["refId"]: step["model"] for step in rule["data"]}
    condition = steps[rule["condition"]]
    # The reduce step the condition reads (a figure's own reduce steps only feed the message).
    reduce_step = steps[re.search(r"\$(\w+)", condition["expression"]).group(1)]
    out = {}
    for sample in samples:
        labels = tuple(sorted((k, v) for k, v in sample["labels"].items() if k != "__name__"))
        value = float(sample["value"])
        b = reduce([value], reduce_step["reducer"], reduce_step["settings"]["mode"])
        c = math_expression(condition["expression"], {reduce_step["refId"]: b})
        out[labels] = c is not None and c != 0  # NaN != 0: Alerting, as eval.go says
    return out


# --- the comparison ---

def steps_of(alert: Alert, interval: str) -> int:
    return duration_seconds(PRODUCTION.for_of(alert)) // duration_seconds(interval)


def times(eval_time: str, steps: int, interval: str) -> list[str]:
    """The evaluations an alert must be true at to fire at `eval_time`; a pending period reaching
    before the first sample cannot have passed: the query at -1 s (no data) stands for it."""
    end, step = duration_seconds(eval_time), duration_seconds(interval)
    if end - steps * step < 0:
        return ["0s", "0s"] if steps else [eval_time]  # placeholder, made empty below
    return [format_duration(end - k * step) for k in range(steps, -1, -1)]


def full_labels(alert: Alert, series: tuple) -> tuple:
    return tuple(sorted({**dict(series), **alert.static_labels(), "alertname": alert.name}.items()))


def matches(matchers: tuple[str, ...], labels: dict[str, str]) -> bool:
    return grafana_form._matches(matchers, labels)


def inhibited(target: dict[str, str], firing: list[dict[str, str]]) -> bool:
    """Alertmanager's inhibition: a firing source alert whose `equal` labels equal the target's."""
    for rule in routing.INHIBITIONS:
        if not matches(rule.target, target):
            continue
        for source in firing:
            if source == target or not matches(rule.source, source):
                continue
            if all(source.get(k, "") == target.get(k, "") for k in rule.equal):
                return True
    return False


def mismatches(promql_eval: Path, grafana_rules: dict) -> list[str]:
    by_uid = {r["uid"]: r for g in grafana_rules["groups"] for r in g["rules"]}
    batch, plans = [], []
    for case in CASES:
        interval = case.rule_interval or "1m"
        names = {case.alert} | {s.name for a in ALERTS if a.name == case.alert
                                for i in routing.INHIBITIONS if matches(i.target, {"alertname": a.name, **a.static_labels()})
                                for s in ALERTS if matches(i.source, {"alertname": s.name, **s.static_labels()})}
        alerts = [a for a in ALERTS if a.name in names]
        queries, plan = [], []
        for alert in alerts:
            rule = by_uid[grafana_form.grafana_uid(alert)]
            query_a = next(s["model"]["expr"] for s in rule["data"] if s["refId"] == rule["data"][0]["refId"])
            steps = steps_of(alert, interval)
            too_early = duration_seconds(case.eval_time) < steps * duration_seconds(interval)
            ts = times(case.eval_time, steps, interval)
            for form, expr in (("prometheus", PRODUCTION.expr_of(alert)), ("grafana", query_a)):
                if too_early:
                    expr = "vector(1) unless vector(1)"  # empty: the pending period cannot have passed
                plan.append((alert, form, rule, len(queries), len(ts)))
                queries += [{"expr": expr, "at": t} for t in ts]
        batch.append({"interval": case.interval, "series": [{"series": s, "values": v} for s, v in input_series(case)],
                      "queries": queries})
        plans.append((case, plan))
    problems = []
    for (case, plan), results in zip(plans, evaluate(promql_eval, batch), strict=True):
        firing_prometheus: dict[str, set] = {}
        firing_grafana: dict[str, set] = {}
        for alert, form, rule, first, count in plan:
            window = results[first:first + count]
            for r in window:
                if r.get("error"):
                    problems.append(f"{case.alert} / {case.title}: {alert.key} {form}: {r['error']}")
            if form == "prometheus":
                present = [{tuple(sorted((k, v) for k, v in s["labels"].items() if k != "__name__")) for s in r["samples"]}
                           for r in window]
                held = set.intersection(*present) if present else set()
                firing_prometheus[alert.key] = {full_labels(alert, s) for s in held}
            else:
                states = [grafana_alerting(rule, r["samples"]) for r in window]
                held = set.intersection(*({k for k, v in s.items() if v} for s in states)) if states else set()
                firing_grafana[alert.key] = {full_labels(alert, s) for s in held}
        every = [dict(labels) for fired in firing_prometheus.values() for labels in fired]
        for alert in (a for a in ALERTS if a.name == case.alert):
            notified = {labels for labels in firing_prometheus[alert.key] if not inhibited(dict(labels), every)}
            if notified != firing_grafana[alert.key]:
                problems.append(f"{case.alert} / {case.title}: {alert.key} notifies {sorted(notified)} by default, "
                                f"Grafana's form fires {sorted(firing_grafana[alert.key])}")
    return problems


def shipped_rules() -> dict:
    return grafana_form.rules(SETTINGS)


def test_the_grafana_form_fires_for_the_same_objects_as_the_default_path(promql_eval):
    problems = mismatches(promql_eval, shipped_rules())
    assert not problems, "\n".join(problems[:20])


def test_a_figure_the_grafana_message_prints_is_the_firing_objects_own(promql_eval):
    """A figure's reduce step ($values.E in the message) has one series per object with exactly the
    labels of the condition's series, so Grafana pairs the firing object with its own figure; its
    value, printed as the Prometheus form prints it, is what the promtool case expects."""
    by_uid = {r["uid"]: r for g in shipped_rules()["groups"] for r in g["rules"]}
    checked = 0
    for case in (c for c in CASES if any(f.figures for f in c.fires)):
        alert = next(a for a in ALERTS if a.name == case.alert and a.figures)
        rule = by_uid[grafana_form.grafana_uid(alert)]
        steps = {step["refId"]: step["model"] for step in rule["data"]}
        for index, figure in enumerate(alert.figures):
            query_ref, _ = render.figure_refs(index)
            queries = [{"expr": steps[render.QUERY]["expr"], "at": case.eval_time},
                       {"expr": steps[query_ref]["expr"], "at": case.eval_time}]
            [results] = evaluate(promql_eval, [{"interval": case.interval, "queries": queries,
                                                "series": [{"series": s, "values": v} for s, v in input_series(case)]}])
            firing, figures = ({tuple(sorted(x["labels"].items())): float(x["value"]) for x in r["samples"]}
                               for r in results)
            expected = {f.labels.get(k, "") for f in case.fires for k in figure.on}
            assert firing and set(firing) <= set(figures), (case.title, firing, figures)
            for labels in firing:
                printed = humanize(figures[labels])
                assert any(printed == f.figures[figure.name] for f in case.fires), (case.title, labels, printed)
                assert set(dict(labels).values()) & expected, (case.title, labels)
            checked += 1
    assert checked >= 3


def test_a_condition_that_drops_zero_values_is_caught(promql_eval):
    """`$B > 0` instead of `is_number($B)`: alerts whose value is 0 (ProviderApiDown) never fire."""
    mutated = copy.deepcopy(shipped_rules())
    for group in mutated["groups"]:
        for rule in group["rules"]:
            for step in rule["data"]:
                if step["refId"] == rule["condition"]:
                    step["model"]["expression"] = "$B > 0"
    problems = mismatches(promql_eval, mutated)
    assert any(p.startswith("ProviderApiDown /") for p in problems), problems[:5]


def test_a_missing_inhibition_equivalent_is_caught(promql_eval):
    """Grafana's form without the query-level stand-in for inhibition notifies the escalated warning."""
    mutated = copy.deepcopy(shipped_rules())
    for group in mutated["groups"]:
        for rule in group["rules"]:
            expr = rule["data"][0]["model"]["expr"]
            if "\nunless on (" in expr:
                rule["data"][0]["model"]["expr"] = expr.split("\n)\nunless on (")[0].removeprefix("(\n")
    problems = mismatches(promql_eval, mutated)
    assert any("warning" in p and "critical" not in p.split(" notifies")[0] for p in problems), problems[:5]


def test_for_labels_and_annotations_links_are_the_same_in_both_forms():
    prometheus = render.prometheus_rules(SETTINGS)
    grafana = shipped_rules()
    by_key = {}
    for group in prometheus["groups"]:
        for rule in group["rules"]:
            by_key.setdefault((rule["alert"], rule["labels"]["severity"], rule["labels"].get("input", ""),
                               rule["labels"].get("provider", "")), rule)
    for group in grafana["groups"]:
        for rule in group["rules"]:
            twin = by_key[(rule["title"], rule["labels"]["severity"], rule["labels"].get("input", ""),
                           rule["labels"].get("provider", ""))]
            assert rule["for"] == twin["for"], rule["uid"]
            assert rule["labels"] == twin["labels"], rule["uid"]  # no " (warning)" in Grafana's alertname
            for key in ("runbook", "runbook_url", "dashboard_url"):
                assert rule["annotations"].get(key) == twin["annotations"].get(key), (rule["uid"], key)


def policy_receivers(policy: dict, labels: dict[str, str]) -> list[str]:
    """Grafana's notification policy tree (Alertmanager's routing semantics, which Grafana reuses):
    the receivers an alert with these labels reaches."""
    def walk(route: dict, inherited: str) -> tuple[list[str], bool]:
        receiver = route.get("receiver", inherited)
        reached: list[str] = []
        for child in route.get("routes", []):
            if all(_match(m, labels) for m in child.get("object_matchers", [])):
                got, _ = walk(child, receiver)
                reached += got
                if not child.get("continue", False):
                    return reached, True
        return (reached or [receiver]), True
    return walk(policy, policy["receiver"])[0]


def _match(matcher: list[str], labels: dict[str, str]) -> bool:
    name, op, value = matcher
    have = labels.get(name, "")
    return {"=": have == value, "!=": have != value, "=~": re.fullmatch(value, have) is not None,
            "!~": re.fullmatch(value, have) is None}[op]


@pytest.mark.parametrize("severity", ["critical", "warning", "info", "none"])
def test_grafana_policies_route_every_alert_as_alertmanager_does(amtool, tmp_path, severity):
    from alerting.files import render_files, write
    write(render_files(SETTINGS), tmp_path)
    policy = grafana_form.policies(SETTINGS)["policies"][0]
    for alert in ALERTS:
        if alert.severity.value != severity:
            continue
        labels = {"alertname": alert.name, **alert.static_labels()}
        done = subprocess.run([str(amtool), "config", "routes", "test",
                               f"--config.file={tmp_path / 'alertmanager' / 'alertmanager.yml'}",
                               *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert policy_receivers(policy, labels) == done.stdout.strip().split(","), alert.key
