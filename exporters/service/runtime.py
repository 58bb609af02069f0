"""Wiring: from a validated config and secrets to a running collector.

One place builds the MeterProvider, the metric store, the cost ledger, the
price book, one HTTP client per enabled provider and the collector, so the
demo, the service, the cost export and the tests all run the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import structlog
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader

from exporters.core.http import Clock, ProviderHTTP
from exporters.core.metrics import MetricStore
from exporters.core.telemetry import METER_NAME, build_meter_provider
from exporters.core.timeutil import utc_moment
from exporters.costs.gauges import register_cost_gauges
from exporters.costs.ledger import CostLedger
from exporters.costs.prices import PriceBook
from exporters.costs.state.ledger import PersistentLedger
from exporters.costs.state.store import StateStore
from exporters.costs.unpriced import UnpricedBook
from exporters.poll.collector import Collector, Provider
from exporters.providers.registry import BY_NAME, all_metrics, billing_zones
from exporters.service.config import Config, Secrets
from exporters.service.config_gauges import set_config_gauges

log = structlog.get_logger("stackwatch.runtime")

@dataclass
class Runtime:
    config: Config
    meter_provider: MeterProvider
    store: MetricStore
    ledger: CostLedger
    prices: PriceBook
    clock: Clock
    collector: Collector
    state: StateStore | None = None  # the state file (None: state kept in memory only)

    async def aclose(self) -> None:
        await self.collector.aclose()
        if self.state is not None:
            self.state.close()

    def shutdown_metrics(self) -> None:
        """Flush and stop the OTLP pipeline (after the last cycle)."""
        self.meter_provider.force_flush()
        self.meter_provider.shutdown()


def build_runtime(config: Config, secrets: Secrets, *, clock: Clock | None = None,
                  exporter: MetricExporter | None = None, extra_readers: tuple[MetricReader, ...] = (),
                  transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
    clock = clock or Clock()
    meter_provider = build_meter_provider(
        config.environment, export_interval_s=config.service.metric_export_interval_seconds,
        exporter=exporter, extra_readers=extra_readers)
    store = MetricStore(meter_provider.get_meter(METER_NAME), all_metrics())
    state = StateStore.in_directory(config.service.data_dir) if config.service.data_dir else None
    anchors = {name: p.billing_anchor_day for name, p in config.providers.enabled().items()}
    zones = billing_zones()
    ledger = PersistentLedger(state, anchors, zones) if state is not None else CostLedger(anchors, zones)
    prices = PriceBook.load()
    providers: list[Provider] = []
    intervals = {}
    for name, pconfig in config.providers.enabled().items():
        http = ProviderHTTP(name, pconfig.base_url, secrets.tokens[name], store=store,
                            timeout_s=pconfig.timeout_seconds, max_retries=pconfig.max_retries,
                            max_concurrency=pconfig.max_concurrency, clock=clock, transport=transport,
                            max_response_bytes=pconfig.max_response_bytes, max_pages=pconfig.max_pages_per_poll,
                            max_rate_limit_wait_s=pconfig.max_rate_limit_wait_seconds,
                            max_poll_bytes=pconfig.max_poll_bytes)
        provider = BY_NAME[name].exporter(pconfig, http)
        if hasattr(provider, "attach_state"):  # providers whose estimates integrate observed state
            provider.attach_state(state, config.service.max_observation_gap_seconds, clock.time())
        providers.append(provider)
        intervals[name] = (pconfig.poll_interval_seconds, pconfig.slow_poll_interval_seconds)
    deadlines = {name: p.poll_deadline_seconds for name, p in config.providers.enabled().items()}
    collector = Collector(providers, store=store, ledger=ledger, prices=prices, clock=clock, intervals=intervals,
                          deadlines=deadlines, unpriced_book=UnpricedBook(state, anchors))
    register_cost_gauges(store, ledger, collector.unpriced_book, lambda: utc_moment(clock.time()))
    set_config_gauges(store, config)
    if state is None:
        log.warning("service.data_dir is not set: observed states and costs are kept in memory only "
                    "and a restart starts them afresh")
    return Runtime(config, meter_provider, store, ledger, prices, clock, collector, state)
