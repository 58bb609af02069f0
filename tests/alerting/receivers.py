"""Stand-ins for the services at the far end of each channel, reading what Alertmanager really
sends them: Slack's incoming webhook (JSON with our message template's text), PagerDuty's Events
API v2 (trigger and resolve events, the alerts' labels in Alertmanager's custom_details), plain webhooks (the SMS
gateway, the generic webhook and the heartbeat: Alertmanager's webhook JSON) and an SMTP server
(aiosmtpd) for e-mail. Each records one Notification per alert a delivery carries, parsed from
what a person would read (the template prints every alert's labels).

    env = sink.environment()   # SLACK_WEBHOOK_URL=http://127.0.0.1:P/slack, PAGERDUTY_EVENTS_URL=…
"""

from __future__ import annotations

import email
import json
import re
import threading
import time
from dataclasses import dataclass
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from simhelpers import free_port

LINE = re.compile(r"^\[(FIRING|RESOLVED)\] (\S+) \((\w*)\)(.*)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')
MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str  # firing | resolved
    labels: dict[str, str]
    received_monotonic: float
    delivery: int  # deliveries to one receiver are numbered: alerts of one delivery share it

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def key(self) -> tuple:
        return self.alertname, tuple(sorted(self.labels.items()))


def parse_template_text(text: str) -> list[tuple[str, dict[str, str]]]:
    """(status, labels) of every alert line our template prints."""
    alerts = []
    for line in text.splitlines():
        match = LINE.match(line.strip())
        if match:
            status, name, severity, rest = match.groups()
            labels = {"alertname": name, "severity": severity, **dict(LABEL.findall(rest))}
            alerts.append((status.lower(), labels))
    return alerts


class Receivers:
    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self.deliveries: dict[str, int] = {}
        self.lock = threading.Lock()
        self.fail: set[str] = set()  # receivers that answer 500 (a delivery that fails)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = min(int(self.headers.get("Content-Length", "0")), MAX_BODY)
                body = json.loads(self.rfile.read(length) or b"{}")
                receiver = self.path.strip("/").split("/")[0]
                if receiver in sink.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                sink.record(receiver, sink.parse(receiver, body))
                if receiver == "pagerduty":  # as the Events API v2 answers
                    self.send_response(202)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"status": "success", "message": "Event processed"}')
                else:  # as Slack's incoming webhooks answer (and any webhook)
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.end_headers()
                    self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self._pagerduty: dict[str, list[dict[str, str]]] = {}  # dedup_key -> labels it triggered

        class Smtp:
            async def handle_DATA(self, _server, _session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
                message = email.message_from_bytes(envelope.content, policy=policy.default)
                part = message.get_body(preferencelist=("plain",))
                text = part.get_content() if part is not None else ""
                sink.record("email", parse_template_text(text))
                return "250 OK"

        self.smtp_port = free_port()  # aiosmtpd needs a port it can connect to once started
        self.smtp = Controller(Smtp(), hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()

    def parse(self, receiver: str, body: dict) -> list[tuple[str, dict[str, str]]]:
        if receiver == "slack":
            texts = [a.get("text", "") for a in body.get("attachments", [])] + [body.get("text", "")]
            return [alert for text in texts for alert in parse_template_text(text)]
        if receiver == "pagerduty":
            # Alertmanager's default custom_details: the group's firing and resolved alerts with labels.
            details = (body.get("payload") or {}).get("custom_details") or {}
            alerts = [(status, a["labels"]) for status in ("firing", "resolved") for a in details.get(status) or []]
            key = body.get("dedup_key", "")
            if body.get("event_action") == "trigger":
                self._pagerduty[key] = [labels for status, labels in alerts if status == "firing"]
                return alerts
            # A resolve event closes the incident the trigger opened (every alert of its group).
            return alerts or [("resolved", labels) for labels in self._pagerduty.get(key, [])]
        return [(a["status"], a["labels"]) for a in body.get("alerts", [])]

    def record(self, receiver: str, alerts: list[tuple[str, dict[str, str]]]) -> None:
        now = time.monotonic()
        with self.lock:
            number = self.deliveries[receiver] = self.deliveries.get(receiver, 0) + 1
            self.notifications += [Notification(receiver, status, labels, now, number) for status, labels in alerts]

    def since(self, mark: float) -> list[Notification]:
        with self.lock:
            return [n for n in self.notifications if n.received_monotonic >= mark]

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.port}/{receiver}"

    def environment(self, channels: tuple[str, ...] = ("pagerduty", "sms", "slack", "email", "webhook", "heartbeat"),
                    ) -> dict[str, str]:
        """The .env a team would write for these channels, pointed at these stand-ins."""
        env = {"GF_SERVER_ROOT_URL": "https://grafana.test.example/",
               "RUNBOOK_BASE_URL": "https://git.test.example/ops/blob/main/docs/runbooks"}
        if "pagerduty" in channels:
            env.update(PAGERDUTY_INTEGRATION_KEY="test0routing0key0000", PAGERDUTY_EVENTS_URL=self.url("pagerduty"))
        if "sms" in channels:
            env["SMS_WEBHOOK_URL"] = self.url("sms")
        if "slack" in channels:
            env["SLACK_WEBHOOK_URL"] = self.url("slack")  # https, or plain http on loopback
        if "email" in channels:
            env.update(ALERT_EMAIL_ADDRESSES="oncall@test.example", GF_SMTP_HOST=f"127.0.0.1:{self.smtp_port}",
                       GF_SMTP_FROM_ADDRESS="stackwatch@test.example", ALERT_SMTP_REQUIRE_TLS="false")
        if "webhook" in channels:
            env["ALERT_WEBHOOK_URL"] = self.url("webhook")
        if "heartbeat" in channels:
            env["HEARTBEAT_URL"] = self.url("heartbeat")
        return env

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.smtp.stop()
