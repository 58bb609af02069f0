"""Alerting: the rules Prometheus evaluates, the Alertmanager it sends to, a runbook per alert, and
which channels are live (alerting/channels.py, from the environment and the project's .env: what
`stackwatch alerts render` gives Alertmanager at the stack's start)."""

from __future__ import annotations

from alerting.channels import read_settings
from alerting.rules import ALERTS
from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Check, Status

GROUP = "alerting"
PATH_GROUP = "alert path"  # silver: knowing when the alert path itself is down
RULE_GROUPS = 'rule_group=~".*stackwatch-.*"'


def _first(ctx: Context, expr: str) -> float | None:
    samples = ctx.prom.query(expr)
    return samples[0].value if samples else None


def rules_loaded(ctx: Context) -> list[Check]:
    name = "alert rules loaded and evaluating in Prometheus"
    loaded = _first(ctx, f"sum(prometheus_rule_group_rules{{{RULE_GROUPS}}})")
    if loaded is None:
        return [Check(GROUP, name, Status.FAIL, "Prometheus reports no stackwatch rule group "
                      "(prometheus_rule_group_rules, from its self-scrape)",
                      "check `docker compose logs alerting-config` and that prometheus.yml's rule_files "
                      "include alerting/*.rules.yaml")]
    failing = _first(ctx, f"sum(increase(prometheus_rule_evaluation_failures_total{{{RULE_GROUPS}}}[{ctx.window}]))")
    evidence = f"{int(loaded)} rules loaded (stackwatch defines {len(ALERTS)})"
    if loaded < len(ALERTS):
        return [Check(GROUP, name, Status.FAIL, evidence, "restart the stack so alerting-config renders the rules again")]
    if failing:
        return [Check(GROUP, name, Status.FAIL, f"{evidence}; {failing:g} failed evaluations in {ctx.window}",
                      "Prometheus' Status > Rule health shows the failing rule and its error")]
    return [Check(GROUP, name, Status.PASS, f"{evidence}; no failed evaluation in {ctx.window}")]


def alertmanager_connected(ctx: Context) -> list[Check]:
    name = "Prometheus sends alerts to Alertmanager"
    discovered = _first(ctx, "max(prometheus_notifications_alertmanagers_discovered)")
    up = _first(ctx, 'max(up{job="alertmanager"})')
    if not discovered or up != 1:
        return [Check(GROUP, name, Status.FAIL,
                      f"Alertmanagers discovered: {discovered or 0:g}; up{{job=\"alertmanager\"}}: {up if up is not None else 'absent'}",
                      "start the alertmanager service (docker compose up -d alertmanager); its log says why it stopped")]
    return [Check(GROUP, name, Status.PASS, f"{int(discovered)} Alertmanager, scraped up")]


def runbooks(ctx: Context) -> list[Check]:
    name = "every alert has a runbook"
    names = sorted({a.name for a in ALERTS})
    missing = [n for n in names if not (ctx.project_dir / "docs" / "runbooks" / f"{n}.md").is_file()]
    if missing:
        return [Check(GROUP, name, Status.FAIL, f"no docs/runbooks/<alert>.md for: {', '.join(missing)}",
                      "write the runbook (docs/runbooks/README.md has the template)")]
    return [Check(GROUP, name, Status.PASS, f"{len(names)} alerts, {len(names)} runbooks")]


def _environment(ctx: Context) -> dict[str, str]:
    return {**ctx.dotenv, **{k: v for k, v in ctx.env.items()}}


def channels(ctx: Context) -> list[Check]:
    settings = read_settings(_environment(ctx))
    live = f"live: {', '.join(settings.live) or 'none'}; skipped (not set): {', '.join(settings.skipped) or 'none'}"
    checks = []
    if settings.problems:
        checks.append(Check(GROUP, "alerting settings valid", Status.FAIL, "; ".join(settings.problems[:5]),
                            "fix the variables in .env (docs/alerting.md, Receiving alerts); "
                            "`stackwatch check-config` checks them too"))
    critical = settings.receivers_for("critical")
    name = "critical alerts have a configured channel"
    if not critical:
        checks.append(Check(GROUP, name, Status.FAIL, f"critical alerts reach nobody ({live})",
                            "set PAGERDUTY_INTEGRATION_KEY, SMS_WEBHOOK_URL or SLACK_WEBHOOK_URL in .env, "
                            "restart, and `stackwatch alerts test --receiver <name>`"))
    else:
        checks.append(Check(GROUP, name, Status.PASS, f"critical alerts reach {', '.join(critical)} ({live})"))
    quiet = [s for s in ("warning", "info") if not settings.receivers_for(s)]
    name = "warnings and info have a channel"
    if quiet:
        checks.append(Check(GROUP, name, Status.WARN, f"{' and '.join(quiet)} alerts reach nobody ({live})",
                            "set SLACK_WEBHOOK_URL, or ALERT_EMAIL_ADDRESSES with GF_SMTP_HOST"))
    else:
        checks.append(Check(GROUP, name, Status.PASS, f"warning: {', '.join(settings.receivers_for('warning'))}; "
                            f"info: {', '.join(settings.receivers_for('info'))}"))
    name = "a dead-man's switch receives the Watchdog"
    if "heartbeat" in settings.live:
        checks.append(Check(PATH_GROUP, name, Status.PASS, "HEARTBEAT_URL set: the Watchdog reaches it every 5 min"))
    else:
        checks.append(Check(PATH_GROUP, name, Status.WARN, "HEARTBEAT_URL not set: nothing notices when the alert path dies",
                            "create a check at a heartbeat service (healthchecks.io, PagerDuty, Opsgenie) expecting a "
                            "ping every 5 min, set HEARTBEAT_URL"))
    return checks


def run(ctx: Context) -> list[Check]:
    return rules_loaded(ctx) + alertmanager_connected(ctx) + runbooks(ctx) + channels(ctx)
