"""The simulated world: scale knobs, the seed, the clock and the scenario.

Everything a provider simulator serves is a pure function of (seed, scale,
time, scenario): the same seed gives the same projects, deployments, usage and
costs, and data appears as simulated time passes, so a second poll sees only
what is new. Each provider simulator also computes its ground truth (exact
costs) with its own code, independent of the exporters' cost model.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from exporters.providers import registry
from exporters.providers.vercel.drains import DEMO_DRAIN_SECRET

# Incidents that are conditions of the world rather than of its traffic: the steady world has
# none of them (nothing in it is alert-worthy). Each is a scenario (it starts when set and ends
# when the scenario changes) and can also be a standing condition of a whole world, history
# included (`World.incidents`), for tests that need it in every day of the history.
CONDITIONS = ("saturation", "backup-missing", "deploy-failure", "unpriced-usage", "supabase-down")
SCENARIOS = ("steady", "latency-spike", "error-burst", "cost-spike", "outage", "rate-limited", "flaky",
             "runaway-spend", "metrics-endpoint-down", "auth-attack", *CONDITIONS)
PROVIDERS = registry.NAMES  # the registry's providers, each simulated (server.py)

# Tokens the simulator accepts (one per provider, the registry's demo tokens); any other token
# gets 401. Real mode refuses them (exporters/service/config.py).
DEFAULT_TOKENS = {p.name: p.demo_token for p in registry.PROVIDERS}
DEFAULT_DRAIN_SECRET = DEMO_DRAIN_SECRET
SUPABASE_SERVICE_ROLE_SECRET = "sim-service-role-secret"


@dataclass(frozen=True)
class Scale:
    vercel_projects: int = 6
    vercel_deployments_per_project_per_day: float = 1.5
    render_services: int = 5
    supabase_projects: int = 3
    openai_models: int = 4
    openai_projects: int = 3
    llamacloud_projects: int = 2
    history_days: int = 40

    @classmethod
    def large(cls) -> "Scale":
        """The benchmark's large organisation."""
        return cls(vercel_projects=200, render_services=100, supabase_projects=20,
                   openai_models=30, openai_projects=10, llamacloud_projects=10, history_days=90)


def stable_seed(*parts: object) -> int:
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass
class World:
    seed: int = 42
    scale: Scale = field(default_factory=Scale)
    # Fixed simulated "now" at start (None: the wall clock); tests and benchmarks pin it.
    start: datetime | None = None
    latency_s: float = 0.0
    scenario: str = "steady"  # the running scenarios joined by "+" ("steady" when none)
    scenario_provider: str | None = None  # outage / rate-limited / flaky target; None = all
    scenario_since: float = 0.0
    # The scenarios running now (several can run side by side: `set_scenarios`), and when each began.
    active: dict[str, float] = field(default_factory=dict)
    # A frozen clock stands still at `start` (plus explicit advances): exact ground truth in tests.
    frozen: bool = False
    # Standing conditions (CONDITIONS) present throughout the world's history, whatever the scenario.
    incidents: frozenset[str] = frozenset()
    # Every scenario set so far (name, provider, since, until; until None while it runs): the
    # simulators derive lasting traces of past incidents (a failed deploy, its fix) from it.
    episodes: list["Episode"] = field(default_factory=list)
    _offset_s: float = 0.0
    _wall_at_start: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.incidents = frozenset(self.incidents)
        unknown = sorted(self.incidents - set(CONDITIONS))
        if unknown:
            raise ValueError(f"unknown incidents {unknown}; expected any of {', '.join(CONDITIONS)}")

    def rng(self, *parts: object) -> random.Random:
        """A random stream that depends only on the seed and `parts` (stable across runs)."""
        return random.Random(stable_seed(self.seed, *parts))

    # --- time ---

    def now_ts(self) -> float:
        if self.start is None:
            return time.time() + self._offset_s
        if self.frozen:
            return self.start.timestamp() + self._offset_s
        return self.start.timestamp() + (time.time() - self._wall_at_start) + self._offset_s

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ts(), tz=timezone.utc)

    def advance(self, seconds: float) -> None:
        self._offset_s += seconds

    def today(self) -> date:
        return self.now().date()

    def history_start(self) -> datetime:
        """Midnight UTC `history_days` ago: the first moment anything exists."""
        start_day = self.today() - timedelta(days=self.scale.history_days)
        return datetime(start_day.year, start_day.month, start_day.day, tzinfo=timezone.utc)

    def epoch(self) -> datetime:
        """A fixed origin for generated schedules (so they do not shift as time passes)."""
        anchor = self.start or datetime.fromtimestamp(self._wall_at_start, tz=timezone.utc)
        day = anchor.date() - timedelta(days=self.scale.history_days)
        return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)

    # --- scenario ---

    def set_scenario(self, name: str, provider: str | None = None) -> None:
        if provider is not None and provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        self.set_scenarios([name], provider)

    def set_scenarios(self, names: list[str], provider: str | None = None) -> None:
        """Run these scenarios side by side from now on (each ends when it is no longer named);
        "steady" alone, or an empty list, runs none."""
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenario {unknown[0]!r}; expected one of {', '.join(SCENARIOS)}")
        if provider is not None and provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        wanted = [n for n in dict.fromkeys(names) if n != "steady"]
        now = self.now_ts()
        for episode in self.episodes:
            if episode.until is None and (episode.name not in wanted or provider != self.scenario_provider):
                episode.until = now
        kept = {n: at for n, at in self.active.items() if n in wanted and provider == self.scenario_provider}
        self.active = {n: kept.get(n, now) for n in wanted}
        for name in wanted:
            if name not in kept:
                self.episodes.append(Episode(name, provider, now))
        self.scenario = "+".join(wanted) or "steady"
        self.scenario_provider = provider
        self.scenario_since = max(self.active.values(), default=now)

    def scenario_applies(self, name: str, provider: str) -> bool:
        return name in self.active and self.scenario_provider in (None, provider)

    def since(self, name: str) -> float:
        """When the running scenario `name` began (now when it does not run)."""
        return self.active.get(name, self.now_ts())

    def condition(self, name: str, provider: str) -> bool:
        """Whether a condition (CONDITIONS) holds now: standing in this world, or its scenario runs."""
        return name in self.incidents or self.scenario_applies(name, provider)

    def episodes_of(self, name: str, provider: str) -> list["Episode"]:
        """The runs of scenario `name` that applied to `provider`, oldest first."""
        return [e for e in self.episodes if e.name == name and e.provider in (None, provider)]

    def incident_deploys(self, provider: str) -> list[tuple[float, bool]]:
        """(time, failed) of the deploys the `deploy-failure` scenario has made so far: one that
        fails when it starts (the first failed deploy a counter sees), and one that fixes it when
        it ends."""
        now = self.now_ts()
        out: list[tuple[float, bool]] = []
        for episode in self.episodes_of("deploy-failure", provider):
            if episode.since <= now:
                out.append((episode.since, True))
            if episode.until is not None and episode.until <= now:
                out.append((episode.until, False))
        return out


@dataclass
class Episode:
    """One run of a scenario: from `since` until `until` (None: still running), simulated time."""

    name: str
    provider: str | None
    since: float
    until: float | None = None


class WorldClock:
    """A clock that follows a world's simulated time: an exporter using it sees the
    same "now" as the simulator, and its sleeps advance simulated time instead of waiting."""

    def __init__(self, world: World):
        self._world = world

    def time(self) -> float:
        return self._world.now_ts()

    async def sleep(self, seconds: float) -> None:
        import asyncio

        self._world.advance(seconds)
        await asyncio.sleep(0)
