"""End to end on real binaries: simulator → `stackwatch run` → otelcol → Prometheus.

Every catalogued metric arrives in Prometheus under its documented name and
labels; cost series equal the simulator's independent ground truth to the cent;
Prometheus scrapes the blackbox probes, the Supabase metrics endpoint and the
collector's and stackwatch's own metrics.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from exporters.core.catalogue import MetricSpec
from exporters.providers.registry import all_metrics

from .conftest import Stack, http_get, push_report, wait_until

pytestmark = pytest.mark.e2e

# Labels Prometheus adds to every OTLP series: job/instance from service.name and
# service.instance.id, and the resource attributes prometheus.yml promotes.
RESOURCE_LABELS = {"job", "instance", "deployment_environment", "deployment_environment_name", "service_version"}

# Metrics that only appear once something happens; the `driven` fixture makes it happen.
DRIVEN = {
    "stackwatch.provider.poll.errors": "an injected HTTP 403 on Render",
    "stackwatch.drain.rejected": "a drain delivery with a bad signature",
    "stackwatch.provider.invalid_items": "an item with a missing field (simulator fault `invalid_item`)",
    "stackwatch.recommendation.savings_monthly_usd": "`stackwatch report --push` through the collector",
}


@pytest.fixture(scope="module")
def driven(stack: Stack) -> Stack:
    """The shared stack after the events that make the event-driven metrics appear."""
    # A 403 is not retried (a 500 may be, and concurrent requests share injected faults),
    # so Render's next poll fails exactly once, with reason `auth`.
    stack.inject_fault("render", kind="status", status=403, count=1)
    request = urllib.request.Request(f"{stack.stackwatch_url}/drains/vercel/logs", data=b'[{"id": "x"}]',
                                     method="POST", headers={"x-vercel-signature": "0" * 40,
                                                             "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=5)
        rejected = False
    except urllib.error.HTTPError as error:
        rejected = 400 <= error.code < 500
    assert rejected, "the drain receiver accepted a delivery with a bad signature"
    stack.inject_fault("openai", kind="invalid_item", count=1)
    # The report's recommendations: one OTLP push through the same collector.
    push_report(stack.prom.base_url, stack.ports.otlp_http)
    return stack


def catalogue_cases() -> list:
    cases = []
    for spec in sorted(all_metrics(), key=lambda s: s.name):
        cases.append(pytest.param(spec, id=spec.name))
    return cases


@pytest.mark.parametrize("spec", catalogue_cases())
def test_catalogued_metric_arrives_under_its_prometheus_name_and_labels(driven: Stack, spec: MetricSpec):
    for series in spec.prometheus_series:
        results = driven.prom.wait_for(f'{series}{{job="stackwatch"}}', timeout=45,
                                       what=f"{series} ({spec.name}) in Prometheus"
                                            + (f" after {DRIVEN[spec.name]}" if spec.name in DRIVEN else ""))
        allowed = set(spec.prometheus_labels) | {a.replace(".", "_") for a in spec.optional_attributes} \
            | RESOURCE_LABELS | {"__name__"}
        for result in results:
            labels = set(result["metric"])
            assert set(spec.prometheus_labels) <= labels, (series, sorted(labels))
            assert labels <= allowed, (series, sorted(labels - allowed))
            assert result["metric"]["deployment_environment"] == "e2e"


def test_catalogue_names_are_the_names_prometheus_creates(driven: Stack):
    # Independent of the catalogue's own naming code: every stackwatch series Prometheus
    # holds (OTLP-ingested, job="stackwatch") is a name the catalogue documents.
    documented = {name for spec in all_metrics() for name in spec.prometheus_series}
    driven.prom.wait_for('stackwatch_provider_up{job="stackwatch"}', timeout=45)
    arrived = {r["metric"]["__name__"] for r in driven.prom.query('{job="stackwatch", __name__!~"stackwatch_(build_info|process_start_time_seconds)|up|scrape_.*|target_info"}')}
    assert arrived and arrived <= documented, sorted(arrived - documented)


# --- costs ---

HALF_CENT = 0.005 + 1e-9

def cents(value: float) -> int:
    return round(value * 100)


def prometheus_costs(stack: Stack, metric: str, by: str) -> dict[tuple[str, ...], float]:
    results = stack.prom.query(f'sum by ({by}) ({metric}{{job="stackwatch"}})')
    return {tuple(r["metric"].get(label, "") for label in by.split(", ")): float(r["value"][1]) for r in results}


# A native histogram in Prometheus (one series, no _count): its sample count is the polls completed.
POLLS = 'stackwatch_provider_poll_duration_seconds{job="stackwatch"}'
# Generous: a slow stream polls every SLOW_POLL_INTERVAL_S (6 s); this is for a loaded machine.
POLLS_TIMEOUT_S = 180.0


def polls_by_stream(stack: Stack) -> dict[tuple[str, str], float]:
    """Polls each stream of each provider has completed, as Prometheus last received them."""
    return {(r["metric"]["provider"], r["metric"]["stream"]): float(r["value"][1])
            for r in stack.prom.query(f"sum by (provider, stream) (histogram_count({POLLS}))")}


def latest_export(stack: Stack, selector: str) -> float:
    """When stackwatch took its latest export that Prometheus holds of `selector` (0: none)."""
    result = stack.prom.query(f"max(timestamp({selector}))")
    return float(result[0]["value"][1]) if result else 0.0


def wait_for_polls_begun_after(stack: Stack, moment: float) -> float:
    """Wait until every stream of every provider has completed a poll that began after `moment`
    (wall clock) and Prometheus holds an export taken after it; return that export's time.

    Prometheus lags stackwatch, so first an export taken after `moment`: its count N of a
    stream's polls is at least the number completed by `moment`. Polls of a stream run one after
    another, so poll N + 1 ended after `moment` and poll N + 2 began after it."""
    wait_until(lambda: latest_export(stack, POLLS) > moment, timeout=POLLS_TIMEOUT_S,
               what="an export of stackwatch's poll counts taken after the ground-truth read")
    base = polls_by_stream(stack)
    assert base, "no poll counts in Prometheus"

    def two_more() -> bool:
        now = polls_by_stream(stack)
        return all(now.get(key, 0.0) >= count + 2 for key, count in base.items())

    wait_until(two_more, timeout=POLLS_TIMEOUT_S, interval=0.5,
               what=f"two more polls of every stream ({sorted(base)})")
    return latest_export(stack, POLLS)


def settled_costs(stack: Stack, metric: str, by: str) -> tuple[dict, dict, dict]:
    """(ground truth before, Prometheus values, ground truth after), where every value in
    Prometheus comes from polls that started after the first ground-truth read."""
    stack.prom.wait_for(f'{metric}{{job="stackwatch"}}', timeout=60)
    before = stack.ground_truth()["providers"]
    polled = wait_for_polls_begun_after(stack, time.time())
    # The cost gauges are read at each export: one taken once those polls had ended carries them.
    wait_until(lambda: latest_export(stack, f'{metric}{{job="stackwatch"}}') >= polled, timeout=POLLS_TIMEOUT_S,
               what=f"an export of {metric} after every stream's new polls")
    values = prometheus_costs(stack, metric, by)
    after = stack.ground_truth()["providers"]
    return before, values, after


def assert_within_truth(value: float, before: float, after: float, what: str) -> None:
    # Costs only grow as simulated time passes, so the value polled between the two reads
    # lies between them; "to the cent" is within half a cent (float sums differ in the
    # 15th digit, so comparing rounded cents would flip at exact half-cents).
    low, high = sorted((before, after))
    assert low - HALF_CENT <= value <= high + HALF_CENT, (
        f"{what}: Prometheus ${value:.4f}, ground truth ${before:.4f}..${after:.4f}")


@pytest.mark.parametrize(("metric", "truth_key"), [
    ("stackwatch_cost_month_to_date_usd", "month_to_date_usd"),
    ("stackwatch_cost_today_usd", "today_usd"),
])
def test_cost_per_provider_in_prometheus_equals_the_ground_truth_to_the_cent(stack: Stack, metric, truth_key):
    before, values, after = settled_costs(stack, metric, "provider")
    assert {p for (p,) in values} == set(before), "a provider's cost is missing in Prometheus"
    for (provider,), value in values.items():
        assert_within_truth(value, before[provider][truth_key], after[provider][truth_key], f"{metric} {provider}")


def test_stackwatch_observed_render_and_supabase_since_the_cycle_began(stack: Stack):
    # The precondition of comparing estimated month-to-date with the month's invoice: no resource
    # has unobserved time in the cycle (the stack's state file holds polls from the 1st, 00:00 UTC,
    # see cycle_history.py). The history's world runs at wall speed, so its first poll begins as
    # long after that instant as starting the simulator and runtime takes: milliseconds, seconds
    # on a loaded machine (1.25 s seen). A gap in observation is at least the 1 h
    # max_observation_gap_seconds (or the whole month): 60 s tells the two apart.
    # The small world: 5 Render services (all on an instance plan), 1 Postgres and 1 Key Value;
    # 3 Supabase projects.
    for metric, label, expected in (("render_cost_unobserved_seconds", "resource", 7),
                                    ("supabase_cost_unobserved_seconds", "project", 3)):
        results = stack.prom.wait_for(f'{metric}{{job="stackwatch"}}', lambda r, n=expected: len(r) == n,
                                      timeout=60, what=metric)
        unobserved = {r["metric"][label]: float(r["value"][1]) for r in results}
        assert all(seconds < 60.0 for seconds in unobserved.values()), (metric, unobserved)


def test_month_to_date_cost_per_project_equals_the_ground_truth_to_the_cent(stack: Stack):
    before, values, after = settled_costs(stack, "stackwatch_cost_month_to_date_usd", "provider, project")
    checked = 0
    for provider, truth in before.items():
        projects = {project: value for (p, project), value in values.items() if p == provider}
        expected = {name: usd for name, usd in truth["month_to_date_by_project"].items() if cents(usd) or name in projects}
        assert set(projects) == set(expected), f"{provider}: projects {sorted(projects)} != {sorted(expected)}"
        for project, value in projects.items():
            assert_within_truth(value, truth["month_to_date_by_project"][project],
                                after[provider]["month_to_date_by_project"][project], f"{provider}/{project}")
            checked += 1
    assert checked >= 5


# --- what Prometheus scrapes itself ---

def test_prometheus_scrapes_the_blackbox_probes_of_frontend_and_backend(stack: Stack):
    results = stack.prom.wait_for('probe_success{job="blackbox"}', lambda r: len(r) == 2, timeout=75,
                                  what="both blackbox probes scraped")
    by_tier = {r["metric"]["tier"]: float(r["value"][1]) for r in results}
    assert by_tier == {"frontend": 1.0, "backend": 1.0}
    status = stack.prom.query('probe_http_status_code{job="blackbox"}')
    assert {float(r["value"][1]) for r in status} == {200.0}
    assert all(r["metric"]["instance"].startswith(stack.simulator_url) for r in status)


def test_prometheus_scrapes_the_supabase_metrics_endpoint_of_every_project(stack: Stack):
    # The simulator's third project is INACTIVE and the shared stack's world holds `supabase-down`
    # (tests/stack/conftest.py): their Postgres is down, production's is up. Earlier tests on this shared
    # stack set outages; a target scraped during one keeps that sample until its next scrape, so wait
    # (bounded) for every target's latest scrape to show the world.
    expected = {"production": 1.0, "staging": 0.0, "analytics": 0.0}

    def pg_up(results: list[dict]) -> dict[str, float]:
        return {r["metric"]["project"]: float(r["value"][1]) for r in results}

    results = stack.prom.wait_for('pg_up{job="supabase"}', lambda r: pg_up(r) == expected, timeout=180,
                                  what=f"pg_up of the three simulated Supabase projects to be {expected}")
    assert pg_up(results) == expected
    assert all(r["metric"]["supabase_project_ref"] for r in results)
    targets = [t for t in stack.prom.targets() if t["labels"]["job"] == "supabase"]
    assert targets and all(t["health"] == "up" for t in targets)  # basic auth from the key file works


def test_prometheus_scrapes_the_collectors_own_telemetry(stack: Stack):
    stack.prom.wait_for('up{job="otel-collector"} == 1', timeout=45)
    accepted = stack.prom.wait_for(
        '{__name__=~"otelcol_receiver_accepted_metric_points(_total)?", job="otel-collector"} > 0', timeout=45)
    assert sum(float(r["value"][1]) for r in accepted) > 0


def test_prometheus_scrapes_stackwatchs_self_metrics(stack: Stack):
    results = stack.prom.wait_for('stackwatch_build_info{job="stackwatch"}', timeout=45)
    assert float(results[0]["value"][1]) == 1.0
    status, _ = http_get(f"{stack.stackwatch_url}/healthz")
    assert status == 200


def test_every_provider_is_up_in_the_steady_scenario(stack: Stack):
    # (An earlier test's injected fault may still hold Render at 0 for one poll.)
    results = stack.prom.wait_for('stackwatch_provider_up{job="stackwatch"}',
                                  lambda r: len(r) == 5 and all(r_["value"][1] == "1" for r_ in r), timeout=45)
    assert {r["metric"]["provider"]: float(r["value"][1]) for r in results} == dict.fromkeys(
        ("vercel", "render", "supabase", "openai", "llamacloud"), 1.0)

