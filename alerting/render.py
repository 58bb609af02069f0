"""Render the alert definitions and the routing into Grafana provisioning and the Prometheus twin.

Grafana (what runs, mounted at /etc/grafana/provisioning/alerting):
  rules.yaml, contact-points.yaml, policies.yaml (policy tree + mute timing), templates.yaml
The twin (what promtool/amtool prove; what a Prometheus or Mimir ruler could run):
  prometheus-rules.yaml, alertmanager.yml, alertmanager-templates.tmpl
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from . import routing
from .model import PRODUCTION, Alert, Timing, ValueFormat
from .rules import ALERTS

FOLDER = "stackwatch"
ORG_ID = 1
DATASOURCE_UID = "prometheus"  # grafana/provisioning/datasources/prometheus.yaml
EXPRESSION_UID = "__expr__"  # Grafana's server-side expressions
# Grafana expression steps: A = the PromQL (breaching series only), B = last value of each,
# C = fire for every series A returned (is_number: any real value; NaN/Inf never fire).
QUERY, REDUCE, CONDITION = "A", "B", "C"
ALERTMANAGER_TEMPLATE_FILE = "alertmanager-templates.tmpl"


# --- annotations ---

_PROMETHEUS_VALUE = {
    ValueFormat.SECONDS: "{{ $value | humanizeDuration }}",
    ValueFormat.RATIO: "{{ $value | humanizePercentage }}",
    ValueFormat.USD: '{{ printf "%.2f" $value }} USD',
    ValueFormat.COUNT: "{{ $value | humanize }}",
}


def _value_template(fmt: ValueFormat, grafana: bool) -> str:
    text = _PROMETHEUS_VALUE[fmt]
    # Grafana: the reduced value of step B ($value there is a description string, not a number).
    return text.replace("$value", f"$values.{REDUCE}.Value") if grafana else text


def render_text(text: str, fmt: ValueFormat, *, grafana: bool) -> str:
    text = text.replace("{value}", _value_template(fmt, grafana))
    return re.sub(r"\{label:([a-z_]+)\}", r"{{ $labels.\1 }}", text)


def runbook_url(name: str) -> str:
    return f"{routing.RUNBOOK_BASE_URL}/{name}.md"


def dashboard_url(uid: str) -> str:
    return f"{routing.GRAFANA_URL}/d/{uid}"


def annotations(alert: Alert, *, grafana: bool) -> dict[str, str]:
    return {
        "summary": render_text(alert.summary, alert.value_format, grafana=grafana),
        "description": render_text(alert.description, alert.value_format, grafana=grafana),
        "value": _value_template(alert.value_format, grafana),
        "runbook_url": runbook_url(alert.name),
        "dashboard_url": dashboard_url(alert.dashboard),
    }


# --- Grafana ---

def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def grafana_uid(alert: Alert) -> str:
    return f"sw-{_kebab(alert.name)}-{alert.severity.value[:4]}"


def grafana_titles(alerts: tuple[Alert, ...] = ALERTS) -> dict[str, str]:
    """Alert key -> title. Grafana keeps titles unique in a folder, so escalation steps that
    share a name get the severity appended (Grafana's alertname label is the title)."""
    counts = Counter(a.name for a in alerts)
    return {a.key: a.name if counts[a.name] == 1 else f"{a.name} ({a.severity.value})" for a in alerts}


def grafana_rule(alert: Alert, title: str, timing: Timing) -> dict[str, Any]:
    query = {
        "refId": QUERY,
        "relativeTimeRange": {"from": 600, "to": 0},
        "datasourceUid": DATASOURCE_UID,
        "model": {"refId": QUERY, "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
                  "expr": timing.expr_of(alert), "instant": True, "range": False,
                  "editorMode": "code", "intervalMs": 1000, "maxDataPoints": 43200},
    }
    reduce = {
        "refId": REDUCE,
        "datasourceUid": EXPRESSION_UID,
        "model": {"refId": REDUCE, "datasource": {"type": "__expr__", "uid": EXPRESSION_UID},
                  "type": "reduce", "expression": QUERY, "reducer": "last", "settings": {"mode": "dropNN"}},
    }
    condition = {
        "refId": CONDITION,
        "datasourceUid": EXPRESSION_UID,
        "model": {"refId": CONDITION, "datasource": {"type": "__expr__", "uid": EXPRESSION_UID},
                  "type": "math", "expression": f"is_number(${REDUCE})"},
    }
    return {
        "uid": grafana_uid(alert),
        "title": title,
        "condition": CONDITION,
        "data": [query, reduce, condition],
        # An empty result means nothing breaches (the comparison is in the query): OK.
        # A failed query is Grafana's DatasourceError alert, not silence.
        "noDataState": "OK",
        "execErrState": "Error",
        "for": timing.for_of(alert),
        "annotations": annotations(alert, grafana=True),
        "labels": alert.static_labels(),
        "isPaused": False,
    }


def _groups(alerts: tuple[Alert, ...]) -> dict[str, list[Alert]]:
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.group, []).append(alert)
    return groups


def grafana_rules(timing: Timing = PRODUCTION, alerts: tuple[Alert, ...] = ALERTS) -> dict[str, Any]:
    titles = grafana_titles(alerts)
    return {"apiVersion": 1, "groups": [
        {"orgId": ORG_ID, "name": name, "folder": FOLDER, "interval": timing.interval,
         "rules": [grafana_rule(a, titles[a.key], timing) for a in members]}
        for name, members in _groups(alerts).items()]}


_MESSAGE = '{{ template "%s" . }}' % routing.TEMPLATE_NAME
_TITLE = "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})"


