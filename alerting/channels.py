"""Notification channels from the environment: a channel whose settings are present is live and
gets a receiver and routes; an unset one is skipped (no receiver, no failed deliveries).

`stackwatch alerts render` (the compose init service `alerting-config`) turns the environment
into Alertmanager's config; `stackwatch check-config` and `stackwatch validate` read the same
settings through `read_settings`, so what they report is what Alertmanager runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Channel:
    name: str  # the receiver's name (what `stackwatch alerts test --receiver` takes)
    kind: str  # Alertmanager integration: pagerduty, webhook, slack, email
    required: tuple[str, ...]  # every one set: the channel is live
    optional: tuple[str, ...]
    purpose: str


CHANNELS: tuple[Channel, ...] = (
    Channel("pagerduty", "pagerduty", ("PAGERDUTY_INTEGRATION_KEY",), ("PAGERDUTY_EVENTS_URL",),
            "on-call page through a PagerDuty Events API v2 integration (critical)"),
    # Alertmanager has no SMS integration: SMS goes as Alertmanager's webhook JSON to an HTTP SMS
    # gateway that reads it (an Alertmanager-webhook SMS bridge, a Twilio Function).
    Channel("sms", "webhook", ("SMS_WEBHOOK_URL",), (), "SMS through an HTTP SMS gateway (critical)"),
    Channel("slack", "slack", ("SLACK_WEBHOOK_URL",), (), "team channel (critical, warning)"),
    Channel("email", "email", ("ALERT_EMAIL_ADDRESSES", "GF_SMTP_HOST"),
            ("GF_SMTP_USER", "GF_SMTP_PASSWORD", "GF_SMTP_FROM_ADDRESS", "ALERT_SMTP_REQUIRE_TLS"),
            "mailbox (warning, info); needs an SMTP server (the GF_SMTP_* settings Grafana uses too)"),
    Channel("webhook", "webhook", ("ALERT_WEBHOOK_URL",), (), "generic webhook: every alert (a ticketing bridge)"),
    Channel("heartbeat", "webhook", ("HEARTBEAT_URL",), (),
            "dead-man's switch: the Watchdog every 5 min (healthchecks.io, a PagerDuty/Opsgenie heartbeat)"),
)
BY_NAME = {c.name: c for c in CHANNELS}

# Who is told, per severity: every live channel of the first group that has one (so a team with
# only Slack gets its pages in Slack, and info reaches Slack when no mail server is set), plus the
# generic webhook, which gets every alert.
SEVERITY_GROUPS: dict[str, tuple[tuple[str, ...], ...]] = {
    "critical": (("pagerduty", "sms", "slack"), ("email",)),
    "warning": (("slack", "email"),),
    "info": (("email",), ("slack",)),
}
FALLBACK_ORDER = ("email", "slack")  # the root route's receiver: alerts no severity route takes
BLACKHOLE = "none"  # a receiver without integrations: shown in Grafana and Alertmanager, sent nowhere

LINK_VARIABLES = ("GF_SERVER_ROOT_URL", "RUNBOOK_BASE_URL")
DEFAULT_GRAFANA_URL = "http://localhost:3000"  # GF_SERVER_ROOT_URL's default in docker-compose.yml
DEFAULT_PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
_EMAIL = re.compile(r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,]+$")
_HOSTPORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")


class SettingsError(ValueError):
    """Settings that cannot be used; `problems` name the variable and what is expected."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Settings:
    values: dict[str, str]  # the set (non-empty) variables this module reads
    live: tuple[str, ...]  # live channels, in CHANNELS order
    skipped: tuple[str, ...]  # channels with no setting at all
    grafana_url: str
    runbook_base_url: str | None
    problems: list[str] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        return self.values.get(name)

    def receivers_for(self, severity: str) -> list[str]:
        """The channels an alert of this severity reaches (the generic webhook included)."""
        reached: list[str] = []
        for group in SEVERITY_GROUPS.get(severity, ()):
            live = [c for c in group if c in self.live]
            if live:
                reached = live
                break
        if "webhook" in self.live:
            reached = [*reached, "webhook"]
        return reached

    def fallback(self) -> str:
        return next((c for c in FALLBACK_ORDER if c in self.live), BLACKHOLE)


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _absolute_url(variable: str, value: str, *, https_only: bool = False) -> str | None:
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        return (f"{variable}: expected an absolute {'https' if https_only else 'http:// or https'}:// URL "
                f"(got {'a value that is not one' if value else 'an empty value'})")
    if https_only and parts.scheme != "https" and parts.hostname not in _LOOPBACK:
        return f"{variable}: expected an https:// URL (plain http only on loopback: the URL is a secret)"
    return None


