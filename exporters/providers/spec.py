"""What a provider registers: its facts and its parts, in one record (registry.py lists them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from zoneinfo import ZoneInfo

from exporters.core.catalogue import MetricSpec
from exporters.core.config import ProviderBase
from exporters.core.http import ProviderHTTP
from exporters.poll.collector import Provider


@dataclass(frozen=True)
class ProviderSpec:
    """One provider. Every consumer (config, runtime, catalogue, costs, validate, simulator,
    boards, alerts) reads these fields from the registry instead of keeping its own list."""

    name: str  # the id: `providers.<name>` in stackwatch.yaml, the `provider` label, the ledger's key
    display_name: str  # FOCUS ServiceProviderName of its cost records
    config: type[ProviderBase]  # its section of stackwatch.yaml
    secret_env: str  # the environment variable its API token comes from
    exporter: Callable[[ProviderBase, ProviderHTTP], Provider]  # polls its API: (its config, its HTTP client)
    metrics: tuple[MetricSpec, ...]  # what the exporter exports (the metric catalogue)
    module: str  # its package: exporters/providers/<name>/ (config, exporter, cost, README.md)
    board_uid: str  # the Grafana board that shows it (alerts link to it)
    # The simulator's fixed token for it: accepted only with `simulator: true` (service/config.py).
    demo_token: str
    # A regular expression its API tokens match (None: no recognisable shape); validate looks for
    # them where no token belongs (the config file).
    token_shape: str | None = None
    # Billing days in this zone (None: UTC days); "today" and the cycle follow it.
    billing_zone: ZoneInfo | None = None
    # Config keys that hold the ids it needs, with where an operator finds each (check-config).
    id_keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Delivered by its drains (pushed to stackwatch), not polled: absent until a drain delivers.
    drain_metrics: tuple[MetricSpec, ...] = ()
