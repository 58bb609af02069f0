"""Budgets and thresholds from the config, exported as gauges.

They are series so that alert rules compare series with series, and a changed budget needs
no rule change.
"""

from __future__ import annotations

from exporters.core.metrics import MetricStore
from exporters.providers.registry import NAMES
from exporters.service.config import Config


def set_config_gauges(store: MetricStore, config: Config) -> None:
    owner = "config"
    for metric, budgets in (("stackwatch.budget.monthly_usd", config.budgets.monthly_usd),
                            ("stackwatch.budget.daily_usd", config.budgets.daily_usd)):
        points = {}
        for name in ("total", *NAMES):
            value = getattr(budgets, name)
            if value is not None:  # an unset budget is absent, not 0
                points[(("provider", "all" if name == "total" else name),)] = float(value)
        store.replace_gauges(metric, owner, points)
    t = config.thresholds
    store.replace_gauges("stackwatch.threshold.response_time", owner, {
        (("tier", tier),): getattr(t.response_time_seconds, tier) for tier in ("frontend", "backend", "database")})
    store.replace_gauges("stackwatch.threshold.error_rate", owner, {(): t.error_rate_ratio})
    store.replace_gauges("stackwatch.threshold.cpu_utilization", owner, {(): t.cpu_utilization_ratio})
    store.replace_gauges("stackwatch.threshold.memory_utilization", owner, {(): t.memory_utilization_ratio})
    store.replace_gauges("stackwatch.threshold.availability", owner, {(): t.availability_ratio})
    for name, value in (("connections_utilization", t.connections_utilization_ratio),
                        ("backup_age", t.backup_age_seconds), ("tls_expiry", t.tls_expiry_seconds),
                        ("data_staleness", t.data_staleness_seconds),
                        ("ratelimit_headroom", t.ratelimit_headroom_ratio),
                        ("spend_anomaly_factor", t.spend_anomaly_factor),
                        ("spend_anomaly_floor_usd", t.spend_anomaly_floor_usd),
                        ("runaway_spend_floor_hourly_usd", t.runaway_spend_floor_hourly_usd),
                        ("disk_utilization", t.disk_utilization_ratio),
                        ("replication_lag", t.replication_lag_seconds),
                        ("traffic_spike_factor", t.traffic_spike_factor),
                        ("traffic_spike_floor", t.traffic_spike_floor_per_second)):
        store.replace_gauges(f"stackwatch.threshold.{name}", owner, {(): float(value)})
