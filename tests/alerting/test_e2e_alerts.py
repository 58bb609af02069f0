"""End to end: the simulator's incidents fire the expected alerts through Prometheus → Alertmanager →
a webhook owned by the test, on the receivers their severity routes to; they resolve after the
incident ends; the steady scenario fires nothing. Timing overrides: tests/alerting/alertstack.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from alertstack import AlertStack, Notification, start_alert_stack
from stack.conftest import tools, wait_until  # noqa: F401 (tools is a fixture)

from exporters.simulator.render import BASE_NAMES, HOT_CPU_INDEX, HOT_MEMORY_INDEX

pytestmark = pytest.mark.e2e

# Written from the simulator's scenarios (exporters/simulator/), not from the rules:
# latency-spike slows the frontend page to 3.5 s, Render's p95 to 2.6 s and Supabase's
# statements to 1.5 s; error-burst serves 5xx from drains (30 %), Render (8 % of every web
# service's requests, well over the rule's minimum traffic) and the backend site; cost-spike
# multiplies today's usage of one OpenAI model and one LlamaCloud project by 10; outage answers
# 503 on every API and both sites; rate-limited answers every third API request 429 with
# `remaining: 0` headers.
SCENARIOS = {
    "latency-spike": {"FrontendResponseTimeHigh", "BackendResponseTimeHigh", "DatabaseResponseTimeHigh"},
    "error-burst": {"ErrorRateHigh", "AvailabilityBudgetBurnFast"},
    "cost-spike": {"DailySpendOverBudget"},
    "outage": {"ProviderApiDown", "AvailabilityBudgetBurnFast"},
    "rate-limited": {"RateLimitHeadroomLow"},
}
# Conditions the simulator's steady world itself contains (seen in steady runs, true there):
# a Render worker at ~95 % CPU and a search service at ~92 % memory, a staging Supabase
# project with an old backup and PITR off, failed deployments and unpriced usage
# (docs/alerting.md). Steady may fire these and nothing else; an incident must fire its alerts
# on series that were not already firing in steady. ErrorRateHigh is not among them: steady
# serves 0.2 % 5xx and the rule skips windows under its minimum traffic.
STANDING = {"UnpricedUsageSeen", "CpuUtilizationHigh", "MemoryUtilizationHigh", "SupabaseBackupMissing",
            "DeployFailed"}
# Which series of them, from the simulator's fixtures: the hot services by their position in the
# Render world, and the staging Supabase project (no PITR, last backup days old).
STANDING_WHERE = {"CpuUtilizationHigh": ("service", {BASE_NAMES[HOT_CPU_INDEX]}),
                  "MemoryUtilizationHigh": ("service", {BASE_NAMES[HOT_MEMORY_INDEX]}),
                  "SupabaseBackupMissing": ("project", {"staging"})}
STEADY_SERIES: set[tuple[str, tuple]] = set()  # filled by the steady test, which runs first
ROUTED = {"critical": {"pager", "sms", "slack"}, "warning": {"slack", "email"}, "info": {"email"}}
WARM_UP_S = 45.0  # every scaled window filled (the longest short one is 30 s)
STEADY_WINDOW_S = 120.0  # longer than the slowest scenario alert below takes to fire
FIRE_TIMEOUT_S = 240.0
RESOLVE_TIMEOUT_S = 240.0


@pytest.fixture(scope="module")
def alert_stack(tools, alertmanager_binary, tmp_path_factory) -> Iterator[AlertStack]:  # noqa: F811
    stack = start_alert_stack(tools, alertmanager_binary, tmp_path_factory.mktemp("alert-stack"))
    try:
        # Ready when stackwatch's metrics reach Prometheus (the absent alert needs them).
        stack.stack.prom.wait_for("stackwatch_provider_up", timeout=120)
        time.sleep(WARM_UP_S)
        yield stack
    finally:
        stack.stop()


def series(n: Notification) -> tuple[str, tuple]:
    return n.alertname, tuple(sorted((k, v) for k, v in n.labels.items() if k != "severity"))


def firing(notes: list[Notification], *, new_only: bool = False) -> dict[str, list[Notification]]:
    by_name: dict[str, list[Notification]] = {}
    for n in notes:
        if n.status == "firing" and not (new_only and series(n) in STEADY_SERIES):
            by_name.setdefault(n.alertname, []).append(n)
    return by_name


def test_steady_fires_nothing(alert_stack: AlertStack):
    mark = time.monotonic()
    time.sleep(STEADY_WINDOW_S)
    fired = firing(alert_stack.sink.since(mark))
    STEADY_SERIES.update(series(n) for notes in fired.values() for n in notes)
    unexpected = set(fired) - STANDING
    assert not unexpected, f"steady fired {sorted(unexpected)}: {alert_stack.firing()}"
    for name, (label, allowed) in STANDING_WHERE.items():
        where = {n.labels.get(label) for n in fired.get(name, [])}
        assert where <= allowed, f"steady fired {name} for {label} {sorted(where - allowed)}, expected only {allowed}"
    if "UnpricedUsageSeen" in fired:
        truth = alert_stack.stack.ground_truth()["providers"]
        unpriced = {p: t["unpriced"]["items"] for p, t in truth.items() if t["unpriced"]["items"]}
        providers = {n.labels["provider"] for n in fired["UnpricedUsageSeen"]}
        assert providers <= set(unpriced), (providers, unpriced)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_incident_fires_its_alerts_on_their_receivers_and_resolves(alert_stack: AlertStack, scenario: str):
    expected = SCENARIOS[scenario]
    sink = alert_stack.sink
    started = alert_stack.set_scenario(scenario)
    try:
        fired = wait_until(lambda: (f := firing(sink.since(started), new_only=True)) and expected <= set(f) and f,
                           timeout=FIRE_TIMEOUT_S, interval=1.0,
                           what=f"{sorted(expected)} to reach the webhook under {scenario}")
    except AssertionError as error:
        raise AssertionError(f"{error}; firing in Prometheus: {[a['labels'] for a in alert_stack.firing()]}") from None
    finally:
        ended = alert_stack.set_scenario("steady")
    for name in expected:
        for severity in {n.labels["severity"] for n in fired[name]}:
            receivers = {n.receiver for n in fired[name] if n.labels["severity"] == severity}
            # group_wait differs per route, so give the other receivers of the same group a moment.
            wait_until(lambda s=severity, nm=name: ROUTED[s] <= {n.receiver for n in firing(sink.since(started), new_only=True)[nm]
                                                                 if n.labels["severity"] == s},
                       timeout=30, what=f"{name} ({severity}) on {sorted(ROUTED[severity])}, got {sorted(receivers)}")

    def resolved() -> bool:
        notes = sink.since(ended)
        done = {(n.alertname, tuple(sorted(n.labels.items()))) for n in notes if n.status == "resolved"}
        return all((n.alertname, tuple(sorted(n.labels.items()))) in done
                   for name in expected for n in fired[name])

    wait_until(resolved, timeout=RESOLVE_TIMEOUT_S, interval=1.0,
               what=f"{sorted(expected)} to resolve after {scenario} ended")
