"""Who is told about what, and when: timing per severity, inhibition, escalation, the maintenance
window and the message. Which channels exist comes from the environment (alerting/channels.py).

Timing:
- group_by alertname + the object's labels (OBJECT_LABELS): one notification per alert per
  object. Alertmanager's notification log keeps only the alerts a message showed: in a group of
  several objects, one whose warning is held back by its critical step (inhibited) is left out of
  the message that tells another object resolved, and its own resolve is then dropped as "fired
  and resolved" unseen. A group per object keeps every resolve; a Render-wide outage is one
  message per service.
- group_wait 30 s (10 s for pages): long enough to batch the series of one incident
  that cross the threshold in the same evaluation or two, short next to `for`.
- group_interval 5 m: new series joining a firing group are told within 5 min.
- repeat_interval 1 h for pages (an unacknowledged page comes back until it resolves or is
  silenced), 4 h for warnings (once a working half-day), 24 h for info and for alerts with
  `cadence: daily` (budgets: nothing to fix at 3 am).
"""

from __future__ import annotations

from dataclasses import dataclass

GROUP_WAIT = "30s"
GROUP_INTERVAL = "5m"
REPEAT_INTERVAL = "4h"


@dataclass(frozen=True)
class SeverityTiming:
    group_wait: str
    repeat_interval: str
    muted_in_maintenance: bool


SEVERITY_TIMING = {
    "critical": SeverityTiming("10s", "1h", False),  # pages are never muted
    "warning": SeverityTiming(GROUP_WAIT, REPEAT_INTERVAL, True),
    "info": SeverityTiming("1m", "24h", True),
}
DAILY_REPEAT = "24h"  # alerts labelled cadence="daily"
# The Watchdog: its heartbeat must arrive more often than the dead-man's switch's period.
HEARTBEAT_GROUP_INTERVAL = "1m"
HEARTBEAT_REPEAT_INTERVAL = "5m"
# `stackwatch alerts test --receiver NAME` sends an alert with this label: it reaches only NAME.
TEST_LABEL = "stackwatch_test"
TEST_ALERT = "StackwatchTestNotification"

# Planned maintenance: Sundays 02:00-04:00 UTC. Warnings and info wait it out (they are re-sent
# after the window if still firing); pages are never muted: an outage during maintenance that
# outlasts `for` is still an outage.
MAINTENANCE = "maintenance"
MAINTENANCE_WINDOW = {"weekdays": ["sunday"], "times": [{"start_time": "02:00", "end_time": "04:00"}],
                      "location": "UTC"}

# Labels that name the object an alert is about: critical inhibits warning only on the same one.
OBJECT_LABELS = ("alertname", "provider", "tier", "service", "project", "instance", "status", "job", "input")
GROUP_BY = OBJECT_LABELS  # a group per alert per object: every resolve is sent (the docstring says why)


@dataclass(frozen=True)
class Inhibition:
    """While an alert matching `source` fires, alerts matching `target` with the same `equal`
    labels are not notified (they still show, as inhibited, in Alertmanager and Grafana)."""

    why: str
    source: tuple[str, ...]
    target: tuple[str, ...]
    equal: tuple[str, ...]


INHIBITIONS: tuple[Inhibition, ...] = (
    Inhibition("escalation: the critical step of an alert silences its warning step on the same object",
               ('severity="critical"',), ('severity="warning"',), OBJECT_LABELS),
    Inhibition("a faster burn of a tier's error budget silences the slower burn alerts of that tier",
               ('alertname="AvailabilityBudgetBurnFast"',),
               ('alertname=~"AvailabilityBudgetBurnMedium|AvailabilityBudgetBurnSlow"',), ("tier",)),
    Inhibition("the medium burn silences the slow burn of the same tier",
               ('alertname="AvailabilityBudgetBurnMedium"',), ('alertname="AvailabilityBudgetBurnSlow"',), ("tier",)),
    Inhibition("a provider stackwatch cannot poll: its other stackwatch alerts read stale data",
               ('alertname="ProviderApiDown"',), ('source="stackwatch"', 'alertname!="ProviderApiDown"'),
               ("provider",)),
    Inhibition("stackwatch not reporting: every alert on its data is blind",
               ('alertname="StackwatchAbsent"',), ('source="stackwatch"',), ()),
    Inhibition("a scrape job whose targets fail: its inputs are absent because of it",
               ('alertname="ScrapeTargetDown"',), ('alertname="AlertInputAbsent"',), ("job",)),
    Inhibition("a read-only database is what its full disk leads to: one notification, the page",
               ('alertname="SupabaseDatabaseReadOnly"',), ('alertname="SupabaseDiskUtilizationHigh"',), ("project",)),
    Inhibition("a project whose database is down is unhealthy because of it",
               ('alertname="SupabaseDatabaseDown"',),
               ('alertname=~"SupabaseProjectUnhealthy|DatabaseResponseTimeHigh|DatabaseConnectionsHigh"',),
               ("project",)),
)

TEMPLATE_NAME = "stackwatch.message"
# Go template shared by Alertmanager and Grafana (same functions in both). One line per alert with
# its status, name, severity and every label (what a person and the end-to-end test both read),
# then the summary, value and links. No `$`: Grafana interpolates environment variables in
# provisioned templates, and `$` would need escaping.
MESSAGE_TEMPLATE = """{{ define "stackwatch.alert" }}[{{ .Status | toUpper }}] {{ .Labels.alertname }} ({{ .Labels.severity }}){{ range .Labels.SortedPairs }}{{ if and (ne .Name "alertname") (ne .Name "severity") }} {{ .Name }}="{{ .Value }}"{{ end }}{{ end }}
{{ .Annotations.summary }}
Value: {{ .Annotations.value }}
{{ .Annotations.description }}
{{ if .Annotations.runbook_url }}Runbook: {{ .Annotations.runbook_url }}
{{ end }}{{ if .Annotations.dashboard_url }}Dashboard: {{ .Annotations.dashboard_url }}
{{ end }}{{ end }}{{ define "stackwatch.message" }}{{ range .Alerts }}{{ template "stackwatch.alert" . }}
{{ end }}{{ end }}{{ define "stackwatch.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }}{{ if .CommonLabels.provider }}, {{ .CommonLabels.provider }}{{ end }}){{ end }}
"""
