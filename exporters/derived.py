"""Gauges derived at export time: costs from the ledger, budgets and thresholds from config.

Budgets and thresholds are series so that alert rules compare series with
series, and a changed budget needs no rule change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from .config import PROVIDER_NAMES, Config
from .cost import CostLedger
from .http import Clock
from .metrics import MetricStore

Points = Iterable[tuple[Mapping[str, str], float]]


def _cost_attrs(key: tuple[str, str, str, str, str]) -> dict[str, str]:
    provider, service, project, model, source = key
    attrs = {"provider": provider, "service": service, "project": project, "cost_source": source}
    if model:
        attrs["model"] = model
    return attrs


def register_cost_gauges(store: MetricStore, ledger: CostLedger, clock: Clock) -> None:
    def now() -> datetime:
        return datetime.fromtimestamp(clock.time(), tz=timezone.utc)

    def today() -> Points:
        return [(_cost_attrs(k), v) for k, v in ledger.summary(now()).today.items()]

    def month_to_date() -> Points:
        return [(_cost_attrs(k), v) for k, v in ledger.summary(now()).month_to_date.items()]

    def forecast() -> Points:
        return [({"provider": p}, v) for p, v in ledger.summary(now()).forecast_by_provider.items()]

    store.add_gauge_source("stackwatch.cost.today_usd", today)
    store.add_gauge_source("stackwatch.cost.month_to_date_usd", month_to_date)
    store.add_gauge_source("stackwatch.cost.forecast.month_end_usd", forecast)


def set_config_gauges(store: MetricStore, config: Config) -> None:
    owner = "config"
    for metric, budgets in (("stackwatch.budget.monthly_usd", config.budgets.monthly_usd),
                            ("stackwatch.budget.daily_usd", config.budgets.daily_usd)):
        points = {}
        for name in ("total", *PROVIDER_NAMES):
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
                        ("runaway_spend_floor_hourly_usd", t.runaway_spend_floor_hourly_usd)):
        store.replace_gauges(f"stackwatch.threshold.{name}", owner, {(): float(value)})
