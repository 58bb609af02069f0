"""The native stack plus the alerting twin: Prometheus evaluates alerting/twin's rules and sends
to a real Alertmanager (Debian's), which routes to a webhook receiver owned by the test.

    simulator ─► stackwatch ─► otelcol ─► prometheus (+ blackbox, supabase scrape)
                                              │ rules (the twin, timing scaled)
                                              ▼
                                         alertmanager (the twin's routing tree)
                                              │ every receiver → webhook_configs
                                              ▼
                                         WebhookSink (this module; records what arrives)

Test overrides, none of them in the shipped files:
- rule timing: every `for` and every range window multiplied by FACTOR (1/20: `for: 5m`
  becomes 15 s, a 5 m rate window 15 s, the 1 h burn window 3 m), evaluation every 2 s;
  the 14-day spend baseline keeps its shape;
- scrape intervals of the blackbox and Supabase jobs 5 s (production: 30 s and 60 s);
- Alertmanager: receivers become webhooks to the sink, group_wait 1 s, group_interval 2 s,
  and no maintenance mute (a run on a Sunday at 02:00 UTC must not go quiet);
- stackwatch's config: budgets from the simulator's ground truth (so steady spend is under
  budget and the cost-spike is over it) and a 30 s data-staleness threshold.
Used by tests/alerting/e2e_incidents.py (test_e2e_alerts.py, test_e2e_alert_conditions.py) and benchmarks/alerts.py.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from stack.conftest import REPO, Service, Stack, build_stack, free_port, http_json, stop_stack

from alerting import render
from alerting.model import PRODUCTION

FACTOR = 1 / 20
EVALUATION_INTERVAL_S = 2.0
PROBE_SCRAPE_INTERVAL_S = 5.0
ALERTMANAGER_GROUP_INTERVAL_S = 2.0
TIMING = PRODUCTION.scaled(FACTOR, interval=f"{EVALUATION_INTERVAL_S:g}s")


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str  # firing | resolved
    labels: dict[str, str]
    starts_at: str
    received_monotonic: float
    received_wall: float

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


class WebhookSink:
    """An HTTP server that records every Alertmanager webhook delivery (path = receiver)."""

    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = min(int(self.headers.get("Content-Length", "0")), 10 * 1024 * 1024)
                body = json.loads(self.rfile.read(length) or b"{}")
                now_m, now_w = time.monotonic(), time.time()
                receiver = self.path.strip("/")
                with sink.lock:
                    for alert in body.get("alerts", []):
                        sink.notifications.append(Notification(receiver, alert["status"], alert["labels"],
                                                               alert.get("startsAt", ""), now_m, now_w))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.port}/{receiver}"

    def since(self, mark: float) -> list[Notification]:
        with self.lock:
            return [n for n in self.notifications if n.received_monotonic >= mark]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def alertmanager_config(sink: WebhookSink) -> dict:
    config = render.alertmanager_config()
    config["receivers"] = [{"name": r["name"], "webhook_configs": [{"url": sink.url(r["name"]), "send_resolved": True}]}
                           for r in config["receivers"]]
    config["global"] = {"resolve_timeout": "5m"}
    route = config["route"]
    route.update(group_wait="1s", group_interval=f"{ALERTMANAGER_GROUP_INTERVAL_S:g}s")
    for child in route["routes"]:
        child["group_wait"] = "1s"
        child.pop("mute_time_intervals", None)
    return config


def prometheus_overrides(config_path: Path, rules_path: Path, alertmanager_hostport: str) -> None:
    config = yaml.safe_load(config_path.read_text())
    config["global"]["evaluation_interval"] = f"{EVALUATION_INTERVAL_S:g}s"
    config["rule_files"] = [str(rules_path)]
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager_hostport]}]}]}
    for job in config["scrape_configs"]:
        if job["job_name"] in ("blackbox", "supabase"):
            job["scrape_interval"] = job["scrape_timeout"] = f"{PROBE_SCRAPE_INTERVAL_S:g}s"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


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
    alertmanager: Service
    sink: WebhookSink
    budgets: dict = field(default_factory=dict)

    def set_scenario(self, name: str, provider: str | None = None) -> float:
        """Switch the simulator's scenario; returns the monotonic time it took effect."""
        self.stack.set_scenario(name, provider)
        return time.monotonic()

    def firing(self) -> list[dict]:
        """Alerts Prometheus holds firing now (for diagnostics)."""
        body = http_json(f"{self.stack.prom.base_url}/api/v1/alerts")
        return [a for a in body["data"]["alerts"] if a["state"] == "firing"]

    def stop(self) -> None:
        stop_stack(self.stack)
        self.alertmanager.stop()
        self.sink.close()


def start_alert_stack(tools, alertmanager_binary: Path, workdir: Path) -> AlertStack:
    sink = WebhookSink()
    stack = build_stack(tools, workdir)
    am_dir = workdir / "alertmanager"
    am_dir.mkdir()
    (am_dir / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager_config(sink), sort_keys=False))
    shutil.copy(REPO / "alerting" / "twin" / render.ALERTMANAGER_TEMPLATE_FILE, am_dir)
    am_port = free_port()
    alertmanager = Service("alertmanager", [
        str(alertmanager_binary), f"--config.file={am_dir / 'alertmanager.yml'}",
        f"--storage.path={am_dir / 'data'}", f"--web.listen-address=127.0.0.1:{am_port}",
        "--cluster.listen-address=",  # one instance, no gossip port
    ], f"http://127.0.0.1:{am_port}/-/ready", workdir / "logs")
    rules = workdir / "alert-rules.yaml"
    rules.write_text(yaml.safe_dump(render.prometheus_rules(TIMING), sort_keys=False))
    prometheus_overrides(workdir / "prometheus" / "prometheus.yml", rules, f"127.0.0.1:{am_port}")

    alert_stack = AlertStack(stack, alertmanager, sink)
    try:
        alertmanager.start()
        for service in (stack.prometheus, stack.blackbox, stack.collector, stack.simulator):
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
        config.setdefault("thresholds", {})["data_staleness_seconds"] = 30
        config_file.write_text(yaml.safe_dump(config))
        stack.stackwatch.start()
    except BaseException:
        alert_stack.stop()
        raise
    return alert_stack
