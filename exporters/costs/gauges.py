"""Every cost gauge, registered in one place and read at export time: cost today, month to date and the
month-end forecast (from the ledger), FOCUS' effective and list figures, and the usage with no price."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from exporters.core.metrics import MetricStore
from exporters.costs.focus_figures import month_to_date_figures
from exporters.costs.ledger import CostLedger
from exporters.costs.unpriced import UnpricedBook

Points = Iterable[tuple[Mapping[str, str], float]]


def _cost_attrs(key: tuple[str, str, str, str, str]) -> dict[str, str]:
    provider, service, project, model, source = key
    attrs = {"provider": provider, "service": service, "project": project, "cost_source": source}
    if model:
        attrs["model"] = model
    return attrs


def register_cost_gauges(store: MetricStore, ledger: CostLedger, unpriced: UnpricedBook,
                         now: Callable[[], datetime]) -> None:
    """`now`: the clock the figures are read at (UTC)."""
    def today() -> Points:
        return [(_cost_attrs(k), v) for k, v in ledger.summary(now()).today.items()]

    def month_to_date() -> Points:
        return [(_cost_attrs(k), v) for k, v in ledger.summary(now()).month_to_date.items()]

    def forecast() -> Points:
        return [({"provider": p}, v) for p, v in ledger.summary(now()).forecast_by_provider.items()]

    def unpriced_amounts() -> Points:
        by_item: dict[tuple[str, str], float] = defaultdict(float)
        for (provider, item, _unit), (_quantity, usd) in unpriced.month_to_date(now().date()).items():
            if usd is not None:
                by_item[(provider, item)] += usd
        return [({"provider": p, "item": i}, usd) for (p, i), usd in by_item.items()]

    def unpriced_quantities() -> Points:
        return [({"provider": p, "item": i, "unit": unit}, quantity)
                for (p, i, unit), (quantity, _usd) in unpriced.month_to_date(now().date()).items()]

    def focus_figure(index: int) -> Callable[[], Points]:
        def points() -> Points:
            return [({"provider": p}, values[index]) for p, values in month_to_date_figures(ledger, now()).items()]
        return points

    store.add_gauge_source("stackwatch.cost.today_usd", today)
    store.add_gauge_source("stackwatch.cost.month_to_date_usd", month_to_date)
    store.add_gauge_source("stackwatch.cost.forecast.month_end_usd", forecast)
    store.add_gauge_source("stackwatch.cost.unpriced.month_to_date_usd", unpriced_amounts)
    store.add_gauge_source("stackwatch.cost.unpriced.usage", unpriced_quantities)
    store.add_gauge_source("stackwatch.cost.focus.month_to_date_effective_usd", focus_figure(1))
    store.add_gauge_source("stackwatch.cost.focus.month_to_date_list_usd", focus_figure(2))
