"""The native stack with the shipped alert path: Prometheus evaluates the rules `stackwatch alerts
render` writes (as compose's alerting-config does) and sends to Alertmanager at the pinned
version, configured by the same render from a team's .env whose channels point at the stand-ins of
receivers.py (Slack's webhook, PagerDuty's Events API, an SMS gateway, a generic webhook, a
heartbeat service, an SMTP server).

    simulator ─► stackwatch ─► otelcol ─► prometheus (+ blackbox, supabase scrape)
                                              │ rules: stackwatch alerts render (timing scaled)
                                              ▼
                                         alertmanager: the same render, channels from the .env
                                              │ slack_configs, pagerduty_configs, webhook_configs, email_configs
                                              ▼
                                         receivers.Receivers (what arrives, per channel)

Test overrides, none of them in the shipped files:
- timing: `stackwatch alerts render --time-scale 0.05 --evaluation-interval 2s` (every `for` and
  range window × 1/20: `for: 5m` becomes 15 s, a 5 m window 15 s; group_wait and group_interval
  × 1/20 too; repeat intervals as shipped);
- the maintenance window moved to the year 2000 in the rendered alertmanager.yml (a run on a
  Sunday at 02:00 UTC must not go quiet; tests/alerting/test_alertmanager_routing.py proves the window);
- scrape intervals of the blackbox and Supabase jobs 5 s (production: 30 s and 60 s), Prometheus'
  global evaluation interval 2 s;
- stackwatch's config: budgets from the simulator's ground truth (steady spend under budget, the
  cost-spike over it), a 30 s data-staleness threshold, a 1 USD/h runaway-spend floor.
Used by tests/alerting/e2e_incidents.py and benchmarks/alerts.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from receivers import Notification, Receivers
from stack.conftest import Stack, build_stack, http_json, stop_stack

FACTOR = 1 / 20
EVALUATION_INTERVAL_S = 2.0
PROBE_SCRAPE_INTERVAL_S = 5.0
CHANNELS = ("pagerduty", "sms", "slack", "email", "webhook", "heartbeat")


def prometheus_overrides(config_path: Path) -> None:
    config = yaml.safe_load(config_path.read_text())
    config["global"]["evaluation_interval"] = f"{EVALUATION_INTERVAL_S:g}s"
    for job in config["scrape_configs"]:
        if job["job_name"] in ("blackbox", "supabase"):
            job["scrape_interval"] = job["scrape_timeout"] = f"{PROBE_SCRAPE_INTERVAL_S:g}s"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def never_in_maintenance(config_file: Path) -> None:
    config = yaml.safe_load(config_file.read_text())
    config["time_intervals"][0]["time_intervals"] = [{"years": ["2000"]}]
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))


def budgets_from_ground_truth(steady: dict, spike: dict) -> dict:
    """Daily budgets between what each provider spends today in steady state and under the
    cost-spike (both from the simulator's ground truth); monthly budgets far above anything."""
    daily = {}
    for provider, truth in steady.items():
        calm, spiked = truth["today_usd"], spike[provider]["today_usd"]
        if spiked > 1.5 * calm + 1.0:  # a provider the spike moves clearly: budget in between
            daily[provider] = round((calm + spiked) / 2, 2)
    month = sum(t["month_to_date_usd"] for t in steady.values())
    monthly = {"total": round(100 * month + 1000, 2)}
    return {"daily_usd": daily, "monthly_usd": monthly}


@dataclass
class AlertStack:
    stack: Stack
    sink: Receivers
    budgets: dict = field(default_factory=dict)

    def set_scenarios(self, *names: str) -> float:
        """Run these simulator scenarios side by side (none: steady); returns when it took effect."""
        http_json(f"{self.stack.simulator_url}/_sim/scenario", {"names": list(names) or ["steady"]})
        return time.monotonic()

    def since(self, mark: float) -> list[Notification]:
        return self.sink.since(mark)

    def alerts(self, state: str = "firing") -> list[dict]:
        """Alerts Prometheus holds in this state now."""
        body = http_json(f"{self.stack.prom.base_url}/api/v1/alerts")
        return [a for a in body["data"]["alerts"] if a["state"] == state]

    def rule_errors(self) -> list[str]:
        """Rules whose last evaluation failed (a label clash, a bad query)."""
        body = http_json(f"{self.stack.prom.base_url}/api/v1/rules?type=alert")
        return [f"{r['name']}: {r.get('lastError')}" for g in body["data"]["groups"] for r in g["rules"]
                if r.get("health") != "ok" and r.get("lastError")]

    def alertmanager_alerts(self) -> list[dict]:
        return http_json(f"{self.stack.alertmanager_url}/api/v2/alerts")

    def stop(self) -> None:
        stop_stack(self.stack)
        self.sink.close()


def start_alert_stack(tools, workdir: Path) -> AlertStack:
    sink = Receivers()
    stack = build_stack(tools, workdir, alerting_env=sink.environment(CHANNELS), alert_time_scale=FACTOR,
                        evaluation_interval=f"{EVALUATION_INTERVAL_S:g}s")
    never_in_maintenance(workdir / "alerting-config" / "alertmanager" / "alertmanager.yml")
    prometheus_overrides(workdir / "prometheus" / "prometheus.yml")
    alert_stack = AlertStack(stack, sink)
    try:
        for service in (stack.alertmanager, stack.prometheus, stack.blackbox, stack.collector, stack.simulator):
            service.start()
        # Budgets from the simulator's own figures, read before stackwatch polls anything.
        steady = stack.ground_truth()["providers"]
        stack.set_scenario("cost-spike")
        spike = stack.ground_truth()["providers"]
        stack.set_scenario("steady")
        alert_stack.budgets = budgets_from_ground_truth(steady, spike)
        config_file = workdir / "stackwatch.yaml"
        config = yaml.safe_load(config_file.read_text())
        config["budgets"] = alert_stack.budgets
        config.setdefault("thresholds", {}).update(data_staleness_seconds=30, runaway_spend_floor_hourly_usd=1)
        config_file.write_text(yaml.safe_dump(config))
        stack.stackwatch.start()
    except BaseException:
        alert_stack.stop()
        raise
    return alert_stack
