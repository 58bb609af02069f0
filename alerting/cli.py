"""`stackwatch alerts render` and `stackwatch alerts test --receiver NAME`."""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import routing
from .channels import BY_NAME, SettingsError, read_settings, settings_or_raise, summary
from .envfile import read_env_file
from .files import render_files, write
from .model import PRODUCTION

app = typer.Typer(no_args_is_help=True, help="Alert rules, routing and notifications (docs/alerting.md).")

EnvFileOption = Annotated[Optional[Path], typer.Option(
    "--env-file", help="Read the settings from this KEY=VALUE file (compose's .env) instead of the environment.")]


def _environ(env_file: Path | None) -> dict[str, str]:
    if env_file is None:
        return dict(os.environ)
    try:
        return read_env_file(env_file)
    except (OSError, ValueError) as error:
        typer.echo(f"stackwatch alerts: --env-file {env_file}: {getattr(error, 'strerror', None) or error}", err=True)
        raise typer.Exit(code=2) from None


@app.command("render")
def render_command(
        output: Annotated[Path, typer.Option("--output", "-o", help="Directory to write prometheus/, alertmanager/, grafana/ into.")],
        env_file: EnvFileOption = None,
        time_scale: Annotated[float, typer.Option(hidden=True, help="Tests only: every `for`, window and "
                                                  "group_wait/group_interval times this factor.")] = 1.0,
        evaluation_interval: Annotated[str, typer.Option(hidden=True, help="Tests only: rule groups' interval.")] = "",
) -> None:
    """Render Prometheus' rules, Alertmanager's config and Grafana's alerting files from the settings
    in the environment (channels, GF_SERVER_ROOT_URL, RUNBOOK_BASE_URL); exit 2 on a bad setting."""
    try:
        settings = settings_or_raise(_environ(env_file))
    except SettingsError as error:
        typer.echo("stackwatch alerts render: invalid alerting settings:\n" + "\n".join(f"  - {p}" for p in error.problems),
                   err=True)
        raise typer.Exit(code=2) from None
    timing = PRODUCTION
    if time_scale != 1.0:
        timing = PRODUCTION.scaled(time_scale, interval=evaluation_interval or PRODUCTION.interval)
    write(render_files(settings, timing), output)
    typer.echo(f"alerting files written to {output}; {summary(settings)}", err=True)


def _metrics(base: str) -> dict[tuple[str, str], float]:
    """Alertmanager's delivery attempts by (metric, receiver_name): `requests` (attempts made),
    `requests_failed` (attempts the receiver refused), `failed:<reason>` (notifications given up)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
        text = response.read(8 * 1024 * 1024).decode("utf-8", errors="replace")
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        match = re.match(r'^alertmanager_(notification_requests_total|notification_requests_failed_total|'
                         r'notifications_failed_total)\{([^}]*)\} (\S+)$', line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        metric = {"notification_requests_total": "requests", "notification_requests_failed_total": "requests_failed",
                  "notifications_failed_total": f"failed:{labels.get('reason', '')}"}[match.group(1)]
        key = (metric, labels.get("receiver_name", ""))
        out[key] = out.get(key, 0.0) + float(match.group(3))
    return out


@app.command("test")
def test_command(
        receiver: Annotated[str, typer.Option("--receiver", help="pagerduty, sms, slack, email, webhook or heartbeat.")],
        alertmanager: Annotated[str, typer.Option(envvar="STACKWATCH_ALERTMANAGER_URL",
                                                  help="Alertmanager's base URL.")] = "http://localhost:9093",
        env_file: EnvFileOption = None,
        timeout: Annotated[float, typer.Option(help="Seconds to wait for Alertmanager's delivery.")] = 60.0,
) -> None:
    """Send a test notification through the real path: an alert posted to Alertmanager's API that
    routes only to RECEIVER; wait for Alertmanager's delivery and say whether it succeeded."""
    if receiver not in BY_NAME:
        typer.echo(f"--receiver: expected one of {', '.join(BY_NAME)} (got {receiver!r})", err=True)
        raise typer.Exit(code=2)
    settings = read_settings(_environ(env_file))
    if receiver not in settings.live:
        needed = " and ".join(BY_NAME[receiver].required)
        typer.echo(f"{receiver} is not configured: set {needed} (docs/alerting.md, Receiving alerts), "
                   "restart the stack (docker compose up -d), then send the test again", err=True)
        raise typer.Exit(code=2)
    base = alertmanager.rstrip("/")
    try:
        before = _metrics(base)
        now = datetime.now(timezone.utc)
        alert = [{"labels": {"alertname": routing.TEST_ALERT, routing.TEST_LABEL: receiver, "severity": "info",
                             "instance": f"test-{int(now.timestamp())}"},
                  "annotations": {"summary": f"stackwatch test notification to {receiver}",
                                  "description": "Sent by `stackwatch alerts test`: the path from Alertmanager to "
                                                 "this channel works.", "value": "1"},
                  "startsAt": now.isoformat(), "endsAt": (now + timedelta(minutes=5)).isoformat()}]
        request = urllib.request.Request(f"{base}/api/v2/alerts", data=json.dumps(alert).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10):
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1.0)
            after = _metrics(base)
            grew = {metric: after.get((metric, receiver), 0.0) - before.get((metric, receiver), 0.0)
                    for metric, name in after if name == receiver}
            if grew.get("requests_failed", 0) > 0:
                reasons = sorted(m.removeprefix("failed:") for m, d in grew.items() if m.startswith("failed:") and d > 0)
                typer.echo(f"{receiver}: Alertmanager's delivery failed ({', '.join(reasons) or 'the receiver answered an error'}; "
                           "Alertmanager retries): its log says why (docker compose logs alertmanager)", err=True)
                raise typer.Exit(code=1)
            if grew.get("requests", 0) > 0:
                typer.echo(f"{receiver}: test notification delivered by Alertmanager ({base})")
                return
    except (OSError, urllib.error.URLError, ValueError) as error:
        typer.echo(f"stackwatch alerts test: Alertmanager at {base} unreachable ({error}); is the stack up?", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"{receiver}: no delivery attempt within {timeout:g} s (was Alertmanager started with "
               "--enable-feature=receiver-name-in-metrics, as docker-compose.yml does?)", err=True)
    raise typer.Exit(code=1)


def main() -> None:  # pragma: no cover - `python -m alerting.cli`
    app()
    sys.exit(0)
