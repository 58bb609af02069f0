"""Render the alert definitions and the routing into what runs: Prometheus' rule file and
Alertmanager's config (the default path), and Grafana's file provisioning (the opt-in form,
alerting/grafana_form.py). Links and channels come from the environment (alerting/channels.py),
so `stackwatch alerts render` runs at the stack's start and `make generate` writes a reference
rendering of alerting/example.env.
"""

from __future__ import annotations

import re
from typing import Any

from . import routing
from .channels import BLACKHOLE, BY_NAME, DEFAULT_PAGERDUTY_EVENTS_URL, Settings
from .model import PRODUCTION, Alert, Timing, ValueFormat
from .rules import ALERTS

FOLDER = "stackwatch"
ORG_ID = 1
DATASOURCE_UID = "prometheus"  # grafana/provisioning/datasources/
# Grafana expression steps: A = the PromQL (breaching series only), B = last value of each,
# C = fire for every series A returned (is_number: any real value, 0 included; NaN/Inf never).
QUERY, REDUCE, CONDITION = "A", "B", "C"
TEMPLATE_FILE = "stackwatch.tmpl"


# --- annotations ---

_PROMETHEUS_VALUE = {
    ValueFormat.SECONDS: "{{ $value | humanizeDuration }}",
    ValueFormat.RATIO: "{{ $value | humanizePercentage }}",
    ValueFormat.USD: '{{ printf "%.2f" $value }} USD',
    ValueFormat.COUNT: "{{ $value | humanize }}",
    ValueFormat.FACTOR: '{{ printf "%.1f" $value }}x',
}


def _value_template(fmt: ValueFormat, grafana: bool) -> str:
    text = _PROMETHEUS_VALUE[fmt]
    # Grafana: the reduced value of step B ($value there is a description string, not a number).
    return text.replace("$value", f"$values.{REDUCE}.Value") if grafana else text


def figure_refs(index: int) -> tuple[str, str]:
    """Grafana steps of an alert's figure: its query and the reduce of it (D and E for the first)."""
    return chr(ord("D") + 2 * index), chr(ord("E") + 2 * index)


def _figure_template(alert: Alert, index: int, timing: Timing, grafana: bool) -> str:
    figure = alert.figures[index]
    text = _PROMETHEUS_VALUE[figure.value_format]
    if grafana:  # its own query and reduce steps; $values holds each reduce step's value for the instance
        return text.replace("$value", f"$values.{figure_refs(index)[1]}.Value")
    # Prometheus: the template's `query` runs the figure's PromQL; the series of the firing object is
    # the one whose `on` labels equal the alert's (a label a series lacks reads as "" on both sides).
    same = [f"(eq .Labels.{label} $labels.{label})" for label in figure.on]
    condition = same[0] if len(same) == 1 else f"and {' '.join(same)}"
    expr = " ".join(timing.fill(figure.expr).split())
    return (f"{{{{ range query `{expr}` }}}}{{{{ if {condition} }}}}"
            f"{text.replace('$value', '.Value')}{{{{ end }}}}{{{{ end }}}}")


def render_text(text: str, fmt: ValueFormat, *, grafana: bool, alert: Alert | None = None,
                timing: Timing = PRODUCTION) -> str:
    text = text.replace("{value}", _value_template(fmt, grafana))
    for index, figure in enumerate(alert.figures if alert else ()):
        text = text.replace(f"{{figure:{figure.name}}}", _figure_template(alert, index, timing, grafana))
    return re.sub(r"\{label:([a-z_]+)\}", r"{{ $labels.\1 }}", text)


def runbook_path(name: str) -> str:
    return f"docs/runbooks/{name}.md"


def runbook_url(name: str, settings: Settings) -> str | None:
    return f"{settings.runbook_base_url}/{name}.md" if settings.runbook_base_url else None


def dashboard_url(alert: Alert, settings: Settings) -> str:
    """The alert's board at Grafana's root URL, its variables set to the firing object."""
    query = "&".join(f"var-{var}={{{{ $labels.{label} | urlquery }}}}" for var, label in sorted(alert.dashboard_vars.items()))
    return f"{settings.grafana_url}/d/{alert.dashboard}" + (f"?{query}" if query else "")


def annotations(alert: Alert, settings: Settings, *, grafana: bool, timing: Timing = PRODUCTION) -> dict[str, str]:
    notes = {
        "summary": render_text(alert.summary, alert.value_format, grafana=grafana, alert=alert, timing=timing),
        "description": render_text(alert.description, alert.value_format, grafana=grafana, alert=alert, timing=timing),
        "value": _value_template(alert.value_format, grafana),
        "runbook": runbook_path(alert.name),
        "dashboard_url": dashboard_url(alert, settings),
    }
    if (url := runbook_url(alert.name, settings)) is not None:
        notes["runbook_url"] = url
    return notes


def _groups(alerts: tuple[Alert, ...]) -> dict[str, list[Alert]]:
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.group, []).append(alert)
    return groups


# --- Prometheus ---

