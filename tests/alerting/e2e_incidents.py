"""End to end on the shipped alert path (alertstack.py): the simulator's incidents, several side by
side where their alerts do not overlap, each asserting the WHOLE set of notifications that arrive
at the channels (an alert, severity, object or channel not expected fails: a false page fails), the
alerts that must be held back (firing in Prometheus, inhibited in Alertmanager, at no channel), and
that every notification resolves; the steady world notifies nothing but the heartbeat.

test_e2e_alerts.py and test_e2e_alert_conditions.py each run a share on their own stack, in parallel
(`make test`); benchmarks/alerts.py runs them all and measures."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from alertstack import AlertStack, start_alert_stack
from receivers import Notification
from stack.conftest import http_json, tools, wait_until  # noqa: F401 (tools is a fixture)

from exporters.simulator.render.sim import BASE_NAMES, HOT_CPU_INDEX, HOT_MEMORY_INDEX
from exporters.simulator.supabase.sim import AUTH_ATTACK_INDEX, HOT_PROJECT_INDEX, STALE_BACKUP_INDEX, UNHEALTHY_INDEX
from exporters.simulator.supabase.sim import NAMES as SUPABASE_NAMES
from exporters.simulator.world import PROVIDERS, World

# Who gets what, written from docs/alerting.md's routing table (every channel set): not read from
# alerting/channels.py.
ROUTED = {"critical": {"pagerduty", "sms", "slack", "webhook"}, "warning": {"slack", "email", "webhook"},
          "info": {"email", "webhook"}, "none": {"heartbeat"}}
_WORLD = World()  # `stackwatch simulate`'s defaults, as the stack runs it
RENDER_SERVICES = frozenset(BASE_NAMES[:_WORLD.scale.render_services])
SUPABASE_PROJECTS = frozenset(SUPABASE_NAMES[:_WORLD.scale.supabase_projects])
ACTIVE_PROJECTS = SUPABASE_PROJECTS - {SUPABASE_NAMES[_WORLD.scale.supabase_projects - 1]}  # the last one is paused
STAGING = SUPABASE_NAMES[UNHEALTHY_INDEX]
ATTACKED = SUPABASE_NAMES[AUTH_ATTACK_INDEX]
assert STAGING == SUPABASE_NAMES[STALE_BACKUP_INDEX]
HOT_PROJECT = SUPABASE_NAMES[HOT_PROJECT_INDEX]  # saturation's hot database host

WARM_UP_S = 45.0  # every scaled window filled (the longest short one is 30 s)
STEADY_WINDOW_S = 120.0  # longer than the slowest incident alert below takes to fire
FIRE_TIMEOUT_S = 300.0
RESOLVE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Expect:
    """An alert of a severity that must (or may) notify, on objects whose `label` is in `allowed`
    (None: any), each value of `must` among them."""

    alert: str
    severity: str
    label: str | None = None
    allowed: frozenset[str] | None = None
    must: frozenset[str] = frozenset()
    required: bool = True

    def admits(self, n: Notification) -> bool:
        if n.alertname != self.alert or n.labels.get("severity") != self.severity:
            return False
        return self.allowed is None or n.labels.get(self.label or "") in self.allowed


def expect(alert: str, severities: str, label: str | None = None, allowed=None, must=(), required: bool = True) -> list[Expect]:
    allowed = None if allowed is None else frozenset(allowed)
    return [Expect(alert, severity, label, allowed, frozenset(must), required) for severity in severities.split("+")]


@dataclass
class Episode:
    name: str
    scenarios: tuple[str, ...]
    expects: list[Expect]
    held_back: tuple[str, ...] = ()  # alerts that must fire in Prometheus and notify nobody
    min_duration_s: float = 0.0  # run at least this long (lets the held-back ones fire)
    before: Callable[[AlertStack], None] | None = None
    after: Callable[[AlertStack], None] | None = None
    notifications: list[Notification] = field(default_factory=list)


def _stop_blackbox(stack: AlertStack) -> None:
    stack.stack.blackbox.stop()


def _start_blackbox(stack: AlertStack) -> None:
    stack.stack.blackbox.start()


def episodes(budgets: dict) -> dict[str, Episode]:
    """Written from the simulator's scenarios (exporters/simulator/), not from the rules."""
    spiked = set(budgets["daily_usd"])
    # Held back while the fast burn fires; the fast burn resolves 5 (scaled) minutes after the
    # incident, the medium one up to 30 later (its short window): in between it may notify once.
    after_fast_burn = expect("AvailabilityBudgetBurnMedium", "critical", "tier", {"frontend", "backend"}, required=False)
    slow_burn = expect("AvailabilityBudgetBurnSlow", "warning", "tier", {"frontend", "backend"}, required=False)
    return {e.name: e for e in [
        # Every API and both sites answer 503: a full outage pages per tier (both), and the databases.
        Episode("full-outage", ("outage",), [
            *expect("AvailabilityBudgetBurnFast", "critical", "tier", {"frontend", "backend"}, {"frontend", "backend"}),
            *expect("ProviderApiDown", "warning", "provider", PROVIDERS, PROVIDERS),
            *expect("SupabaseDatabaseDown", "critical", "project", ACTIVE_PROJECTS, ACTIVE_PROJECTS),
            *after_fast_burn,
        ], held_back=("ProviderDataStale", "AvailabilityBudgetBurnMedium"), min_duration_s=80),
        # Slow frontend, Render p95 and Supabase statements; 5xx from Render, drains and the backend site.
        Episode("latency-and-errors", ("latency-spike", "error-burst"), [
            *expect("FrontendResponseTimeHigh", "warning+critical", "tier", {"frontend"}, {"frontend"}),
            *expect("BackendResponseTimeHigh", "warning+critical", "service", RENDER_SERVICES),
            *expect("DatabaseResponseTimeHigh", "warning+critical", "project", SUPABASE_PROJECTS),
            *expect("ErrorRateHigh", "warning+critical", "provider", {"render", "vercel"}, {"render"}),
            *expect("AvailabilityBudgetBurnFast", "critical", "tier", {"backend"}, {"backend"}),
            *after_fast_burn,
            *slow_burn,  # an earlier outage on the same stack opens the slow-burn ticket (LINGERING)
        ]),
        # Conditions and cost incidents at once (a bad day): a hot CPU and memory, a missing backup,
        # the first failed deploy, unpriced usage, a database down, a runaway spend and a spike, and
        # failed sign-ins flooding production's auth logs.
        Episode("bad-day", ("saturation", "backup-missing", "deploy-failure", "unpriced-usage", "supabase-down",
                            "runaway-spend", "cost-spike", "auth-attack"), [
            *expect("CpuUtilizationHigh", "warning+critical", "service", {BASE_NAMES[HOT_CPU_INDEX]}, {BASE_NAMES[HOT_CPU_INDEX]}),
            *expect("MemoryUtilizationHigh", "warning+critical", "service", {BASE_NAMES[HOT_MEMORY_INDEX]},
                    {BASE_NAMES[HOT_MEMORY_INDEX]}),
            # Saturation's Supabase database host (the provider's own rule of the same alerts), its disk
            # and its replica; the hot Render service autoscaled to its maximum (TrafficSpike needs a
            # day of history: promtool proves it).
            *expect("CpuUtilizationHigh", "warning+critical", "project", {HOT_PROJECT}, {HOT_PROJECT}),
            *expect("MemoryUtilizationHigh", "warning+critical", "project", {HOT_PROJECT}, {HOT_PROJECT}),
            *expect("SupabaseDatabaseReadOnly", "critical", "project", {HOT_PROJECT}, {HOT_PROJECT}),
            *expect("SupabaseReplicationLagHigh", "warning", "project", {HOT_PROJECT}, {HOT_PROJECT}),
            *expect("RenderInstanceCountChanged", "info", "service", {BASE_NAMES[HOT_CPU_INDEX]}, {BASE_NAMES[HOT_CPU_INDEX]}),
            *expect("RenderAutoscalingAtMax", "warning", "service", {BASE_NAMES[HOT_CPU_INDEX]}, {BASE_NAMES[HOT_CPU_INDEX]}),
            *expect("SupabaseBackupMissing", "critical", "project", {STAGING}, {STAGING}),
            *expect("SupabaseAuthFailuresHigh", "warning", "project", {ATTACKED}, {ATTACKED}),
            *expect("DeployFailed", "warning", "provider", {"render", "vercel"}, {"render", "vercel"}),
            *expect("UnpricedUsageSeen", "warning", "provider", {"openai", "llamacloud"}, {"openai"}),
            *expect("SupabaseDatabaseDown", "critical", "project", {STAGING}, {STAGING}),
            # Held back while the database is down; Postgres answers again at once, the Management API's
            # status follows at stackwatch's next health poll: in between the project may notify once.
            *expect("SupabaseProjectUnhealthy", "warning+critical", "project", {STAGING}, required=False),
            *expect("RunawaySpend", "warning+critical", "provider", {"openai"}, {"openai"}),
            *expect("RunawaySpend", "warning", "provider", {"llamacloud", "vercel"}, required=False),
            *expect("RunawaySpend", "critical", "provider", {"vercel"}, required=False),  # its spike is a rate
            *expect("DailySpendOverBudget", "warning", "provider", spiked, spiked),
            *slow_burn,
        ], held_back=("SupabaseProjectUnhealthy", "SupabaseDiskUtilizationHigh")),
        # Sources die: the blackbox exporter stops (every probe gone), Supabase's metrics endpoint
        # answers 503 (a scrape failing); meanwhile the APIs rate-limit stackwatch.
        Episode("dead-source", ("metrics-endpoint-down", "rate-limited"), [
            *expect("ScrapeTargetDown", "warning", "job", {"blackbox", "supabase"}, {"blackbox", "supabase"}),
            *expect("RateLimitHeadroomLow", "warning", "provider", PROVIDERS),
            # A provider whose retries all meet 429s fails its poll: true, but not certain.
            *expect("ProviderApiDown", "warning", "provider", PROVIDERS, required=False),
            *slow_burn,
        ], held_back=("AlertInputAbsent",), min_duration_s=90, before=_stop_blackbox, after=_start_blackbox),
    ]}


