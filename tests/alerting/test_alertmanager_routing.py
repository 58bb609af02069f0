"""Alertmanager's config as `stackwatch alerts render` writes it, proved against Alertmanager and
amtool at the version compose pins: amtool checks it and routes each severity to the channels the
team configured (a route per set channel, unset ones skipped, fallbacks); a real Alertmanager (on
loopback, delivering to the stand-ins of receivers.py) inhibits, mutes warnings in maintenance
while pages keep paging, repeats pages until a silence acknowledges them, and delivers
`stackwatch alerts test --receiver NAME` to that receiver only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from conftest import ALERTMANAGER_CONFIG
from receivers import Receivers
from stack.conftest import STACKWATCH, alertmanager_command, free_port, http_get, wait_until

from alerting import render
from alerting.channels import read_settings
from alerting.files import render_files, write
from alerting.model import PRODUCTION

EVERY_CHANNEL = ("pagerduty", "sms", "slack", "email", "webhook", "heartbeat")


def amtool_routes(amtool: Path, config: Path, *labels: str) -> str:
    done = subprocess.run([str(amtool), "config", "routes", "test", f"--config.file={config}", *labels],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def rendered_config(tmp_path: Path, env: dict[str, str]) -> Path:
    write(render_files(read_settings(env)), tmp_path)
    return tmp_path / "alertmanager" / "alertmanager.yml"


def test_amtool_accepts_the_reference_config(amtool):
    done = subprocess.run([str(amtool), "check-config", str(ALERTMANAGER_CONFIG)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 inhibit rules" in done.stdout and "7 receivers" in done.stdout  # six channels and `none`


# Written out from docs/alerting.md's table, not read from alerting/channels.py.
TEAMS = {
    "every channel": ({"PAGERDUTY_INTEGRATION_KEY": "k" * 20, "SMS_WEBHOOK_URL": "https://sms.test/x",
                       "SLACK_WEBHOOK_URL": "https://hooks.slack.com/x", "ALERT_EMAIL_ADDRESSES": "a@test.example",
                       "GF_SMTP_HOST": "smtp.test.example:587", "ALERT_WEBHOOK_URL": "https://hooks.test/x",
                       "HEARTBEAT_URL": "https://hc.test/x"},
                      {"critical": "webhook,pagerduty,sms,slack", "warning": "webhook,slack,email", "info": "webhook,email",
                       "Watchdog": "heartbeat", "unlabelled": "email"}),
    # A team with only Slack: its pages go to Slack (the fallback chain), nothing fails.
    "only slack": ({"SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"},
                   {"critical": "slack", "warning": "slack", "info": "slack", "Watchdog": "none", "unlabelled": "slack"}),
    "pagerduty and email": ({"PAGERDUTY_INTEGRATION_KEY": "k" * 20, "ALERT_EMAIL_ADDRESSES": "a@test.example",
                             "GF_SMTP_HOST": "smtp.test.example:587"},
                            {"critical": "pagerduty", "warning": "email", "info": "email", "Watchdog": "none",
                             "unlabelled": "email"}),
    # E-mail addresses without a mail server: not a live channel (info would reach no one).
    "nothing": ({}, {"critical": "none", "warning": "none", "info": "none", "Watchdog": "none", "unlabelled": "none"}),
}


@pytest.mark.parametrize("team", sorted(TEAMS))
def test_each_severity_reaches_the_channels_the_team_configured(amtool, tmp_path, team):
    env, expected = TEAMS[team]
    config = rendered_config(tmp_path, env)
    for what, receivers in expected.items():
        labels = {"Watchdog": ["alertname=Watchdog", "severity=none"], "unlabelled": ["alertname=Unknown"]}.get(
            what, [f"severity={what}", "alertname=AnyAlert", "provider=render"])
        assert amtool_routes(amtool, config, *labels) == receivers, (team, what)


def test_a_test_notification_reaches_only_its_receiver(amtool, tmp_path):
    config = rendered_config(tmp_path, TEAMS["every channel"][0])
    for name in EVERY_CHANNEL:
        assert amtool_routes(amtool, config, "alertname=StackwatchTestNotification", f"stackwatch_test={name}",
                             "severity=info") == name


def test_budget_alerts_repeat_daily_and_pages_hourly(tmp_path):
    config = yaml.safe_load(rendered_config(tmp_path, TEAMS["every channel"][0]).read_text())
    routes = {tuple(r.get("matchers", [])): r for r in config["route"]["routes"]}
    assert routes[('severity="critical"',)]["repeat_interval"] == "1h"
    assert routes[('severity="warning"', 'cadence="daily"')]["repeat_interval"] == "24h"
    assert routes[('severity="warning"',)]["repeat_interval"] == "4h"
    assert all("mute_time_intervals" not in r for r in routes[('severity="critical"',)]["routes"])


# --- a real Alertmanager ---

def never_in_maintenance(config: dict) -> None:
    """The maintenance window moved to the year 2000: a test run on a Sunday at 02:00 UTC must not
    go quiet (the only change to the rendered config; the window's own test moves it onto now)."""
    config["time_intervals"][0]["time_intervals"] = [{"years": ["2000"]}]


class LoneAlertmanager:
    """Alertmanager (the compose service's command line) on a rendered config, delivering to stand-ins."""

    def __init__(self, binary: Path, workdir: Path, sink: Receivers, *, edit=never_in_maintenance) -> None:
        timing = PRODUCTION.scaled(1 / 20, interval="2s")  # group_wait 1-2 s, group_interval 15 s
        files = render_files(read_settings(sink.environment()), timing)
        write(files, workdir / "config")
        config_file = workdir / "config" / "alertmanager" / "alertmanager.yml"
        config = yaml.safe_load(config_file.read_text())
        edit(config)
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        self.port = free_port()
        listen = f"127.0.0.1:{self.port}"
        log = (workdir / "alertmanager.log").open("wb")
        self.process = subprocess.Popen(alertmanager_command(binary, config_file.parent, workdir / "data", listen),
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.url = f"http://{listen}"
        wait_until(lambda: http_get(f"{self.url}/-/ready")[0] == 200, timeout=60, what="Alertmanager ready")

    def post(self, *alerts: dict[str, str], minutes: float = 10) -> None:
        """Firing for `minutes` more; a negative `minutes` resolves them (ended that long ago)."""
        now = datetime.now(timezone.utc)
        starts = now if minutes > 0 else now + timedelta(minutes=minutes - 1)
        body = [{"labels": labels, "annotations": {"summary": "s", "value": "1", "description": "d"},
                 "startsAt": starts.isoformat(), "endsAt": (now + timedelta(minutes=minutes)).isoformat()} for labels in alerts]
        request = urllib.request.Request(f"{self.url}/api/v2/alerts", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()

    def alerts(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=10) as response:
            return json.loads(response.read())

    def silence(self, matchers: dict[str, str]) -> None:
        now = datetime.now(timezone.utc)
        body = {"matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
                "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
                "createdBy": "on-call", "comment": "acknowledged: working on it"}
        request = urllib.request.Request(f"{self.url}/api/v2/silences", data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def sink() -> Iterator[Receivers]:
    receivers = Receivers()
    yield receivers
    receivers.close()


@pytest.fixture
def lone(alertmanager_binary, tmp_path, sink) -> Iterator[LoneAlertmanager]:
    alertmanager = LoneAlertmanager(alertmanager_binary, tmp_path, sink)
    yield alertmanager
    alertmanager.stop()


def received(sink: Receivers, name: str, status: str = "firing") -> set[str]:
    return {n.receiver for n in sink.notifications if n.alertname == name and n.status == status}


def test_inhibitions_hold_back_what_a_cause_explains_and_nothing_else(lone, sink):
    lone.post(
        # escalation: the critical step silences its warning on the same service, not another's
        {"alertname": "CpuUtilizationHigh", "severity": "critical", "service": "api", "provider": "render", "tier": "backend", "source": "stackwatch"},
        {"alertname": "CpuUtilizationHigh", "severity": "warning", "service": "api", "provider": "render", "tier": "backend", "source": "stackwatch"},
        {"alertname": "CpuUtilizationHigh", "severity": "warning", "service": "web", "provider": "render", "tier": "backend", "source": "stackwatch"},
        # ProviderApiDown holds back that provider's stackwatch alerts
        {"alertname": "ProviderApiDown", "severity": "warning", "provider": "openai", "source": "stackwatch", "tier": "collection"},
        {"alertname": "ProviderDataStale", "severity": "warning", "provider": "openai", "source": "stackwatch", "tier": "collection"},
        {"alertname": "ProviderDataStale", "severity": "warning", "provider": "vercel", "source": "stackwatch", "tier": "collection"},
        # a failing scrape job holds back its absent inputs
        {"alertname": "ScrapeTargetDown", "severity": "warning", "job": "blackbox", "instance": "x", "source": "prometheus"},
        {"alertname": "AlertInputAbsent", "severity": "warning", "job": "blackbox", "input": "probe_success/frontend", "source": "blackbox"},
        # a fast burn holds back the medium burn of the same tier
        {"alertname": "AvailabilityBudgetBurnFast", "severity": "critical", "tier": "backend", "provider": "blackbox", "source": "blackbox"},
        {"alertname": "AvailabilityBudgetBurnMedium", "severity": "critical", "tier": "backend", "provider": "blackbox", "source": "blackbox"},
        {"alertname": "AvailabilityBudgetBurnMedium", "severity": "critical", "tier": "frontend", "provider": "blackbox", "source": "blackbox"},
        # read-only mode holds back the disk warning of the same project, not another's
        {"alertname": "SupabaseDatabaseReadOnly", "severity": "critical", "project": "production", "provider": "supabase",
         "tier": "database", "source": "stackwatch"},
        {"alertname": "SupabaseDiskUtilizationHigh", "severity": "warning", "project": "production", "provider": "supabase",
         "tier": "database", "source": "stackwatch"},
        {"alertname": "SupabaseDiskUtilizationHigh", "severity": "warning", "project": "staging", "provider": "supabase",
         "tier": "database", "source": "stackwatch"},
    )

    def states() -> dict[tuple, bool]:
        return {(a["labels"]["alertname"], a["labels"]["severity"], a["labels"].get("service", a["labels"].get("provider",
                 a["labels"].get("tier", "")))): bool(a["status"]["inhibitedBy"]) for a in lone.alerts()}
    expected = {("CpuUtilizationHigh", "critical", "api"): False, ("CpuUtilizationHigh", "warning", "api"): True,
                ("CpuUtilizationHigh", "warning", "web"): False, ("ProviderApiDown", "warning", "openai"): False,
                ("ProviderDataStale", "warning", "openai"): True, ("ProviderDataStale", "warning", "vercel"): False,
                ("ScrapeTargetDown", "warning", ""): False, ("AlertInputAbsent", "warning", ""): True,
                ("AvailabilityBudgetBurnFast", "critical", "blackbox"): False,
                ("AvailabilityBudgetBurnMedium", "critical", "blackbox"): None}
    wait_until(lambda: len(lone.alerts()) == 14, timeout=30, what="the 14 alerts in Alertmanager")
    got = states()
    for key, inhibited in expected.items():
        if inhibited is not None:
            assert got[key] is inhibited, (key, got)
    mediums = {a["labels"]["tier"]: bool(a["status"]["inhibitedBy"]) for a in lone.alerts()
               if a["labels"]["alertname"] == "AvailabilityBudgetBurnMedium"}
    assert mediums == {"backend": True, "frontend": False}
    disks = {a["labels"]["project"]: bool(a["status"]["inhibitedBy"]) for a in lone.alerts()
             if a["labels"]["alertname"] == "SupabaseDiskUtilizationHigh"}
    assert disks == {"production": True, "staging": False}
    # What is inhibited is never delivered; the rest is, on its severity's channels.
    wait_until(lambda: received(sink, "ProviderApiDown") >= {"slack", "email", "webhook"}, timeout=60, what="deliveries")
    time.sleep(3)
    delivered = {(n.alertname, n.labels.get("service") or n.labels.get("provider") or n.labels.get("tier", ""))
                 for n in sink.notifications}
    assert ("ProviderDataStale", "openai") not in delivered and ("ProviderDataStale", "vercel") in delivered
    assert ("AlertInputAbsent", "") not in delivered and not any(n.alertname == "AlertInputAbsent" for n in sink.notifications)
    assert not any(n.alertname == "CpuUtilizationHigh" and n.labels["severity"] == "warning" and n.labels["service"] == "api"
                   for n in sink.notifications)
    assert received(sink, "CpuUtilizationHigh") == {"pagerduty", "sms", "slack", "email", "webhook"}  # web's warning: email


def slow_database(project: str, severity: str) -> dict[str, str]:
    return {"alertname": "DatabaseResponseTimeHigh", "severity": severity, "project": project,
            "provider": "supabase", "tier": "database", "source": "supabase-metrics"}


def escalate_then_resolve_one_by_one(lone: LoneAlertmanager, sink: Receivers) -> None:
    """Two projects' warnings notified, then held back by their critical steps; production's pair
    resolves, a flush passes, then staging's (each critical first, as Prometheus sends them)."""
    lone.post(slow_database("production", "warning"), slow_database("staging", "warning"))
    wait_until(lambda: {n.labels.get("project") for n in sink.notifications if n.receiver == "slack"
                        and n.status == "firing"} == {"production", "staging"}, timeout=60, what="both warnings in Slack")
    lone.post(slow_database("production", "critical"), slow_database("staging", "critical"))
    wait_until(lambda: sum(bool(a["status"]["inhibitedBy"]) for a in lone.alerts()) == 2, timeout=30,
               what="both warnings held back by their critical steps")
    for project in ("production", "staging"):
        lone.post(slow_database(project, "critical"), minutes=-1 / 60)
        lone.post(slow_database(project, "warning"), minutes=-1 / 60)
        if project == "production":
            wait_until(lambda: resolved_warnings(sink, "slack") == {"production"}, timeout=60,
                       what="production's warning resolved in Slack")


def resolved_warnings(sink: Receivers, receiver: str) -> set[str]:
    return {n.labels["project"] for n in sink.notifications if n.receiver == receiver and n.status == "resolved"
            and n.labels["severity"] == "warning"}


def test_every_object_resolves_even_when_its_warning_was_held_back_by_its_critical(lone, sink):
    """A group per alert and object: staging's warning, held back while production's resolve went
    out, still resolves in Slack and e-mail."""
    escalate_then_resolve_one_by_one(lone, sink)
    wait_until(lambda: all(resolved_warnings(sink, r) == {"production", "staging"} for r in ("slack", "email")),
               timeout=90, what="both warnings resolved in Slack and e-mail")


def test_grouping_objects_together_would_drop_a_held_back_warnings_resolve(alertmanager_binary, tmp_path, sink):
    """Why the groups are per object: grouped by alertname and provider only, Alertmanager's
    notification log forgets staging's held-back warning when production's resolve goes out, and
    staging's resolve never reaches Slack (three group intervals and more)."""
    def by_provider(config: dict) -> None:
        never_in_maintenance(config)
        config["route"]["group_by"] = ["alertname", "provider"]
    lone = LoneAlertmanager(alertmanager_binary, tmp_path, sink, edit=by_provider)
    try:
        escalate_then_resolve_one_by_one(lone, sink)
        wait_until(lambda: any(n.status == "resolved" and n.labels["severity"] == "critical"
                               and n.labels["project"] == "staging" for n in sink.notifications if n.receiver == "slack"),
                   timeout=90, what="staging's critical resolved in Slack")
        time.sleep(3 * 15)  # three group intervals (15 s at this scale): a resolve would have gone out
        assert resolved_warnings(sink, "slack") == {"production"}
    finally:
        lone.stop()


def test_stackwatch_absent_holds_back_every_alert_on_its_data(lone, sink):
    lone.post({"alertname": "StackwatchAbsent", "severity": "critical", "provider": "stackwatch", "source": "prometheus"},
              {"alertname": "AlertInputAbsent", "severity": "warning", "input": "stackwatch_threshold_cpu_utilization_ratio",
               "source": "stackwatch"},
              {"alertname": "ScrapeTargetDown", "severity": "warning", "job": "supabase", "source": "prometheus"})
    wait_until(lambda: len(lone.alerts()) == 3, timeout=30, what="the alerts")
    inhibited = {a["labels"]["alertname"]: bool(a["status"]["inhibitedBy"]) for a in lone.alerts()}
    assert inhibited == {"StackwatchAbsent": False, "AlertInputAbsent": True, "ScrapeTargetDown": False}


def test_pages_repeat_until_a_silence_acknowledges_them(alertmanager_binary, tmp_path, sink):
    """Escalation Alertmanager can do: an unacknowledged page comes back every repeat_interval (1 h,
    here 4 s); a silence in Grafana or Alertmanager is the acknowledgement that stops it."""
    def fast_repeats(config: dict) -> None:
        never_in_maintenance(config)
        for route in config["route"]["routes"]:
            if route.get("matchers") == ['severity="critical"']:
                route["repeat_interval"] = "4s"
        config["route"]["group_interval"] = "1s"
    lone = LoneAlertmanager(alertmanager_binary, tmp_path, sink, edit=fast_repeats)
    try:
        lone.post({"alertname": "SupabaseDatabaseDown", "severity": "critical", "project": "staging",
                   "provider": "supabase", "source": "supabase-metrics"})
        wait_until(lambda: sink.deliveries.get("pagerduty", 0) >= 3, timeout=60, what="the page repeated")
        lone.silence({"alertname": "SupabaseDatabaseDown", "project": "staging"})
        time.sleep(2)
        after = sink.deliveries.get("pagerduty", 0)
        time.sleep(10)
        assert sink.deliveries.get("pagerduty", 0) == after, "a silenced page kept repeating"
    finally:
        lone.stop()


def test_maintenance_mutes_warnings_and_pages_keep_paging(alertmanager_binary, tmp_path, sink):
    def always_maintenance(config: dict) -> None:  # the window made to cover now (the only change)
        config["time_intervals"][0]["time_intervals"] = [{"times": [{"start_time": "00:00", "end_time": "24:00"}]}]
    lone = LoneAlertmanager(alertmanager_binary, tmp_path, sink, edit=always_maintenance)
    try:
        lone.post({"alertname": "ErrorRateHigh", "severity": "critical", "service": "api", "provider": "render",
                   "source": "stackwatch"},
                  {"alertname": "DeployFailed", "severity": "warning", "service": "api", "provider": "render",
                   "source": "stackwatch"})
        wait_until(lambda: received(sink, "ErrorRateHigh") >= {"pagerduty", "sms", "slack"}, timeout=60, what="the page")
        time.sleep(5)
        assert received(sink, "DeployFailed") <= {"webhook"}  # Slack and e-mail wait out the window
    finally:
        lone.stop()


def test_the_watchdog_reaches_only_the_heartbeat(lone, sink):
    lone.post({"alertname": "Watchdog", "severity": "none", "source": "prometheus"})
    wait_until(lambda: received(sink, "Watchdog") == {"heartbeat"}, timeout=60, what="the heartbeat")
    time.sleep(3)
    assert received(sink, "Watchdog") == {"heartbeat"}


def stackwatch_alerts_test(lone: LoneAlertmanager, sink: Receivers, receiver: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run([str(STACKWATCH), "alerts", "test", "--receiver", receiver, "--alertmanager", lone.url,
                           "--timeout", "60"], env={**base, **sink.environment(), **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("receiver", ["slack", "email", "pagerduty"])
def test_stackwatch_alerts_test_sends_one_notification_to_the_chosen_receiver_only(lone, sink, receiver):
    done = stackwatch_alerts_test(lone, sink, receiver)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{receiver}: test notification delivered" in done.stdout
    wait_until(lambda: received(sink, "StackwatchTestNotification") == {receiver}, timeout=30, what="the test notification")
    assert {n.receiver for n in sink.notifications} == {receiver}


def test_stackwatch_alerts_test_reports_a_failed_delivery_and_an_unset_channel(lone, sink):
    sink.fail.add("sms")
    failed = stackwatch_alerts_test(lone, sink, "sms")
    assert failed.returncode == 1 and "delivery failed" in failed.stderr, failed.stdout + failed.stderr
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    unset = subprocess.run([str(STACKWATCH), "alerts", "test", "--receiver", "slack", "--alertmanager", lone.url],
                           env=base, capture_output=True, text=True, timeout=60)
    assert unset.returncode == 2 and "set SLACK_WEBHOOK_URL" in unset.stderr


def test_render_refuses_a_relative_runbook_url_naming_the_variable(tmp_path):
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    done = subprocess.run([str(STACKWATCH), "alerts", "render", "--output", str(tmp_path)],
                          env={**base, "RUNBOOK_BASE_URL": "docs/runbooks"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "RUNBOOK_BASE_URL" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "alertmanager").exists()


_ = (sys, render)
