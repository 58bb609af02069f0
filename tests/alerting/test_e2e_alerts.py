"""End to end, part 1: the steady world notifies nothing (but the heartbeat), then a full outage and
latency with errors, each asserting the whole set of notifications, what is held back and the
resolution. The checks: e2e_incidents.py; part 2: test_e2e_alert_conditions.py."""

from __future__ import annotations

import pytest
from e2e_incidents import (
    SERVICE_EPISODES,
    AlertStack,
    alert_stack,
    check_steady_notifies_nothing,
    episodes,
    run_episode,
)
from stack.conftest import tools  # noqa: F401 (a fixture alert_stack uses)

pytestmark = pytest.mark.e2e
_ = alert_stack  # the module's own alert stack (a module-scoped fixture)


def test_steady_notifies_nothing_but_the_heartbeat(alert_stack: AlertStack):  # noqa: F811
    check_steady_notifies_nothing(alert_stack)


@pytest.mark.parametrize("name", SERVICE_EPISODES)
def test_incident_notifies_exactly_its_alerts_holds_back_the_rest_and_resolves(alert_stack: AlertStack, name: str):  # noqa: F811
    run_episode(alert_stack, episodes(alert_stack.budgets)[name])
