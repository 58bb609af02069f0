"""A loopback simulator of every provider API stackwatch reads (see server.py)."""

from __future__ import annotations

from exporters.core.config import SECRET_ENV, Config, Secrets, parse_config
from exporters.simulator.server import Simulator, ThreadedSimulator
from exporters.simulator.world import DEFAULT_DRAIN_SECRET, DEFAULT_TOKENS, Scale, World

# Ids the simulated world uses for scopes (team, owner, organisation).
VERCEL_TEAM_ID = "team_sim0000000000000000"
LLAMACLOUD_ORGANIZATION_ID = "00000000-0000-4000-8000-0000000000aa"


def simulator_config(base_url: str, *, environment: str = "demo", overrides: dict | None = None) -> dict:
    """A stackwatch config (as a dict) with every provider pointed at the simulator."""
    data: dict = {
        "environment": environment,
        # Plain-http base URLs and the simulator's fixed tokens are accepted (config.py).
        "simulator": True,
        "providers": {
            "vercel": {"enabled": True, "base_url": f"{base_url}/vercel", "team_id": VERCEL_TEAM_ID},
            "render": {"enabled": True, "base_url": f"{base_url}/render/v1"},
            "supabase": {"enabled": True, "base_url": f"{base_url}/supabase"},
            "openai": {"enabled": True, "base_url": f"{base_url}/openai/v1"},
            "llamacloud": {"enabled": True, "base_url": f"{base_url}/llamacloud",
                           "organization_id": LLAMACLOUD_ORGANIZATION_ID},
        },
        "budgets": {"monthly_usd": {"total": 1500, "vercel": 200, "render": 300, "supabase": 150,
                                    "openai": 700, "llamacloud": 150},
                    "daily_usd": {"total": 60}},
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
    env["VERCEL_DRAIN_SECRET"] = DEFAULT_DRAIN_SECRET
    return env


def simulator_runtime_inputs(base_url: str, overrides: dict | None = None) -> tuple[Config, Secrets]:
    config = parse_config(simulator_config(base_url, overrides=overrides), "(simulator config)")
    return config, Secrets.from_env(config, "(simulator config)", simulator_env())


__all__ = ["Simulator", "ThreadedSimulator", "World", "Scale", "simulator_config",
           "simulator_env", "simulator_runtime_inputs", "VERCEL_TEAM_ID", "LLAMACLOUD_ORGANIZATION_ID"]
