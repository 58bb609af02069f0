"""The provider registry: every provider stackwatch knows, in one list.

Each provider registers itself in its folder's `__init__.py` (a `ProviderSpec`: name, display
name, config class, secret variable, exporter, metrics, board, billing zone, …). Everything
that needs "every provider" reads this module: the config file's schema, the runtime, the
metric catalogue, the cost export, validate, the simulator, the boards and the alerts; a test
(tests/unit/test_provider_registry.py) fails when a module keeps its own list of names.
Adding a provider: CONTRIBUTING.md, "Add a provider".
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from exporters.core.catalogue import SHARED_METRICS, MetricSpec
from exporters.providers import llamacloud, openai, render, supabase, vercel
from exporters.providers.spec import ProviderSpec

# In this order everywhere a list of providers is shown (config, logs, probe output).
PROVIDERS: tuple[ProviderSpec, ...] = (vercel.PROVIDER, render.PROVIDER, supabase.PROVIDER, openai.PROVIDER,
                                       llamacloud.PROVIDER)
NAMES: tuple[str, ...] = tuple(p.name for p in PROVIDERS)
BY_NAME: dict[str, ProviderSpec] = {p.name: p for p in PROVIDERS}


def display_names() -> dict[str, str]:
    """FOCUS ServiceProviderName of each provider id."""
    return {p.name: p.display_name for p in PROVIDERS}


def billing_zones() -> dict[str, ZoneInfo]:
    """The providers whose billing days are not UTC days, and their zone."""
    return {p.name: p.billing_zone for p in PROVIDERS if p.billing_zone is not None}


def all_metrics() -> tuple[MetricSpec, ...]:
    """The metric catalogue: the shared metrics and every provider's, polled and pushed (docs/metrics.md)."""
    specs = [*SHARED_METRICS, *(m for p in PROVIDERS for m in (*p.metrics, *p.drain_metrics))]
    names = [s.name for s in specs]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"metric declared twice: {sorted(duplicates)}")
    return tuple(specs)


def metric_by_name() -> dict[str, MetricSpec]:
    return {s.name: s for s in all_metrics()}
