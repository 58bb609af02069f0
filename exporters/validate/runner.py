"""Runs every group's checks against a Context and decides the exit code."""

from __future__ import annotations

from . import alerting, backups, baselines, delivery, monitoring, scaling, security
from .context import Context
from .model import LEVEL_ORDER, Level, Outcome, Status, outcome

GROUPS = (monitoring, alerting, backups, security, scaling, delivery, baselines)


def validate(ctx: Context) -> Outcome:
    checks = []
    for group in GROUPS:
        checks += group.run(ctx)
    return outcome(checks)


def exit_code(result: Outcome, required: Level | None) -> int:
    """0: no check failed (and the required level, if any, is reached); 1 otherwise."""
    if required is not None:
        reached = LEVEL_ORDER.index(result.level_reached) if result.level_reached else -1
        return 0 if reached >= LEVEL_ORDER.index(required) else 1
    return 1 if any(c.status is Status.FAIL for c in result.checks) else 0
