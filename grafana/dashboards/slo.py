"""Probes & SLOs: blackbox uptime, the 30-day error budget, multi-window burn rates labelled by what
they do (page or ticket, as the alert rules do), probe phases and TLS expiry."""

from __future__ import annotations

from dataclasses import dataclass

from alerting.model import PRODUCTION

from .common import (
    ENV,
    OVERVIEW,
    SLO,
    Board,
    Panel,
    Query,
    Row,
    Variable,
)
from .deploys import render_deploys, vercel_deploys
from .recordings import PROBE_AVAILABILITY_3D, PROBE_AVAILABILITY_30D, Recording

PROBE = 'job="blackbox", tier=~"$tier"'
# The latest within the step: panels stepping every 15 minutes read it at a last step up to 15 minutes
# ahead of now (Grafana ceils the range's end to the step), past a plain selector's 5-minute lookback.
OBJECTIVE = f"scalar(max(last_over_time(stackwatch_threshold_availability_ratio{{{ENV}}}[$__rate_interval])))"
TIER = Variable("tier", "Tier", 'label_values(probe_success{job="blackbox"}, tier)',
                "Probe tier (frontend, backend) from prometheus/targets/*/probes.yml.")
ENVIRONMENT = Variable("environment", "Environment",
                       "label_values(stackwatch_threshold_availability_ratio, deployment_environment)",
                       "deployment.environment whose availability objective applies.")
# The windows recorded per tier (read as the latest recorded value within each step).
RECORDED = {"30d": PROBE_AVAILABILITY_30D, "3d": PROBE_AVAILABILITY_3D}


@dataclass(frozen=True)
class BurnRate:
    """One multi-window burn-rate rule of the SRE workbook (ch. 5), as alerting/rules.py defines it: both
    windows above `factor` × the budget rate. `action` is what the rule does: pages (critical) or tickets."""

    action: str  # "pages" or "tickets"
    severity: str  # the alert rule's severity
    factor: float
    long: str
    short: str


W = PRODUCTION.windows
BURN_RATES = (
    BurnRate("pages", "critical", 14.4, W.burn_fast_long, W.burn_fast_short),
    BurnRate("pages", "critical", 6, W.burn_medium_long, W.burn_medium_short),
    BurnRate("tickets", "warning", 1, W.burn_slow_long, W.burn_slow_short),
)


def availability(window: str) -> tuple[str, tuple[Recording, ...]]:
    """Share of successful probes per tier over `window` (recorded for the long windows)."""
    if window in RECORDED:
        rule = RECORDED[window]
        return f'last_over_time({rule.record}{{tier=~"$tier"}}[$__interval])', (rule,)
    return f"avg by (tier) (avg_over_time(probe_success{{{PROBE}}}[{window}]))", ()


def burn(window: str) -> Query:
    """Error-budget burn rate over `window`: error ratio / (1 - objective); 1 spends the budget exactly."""
    ratio, rules = availability(window)
    return Query(f"(1 - {ratio}) / (1 - {OBJECTIVE})", f"{window} {{{{tier}}}}", recordings=rules)


def burn_panel(rate: BurnRate) -> Panel:
    colour = "red" if rate.action == "pages" else "orange"
    sparse = any(w in RECORDED for w in (rate.long, rate.short))
    return Panel(
        "timeseries", f"{rate.action.capitalize()}: {rate.factor:g}× over {rate.long} and {rate.short}",
        f"Burn rate over {rate.long} and {rate.short} per tier (1 spends the 30-day budget exactly in 30 days). "
        f"The {rate.severity} alert fires, and {'pages' if rate.action == 'pages' else 'opens a ticket (no page)'}, "
        f"when both lines are above {rate.factor:g} (dashed): the long window says it is big enough, the short one "
        "that it is still happening.",
        (burn(rate.long), burn(rate.short)), unit="none", decimals=1, width=8, height=8,
        steps=(("green", None), (colour, rate.factor)), interval="15m" if sparse else "")


def board() -> Board:
    budget_left = (f"1 - (1 - last_over_time({PROBE_AVAILABILITY_30D.record}{{tier=~\"$tier\"}}[$__interval])) / "
                   f"(1 - {OBJECTIVE})")
    uptime = Row("Uptime and error budget", [
        Panel("stat", "Up now", "Latest probe of each target (1 up). Down: open the URL; if it works from "
              "here, check the probe's failing phase below.",
              (Query(f"min by (instance) (probe_success{{{PROBE}}})", "{{instance}}", scenario="outage"),),
              unit="none", width=6, height=6, steps=(("red", None), ("green", 1)), better="higher",
              mappings=({"type": "value", "options": {"0": {"text": "DOWN", "index": 0},
                                                      "1": {"text": "UP", "index": 1}}},)),
        Panel("stat", "Error budget left (30 d)", "Share of each tier's 30-day error budget (1 - objective) not "
              "yet spent: 1 - (1 - availability over 30 days) / (1 - objective). Below 0 the objective is "
              "missed; under 25 % freeze risky deploys. Recorded every 15 minutes.",
              (Query(budget_left, "{{tier}}", recordings=(PROBE_AVAILABILITY_30D,)),),
              unit="percentunit", decimals=1, width=6, height=6, interval="15m", better="higher",
              steps=(("red", None), ("orange", 0), ("green", 0.25))),
        Panel("timeseries", "Availability", "Share of successful probes per tier (1 h windows) against the "
              "availability objective (dashed, from config).",
              (Query(f"avg by (tier) (avg_over_time(probe_success{{{PROBE}}}[1h]))", "{{tier}}"),
               Query(f"max(stackwatch_threshold_availability_ratio{{{ENV}}})", "objective", threshold=True)),
              unit="percentunit", width=12, height=6, links=(OVERVIEW,)),
    ])
    burn_rates = Row("Error-budget burn rate: what pages and what tickets", [burn_panel(r) for r in BURN_RATES])
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
        Panel("stat", "TLS certificate expires in", "Time until the earliest certificate of each HTTPS target "
              "expires. Under 14 days: renewal failed; renew now (the demo's plain-HTTP targets show "
              "'No data'). Static colours: more time left is better, which a threshold from config cannot "
              "colour (Grafana adds it as a red step above it).",
              (Query(f"min by (instance) (probe_ssl_earliest_cert_expiry{{{PROBE}}} - time())", "{{instance}}",
                     demo_gap="the demo's probed sites are plain HTTP: no certificate"),),
              unit="s", width=24, height=4, better="higher",
              steps=(("red", None), ("orange", 604800), ("green", 1209600))),
    ])
    return Board(SLO.uid, "stackwatch · Probes & SLOs",
                 "Blackbox uptime per target, the 30-day error budget, multi-window burn rates (what pages, what "
                 "tickets), probe phases and TLS expiry against the availability objective.",
                 "now-24h", [uptime, burn_rates, phases], (ENVIRONMENT, TIER),
                 annotations=(vercel_deploys(f'{ENV}, target="production"'), render_deploys(ENV)))
