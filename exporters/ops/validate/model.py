"""The evidence model: one check's outcome, the groups and levels, the score."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"  # the evidence could not be read: never a guessed pass


class Level(str, Enum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"


LEVEL_ORDER = (Level.BRONZE, Level.SILVER, Level.GOLD)

# Which level each group's checks belong to: a level is reached when every check of it and of
# the levels below passes (bronze: you would know; silver: you could recover; gold: you can grow).
GROUP_LEVEL = {
    "monitoring": Level.BRONZE,
    "alerting": Level.BRONZE,
    "backups": Level.SILVER,
    # A restore drill recorded and recent: a warning below gold (silver reaches without it), a
    # failure when gold is required (restore_drill.py).
    "restore drill": Level.GOLD,
    "security": Level.SILVER,
    # You would notice that the alert path itself died (a dead-man's switch receives the Watchdog).
    "alert path": Level.SILVER,
    "scaling": Level.GOLD,
    "delivery": Level.GOLD,
    "baselines": Level.GOLD,
}


@dataclass(frozen=True)
class Check:
    group: str
    name: str
    status: Status
    evidence: str
    fix: str = ""

    @property
    def level(self) -> Level:
        return GROUP_LEVEL[self.group]


# How an operator on the Docker host reaches the stack's Prometheus (compose publishes it on loopback).
REACH_PROMETHEUS = ("start the stack (`docker compose up -d`): compose publishes Prometheus on "
                    "http://127.0.0.1:9090 of the Docker host; from another machine tunnel it "
                    "(`ssh -N -L 9090:127.0.0.1:9090 <docker-host>`); then pass --prometheus "
                    "http://localhost:9090 (or set STACKWATCH_PROMETHEUS_URL)")


def without_prometheus(group: str, name: str, error: Exception) -> Check:
    """A check that needs Prometheus, which could not be read: unknown, with the way to reach it."""
    return Check(group, name, Status.UNKNOWN, f"not checked: {error}", REACH_PROMETHEUS)


@dataclass(frozen=True)
class Outcome:
    checks: tuple[Check, ...]
    level_reached: Level | None
    score: float  # 0–100: pass 1, warn 0.5, fail and unknown 0, averaged
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"level_reached": self.level_reached.value if self.level_reached else None,
                "score": self.score, "counts": self.counts,
                "checks": [{**asdict(c), "status": c.status.value, "level": c.level.value}
                           for c in self.checks]}


def level_reached(checks: tuple[Check, ...]) -> Level | None:
    reached: Level | None = None
    for level in LEVEL_ORDER:
        mine = [c for c in checks if c.level == level]
        if not mine or any(c.status is not Status.PASS for c in mine):
            return reached
        reached = level
    return reached


def score(checks: tuple[Check, ...]) -> float:
    if not checks:
        return 0.0
    points = {Status.PASS: 1.0, Status.WARN: 0.5, Status.FAIL: 0.0, Status.UNKNOWN: 0.0}
    return round(100 * sum(points[c.status] for c in checks) / len(checks), 1)


def outcome(checks: list[Check]) -> Outcome:
    frozen = tuple(checks)
    counts = {s.value: sum(1 for c in frozen if c.status is s) for s in Status}
    return Outcome(frozen, level_reached(frozen), score(frozen), counts)