def _grafana_settings(receiver: routing.Receiver) -> dict[str, Any]:
    env = {key: f"${{{var}}}" for key, var in receiver.env.items()}  # interpolated by Grafana
    extra: dict[str, Any] = {
        "pagerduty": {"severity": "critical", "summary": _MESSAGE},
        "slack": {"title": _TITLE, "text": _MESSAGE},
        "email": {"singleEmail": True, "subject": _TITLE, "message": _MESSAGE},
        "webhook": {"httpMethod": "POST", "title": _TITLE, "message": _MESSAGE},
    }[receiver.kind]
    return {**env, **extra}


def grafana_contact_points() -> dict[str, Any]:
    return {"apiVersion": 1, "contactPoints": [
        {"orgId": ORG_ID, "name": r.name, "receivers": [
            {"uid": f"sw-cp-{r.name}", "type": r.kind, "settings": _grafana_settings(r),
             "disableResolveMessage": False}]}
        for r in routing.RECEIVERS]}


def _matcher_values(severities: tuple[str, ...]) -> tuple[str, str]:
    return ("=", severities[0]) if len(severities) == 1 else ("=~", "|".join(severities))


def grafana_policies() -> dict[str, Any]:
    routes = []
    for route in routing.ROUTES:
        op, value = _matcher_values(route.severities)
        routes.append({
            "receiver": route.receiver,
            "object_matchers": [["severity", op, value]],
            "continue": route.continue_,
            "group_wait": route.group_wait,
            "repeat_interval": route.repeat_interval,
            **({"mute_time_intervals": [routing.MAINTENANCE]} if route.muted_in_maintenance else {}),
        })
    return {
        "apiVersion": 1,
        "muteTimes": [{"orgId": ORG_ID, "name": routing.MAINTENANCE,
                       "time_intervals": [routing.MAINTENANCE_WINDOW]}],
        "policies": [{
            "orgId": ORG_ID,
            "receiver": routing.DEFAULT_RECEIVER,
            "group_by": list(routing.GROUP_BY),
            "group_wait": routing.GROUP_WAIT,
            "group_interval": routing.GROUP_INTERVAL,
            "repeat_interval": routing.REPEAT_INTERVAL,
            "routes": routes,
        }],
    }


def grafana_templates() -> dict[str, Any]:
    return {"apiVersion": 1, "templates": [
        {"orgId": ORG_ID, "name": routing.TEMPLATE_NAME, "template": routing.MESSAGE_TEMPLATE}]}


# --- the Prometheus / Alertmanager twin ---

def prometheus_rules(timing: Timing = PRODUCTION, alerts: tuple[Alert, ...] = ALERTS) -> dict[str, Any]:
    return {"groups": [
        {"name": f"stackwatch-{name}", "interval": timing.interval, "rules": [
            {"alert": a.name, "expr": timing.expr_of(a), "for": timing.for_of(a),
             "labels": a.static_labels(), "annotations": annotations(a, grafana=False)}
            for a in members]}
        for name, members in _groups(alerts).items()]}


def _alertmanager_receiver(receiver: routing.Receiver) -> dict[str, Any]:
    # Alertmanager does not read environment variables: the twin carries the same
    # .invalid defaults compose gives Grafana; fill in real values to run it for real.
    default = {key: routing.ENV_DEFAULTS[var] for key, var in receiver.env.items()}
    config = {
        "pagerduty": lambda: {"pagerduty_configs": [{"routing_key": default["integrationKey"],
                                                      "description": _MESSAGE, "send_resolved": True}]},
        "slack": lambda: {"slack_configs": [{"api_url": default["url"], "title": _TITLE, "text": _MESSAGE,
                                             "send_resolved": True}]},
        "email": lambda: {"email_configs": [{"to": default["addresses"], "text": _MESSAGE,
                                             "headers": {"Subject": _TITLE}, "send_resolved": True}]},
        "webhook": lambda: {"webhook_configs": [{"url": default["url"], "send_resolved": True}]},
    }[receiver.kind]()
    return {"name": receiver.name, **config}


def alertmanager_config() -> dict[str, Any]:
    routes = []
    for route in routing.ROUTES:
        op, value = _matcher_values(route.severities)
        routes.append({
            "receiver": route.receiver,
            "matchers": [f'severity{op}"{value}"'],
            "continue": route.continue_,
            "group_wait": route.group_wait,
            "repeat_interval": route.repeat_interval,
            **({"mute_time_intervals": [routing.MAINTENANCE]} if route.muted_in_maintenance else {}),
        })
    return {
        "global": {"resolve_timeout": "5m", "smtp_smarthost": "smtp.example.invalid:587",
                   "smtp_from": "stackwatch@example.invalid"},
        "templates": [ALERTMANAGER_TEMPLATE_FILE],
        "route": {
            "receiver": routing.DEFAULT_RECEIVER,
            "group_by": list(routing.GROUP_BY),
            "group_wait": routing.GROUP_WAIT,
            "group_interval": routing.GROUP_INTERVAL,
            "repeat_interval": routing.REPEAT_INTERVAL,
            "routes": routes,
        },
        # Escalation: while the critical step of an alert fires, its warning step is silent.
        # (Grafana's provisioning has no inhibition rules: there both steps notify.)
        "inhibit_rules": [{"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
                           "equal": ["alertname", "provider", "tier", "service", "project", "instance"]}],
        "time_intervals": [{"name": routing.MAINTENANCE, "time_intervals": [routing.MAINTENANCE_WINDOW]}],
        "receivers": [_alertmanager_receiver(r) for r in routing.RECEIVERS],
    }
