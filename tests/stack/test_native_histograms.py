"""Histograms end to end: exponential in OTLP, native in Prometheus, and PromQL's histogram functions work.

The expected Vercel build durations come from the simulator's own deployments API, read
here as any client would; the bound on a quantile comes from the exponential scale
(bucket bounds grow by 2**(2**-scale)), not from the code under test.
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from exporters.core.catalogue import Kind
from exporters.core.telemetry import HISTOGRAM_MAX_SCALE
from exporters.providers.registry import all_metrics
from exporters.simulator import VERCEL_TEAM_ID
from exporters.simulator.world import DEFAULT_TOKENS

from .conftest import POLL_INTERVAL_S, Stack, http_json, wait_until

pytestmark = pytest.mark.e2e

# Upper bound of a bucket / its lower bound at the exporter's scale.
BUCKET_RATIO = 2 ** (2 ** -HISTOGRAM_MAX_SCALE)
FINAL_STATES = {"READY", "ERROR", "CANCELED"}


def histogram_names() -> list[str]:
    return sorted(s.prometheus_name for s in all_metrics() if s.kind is Kind.HISTOGRAM)


def scalar_by(stack: Stack, expr: str, label: str, at: float | None = None) -> dict[str, float]:
    """An instant query by one label; `at` pins the evaluation time so several queries agree."""
    if at is None:
        results = stack.prom.query(expr)
    else:
        body = http_json(f"{stack.prom.base_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": at}))
        assert body["status"] == "success", body
        results = body["data"]["result"]
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in results}


def test_histograms_are_native_single_series_without_bucket_series(stack: Stack):
    name = "stackwatch_provider_poll_duration_seconds"
    results = stack.prom.wait_for(f'{name}{{job="stackwatch"}}', timeout=45)
    # A native histogram sample carries its buckets inside: "histogram", not "value", and no `le`.
    assert all("histogram" in r and "le" not in r["metric"] for r in results), results[0]
    buckets = results[0]["histogram"][1]["buckets"]
    assert buckets and all(float(upper) / float(lower) == pytest.approx(BUCKET_RATIO)
                           for _, lower, upper, _ in buckets if float(lower) > 0)
    classic = stack.prom.query('{job="stackwatch", __name__=~".+_bucket|.+_count|.+_sum"}')
    assert classic == [], sorted({r["metric"]["__name__"] for r in classic})


def test_poll_duration_quantile_count_and_sum_over_a_rate_are_sensible(stack: Stack):
    name = "stackwatch_provider_poll_duration_seconds"
    selector = f'{name}{{job="stackwatch", outcome="ok"}}'
    # Two samples a few polls apart must exist inside the 1m window for rate().
    stack.prom.wait_for(f'histogram_count(sum by (provider) (rate({selector}[1m]))) > 0',
                        lambda r: len(r) == 5, timeout=60, what="a poll-duration rate for every provider")
    at = time.time()  # every query below sees the same samples
    p95 = scalar_by(stack, f'histogram_quantile(0.95, sum by (provider) (rate({selector}[1m])))', "provider", at)
    p50 = scalar_by(stack, f'histogram_quantile(0.5, sum by (provider) (rate({selector}[1m])))', "provider", at)
    count = scalar_by(stack, f'histogram_count(sum by (provider) (rate({selector}[1m])))', "provider", at)
    total = scalar_by(stack, f'histogram_sum(sum by (provider) (rate({selector}[1m])))', "provider", at)
    streams = scalar_by(stack, f'count by (provider) ({selector})', "provider", at)
    # Each provider's config allows 5 s per request and one retry: no successful poll of a
    # stream takes longer than a few of those, and none takes no time at all.
    longest_possible = 4 * 5.0 * 2
    for provider in streams:
        assert 0 < p50[provider] <= p95[provider] <= longest_possible, (provider, p50[provider], p95[provider])
        # Polls per second: at most every stream once per poll interval (rate() extrapolates
        # to the window's edges, hence the margin); slower is allowed, since a loaded machine
        # only delays polls.
        assert 0 < count[provider] <= 1.5 * streams[provider] / POLL_INTERVAL_S, (provider, count[provider])
        mean = total[provider] / count[provider]
        assert 0 < mean <= longest_possible, (provider, mean)
    avg = scalar_by(stack, f'histogram_avg(sum by (provider) (rate({selector}[1m])))', "provider", at)
    assert avg.keys() == total.keys()
    for provider, value in avg.items():
        assert value == pytest.approx(total[provider] / count[provider], rel=1e-6)


# --- Vercel build durations against the simulator's own deployments ---

def simulator_build_durations(stack: Stack, since: datetime) -> dict[str, list[float]]:
    """Build seconds (ready - buildingAt) of every final deployment created since `since`, by
    final state, paging the simulator's GET /v6/deployments newest first as a client would."""
    durations: dict[str, list[float]] = {}
    until: int | None = None
    for _ in range(1000):
        params = {"teamId": VERCEL_TEAM_ID, "limit": 100, "since": int(since.timestamp() * 1000)}
        if until is not None:
            params["until"] = until
        request = urllib.request.Request(f"{stack.simulator_url}/vercel/v6/deployments?"
                                         + urllib.parse.urlencode(params),
                                         headers={"Authorization": f"Bearer {DEFAULT_TOKENS['vercel']}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            page = json.loads(response.read())
        for d in page["deployments"]:
            built, ready = d.get("buildingAt"), d.get("ready")
            if d["readyState"] in FINAL_STATES and built is not None and ready is not None and ready >= built:
                durations.setdefault(d["readyState"], []).append((ready - built) / 1000)
        until = page["pagination"]["next"]
        if until is None:
            return durations
    raise AssertionError("the simulator's deployment pages never ended")


def history_start(stack: Stack) -> datetime:
    """The first day stackwatch reads (today - history_days, UTC midnight), from the stack's config."""
    config = yaml.safe_load((stack.workdir / "stackwatch.yaml").read_text())
    days = config["providers"]["vercel"].get("history_days", 38)
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def quantile_bounds(values: list[float], q: float) -> tuple[float, float]:
    """The observations on either side of rank q*n: the true q-quantile lies between them."""
    ordered = sorted(values)
    rank = q * len(ordered)
    return ordered[max(0, math.floor(rank) - 1)], ordered[min(len(ordered) - 1, math.ceil(rank))]


def test_vercel_build_duration_quantiles_match_the_simulators_deployments(stack: Stack):
    name = "vercel_deployment_build_duration_seconds"
    stack.prom.wait_for(f'{name}{{job="stackwatch"}}', timeout=60)
    by_state = f'sum by (state) ({name}{{job="stackwatch"}})'

    def consistent() -> tuple[float, dict, dict, dict] | None:
        # A deployment that turns final between the two reads changes the count: read again.
        at = time.time()
        truth = simulator_build_durations(stack, history_start(stack))
        counts = scalar_by(stack, f"histogram_count({by_state})", "state", at)
        expected = {state: float(len(v)) for state, v in truth.items() if v}
        return (at, truth, counts, scalar_by(stack, f"histogram_sum({by_state})", "state", at)) \
            if counts == expected else None

    at, truth, counts, sums = wait_until(consistent, timeout=3 * POLL_INTERVAL_S + 30, interval=1.0,
                                         what="Prometheus' build-duration counts to equal the simulator's")
    assert sum(counts.values()) >= 20, counts  # enough deployments for a quantile to mean something
    for state, values in truth.items():
        if not values:
            continue
        assert sums[state] == pytest.approx(sum(values), rel=1e-9), state
        for q in (0.5, 0.95):
            estimate = scalar_by(stack, f"histogram_quantile({q}, {by_state})", "state", at)[state]
            low, high = quantile_bounds(values, q)
            # The estimate lies in the bucket that holds the q-th observation.
            assert low / BUCKET_RATIO <= estimate <= high * BUCKET_RATIO, (state, q, estimate, low, high)


@pytest.mark.parametrize("name", histogram_names())
def test_every_histogram_is_stored_as_a_native_histogram(stack: Stack, name: str):
    # The catalogue's histograms that appear in steady state (vitals arrive with the drains,
    # deploy and token histograms with the first polls), each queried through histogram_count.
    results = stack.prom.wait_for(f'histogram_count({name}{{job="stackwatch"}})', timeout=60,
                                  what=f"histogram_count({name})")
    assert all(float(r["value"][1]) > 0 for r in results), name
