"""End to end, part 2: on an alert stack of its own, a bad day (a hot CPU and memory, a missing
backup, the first failed deploy, unpriced usage, a database down, a runaway spend and a cost spike,
side by side) and dead sources (the blackbox exporter stopped, Supabase's metrics endpoint failing,
while the APIs rate-limit). The checks: e2e_incidents.py."""

from __future__ import annotations

import pytest
from e2e_incidents import CONDITION_EPISODES, SERVICE_EPISODES, AlertStack, alert_stack, episodes, run_episode
from stack.conftest import tools  # noqa: F401 (a fixture alert_stack uses)

from exporters.simulator.world import SCENARIOS

pytestmark = pytest.mark.e2e
_ = alert_stack  # the module's own alert stack (a module-scoped fixture)


@pytest.mark.parametrize("name", CONDITION_EPISODES)
def test_incident_notifies_exactly_its_alerts_holds_back_the_rest_and_resolves(alert_stack: AlertStack, name: str):  # noqa: F811
    run_episode(alert_stack, episodes(alert_stack.budgets)[name])


def test_the_two_parts_run_every_incident_scenario_once():
    """Every scenario the simulator knows runs in exactly one episode (flaky is the exception:
    transient faults that must not page)."""
    every = episodes({"daily_usd": {}})
    assert sorted(every) == sorted(SERVICE_EPISODES + CONDITION_EPISODES)
    run = [s for e in every.values() for s in e.scenarios]
    assert len(run) == len(set(run))
    assert set(SCENARIOS) - {"steady"} - set(run) == {"flaky"}