def _check(name: str, value: str) -> str | None:
    if name in ("SLACK_WEBHOOK_URL",):
        return _absolute_url(name, value, https_only=True)
    if name.endswith("_URL"):
        return _absolute_url(name, value)
    if name == "ALERT_EMAIL_ADDRESSES":
        bad = [a for a in re.split(r"[;,]", value) if a.strip() and not _EMAIL.match(a.strip())]
        if bad or not value.strip(" ;,"):
            return f"{name}: expected e-mail addresses separated by ';' or ',' ({len(bad)} not an address)"
    if name == "GF_SMTP_HOST" and not _HOSTPORT.match(value):
        return f"{name}: expected host:port of the SMTP server, such as smtp.example.com:587"
    if name == "PAGERDUTY_INTEGRATION_KEY" and (len(value) < 8 or not value.isascii() or not value.isprintable()
                                                 or any(c.isspace() for c in value)):
        return f"{name}: expected the integration (routing) key of a PagerDuty Events API v2 integration"
    if name == "ALERT_SMTP_REQUIRE_TLS" and value.lower() not in ("true", "false"):
        return f"{name}: expected true or false"
    return None


def read_settings(environ: Mapping[str, str]) -> Settings:
    """Which channels are live, the link bases, and every problem with a set value (a problem
    never shows the value: webhook URLs and keys are secrets)."""
    names = {n for c in CHANNELS for n in (*c.required, *c.optional)} | set(LINK_VARIABLES)
    values = {n: environ[n].strip() for n in names if (environ.get(n) or "").strip()}
    problems = [p for n, v in sorted(values.items()) if (p := _check(n, v))]
    live, skipped = [], []
    for channel in CHANNELS:
        present = [n for n in channel.required if n in values]
        if len(present) == len(channel.required):
            live.append(channel.name)
        elif present:
            missing = ", ".join(n for n in channel.required if n not in values)
            problems.append(f"{channel.name}: {', '.join(present)} is set but {missing} is not "
                            f"(the {channel.name} channel needs both)")
        else:
            skipped.append(channel.name)
    grafana = values.get("GF_SERVER_ROOT_URL", DEFAULT_GRAFANA_URL).rstrip("/")
    runbooks = values.get("RUNBOOK_BASE_URL")
    return Settings(values, tuple(live), tuple(skipped), grafana, runbooks.rstrip("/") if runbooks else None,
                    problems)


def settings_or_raise(environ: Mapping[str, str]) -> Settings:
    settings = read_settings(environ)
    if settings.problems:
        raise SettingsError(settings.problems)
    return settings


def summary(settings: Settings) -> str:
    """One line for check-config and the render step: what is live, what is skipped."""
    critical = settings.receivers_for("critical")
    return (f"alert channels live: {', '.join(settings.live) or 'none'}; skipped (not set): "
            f"{', '.join(settings.skipped) or 'none'}; critical alerts reach: {', '.join(critical) or 'NOBODY'}; "
            f"runbook links: {settings.runbook_base_url or 'none (RUNBOOK_BASE_URL not set)'}")
