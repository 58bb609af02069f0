"""The Grafana-managed form of the same alerts (opt-in: docker-compose.grafana-alerting.yml), for
users who run Grafana alone. Built with grafanalib's alerting classes (AlertGroup, AlertRulev9,
AlertExpression, Target) and normalised where grafanalib 0.7.1 writes what Grafana's file
provisioning does not read, as grafana/normalise.py does for the boards:

- AlertRulev9 emits the ruler HTTP API's shape (`grafana_alert: {title, condition, data,
  no_data_state, exec_err_state}`); provisioning files carry those at the rule's top level as
  title, condition, data, noDataState, execErrState;
- grafanalib's no-data state "No Data" is Grafana's "NoData" (we use OK);
- expressions get the legacy datasource uid "-100"; provisioning uses "__expr__", and each
  expression keeps only its type's fields (grafanalib writes every type's fields on each);
- a Target's model keeps only the Prometheus query's fields.

Grafana 12.2 has no inhibition rules (grafana/grafana#68822; API-only, behind a feature toggle,
from Grafana 13). Each inhibition of alerting/routing.py is therefore written into the target
rule's query: `unless on (<equal labels>) (<source condition held for its `for`>)`, so the
target does not fire while the source would. docs/alerting.md says where this differs.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from grafanalib.core import (
    ALERTRULE_STATE_DATA_ERROR,
    ALERTRULE_STATE_DATA_OK,
    EXP_REDUCER_FUNC_DROP_NN,
    EXP_REDUCER_FUNC_LAST,
    EXP_TYPE_MATH,
    EXP_TYPE_REDUCE,
    AlertExpression,
    AlertGroup,
    AlertRulev9,
    Target,
)

from . import render, routing
from .channels import BLACKHOLE, BY_NAME, DEFAULT_PAGERDUTY_EVENTS_URL, Settings
from .model import PRODUCTION, Alert, Timing, duration_seconds, format_duration
from .rules import ALERTS

EXPRESSION_UID = "__expr__"
_EXPRESSION_FIELDS = {"reduce": ("refId", "type", "expression", "reducer", "settings"),
                      "math": ("refId", "type", "expression")}


def grafana_uid(alert: Alert) -> str:
    """Unique, at most 40 characters (Grafana's limit): a long one keeps a hash of the whole."""
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", alert.name).lower()
    uid = f"sw-{kebab}-{alert.severity.value[:4]}"
    if alert.variant:
        uid += "-" + re.sub(r"[^a-z0-9]+", "-", alert.variant.lower()).strip("-")
    if len(uid) > 40:
        uid = uid[:31] + "-" + hashlib.sha256(uid.encode()).hexdigest()[:8]
    return uid


# --- inhibition as queries ---

def _matches(matchers: tuple[str, ...], labels: dict[str, str]) -> bool:
    for matcher in matchers:
        name, op, value = re.fullmatch(r'(\w+)(=~|!=|=)"(.*)"', matcher).groups()  # type: ignore[union-attr]
        have = labels.get(name, "")
        ok = {"=": have == value, "!=": have != value, "=~": re.fullmatch(value, have) is not None}[op]
        if not ok:
            return False
    return True


def _labels(alert: Alert) -> dict[str, str]:
    return {"alertname": alert.name, **alert.static_labels()}


def held(alert: Alert, timing: Timing) -> str:
    """The PromQL of "this alert fires": its query true at every evaluation over its `for`, which
    is `for`/interval + 1 evaluations (the first one and every one until `for` has passed)."""
    expr = timing.expr_of(alert)
    interval = duration_seconds(timing.interval)
    steps = duration_seconds(timing.for_of(alert)) // interval
    if steps == 0:
        return f"({expr})"
    window = format_duration((steps + 1) * interval)
    return f"(count_over_time(({expr})[{window}:{timing.interval}]) >= {steps + 1})"


def suppressions(alert: Alert, timing: Timing, alerts: tuple[Alert, ...] = ALERTS) -> list[str]:
    """`unless …` clauses standing for the inhibitions whose target is this alert."""
    clauses = []
    target = _labels(alert)
    for inhibition in routing.INHIBITIONS:
        if not _matches(inhibition.target, target):
            continue
        for source in alerts:
            labels = _labels(source)
            if source is alert or not _matches(inhibition.source, labels):
                continue
            if inhibition.equal == routing.OBJECT_LABELS and source.name != alert.name:
                continue  # escalation: only the same alert's critical step (alertname is equal)
            static = {k for k in inhibition.equal if k in target or k in labels}
            if any(target.get(k) != labels.get(k) for k in static if k in target and k in labels):
                continue  # a static label differs: never the same object
            on = [k for k in inhibition.equal if k not in static]
            condition = held(source, timing)
            for k in sorted(k for k in static if k in target and k not in labels):
                condition = f'({condition} and on ({k}) label_replace(vector(1), "{k}", "{target[k]}", "", ""))'
            clauses.append(f"unless on ({', '.join(on)}) {condition}")
    return clauses


def query(alert: Alert, timing: Timing) -> str:
    expr = timing.expr_of(alert)
    extra = suppressions(alert, timing)
    return expr if not extra else "(\n" + expr + "\n)\n" + "\n".join(extra)


# --- grafanalib, then normalised ---

def _query_and_last(expr: str, query_ref: str, reduce_ref: str) -> list[Target | AlertExpression]:
    """A Prometheus query (instant) and the last value of each of its series, NaN dropped."""
    return [Target(expr=expr, refId=query_ref, datasource=render.DATASOURCE_UID, instant=True),
            AlertExpression(refId=reduce_ref, expression=query_ref, expressionType=EXP_TYPE_REDUCE,
                            reduceFunction=EXP_REDUCER_FUNC_LAST, reduceMode=EXP_REDUCER_FUNC_DROP_NN)]


def _figure_steps(alert: Alert, timing: Timing) -> list[Target | AlertExpression]:
    """A figure's query and its last value: a number the message prints, never part of the condition."""
    return [step for index, figure in enumerate(alert.figures)
            for step in _query_and_last(timing.fill(figure.expr), *render.figure_refs(index))]


def _rule(alert: Alert, settings: Settings, timing: Timing) -> AlertRulev9:
    return AlertRulev9(
        title=alert.name,  # the same name on both escalation steps: Grafana 12 allows it (grafana/grafana#102067)
        uid=grafana_uid(alert),
        condition=render.CONDITION,
        triggers=[
            *_query_and_last(query(alert, timing), render.QUERY, render.REDUCE),
            AlertExpression(refId=render.CONDITION, expression=f"is_number(${render.REDUCE})",
                            expressionType=EXP_TYPE_MATH),
            *_figure_steps(alert, timing),
        ],
        annotations=render.annotations(alert, settings, grafana=True, timing=timing),
        labels=alert.static_labels(),
        evaluateFor=timing.for_of(alert),
        # An empty result means nothing breaches (the comparison is in the query): OK. A failed
        # query is Grafana's DatasourceError alert, not silence.
        noDataAlertState=ALERTRULE_STATE_DATA_OK,
        errorAlertState=ALERTRULE_STATE_DATA_ERROR,
        timeRangeFrom=600,
        timeRangeTo=0,
    )


def normalise_rule(data: dict[str, Any]) -> dict[str, Any]:
    """grafanalib's AlertRulev9 JSON → Grafana's provisioning rule."""
    inner = data["grafana_alert"]
    steps = []
    for step in inner["data"]:
        model = step["model"]
        if step["datasourceUid"] in ("-100", EXPRESSION_UID):
            kept = {k: model[k] for k in _EXPRESSION_FIELDS[model["type"]]}
            if "settings" in kept:
                kept["settings"] = {"mode": model["settings"]["mode"]}
            kept["datasource"] = {"type": "__expr__", "uid": EXPRESSION_UID}
            steps.append({"refId": step["refId"], "datasourceUid": EXPRESSION_UID, "model": kept})
        else:
            steps.append({"refId": step["refId"], "relativeTimeRange": step["relativeTimeRange"],
                          "datasourceUid": step["datasourceUid"],
                          "model": {"refId": model["refId"], "datasource": {"type": "prometheus", "uid": step["datasourceUid"]},
                                    "expr": model["expr"], "instant": True, "range": False, "editorMode": "code",
                                    "intervalMs": 1000, "maxDataPoints": 43200}})
    no_data = {"No Data": "NoData"}.get(inner["no_data_state"], inner["no_data_state"])
    return {"uid": data["uid"], "title": inner["title"], "condition": inner["condition"], "data": steps,
            "noDataState": no_data, "execErrState": inner["exec_err_state"], "for": data["for"],
            "annotations": data["annotations"], "labels": data["labels"], "isPaused": False}


def rules(settings: Settings, timing: Timing = PRODUCTION, alerts: tuple[Alert, ...] = ALERTS) -> dict[str, Any]:
    groups = []
    for name, members in render._groups(alerts).items():
        group = AlertGroup(name=name, folder=render.FOLDER, evaluateInterval=timing.interval,
                           rules=[_rule(a, settings, timing) for a in members]).to_json_data()
        groups.append({"orgId": render.ORG_ID, "name": group["name"], "folder": group["folder"],
                       "interval": group["interval"], "rules": [normalise_rule(r) for r in group["rules"]]})
    return {"apiVersion": 1, "groups": groups}


# --- contact points, policies, template ---

def _escape(value: str | None) -> str:
    return (value or "").replace("$", "$$")  # Grafana interpolates $VAR in provisioned settings


_MESSAGE = '{{ template "stackwatch.message" . }}'
_TITLE = '{{ template "stackwatch.title" . }}'


def _settings(name: str, settings: Settings) -> tuple[str, dict[str, Any]]:
    value = settings.value
    kind = BY_NAME[name].kind
    if kind == "pagerduty":
        return "pagerduty", {"integrationKey": _escape(value("PAGERDUTY_INTEGRATION_KEY")), "severity": "critical",
                             "url": _escape(value("PAGERDUTY_EVENTS_URL") or DEFAULT_PAGERDUTY_EVENTS_URL),
                             "summary": _TITLE}
    if kind == "slack":
        return "slack", {"url": _escape(value("SLACK_WEBHOOK_URL")), "title": _TITLE, "text": _MESSAGE}
    if kind == "email":
        return "email", {"addresses": _escape(value("ALERT_EMAIL_ADDRESSES")), "singleEmail": True,
                         "subject": _TITLE, "message": _MESSAGE}
    return "webhook", {"url": _escape(value(BY_NAME[name].required[0])), "httpMethod": "POST"}


def contact_points(settings: Settings) -> dict[str, Any]:
    points = []
    for name in settings.live:
        kind, config = _settings(name, settings)
        points.append({"orgId": render.ORG_ID, "name": name, "receivers": [
            {"uid": f"sw-cp-{name}", "type": kind, "settings": config, "disableResolveMessage": name == "heartbeat"}]})
    # Grafana needs an integration on every contact point: "none" mails an address under the
    # reserved .invalid domain, so what reaches it fails visibly in Grafana's log.
    points.append({"orgId": render.ORG_ID, "name": BLACKHOLE, "receivers": [
        {"uid": "sw-cp-none", "type": "email", "settings": {"addresses": "nobody@stackwatch.invalid"},
         "disableResolveMessage": True}]})
    return {"apiVersion": 1, "contactPoints": points}


def _object_matchers(matchers: list[str]) -> list[list[str]]:
    out = []
    for matcher in matchers:
        name, op, value = re.fullmatch(r'(\w+)(=~|!=|=)"(.*)"', matcher).groups()  # type: ignore[union-attr]
        out.append([name, op, value])
    return out


def _policy(route: dict[str, Any]) -> dict[str, Any]:
    """An Alertmanager route as a Grafana notification policy (the same tree, Grafana's spelling)."""
    policy: dict[str, Any] = {}
    if "receiver" in route:
        policy["receiver"] = route["receiver"]
    if "matchers" in route:
        policy["object_matchers"] = _object_matchers(route["matchers"])
    for key in ("continue", "group_wait", "group_interval", "repeat_interval", "mute_time_intervals"):
        if key in route:
            policy[key] = route[key]
    if route.get("routes"):
        policy["routes"] = [_policy(r) for r in route["routes"]]
    return policy


def policies(settings: Settings, timing: Timing = PRODUCTION) -> dict[str, Any]:
    tree = render.alertmanager_config(settings, timing)["route"]
    root = _policy(tree)
    root["group_by"] = list(routing.GROUP_BY)
    return {"apiVersion": 1,
            "muteTimes": [{"orgId": render.ORG_ID, "name": routing.MAINTENANCE,
                           "time_intervals": [routing.MAINTENANCE_WINDOW]}],
            "policies": [{"orgId": render.ORG_ID, **root}]}


def templates() -> dict[str, Any]:
    return {"apiVersion": 1, "templates": [
        {"orgId": render.ORG_ID, "name": routing.TEMPLATE_NAME, "template": routing.MESSAGE_TEMPLATE}]}


def provisioning(settings: Settings, timing: Timing = PRODUCTION) -> dict[str, dict[str, Any]]:
    return {"rules.yaml": rules(settings, timing), "contact-points.yaml": contact_points(settings),
            "policies.yaml": policies(settings, timing), "templates.yaml": templates()}
