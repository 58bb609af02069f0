"""End to end: the simulator's incidents fire the expected alerts through Prometheus → Alertmanager →
a webhook owned by the test, on the receivers their severity routes to; they resolve after the
incident ends; the steady scenario fires nothing. Timing overrides: tests/alerting/alertstack.py.

The checks live here; test_e2e_alerts.py and test_e2e_alert_conditions.py each run a share of
the scenarios on their own alert stack, so the two modules run in parallel (`make test`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from alertstack import AlertStack, Notification, start_alert_stack
from stack.conftest import http_json, tools, wait_until  # noqa: F401 (tools is a fixture)

from exporters.simulator.render.sim import BASE_NAMES, HOT_CPU_INDEX, HOT_MEMORY_INDEX, INCIDENT_SERVICE_INDEX
from exporters.simulator.supabase.sim import NAMES as SUPABASE_NAMES
from exporters.simulator.supabase.sim import STALE_BACKUP_INDEX
from exporters.simulator.vercel.sim import INCIDENT_PROJECT_INDEX, project_list
from exporters.simulator.world import World

# Written from the simulator's scenarios (exporters/simulator/), not from the rules:
# latency-spike slows the frontend page to 3.5 s, Render's p95 to 2.6 s and Supabase's
# statements to 1.5 s; error-burst serves 5xx from drains (30 %), Render (8 % of every web
# service's requests, well over the rule's minimum traffic) and the backend site; cost-spike
# multiplies today's usage of one OpenAI model and one LlamaCloud project by 10; outage answers
# 503 on every API and both sites; rate-limited answers every third API request 429 with
# `remaining: 0` headers and leaves 2 % of the limit in the others' headers; saturation runs
# one Render service at ~95 % CPU and another at ~92 % memory; backup-missing fails the last
# four days' backups of a Supabase project without PITR; deploy-failure fails a deploy of the
# first Render service and the first Vercel project every 10 s and deploys a fix when it ends;
# unpriced-usage has every OpenAI project use a model whose price is published nowhere today.
SCENARIOS = {
    "latency-spike": {"FrontendResponseTimeHigh", "BackendResponseTimeHigh", "DatabaseResponseTimeHigh"},
    "error-burst": {"ErrorRateHigh", "AvailabilityBudgetBurnFast"},
    "cost-spike": {"DailySpendOverBudget"},
    "outage": {"ProviderApiDown", "AvailabilityBudgetBurnFast"},
    "rate-limited": {"RateLimitHeadroomLow"},
    "saturation": {"CpuUtilizationHigh", "MemoryUtilizationHigh"},
    "backup-missing": {"SupabaseBackupMissing"},
    "deploy-failure": {"DeployFailed"},
    "unpriced-usage": {"UnpricedUsageSeen"},
}
# Where the condition incidents must fire (and only there), from the simulator's fixtures.
_DEFAULT_WORLD = World()  # `stackwatch simulate`'s defaults, as the stack runs it
WHERE = {"CpuUtilizationHigh": ("service", {BASE_NAMES[HOT_CPU_INDEX]}),
         "MemoryUtilizationHigh": ("service", {BASE_NAMES[HOT_MEMORY_INDEX]}),
         "SupabaseBackupMissing": ("project", {SUPABASE_NAMES[STALE_BACKUP_INDEX]}),
         "DeployFailed": ("provider", {"render", "vercel"})}
# Series each condition incident must reach the webhook with (alert, label, value), beyond its names.
MUST = {"saturation": {("CpuUtilizationHigh", "service", BASE_NAMES[HOT_CPU_INDEX]),
                       ("MemoryUtilizationHigh", "service", BASE_NAMES[HOT_MEMORY_INDEX])},
        "backup-missing": {("SupabaseBackupMissing", "project", SUPABASE_NAMES[STALE_BACKUP_INDEX])},
        "deploy-failure": {("DeployFailed", "provider", "render"), ("DeployFailed", "provider", "vercel")},
        "unpriced-usage": {("UnpricedUsageSeen", "provider", "openai")}}
WHERE_DEPLOY = {"render": ("service", BASE_NAMES[INCIDENT_SERVICE_INDEX]),
                "vercel": ("project", project_list(_DEFAULT_WORLD)[INCIDENT_PROJECT_INDEX].name)}
# The share of each module (they run in parallel, each on its own alert stack).
SERVICE_INCIDENTS = ["latency-spike", "error-burst", "outage", "saturation", "rate-limited"]
CONDITION_INCIDENTS = ["cost-spike", "backup-missing", "deploy-failure", "unpriced-usage"]
ROUTED = {"critical": {"pager", "sms", "slack"}, "warning": {"slack", "email"}, "info": {"email"}}
WARM_UP_S = 45.0  # every scaled window filled (the longest short one is 30 s)
STEADY_WINDOW_S = 120.0  # longer than the slowest scenario alert below takes to fire
FIRE_TIMEOUT_S = 240.0
# The longest: UnpricedUsageSeen, whose increase window is 1 h scaled to 3 min.
RESOLVE_TIMEOUT_S = 300.0


@pytest.fixture(scope="module")
def alert_stack(tools, alertmanager_binary, tmp_path_factory) -> Iterator[AlertStack]:  # noqa: F811
    stack = start_alert_stack(tools, alertmanager_binary, tmp_path_factory.mktemp("alert-stack"))
    try:
        # Ready when stackwatch's metrics reach Prometheus (the absent alert needs them).
        stack.stack.prom.wait_for("stackwatch_provider_up", timeout=120)
        stack.stack.prom.wait_for(f"stackwatch_provider_up offset {WARM_UP_S:g}s", timeout=WARM_UP_S + 120,
                                  what=f"stackwatch's series {WARM_UP_S:g} s old in Prometheus")
        yield stack
    finally:
        stack.stop()


def series(n: Notification) -> tuple[str, tuple]:
    return n.alertname, tuple(sorted((k, v) for k, v in n.labels.items() if k != "severity"))


def firing(notes: list[Notification]) -> dict[str, list[Notification]]:
    by_name: dict[str, list[Notification]] = {}
    for n in notes:
        if n.status == "firing":
            by_name.setdefault(n.alertname, []).append(n)
    return by_name


def covers(fired: dict[str, list[Notification]], scenario: str) -> bool:
    """Every expected alert fired, each required series among them."""
    seen = {(name, label, n.labels.get(label)) for name, notes in fired.items() for n in notes
            for label in ("service", "project", "provider")}
    return SCENARIOS[scenario] <= set(fired) and MUST.get(scenario, set()) <= seen


def check_steady_fires_nothing(alert_stack: AlertStack) -> None:
    mark, window_end = time.monotonic(), time.time() + STEADY_WINDOW_S
    # The window is what this check observes; it closes once Prometheus evaluated every alert group past it.
    wait_until(lambda: min(datetime.fromisoformat(g["lastEvaluation"]).timestamp() for g in http_json(
        f"{alert_stack.stack.prom.base_url}/api/v1/rules?type=alert")["data"]["groups"]) > window_end,
        timeout=STEADY_WINDOW_S + 120, interval=2.0, what=f"every alert group evaluated over {STEADY_WINDOW_S:g} s")
    fired = firing(alert_stack.sink.since(mark))
    assert not fired, f"steady fired {sorted(fired)}: {[a['labels'] for a in alert_stack.firing()]}"
    assert alert_stack.firing() == []  # nor is anything firing in Prometheus (pending past group_wait)


def check_incident_fires_its_alerts_on_their_receivers_and_resolves(alert_stack: AlertStack, scenario: str) -> None:
    expected = SCENARIOS[scenario]
    sink = alert_stack.sink
    started = alert_stack.set_scenario(scenario)
    try:
        fired = wait_until(lambda: (f := firing(sink.since(started))) and covers(f, scenario) and f,
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
            wait_until(lambda s=severity, nm=name: ROUTED[s] <= {n.receiver for n in firing(sink.since(started))[nm]
                                                                 if n.labels["severity"] == s},
                       timeout=30, what=f"{name} ({severity}) on {sorted(ROUTED[severity])}, got {sorted(receivers)}")

    def resolved() -> bool:
        notes = sink.since(ended)
        done = {(n.alertname, tuple(sorted(n.labels.items()))) for n in notes if n.status == "resolved"}
        return all((n.alertname, tuple(sorted(n.labels.items()))) in done
                   for name in expected for n in fired[name])

    for name, (label, allowed) in WHERE.items():
        if name in expected:
            where = {n.labels.get(label) for n in fired[name]}
            assert where <= allowed, f"{scenario} fired {name} for {label} {sorted(where - allowed)}, expected {allowed}"
    if scenario == "deploy-failure":
        where = {(n.labels["provider"], n.labels.get(WHERE_DEPLOY[n.labels["provider"]][0])) for n in fired["DeployFailed"]}
        assert where <= {(p, name) for p, (_label, name) in WHERE_DEPLOY.items()}, where
    if scenario == "unpriced-usage":
        assert {n.labels["provider"] for n in fired["UnpricedUsageSeen"]} <= {"openai", "llamacloud"}

    wait_until(resolved, timeout=RESOLVE_TIMEOUT_S, interval=1.0,
               what=f"{sorted(expected)} to resolve after {scenario} ended")

