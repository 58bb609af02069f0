"""End to end, part 2: on an alert stack of its own, which starts steady, the cost and condition
incidents (a spend spike, a missing backup, failed deploys, unpriced usage) fire their alerts on
their receivers and resolve. The checks and the expected alerts: e2e_incidents.py."""

from __future__ import annotations

import pytest
from e2e_incidents import (
    CONDITION_INCIDENTS,
    SCENARIOS,
    SERVICE_INCIDENTS,
    AlertStack,
    alert_stack,
    check_incident_fires_its_alerts_on_their_receivers_and_resolves,
)
from stack.conftest import tools  # noqa: F401 (a fixture alert_stack uses)

from exporters.simulator.world import SCENARIOS as SIMULATOR_SCENARIOS

pytestmark = pytest.mark.e2e
_ = alert_stack  # the module's own alert stack (a module-scoped fixture)


@pytest.mark.parametrize("scenario", CONDITION_INCIDENTS)
def test_incident_fires_its_alerts_on_their_receivers_and_resolves(alert_stack: AlertStack, scenario: str):  # noqa: F811
    check_incident_fires_its_alerts_on_their_receivers_and_resolves(alert_stack, scenario)


def test_the_two_parts_run_every_incident_scenario_once():
    """Every incident the simulator knows has its expected alerts and runs in exactly one part
    (flaky is the exception: transient faults that must not page)."""
    parts = SERVICE_INCIDENTS + CONDITION_INCIDENTS
    assert sorted(parts) == sorted(set(parts)) == sorted(SCENARIOS)
    assert set(SIMULATOR_SCENARIOS) - {"steady"} - set(SCENARIOS) <= {"flaky"}
