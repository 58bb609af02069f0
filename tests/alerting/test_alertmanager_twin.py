"""The Alertmanager twin: amtool validates the config, and routes every severity (for every
provider) to the receivers the routing table names."""

from __future__ import annotations

import subprocess

import pytest
from conftest import TWIN

CONFIG = TWIN / "alertmanager.yml"
PROVIDERS = ("vercel", "render", "supabase", "openai", "llamacloud", "all", "blackbox", "stackwatch")
# Written out from the issue (critical -> pager + SMS + Slack, warning -> Slack + email,
# info -> email), not read from alerting/routing.py.
EXPECTED = {"critical": "pager,sms,slack", "warning": "slack,email", "info": "email"}


def test_amtool_accepts_the_config(amtool):
    done = subprocess.run([str(amtool), "check-config", str(CONFIG)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 inhibit rules" in done.stdout and "5 receivers" in done.stdout


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("severity", sorted(EXPECTED))
def test_routing_reaches_the_receivers_of_each_severity(amtool, severity, provider):
    done = subprocess.run(
        [str(amtool), "config", "routes", "test", f"--config.file={CONFIG}",
         f"--verify.receivers={EXPECTED[severity]}", f"severity={severity}", f"provider={provider}",
         "alertname=AnyAlert"],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == EXPECTED[severity]


def test_an_alert_without_severity_falls_back_to_email(amtool):
    done = subprocess.run([str(amtool), "config", "routes", "test", f"--config.file={CONFIG}",
                           "--verify.receivers=email", "alertname=Unlabelled"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
