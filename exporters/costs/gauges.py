"""The cost gauges, read from the ledger at export time: today, month to date, the month-end forecast."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from exporters.core.http import Clock
from exporters.core.metrics import MetricStore
from exporters.costs.ledger import CostLedger

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