SERVICE_EPISODES = ["full-outage", "latency-and-errors"]
CONDITION_EPISODES = ["bad-day", "dead-source"]


@pytest.fixture(scope="module")
def alert_stack(tools, tmp_path_factory) -> Iterator[AlertStack]:  # noqa: F811
    stack = start_alert_stack(tools, tmp_path_factory.mktemp("alert-stack"))
    try:
        # Ready when stackwatch's metrics reach Prometheus (the absent alert needs them).
        stack.stack.prom.wait_for("stackwatch_provider_up", timeout=120)
        stack.stack.prom.wait_for(f"stackwatch_provider_up offset {WARM_UP_S:g}s", timeout=WARM_UP_S + 120,
                                  what=f"stackwatch's series {WARM_UP_S:g} s old in Prometheus")
        yield stack
    finally:
        stack.stop()


def people(notes: list[Notification]) -> list[Notification]:
    """What reached a person: everything but the Watchdog's heartbeat."""
    return [n for n in notes if not (n.alertname == "Watchdog" and n.receiver == "heartbeat")]


def check_steady_notifies_nothing(stack: AlertStack) -> None:
    mark, window_end = time.monotonic(), time.time() + STEADY_WINDOW_S
    # The window is what this check observes; it closes once Prometheus evaluated every alert group past it.
    wait_until(lambda: min(datetime.fromisoformat(g["lastEvaluation"]).timestamp() for g in http_json(
        f"{stack.stack.prom.base_url}/api/v1/rules?type=alert")["data"]["groups"]) > window_end,
        timeout=STEADY_WINDOW_S + 120, interval=2.0, what=f"every alert group evaluated over {STEADY_WINDOW_S:g} s")
    notes = stack.since(mark)
    assert not people(notes), f"steady notified {sorted({(n.alertname, n.receiver) for n in people(notes)})}"
    assert [a["labels"]["alertname"] for a in stack.alerts()] == ["Watchdog"]
    assert not stack.rule_errors()
    # The dead-man's switch: the Watchdog reaches the heartbeat, and nothing else.
    beats = [n for n in stack.sink.notifications if n.alertname == "Watchdog"]
    assert beats and {n.receiver for n in beats} == {"heartbeat"}


