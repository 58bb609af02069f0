"""End to end, part 1: the steady world fires nothing, and the service incidents (latency, errors,
outage, saturation, rate limits) fire their alerts on their receivers and resolve. The checks and
the expected alerts: e2e_incidents.py; part 2: test_e2e_alert_conditions.py."""

from __future__ import annotations

import pytest
from e2e_incidents import (
    SERVICE_INCIDENTS,
    AlertStack,
    alert_stack,
    check_incident_fires_its_alerts_on_their_receivers_and_resolves,
    check_steady_fires_nothing,
)
from stack.conftest import tools  # noqa: F401 (a fixture alert_stack uses)

pytestmark = pytest.mark.e2e
_ = alert_stack  # the module's own alert stack (a module-scoped fixture)


def test_steady_fires_nothing(alert_stack: AlertStack):  # noqa: F811
    check_steady_fires_nothing(alert_stack)


@pytest.mark.parametrize("scenario", SERVICE_INCIDENTS)
def test_incident_fires_its_alerts_on_their_receivers_and_resolves(alert_stack: AlertStack, scenario: str):  # noqa: F811
    check_incident_fires_its_alerts_on_their_receivers_and_resolves(alert_stack, scenario)
