"""Who is told about what: contact points, the routing tree, the maintenance window and the message.

One description, rendered into Grafana's policies/contact points and into the
Alertmanager twin, so both route the same alert to the same receivers.

Timing (same in both):
- group_by alertname + provider: one notification per problem per provider, not
  one per service or project (a Render-wide outage is one message, not twelve).
- group_wait 30 s (10 s for pages): long enough to batch the series of one incident
  that cross the threshold in the same evaluation or two, short next to `for`.
- group_interval 5 m: new series joining a firing group are told within 5 min.
- repeat_interval 1 h for pages (an unacknowledged page must come back), 4 h for
  warnings (once a working half-day), 24 h for info (budget milestones).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Receiver:
    name: str
    kind: str  # email, slack, pagerduty, webhook
    env: dict[str, str]  # setting -> environment variable (docker-compose.yml passes each)
    purpose: str


# SMS: Grafana has no native SMS contact point (only SNS with AWS credentials); stackwatch
# sends SMS through a `webhook` contact point to an HTTP SMS gateway (Twilio Functions,
# an Alertmanager-webhook SMS bridge, …) at SMS_WEBHOOK_URL. Alertmanager: webhook_configs.
RECEIVERS: tuple[Receiver, ...] = (
    Receiver("pager", "pagerduty", {"integrationKey": "PAGERDUTY_INTEGRATION_KEY"}, "on-call page (critical)"),
    Receiver("sms", "webhook", {"url": "SMS_WEBHOOK_URL"}, "SMS through an HTTP SMS gateway (critical)"),
    Receiver("slack", "slack", {"url": "SLACK_WEBHOOK_URL"}, "team channel (critical, warning)"),
    Receiver("email", "email", {"addresses": "ALERT_EMAIL_ADDRESSES"}, "mailbox (warning, info; default)"),
    Receiver("webhook", "webhook", {"url": "ALERT_WEBHOOK_URL"}, "generic webhook (every alert, e.g. a ticketing bridge)"),
)

# Defaults docker-compose.yml gives each variable when .env leaves it unset. Grafana refuses to
# start on an invalid contact point (an empty Slack URL, an empty PagerDuty key), so an unset
# channel gets a syntactically valid address under the reserved .invalid domain (RFC 2606):
# Grafana starts, and deliveries to that channel fail visibly in its log instead of going anywhere.
ENV_DEFAULTS: dict[str, str] = {
    "PAGERDUTY_INTEGRATION_KEY": "unset-pagerduty-integration-key",
    "SMS_WEBHOOK_URL": "http://sms-gateway.invalid/send",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.invalid/services/unset",
    "ALERT_EMAIL_ADDRESSES": "alerts@example.invalid",
    "ALERT_WEBHOOK_URL": "http://alert-webhook.invalid/stackwatch",
}


@dataclass(frozen=True)
class Route:
    receiver: str
    severities: tuple[str, ...]
    continue_: bool
    group_wait: str
    repeat_interval: str
    muted_in_maintenance: bool


GROUP_BY = ("alertname", "provider")
GROUP_WAIT = "30s"
GROUP_INTERVAL = "5m"
REPEAT_INTERVAL = "4h"
DEFAULT_RECEIVER = "email"

# Order matters: `continue` lets a critical alert reach pager, SMS and Slack. The generic
# `webhook` contact point is provisioned for integrations (ticketing, chat-ops) but routed
# nothing by default: add a route here.
ROUTES: tuple[Route, ...] = (
    Route("pager", ("critical",), True, "10s", "1h", False),
    Route("sms", ("critical",), True, "10s", "1h", False),
    Route("slack", ("critical", "warning"), True, GROUP_WAIT, REPEAT_INTERVAL, True),
    Route("email", ("warning",), False, GROUP_WAIT, REPEAT_INTERVAL, True),
    Route("email", ("info",), False, "1m", "24h", True),
)

# Planned maintenance: Sundays 02:00-04:00 UTC. Warnings and info wait it out (they are
# re-sent after the window if still firing); pages are never muted: an outage during
# maintenance that outlasts `for` is still an outage.
MAINTENANCE = "maintenance"
MAINTENANCE_WINDOW = {"weekdays": ["sunday"], "times": [{"start_time": "02:00", "end_time": "04:00"}],
                      "location": "UTC"}


def receivers_for(severity: str) -> list[str]:
    """The receivers an alert of this severity reaches (what the routing tests expect)."""
    reached: list[str] = []
    for route in ROUTES:
        if severity in route.severities:
            reached.append(route.receiver)
            if not route.continue_:
                break
    return reached or [DEFAULT_RECEIVER]


TEMPLATE_NAME = "stackwatch.message"
# Go template shared by Grafana and Alertmanager (same functions in both). No `$`: Grafana
# interpolates environment variables in provisioned templates, and `$` would need escaping.
MESSAGE_TEMPLATE = """{{ define "stackwatch.message" }}{{ range .Alerts }}[{{ .Status | toUpper }}] {{ .Labels.alertname }} ({{ .Labels.severity }}{{ if .Labels.provider }}, {{ .Labels.provider }}{{ end }})
{{ .Annotations.summary }}
Value: {{ .Annotations.value }}
{{ .Annotations.description }}
Runbook: {{ .Annotations.runbook_url }}
Dashboard: {{ .Annotations.dashboard_url }}
{{ end }}{{ end }}
"""


# Where notification links point; change them for your deployment and `make generate`.
GRAFANA_URL = "http://localhost:3000"  # GF_SERVER_ROOT_URL's default in docker-compose.yml
RUNBOOK_BASE_URL = "docs/runbooks"  # e.g. https://github.com/<org>/<repo>/blob/main/docs/runbooks
