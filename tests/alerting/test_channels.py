"""Channels from the environment: which are live, who gets each severity, what a bad setting says
(never its value: webhook URLs and keys are secrets), and check-config reporting them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alerting.channels import read_settings, summary

REPO = Path(__file__).resolve().parents[2]


def test_a_channel_is_live_only_with_all_its_settings_and_an_unset_one_is_skipped():
    settings = read_settings({"SLACK_WEBHOOK_URL": "https://hooks.slack.com/x", "ALERT_EMAIL_ADDRESSES": "a@b.example"})
    assert settings.live == ("slack",)
    assert "email" not in settings.skipped and "pagerduty" in settings.skipped
    assert any("GF_SMTP_HOST" in p for p in settings.problems)  # addresses without a mail server


def test_fallbacks_per_severity():
    only_email = read_settings({"ALERT_EMAIL_ADDRESSES": "a@b.example", "GF_SMTP_HOST": "smtp.b.example:587"})
    assert only_email.receivers_for("critical") == ["email"]
    assert only_email.receivers_for("info") == ["email"]
    only_slack = read_settings({"SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"})
    assert only_slack.receivers_for("info") == ["slack"] and only_slack.fallback() == "slack"
    pager = read_settings({"PAGERDUTY_INTEGRATION_KEY": "k" * 20, "ALERT_WEBHOOK_URL": "https://t.example/h"})
    assert pager.receivers_for("critical") == ["pagerduty", "webhook"] and pager.receivers_for("warning") == ["webhook"]
    assert read_settings({}).receivers_for("critical") == [] and read_settings({}).fallback() == "none"


def test_bad_settings_name_the_variable_and_never_echo_the_value():
    secret = "http://hooks.slack.example.com/T000/B000/very-secret-token"
    settings = read_settings({"SLACK_WEBHOOK_URL": secret, "RUNBOOK_BASE_URL": "docs/runbooks",
                              "GF_SERVER_ROOT_URL": "grafana:3000", "PAGERDUTY_INTEGRATION_KEY": "short"})
    text = "\n".join(settings.problems)
    for variable in ("SLACK_WEBHOOK_URL", "RUNBOOK_BASE_URL", "GF_SERVER_ROOT_URL", "PAGERDUTY_INTEGRATION_KEY"):
        assert variable in text
    assert "very-secret-token" not in text and "short" not in text.replace("shortly", "")
    # Plain http is fine on loopback only (a local relay, the tests' stand-ins).
    assert not read_settings({"SLACK_WEBHOOK_URL": "http://127.0.0.1:8080/slack"}).problems


def test_check_config_reports_the_live_channels_and_refuses_a_relative_runbook_url(tmp_path):
    config = tmp_path / "stackwatch.yaml"
    config.write_text("providers: {}\n")
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    ok = subprocess.run([sys.executable, "-m", "exporters", "check-config", "--config", str(config)],
                        env={**base, "SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"}, capture_output=True, text=True,
                        timeout=60, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert "alert channels live: slack" in ok.stdout and "critical alerts reach: slack" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "exporters", "check-config", "--config", str(config)],
                         env={**base, "RUNBOOK_BASE_URL": "docs/runbooks"}, capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert bad.returncode == 2 and "RUNBOOK_BASE_URL" in bad.stderr and "Traceback" not in bad.stderr


def test_the_summary_says_when_critical_alerts_reach_nobody():
    assert "critical alerts reach: NOBODY" in summary(read_settings({}))