def _covered(stack: AlertStack, episode: Episode, mark: float) -> bool:
    notes = [n for n in stack.since(mark) if n.status == "firing"]
    for e in episode.expects:
        if not e.required:
            continue
        mine = [n for n in notes if e.admits(n)]
        if not mine or not e.must <= {n.labels.get(e.label or "") for n in mine}:
            return False
        for value in e.must or {None}:
            reached = {n.receiver for n in mine if value is None or n.labels.get(e.label or "") == value}
            if not ROUTED[e.severity] <= reached:
                return False
    return True


# The slow budget burn (1x over 3 d and 6 h; 3.6 h and 18 min scaled) is a ticket that an earlier
# outage on the same stack rightly opens and that lasts its 18-minute window: not waited out.
LINGERING = {"Watchdog", "AvailabilityBudgetBurnSlow"}


def run_episode(stack: AlertStack, episode: Episode) -> dict[str, float]:
    """Run it; check the whole set, the held-back alerts and the resolution. Returns the time from
    the start to each expected alert's first notification."""
    # Start from quiet: nothing firing or pending but what lingers by design (held-back alerts of
    # an earlier episode included, whose stale inputs a later incident would otherwise keep).
    wait_until(lambda: not [a for a in stack.alerts("firing") + stack.alerts("pending")
                            if a["labels"]["alertname"] not in LINGERING],
               timeout=RESOLVE_TIMEOUT_S, interval=2.0, what=f"a quiet stack before {episode.name}")
    if episode.before:
        episode.before(stack)
    mark = stack.set_scenarios(*episode.scenarios)
    try:
        wait_until(lambda: _covered(stack, episode, mark), timeout=FIRE_TIMEOUT_S, interval=1.0,
                   what=f"every expected notification of {episode.name}")
        wait_until(lambda: all(any(a["labels"]["alertname"] == name for a in stack.alerts()) for name in episode.held_back),
                   timeout=max(0.0, episode.min_duration_s - (time.monotonic() - mark)) + 120, interval=1.0,
                   what=f"{episode.held_back} firing in Prometheus")
        while time.monotonic() - mark < episode.min_duration_s:  # the incident lasts this long: what is tested
            time.sleep(1.0)
        assert not stack.rule_errors()
        # The held-back ones are inhibited in Alertmanager and reached nobody.
        if episode.held_back:
            held = [a for a in stack.alertmanager_alerts() if a["labels"]["alertname"] in episode.held_back]
            assert held and all(a["status"]["inhibitedBy"] for a in held), held
    finally:
        ended = stack.set_scenarios()
        if episode.after:
            episode.after(stack)

    def firing_of(notes: list[Notification]) -> list[Notification]:
        return [n for n in people(notes) if n.status == "firing"]

    def resolved() -> bool:
        notes = stack.since(mark)
        done = {(n.key, n.receiver) for n in notes if n.status == "resolved"}
        return all((n.key, n.receiver) in done for n in firing_of(notes) if n.alertname not in LINGERING)

    try:
        wait_until(resolved, timeout=RESOLVE_TIMEOUT_S, interval=1.0, what=f"{episode.name} to resolve")
    except AssertionError as error:
        notes = stack.since(mark)
        done = {(n.key, n.receiver) for n in notes if n.status == "resolved"}
        missing = sorted({(n.alertname, n.receiver) for n in firing_of(notes)
                          if (n.key, n.receiver) not in done and n.alertname not in LINGERING})
        raise AssertionError(f"{error}: not resolved {missing[:10]}; firing in Prometheus: "
                             f"{[a['labels']['alertname'] for a in stack.alerts()]}") from None
    # Everything the episode sent, up to its resolution (a notification still on its way when the
    # incident ended is among them): the whole set is what was expected.
    notes = stack.since(mark)
    episode.notifications = notes
    firing = firing_of(notes)
    unexpected = sorted({(n.alertname, n.labels.get("severity"), n.receiver, tuple(sorted(n.labels.items())))
                         for n in firing if not any(e.admits(n) for e in episode.expects)
                         or n.receiver not in ROUTED[n.labels.get("severity", "")]})
    assert not unexpected, f"{episode.name} notified what it should not: {unexpected[:10]}"
    # Held back while the incident lasted (what inhibition promises; afterwards see full-outage).
    assert not [n for n in firing if n.alertname in episode.held_back and n.received_monotonic < ended]
    first: dict[str, float] = {}
    for n in firing:
        first.setdefault(n.alertname, n.received_monotonic - mark)
    return first
