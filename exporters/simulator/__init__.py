"""A loopback simulator of every provider API stackwatch reads (see server.py and README.md)."""

from __future__ import annotations

from exporters.providers.vercel.drains import DRAIN_SECRET_ENV
from exporters.service.config import SECRET_ENV, Config, Secrets, parse_config
from exporters.simulator.llamacloud.sim import ORGANIZATION_ID as LLAMACLOUD_ORGANIZATION_ID
from exporters.simulator.server import SIMULATED, Simulator, ThreadedSimulator
from exporters.simulator.vercel.sim import TEAM_ACCOUNT_ID as VERCEL_TEAM_ID
from exporters.simulator.world import DEFAULT_DRAIN_SECRET, DEFAULT_TOKENS, Scale, World

DEMO_TOTAL_BUDGET_USD = 1500
DEMO_DAILY_BUDGET_USD = 60


def simulator_config(base_url: str, *, environment: str = "demo", overrides: dict | None = None) -> dict:
    """A stackwatch config (as a dict) with every provider pointed at the simulator."""
    data: dict = {
        "environment": environment,
        # Plain-http base URLs and the simulator's fixed tokens are accepted (service/config.py).
        "simulator": True,
        "providers": {sim.name: {"enabled": True, "base_url": f"{base_url}{sim.prefix}", **sim.demo_settings}
                      for sim in SIMULATED},
        "budgets": {"monthly_usd": {"total": DEMO_TOTAL_BUDGET_USD,
                                    **{sim.name: sim.demo_budget_usd for sim in SIMULATED}},
                    "daily_usd": {"total": DEMO_DAILY_BUDGET_USD}},
    }
    for section, values in (overrides or {}).items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            _merge(data[section], values)
        else:
            data[section] = values
    return data


def _merge(into: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def simulator_env() -> dict[str, str]:
    """The environment variables that carry the simulator's credentials."""
    env = {SECRET_ENV[name]: token for name, token in DEFAULT_TOKENS.items()}
    env[DRAIN_SECRET_ENV] = DEFAULT_DRAIN_SECRET
    return env


def simulator_runtime_inputs(base_url: str, overrides: dict | None = None) -> tuple[Config, Secrets]:
    config = parse_config(simulator_config(base_url, overrides=overrides), "(simulator config)")
    return config, Secrets.from_env(config, "(simulator config)", simulator_env())


__all__ = ["Simulator", "ThreadedSimulator", "World", "Scale", "simulator_config",
           "simulator_env", "simulator_runtime_inputs", "VERCEL_TEAM_ID", "LLAMACLOUD_ORGANIZATION_ID"]
