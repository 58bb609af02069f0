"""Runs every group's checks against a Context and decides the exit code."""

from __future__ import annotations

from exporters.ops.validate import (
    alerting,
    backups,
    baselines,
    delivery,
    monitoring,
    restore_drill,
    scaling,
    security,
)
from exporters.ops.validate.context import Context
from exporters.ops.validate.model import LEVEL_ORDER, Level, Outcome, Status, outcome, without_prometheus
from exporters.ops.validate.prom import PrometheusUnreachable

GROUPS = (monitoring, alerting, backups, restore_drill, security, scaling, delivery, baselines)

# Groups whose every check reads Prometheus: what they check, named when it cannot be read.
PROMETHEUS_GROUPS = {
    "monitoring": "providers up and fresh, catalogued metrics present, scrape targets up",
    "backups": "Supabase backups (PITR or a recent completed backup)",
    "scaling": "Render and Supabase headroom",
    "delivery": "deploy success rates and rollback targets",
    "baselines": "performance baseline",
}


def validate(ctx: Context) -> Outcome:
    checks = []
    for group in GROUPS:
        try:
            checks += group.run(ctx)
        except PrometheusUnreachable as error:
            checks.append(without_prometheus(group.GROUP, PROMETHEUS_GROUPS.get(
                group.GROUP, f"{group.GROUP} checks that read Prometheus"), error))
    return outcome(checks)


def exit_code(result: Outcome, required: Level | None) -> int:
    """0: no check failed (and the required level, if any, is reached); 1 otherwise."""
    if required is not None:
        reached = LEVEL_ORDER.index(result.level_reached) if result.level_reached else -1
        return 0 if reached >= LEVEL_ORDER.index(required) else 1
    return 1 if any(c.status is Status.FAIL for c in result.checks) else 0