def prometheus_rules(settings: Settings, timing: Timing = PRODUCTION,
                     alerts: tuple[Alert, ...] = ALERTS) -> dict[str, Any]:
    return {"groups": [
        {"name": f"stackwatch-{name}", "interval": timing.interval, "rules": [
            {"alert": a.name, "expr": timing.expr_of(a), "for": timing.for_of(a),
             "labels": a.static_labels(), "annotations": annotations(a, settings, grafana=False, timing=timing)}
            for a in members]}
        for name, members in _groups(alerts).items()]}


# --- Alertmanager ---

_TEXT = '{{ template "stackwatch.message" . }}'
_TITLE = '{{ template "stackwatch.title" . }}'


def _integration(name: str, settings: Settings) -> dict[str, Any]:
    value = settings.value
    kind = BY_NAME[name].kind
    if kind == "pagerduty":
        return {"pagerduty_configs": [{
            "routing_key": value("PAGERDUTY_INTEGRATION_KEY"),
            "url": value("PAGERDUTY_EVENTS_URL") or DEFAULT_PAGERDUTY_EVENTS_URL,
            # custom_details: Alertmanager's default (the firing and resolved alerts with their labels).
            "description": _TITLE, "send_resolved": True}]}
    if kind == "slack":
        return {"slack_configs": [{"api_url": value("SLACK_WEBHOOK_URL"), "title": _TITLE, "text": _TEXT,
                                   "send_resolved": True}]}
    if kind == "email":
        config: dict[str, Any] = {"to": value("ALERT_EMAIL_ADDRESSES"), "smarthost": value("GF_SMTP_HOST"),
                                  "from": value("GF_SMTP_FROM_ADDRESS") or "stackwatch@localhost",
                                  "text": _TEXT, "headers": {"Subject": _TITLE}, "send_resolved": True,
                                  "require_tls": (value("ALERT_SMTP_REQUIRE_TLS") or "true").lower() == "true"}
        if value("GF_SMTP_USER"):
            config.update(auth_username=value("GF_SMTP_USER"), auth_password=value("GF_SMTP_PASSWORD") or "")
        return {"email_configs": [config]}
    variable = BY_NAME[name].required[0]
    return {"webhook_configs": [{"url": value(variable), "send_resolved": name != "heartbeat"}]}


def _severity_routes(settings: Settings, timing: Timing) -> list[dict[str, Any]]:
    routes = []
    for severity, when in routing.SEVERITY_TIMING.items():
        receivers = [r for r in settings.receivers_for(severity) if r != "webhook"] or [BLACKHOLE]
        for cadence in (("daily", routing.DAILY_REPEAT), None):
            if cadence is not None and cadence[1] == when.repeat_interval or cadence and severity == "critical":
                continue  # a page repeats hourly whatever it is; info is daily anyway
            matchers = [f'severity="{severity}"'] + ([f'cadence="{cadence[0]}"'] if cadence else [])
            mute = {"mute_time_intervals": [routing.MAINTENANCE]} if when.muted_in_maintenance else {}
            routes.append({
                "matchers": matchers,
                "group_wait": timing.scale_routing(when.group_wait),
                "repeat_interval": cadence[1] if cadence else when.repeat_interval,
                "routes": [{"receiver": r, "continue": True, **mute} for r in receivers],
            })
    return routes


def alertmanager_config(settings: Settings, timing: Timing = PRODUCTION) -> dict[str, Any]:
    """Alertmanager's config for the live channels (`timing` scales group_wait and group_interval
    for the end-to-end tests; repeat intervals are never scaled)."""
    live = list(settings.live)
    test_routes = [{"receiver": name, "matchers": [f'{routing.TEST_LABEL}="{name}"'], "group_wait": "0s",
                    "group_interval": "10s", "repeat_interval": "1h"} for name in live]
    heartbeat = {"receiver": "heartbeat" if "heartbeat" in live else BLACKHOLE,
                 "matchers": ['alertname="Watchdog"'], "group_wait": "0s",
                 "group_interval": routing.HEARTBEAT_GROUP_INTERVAL,
                 "repeat_interval": routing.HEARTBEAT_REPEAT_INTERVAL}
    webhook = ([{"receiver": "webhook", "matchers": ['severity=~"critical|warning|info"'], "continue": True}]
               if "webhook" in live else [])
    return {
        "global": {"resolve_timeout": "5m"},
        "templates": [TEMPLATE_FILE],
        "route": {
            "receiver": settings.fallback(),
            "group_by": list(routing.GROUP_BY),
            "group_wait": timing.scale_routing(routing.GROUP_WAIT),
            "group_interval": timing.scale_routing(routing.GROUP_INTERVAL),
            "repeat_interval": routing.REPEAT_INTERVAL,
            "routes": [*test_routes, heartbeat, *webhook, *_severity_routes(settings, timing)],
        },
        "inhibit_rules": [{"source_matchers": list(i.source), "target_matchers": list(i.target),
                           **({"equal": list(i.equal)} if i.equal else {})} for i in routing.INHIBITIONS],
        "time_intervals": [{"name": routing.MAINTENANCE, "time_intervals": [routing.MAINTENANCE_WINDOW]}],
        "receivers": [{"name": BLACKHOLE}] + [{"name": name, **_integration(name, settings)} for name in live],
    }
