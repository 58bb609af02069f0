"""What each channel's Alertmanager integration gets from the operator's settings when an optional
one is unset, and the board link's variables (found by mutation testing, docs/testing.md)."""

from __future__ import annotations

from dataclasses import replace

from alerting.channels import settings_or_raise
from alerting.envfile import read_env_file
from alerting.generate import EXAMPLE_ENV
from alerting.render import BLACKHOLE, DEFAULT_PAGERDUTY_EVENTS_URL, alertmanager_config, dashboard_url
from alerting.rules import ALERTS

EXAMPLE = dict(read_env_file(EXAMPLE_ENV))


def receiver(env: dict[str, str], name: str) -> dict:
    config = alertmanager_config(settings_or_raise(env))
    return next(r for r in config["receivers"] if r["name"] == name)


def without(*names: str) -> dict[str, str]:
    return {k: v for k, v in EXAMPLE.items() if k not in names}


def test_pagerduty_posts_to_the_events_url_set_else_to_pagerdutys_own() -> None:
    url = "https://events.eu.pagerduty.com/v2/enqueue"
    assert receiver({**EXAMPLE, "PAGERDUTY_EVENTS_URL": url}, "pagerduty")["pagerduty_configs"][0]["url"] == url
    assert receiver(without("PAGERDUTY_EVENTS_URL"), "pagerduty")["pagerduty_configs"][0]["url"] == (
        DEFAULT_PAGERDUTY_EVENTS_URL)


def test_email_defaults_its_sender_and_tls_and_logs_in_only_with_a_user() -> None:
    email = receiver(without("GF_SMTP_FROM_ADDRESS", "GF_SMTP_PASSWORD"), "email")["email_configs"][0]
    assert email["from"] == "stackwatch@localhost"
    assert email["require_tls"] is True
    assert (email["auth_username"], email["auth_password"]) == ("stackwatch", "")
    plain = receiver({**EXAMPLE, "ALERT_SMTP_REQUIRE_TLS": "FALSE"}, "email")["email_configs"][0]
    assert plain["require_tls"] is False
    assert "auth_username" not in receiver(without("GF_SMTP_USER", "GF_SMTP_PASSWORD"), "email")["email_configs"][0]


def test_without_heartbeat_or_webhook_the_watchdog_goes_nowhere_and_no_webhook_route_exists() -> None:
    routes = alertmanager_config(settings_or_raise(without("HEARTBEAT_URL", "ALERT_WEBHOOK_URL")))["route"]["routes"]
    watchdog = next(r for r in routes if r.get("matchers") == ['alertname="Watchdog"'])
    assert watchdog["receiver"] == BLACKHOLE
    assert not [r for r in routes if r.get("receiver") == "webhook"]
    full = alertmanager_config(settings_or_raise(EXAMPLE))["route"]["routes"]
    assert next(r for r in full if r.get("matchers") == ['alertname="Watchdog"'])["receiver"] == "heartbeat"
    assert [r for r in full if r.get("receiver") == "webhook"]


def test_a_board_link_sets_each_variable_from_the_firing_series_labels() -> None:
    alert = replace(ALERTS[0], dashboard="stackwatch-render", dashboard_vars={"service": "service", "env": "deployment_environment"})
    assert dashboard_url(alert, settings_or_raise(EXAMPLE)) == (
        "https://grafana.example.com/d/stackwatch-render?"
        "var-env={{ $labels.deployment_environment | urlquery }}&var-service={{ $labels.service | urlquery }}")
