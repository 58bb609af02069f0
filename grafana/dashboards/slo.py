"""Probes & SLOs: blackbox uptime, probe phases, TLS expiry and multi-window burn rates."""

from __future__ import annotations

from .common import ENV, OVERVIEW, SLO, Board, Panel, Query, Row, Variable

PROBE = 'job="blackbox", tier=~"$tier"'
OBJECTIVE = f"scalar(max(stackwatch_threshold_availability_ratio{{{ENV}}}))"
TIER = Variable("tier", "Tier", 'label_values(probe_success{job="blackbox"}, tier)',
                "Probe tier (frontend, backend) from prometheus/targets/*/probes.yml.")
ENVIRONMENT = Variable("environment", "Environment",
                       "label_values(stackwatch_threshold_availability_ratio, deployment_environment)",
                       "deployment.environment whose availability objective applies.")


def burn(window: str) -> str:
    """Error-budget burn rate over `window`: error ratio / (1 - objective); 1 spends the budget exactly."""
    return (f"(1 - avg by (tier) (avg_over_time(probe_success{{{PROBE}}}[{window}]))) / (1 - {OBJECTIVE})")


def board() -> Board:
    uptime = Row("Uptime", [
        Panel("stat", "Up now", "Latest probe of each target (1 up). Down: open the URL; if it works from "
              "here, check the probe's failing phase below.",
              (Query(f"min by (instance) (probe_success{{{PROBE}}})", "{{instance}}", scenario="outage"),),
              unit="none", width=8, height=6, steps=(("red", None), ("green", 1)),
              mappings=({"type": "value", "options": {"0": {"text": "DOWN", "index": 0},
                                                      "1": {"text": "UP", "index": 1}}},)),
        Panel("timeseries", "Availability", "Share of successful probes per tier (1 h windows) against the "
              "availability objective (dashed, from config).",
              (Query(f"avg by (tier) (avg_over_time(probe_success{{{PROBE}}}[1h]))", "{{tier}}"),
               Query(f"max(stackwatch_threshold_availability_ratio{{{ENV}}})", "objective", threshold=True)),
              unit="percentunit", width=16, height=6, links=(OVERVIEW,)),
    ])
    phases = Row("Probe phases and TLS", [
        Panel("timeseries", "Probe duration by phase", "Time of each HTTP phase (resolve, connect, tls, "
              "processing, transfer) per target. The phase that grew is where to look: DNS, network, TLS "
              "handshake or the server.",
              (Query(f"sum by (instance, phase) (probe_http_duration_seconds{{{PROBE}}})",
                     "{{instance}} {{phase}}"),),
              unit="s", width=12, height=8, stack=True),
        Panel("timeseries", "Response time vs threshold", "Whole probe duration per target against the "
              "tier's response-time threshold (frontend; from config).",
              (Query(f"max by (instance) (probe_duration_seconds{{{PROBE}}})", "{{instance}}"),
               Query(f"max(stackwatch_threshold_response_time_seconds{{{ENV}, tier=\"frontend\"}})",
                     "frontend threshold", threshold=True)),
              unit="s", width=6, height=8),
        Panel("stat", "HTTP status", "Latest HTTP status code per target (0: no response).",
              (Query(f"max by (instance) (probe_http_status_code{{{PROBE}}})", "{{instance}}"),),
              unit="none", width=6, height=8, steps=(("red", None), ("green", 200), ("orange", 300),
                                                     ("red", 400))),
        Panel("stat", "TLS certificate expires in", "Days until the earliest certificate of each HTTPS target "
              "expires. Under 14 days: renewal failed; renew now (the demo's plain-HTTP targets show "
              "'No data').",
              (Query(f"min by (instance) (probe_ssl_earliest_cert_expiry{{{PROBE}}} - time())", "{{instance}}",
                     demo_gap="the demo's probed sites are plain HTTP: no certificate"),),
              unit="s", width=24, height=4, steps=(("red", None), ("orange", 604800), ("green", 1209600))),
    ])
    burn_rates = Row("Error-budget burn rate (multi-window)", [
        Panel("timeseries", "Fast burn (1 h and 5 m)", "Burn rate over 1 h and 5 m: page when both exceed "
              "14.4 (2 % of a 30-day budget in an hour). The short window confirms it is still happening.",
              (Query(burn("1h"), "1h {{tier}}"), Query(burn("5m"), "5m {{tier}}")),
              unit="none", decimals=1, width=12, height=8, steps=(("green", None), ("red", 14.4))),
        Panel("timeseries", "Slow burn (6 h and 30 m)", "Burn rate over 6 h and 30 m: ticket when both exceed "
              "6 (5 % of the budget in 6 h).",
              (Query(burn("6h"), "6h {{tier}}"), Query(burn("30m"), "30m {{tier}}")),
              unit="none", decimals=1, width=12, height=8, steps=(("green", None), ("orange", 6))),
    ])
    return Board(SLO.uid, "stackwatch · Probes & SLOs",
                 "Blackbox uptime per target, probe phases, TLS expiry and multi-window error-budget burn "
                 "rates against the availability objective.",
                 "now-24h", [uptime, phases, burn_rates], (ENVIRONMENT, TIER))
