"""`stackwatch.yaml`: the whole file's schema, with one section per registered provider.

The shared sections and the reading of the file are in exporters/core/config.py; each
provider's section is its own config class (exporters/providers/<name>/config.py), listed
by the registry. Secrets never live in this file: each provider names the environment
variable its credential comes from, and `Secrets.from_env` reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, ValidationError, create_model

from exporters.core.config import (
    PLACEHOLDER,
    ConfigError,
    Logging,
    ProviderBase,
    Service,
    Strict,
    Thresholds,
    Usd,
    base_url_problem,
    describe,
    load_yaml,
    token_problem,
)
from exporters.providers.registry import BY_NAME, NAMES, PROVIDERS
from exporters.providers.vercel.drains import DEMO_DRAIN_SECRET, DRAIN_SECRET_ENV

# The environment variable each provider's credential comes from.
SECRET_ENV = {p.name: p.secret_env for p in PROVIDERS}


class ProviderSections(Strict):
    def enabled(self) -> dict[str, ProviderBase]:
        return {name: getattr(self, name) for name in NAMES if getattr(self, name).enabled}


# `providers:` has one key per registered provider, each its provider's config class.
Providers = create_model("Providers", __base__=ProviderSections,
                         **{p.name: (p.config, Field(default_factory=p.config)) for p in PROVIDERS})
# A budget for the total and one per registered provider; an unset budget is absent, not 0.
MonthlyBudgets = create_model("MonthlyBudgets", __base__=Strict, total=(Usd | None, None),
                              **{name: (Usd | None, None) for name in NAMES})


class DailyBudgets(MonthlyBudgets):  # type: ignore[misc, valid-type]
    pass


class Budgets(Strict):
    monthly_usd: MonthlyBudgets = Field(default_factory=MonthlyBudgets)  # type: ignore[valid-type]
    daily_usd: DailyBudgets = Field(default_factory=DailyBudgets)


class Config(Strict):
    environment: str = "production"
    # Every enabled provider points at stackwatch's own simulator (the demo): plain-http base
    # URLs on any host and the simulator's fixed tokens are accepted. Off (the default), a
    # base_url must be https:// (http:// only on loopback) and a simulator token is an error,
    # so an unset variable that a compose default filled in cannot pass for a real token.
    simulator: bool = False
    providers: Providers = Field(default_factory=Providers)  # type: ignore[valid-type]
    budgets: Budgets = Field(default_factory=Budgets)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    service: Service = Field(default_factory=Service)
    logging: Logging = Field(default_factory=Logging)


def _placeholder_problems(config: Config) -> list[str]:
    """Enabled providers' ids still holding the example's placeholders."""
    problems = []
    for name, provider in config.providers.enabled().items():
        for key, expected in BY_NAME[name].id_keys.items():
            value = getattr(provider, key)
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and PLACEHOLDER.search(v) for v in values):
                problems.append(f"providers.{name}.{key}: still the example's placeholder; expected {expected} "
                                "(docs/getting-started.md)")
    return problems


def parse_config(data: object, source: str) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping of keys to values"])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, describe(exc)) from None
    problems = [p for name, provider in config.providers.enabled().items()
                if (p := base_url_problem(name, provider.base_url, config.simulator))]
    problems += _placeholder_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def load_config(path: str | Path) -> Config:
    return parse_config(load_yaml(path, str(path)), str(path))


@dataclass(frozen=True)
class Secrets:
    """Credentials read from the environment. `repr` never shows a value."""

    tokens: dict[str, str]
    drain_secret: str | None

    def __repr__(self) -> str:
        return f"Secrets(providers={sorted(self.tokens)}, drain_secret={'set' if self.drain_secret else 'unset'})"

    @classmethod
    def from_env(cls, config: Config, source: str, environ: dict[str, str] | None = None) -> "Secrets":
        env = os.environ if environ is None else environ
        problems, tokens = [], {}
        for name in config.providers.enabled():
            variable = SECRET_ENV[name]
            value = env.get(variable, "").strip()
            if not value:
                problems.append(f"providers.{name}.enabled is true but the environment variable "
                                f"{variable} is not set (expected the provider's API token)")
            elif problem := token_problem(variable, value):
                problems.append(problem)
            elif value == BY_NAME[name].demo_token and not config.simulator:
                problems.append(f"providers.{name}: {variable} holds the simulator's demo token, which no "
                                "real provider accepts (an unset variable filled by a compose default?); "
                                "set the real token, or `simulator: true` to poll the simulator")
            tokens[name] = value
        drain = env.get(DRAIN_SECRET_ENV, "").strip() or None
        if drain is None and config.simulator:
            # The demo: the simulator signs its drains with its fixed secret, which compose no longer
            # passes (it would follow a real-mode stack into production and be refused there).
            drain = DEMO_DRAIN_SECRET
        elif drain is not None:
            if problem := token_problem(DRAIN_SECRET_ENV, drain):
                problems.append(problem)
            elif drain == DEMO_DRAIN_SECRET and not config.simulator:
                problems.append(f"{DRAIN_SECRET_ENV} holds the simulator's demo secret; set the secret "
                                "Vercel signs drains with (or `simulator: true`)")
        if problems:
            raise ConfigError(source, problems)
        return cls(tokens=tokens, drain_secret=drain)

    def values(self) -> list[str]:
        """Every secret value, for the log redactor."""
        return [v for v in [*self.tokens.values(), self.drain_secret] if v]
