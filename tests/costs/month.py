"""A simulated month for cost scenarios: a frozen world, polls at a fixed step, restarts on one state file."""

from __future__ import annotations

from datetime import datetime

from simhelpers import close, make_runtime

from exporters.simulator import Simulator, World
from exporters.simulator.world import Scale


class Month:
    def __init__(self, data_dir: str, start: datetime, only: str, *, step_s: float = 3600.0,
                 provider_config: dict | None = None, scale: Scale | None = None, seed: int = 7,
                 incidents: frozenset[str] = frozenset({"unpriced-usage"})):
        # A month's invoice holds usage stackwatch cannot price, as real ones do (the simulator's
        # `unpriced-usage` condition on every day); pass incidents=frozenset() for a fully priced one.
        self.world = World(seed=seed, scale=scale or Scale(), start=start, frozen=True, incidents=incidents)
        self.sim = Simulator(self.world)
        self.only = only
        self.step_s = step_s
        self.config = {"providers": {only: {"poll_interval_seconds": step_s, "slow_poll_interval_seconds": step_s,
                                            **(provider_config or {})}},
                       "service": {"data_dir": data_dir, "max_observation_gap_seconds": 2 * step_s}}
        self.runtime = None
        self.reader = None

    async def __aenter__(self) -> "Month":
        await self.sim.start()
        self.start_runtime()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.runtime is not None:
            await close(self.runtime)
        await self.sim.stop()

    def start_runtime(self) -> None:
        self.runtime, self.reader = make_runtime(self.sim, only=self.only, overrides=self.config)

    async def restart(self) -> None:
        """A new process on the same state file (nothing in memory survives)."""
        await close(self.runtime)
        self.start_runtime()

    async def poll(self) -> None:
        outcomes = await self.runtime.collector.run_cycle(force=True)
        assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]

    async def run_until(self, until: datetime) -> None:
        """Poll now, then every step up to and including `until`."""
        await self.poll()
        while self.world.now_ts() + self.step_s <= until.timestamp() + 1e-6:
            self.world.advance(self.step_s)
            await self.poll()

    def summary(self):  # type: ignore[no-untyped-def]
        return self.runtime.ledger.summary(self.world.now())

    def mtd(self) -> float:
        return self.summary().month_to_date_by_provider.get(self.only, 0.0)

    def mtd_by_project(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (provider, _service, project, _model, _source), usd in self.summary().month_to_date.items():
            if provider == self.only:
                out[project] = out.get(project, 0.0) + usd
        return out

    def truth(self) -> dict:
        return self.sim.providers[self.only].ground_truth()
