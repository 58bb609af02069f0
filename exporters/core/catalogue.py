"""The metric catalogue's model, and the metrics every provider shares.

A `MetricSpec` says what a metric is (type, unit, attributes, series bound) and the
Prometheus name it becomes. Each provider declares its own `METRICS` in its folder; the
registry (exporters/providers/registry.py) gathers them with these shared ones, and
exporters/ops/catalogue.py renders the whole catalogue as `docs/metrics.md`.

Prometheus names follow prometheus/otlptranslator's default strategy
(UnderscoreEscapingWithSuffixes), the one Prometheus 3's OTLP receiver uses.
The end-to-end tests prove every name against a real Prometheus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum


class Kind(str, Enum):
    COUNTER = "counter"  # monotonic cumulative sum
    GAUGE = "gauge"  # observable gauge, last value per series
    # Exponential (base-2) histogram, cumulative: Prometheus 3's OTLP receiver stores it as
    # one native histogram series per attribute set (no _bucket/_sum/_count series).
    HISTOGRAM = "histogram"


# What one unit of `Series.per` is; benchmarks/cardinality.py counts them at a given scale.
RESOURCES = ("stackwatch", "provider", "Vercel project", "Render service", "Render datastore",
             "Render service or datastore", "Supabase project", "OpenAI project × model", "LlamaCloud project",
             "cost line",  # one provider × service × project (× model) the cost ledger prices
             "unpriced item")  # one model, plan or mode without a price


@dataclass(frozen=True)
class Series:
    """How many series a metric makes at most per unit of what it describes (docs/metrics.md)."""

    per: str  # one of RESOURCES
    at_most: int
    how: str = ""  # where the bound comes from: the attributes' closed value sets

    def __str__(self) -> str:
        return f"≤ {self.at_most} per {self.per}" + (f" ({self.how})" if self.how else "")


@dataclass(frozen=True)
class MetricSpec:
    """One catalogued metric. `attributes` are the only attribute keys it may carry."""

    name: str
    kind: Kind
    unit: str
    description: str
    attributes: tuple[str, ...] = ()
    # Optional attributes may be absent on some points (e.g. `model` on non-AI cost).
    optional_attributes: tuple[str, ...] = field(default=())
    # Expected series per resource; every catalogued metric states it (tests/unit/test_catalogue.py).
    series: Series | None = None

    @property
    def prometheus_name(self) -> str:
        return prometheus_name(self.name, self.unit, self.kind)

    @property
    def prometheus_series(self) -> tuple[str, ...]:
        # A native histogram is one series under the base name; its count and sum are read
        # with histogram_count() / histogram_sum(), its quantiles with histogram_quantile().
        return (self.prometheus_name,)

    @property
    def prometheus_labels(self) -> tuple[str, ...]:
        return tuple(prometheus_label(a) for a in self.attributes)


# --- prometheus/otlptranslator (v1.0.0) naming, UnderscoreEscapingWithSuffixes ---

_UNIT_MAP = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes",
    "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes", "KBy": "kilobytes",
    "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes", "m": "meters",
    "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
    "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent",
}
_PER_UNIT_MAP = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week",
                 "mo": "month", "y": "year"}
_INVALID = re.compile(r"[^a-zA-Z0-9:]+")


def _unit_suffixes(unit: str) -> tuple[str, str]:
    parts = unit.split("/", 1)
    main = parts[0].strip()
    main_suffix = "" if (not main or "{" in main or "}" in main) else _UNIT_MAP.get(main, main)
    per_suffix = ""
    if len(parts) > 1 and parts[1].strip() and not ("{" in parts[1] or "}" in parts[1]):
        per = parts[1].strip()
        per_suffix = "per_" + _PER_UNIT_MAP.get(per, per)
    return main_suffix, per_suffix


def _clean(unit_suffix: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9:]", "_", unit_suffix)).removeprefix("_")


def prometheus_name(name: str, unit: str, kind: Kind) -> str:
    tokens = [t for t in _INVALID.split(name) if t]
    main, per = _unit_suffixes(unit)
    main, per = _clean(main), _clean(per)
    if main in tokens:
        main = ""
    if per == "per_":
        per = ""
    else:
        per = per.removesuffix("_")
        if per in tokens:
            per = ""
    if per:
        main = main.removesuffix("_")
    if main:
        tokens.append(main)
    if per:
        tokens.append(per)
    if kind is Kind.COUNTER:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind is Kind.GAUGE:
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    result = "_".join(tokens)
    return "_" + result if result[:1].isdigit() else result


def prometheus_label(attribute: str) -> str:
    label = re.sub(r"[^a-zA-Z0-9_]", "_", attribute)
    return "key_" + label if label[:1].isdigit() else label


# --- shared metrics (health, cost, budgets, thresholds) ---

PROVIDER = "provider"

SHARED_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("stackwatch.provider.up", Kind.GAUGE, "{status}",
               "1 when the provider's latest poll of every stream succeeded, 0 when any failed.",
               (PROVIDER,), series=Series("provider", 1)),
    MetricSpec("stackwatch.provider.last_success_timestamp", Kind.GAUGE, "s",
               "Unix time of the provider's latest poll cycle in which every stream succeeded.",
               (PROVIDER,), series=Series("provider", 1)),
    MetricSpec("stackwatch.provider.last_success_age", Kind.GAUGE, "s",
               "Seconds since the provider's latest poll cycle in which every stream succeeded (since the "
               "service started while none has). Published by the loop supervisor every second, so it "
               "keeps growing when the poll loop is dead or hung; over 3 poll intervals is stale.",
               (PROVIDER,), series=Series("provider", 1)),
    MetricSpec("stackwatch.provider.loop.restarts", Kind.COUNTER, "{restart}",
               "Poll loops restarted by the supervisor, by reason (died: an exception or an escaped "
               "cancellation ended it; hung: one cycle ran far longer than any healthy poll can).",
               (PROVIDER, "reason"), series=Series("provider", 2, "reasons died, hung")),
    MetricSpec("stackwatch.provider.api.requests", Kind.COUNTER, "{request}",
               "HTTP requests sent to the provider's API, by operation and response status "
               "(`timeout` or `transport_error` when no response arrived).",
               (PROVIDER, "operation", "status_code"),
               series=Series("provider", 80, "operations (≤ 16) × response statuses seen (≤ 5)")),
    MetricSpec("stackwatch.provider.api.request.duration", Kind.HISTOGRAM, "s",
               "Time from sending an HTTP request to the provider's API to its response headers (or the "
               "timeout or transport error), by operation.", (PROVIDER, "operation"),
               series=Series("provider", 16, "operations (≤ 16)")),
    MetricSpec("stackwatch.provider.ratelimit.remaining", Kind.GAUGE, "1",
               "Rate-limit headroom: remaining / limit from the provider's latest rate-limit headers.",
               (PROVIDER,), series=Series("provider", 1)),
    MetricSpec("stackwatch.provider.poll.duration", Kind.HISTOGRAM, "s",
               "Wall time of one poll of one stream.", (PROVIDER, "stream", "outcome"),
               series=Series("provider", 16, "streams (≤ 8: Supabase's) × outcome ok/error")),
    MetricSpec("stackwatch.provider.poll.errors", Kind.COUNTER, "{error}",
               "Failed polls, by stream and reason (auth, rate_limited, server_error, timeout, "
               "transport, malformed, client_error; dependency: not polled because a stream it "
               "needs, e.g. the project list, has never succeeded; too_large: a response over "
               "max_response_bytes, decompressed bytes included, or a poll's responses together over "
               "max_poll_bytes; deadline: the poll outlived "
               "poll_deadline_seconds; pagination: a listing repeated a cursor or passed "
               "max_pages_per_poll).", (PROVIDER, "stream", "reason"),
               series=Series("provider", 104, "streams (≤ 8) × reasons (≤ 13); only after failures")),
    MetricSpec("stackwatch.provider.invalid_items", Kind.COUNTER, "{item}",
               "Items in a provider response that failed validation and were skipped.",
               (PROVIDER, "stream"), series=Series("provider", 8, "streams (≤ 8); only after invalid items")),
    MetricSpec("stackwatch.cost.today_usd", Kind.GAUGE, "{USD}",
               "Cost of the current UTC day so far, billed where billed figures exist, else estimated.",
               (PROVIDER, "service", "project", "cost_source"), optional_attributes=("model",),
               series=Series("cost line", 2, "cost_source billed or estimated")),
    MetricSpec("stackwatch.cost.month_to_date_usd", Kind.GAUGE, "{USD}",
               "Cost of the current UTC calendar month so far.",
               (PROVIDER, "service", "project", "cost_source"), optional_attributes=("model",),
               series=Series("cost line", 2, "cost_source billed or estimated")),
    MetricSpec("stackwatch.cost.forecast.month_end_usd", Kind.GAUGE, "{USD}",
               "Forecast cost of the whole current month (see docs/monitoring-guide.md, Forecast).",
               (PROVIDER,), series=Series("provider", 1)),
    MetricSpec("stackwatch.cost.unpriced_items", Kind.COUNTER, "{item}",
               "Usage items with no price (unknown model or plan): counted, never priced at $0.",
               (PROVIDER, "item"), series=Series("unpriced item", 1)),
    MetricSpec("stackwatch.cost.focus.month_to_date_effective_usd", Kind.GAUGE, "{USD}",
               "FOCUS EffectiveCost (after discounts and amortised commitments) over the provider's current "
               "billing cycle so far; a record without its own figure counts its BilledCost.", (PROVIDER,),
               series=Series("provider", 1)),
    MetricSpec("stackwatch.cost.focus.month_to_date_list_usd", Kind.GAUGE, "{USD}",
               "FOCUS ListCost (at list price) over the provider's current billing cycle so far; a record "
               "without its own figure counts its BilledCost.", (PROVIDER,), series=Series("provider", 1)),
    MetricSpec("stackwatch.cost.unpriced.month_to_date_usd", Kind.GAUGE, "{USD}",
               "Amount of usage the provider bills but stackwatch cannot price, over the provider's current "
               "billing cycle so far, where the provider's data gives one (e.g. credits of an unknown "
               "LlamaCloud event type, OpenAI's billed rate of an unpriced model); not included in the cost "
               "gauges; kept in the state file across restarts.", (PROVIDER, "item"), series=Series("unpriced item", 1)),
    MetricSpec("stackwatch.cost.unpriced.usage", Kind.GAUGE, "{quantity}",
               "Quantity of each unpriced item over the provider's current billing cycle so far, in the "
               "provider's unit (tokens, pages, credits): what the cost gauges leave out.", (PROVIDER, "item", "unit"),
               series=Series("unpriced item", 1, "its unit")),
    MetricSpec("stackwatch.budget.monthly_usd", Kind.GAUGE, "{USD}",
               "Monthly budget from config; provider=\"all\" is the total budget.", (PROVIDER,),
               series=Series("stackwatch", 6, "total and 5 providers, those configured")),
    MetricSpec("stackwatch.budget.daily_usd", Kind.GAUGE, "{USD}",
               "Daily budget from config; provider=\"all\" is the total budget.", (PROVIDER,),
               series=Series("stackwatch", 6, "total and 5 providers, those configured")),
    MetricSpec("stackwatch.recommendation.savings_monthly_usd", Kind.GAUGE, "{USD}",
               "Monthly saving of one of the top recommendations of `stackwatch report`, pushed over OTLP by "
               "`stackwatch report --push` (present for Prometheus' lookback after each push; kind: rightsize, "
               "idle, compute_size, batch_api, prompt_cache, parse_mode, repeat_parse, cache_hit_ratio).",
               (PROVIDER, "kind", "resource"), series=Series("stackwatch", 10, "the top 10 recommendations")),
    MetricSpec("stackwatch.threshold.response_time", Kind.GAUGE, "s",
               "Response-time alert threshold from config, by tier (frontend, backend, database).",
               ("tier",), series=Series("stackwatch", 3, "tiers frontend, backend, database")),
    MetricSpec("stackwatch.threshold.error_rate", Kind.GAUGE, "1",
               "Error-rate alert threshold from config.", (), series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.cpu_utilization", Kind.GAUGE, "1",
               "CPU utilisation alert threshold from config.", (), series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.memory_utilization", Kind.GAUGE, "1",
               "Memory utilisation alert threshold from config.", (), series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.availability", Kind.GAUGE, "1",
               "Availability objective from config.", (), series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.connections_utilization", Kind.GAUGE, "1",
               "Database connections / max connections alert threshold from config.", (),
               series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.backup_age", Kind.GAUGE, "s",
               "Age of the latest backup above which a project without PITR alerts, from config.", (),
               series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.tls_expiry", Kind.GAUGE, "s",
               "Time left on a TLS certificate below which it alerts, from config.", (),
               series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.data_staleness", Kind.GAUGE, "s",
               "Age of a provider's last successful poll above which its data counts as stale, from config.", (),
               series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.ratelimit_headroom", Kind.GAUGE, "1",
               "Rate-limit headroom (remaining / limit) below which it alerts, from config.", (),
               series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.spend_anomaly_factor", Kind.GAUGE, "{factor}",
               "Runaway spend: a spend rate above this multiple of the provider's average rate this month alerts "
               "(RunawaySpend); the Costs board's anomaly line is this multiple of the 14-day median day. From config.",
               (), series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.spend_anomaly_floor_usd", Kind.GAUGE, "{USD}",
               "The Costs board's anomaly line never goes below this daily amount, from config.", (),
               series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.runaway_spend_floor_hourly_usd", Kind.GAUGE, "{USD}",
               "A provider's spend rate (USD per hour over the last 30 min) never alerts as runaway spend below "
               "this, from config.", (), series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.disk_utilization", Kind.GAUGE, "1",
               "Supabase disk used / disk size above which it alerts, from config.", (),
               series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.replication_lag", Kind.GAUGE, "s",
               "Supabase read-replica replication lag above which it alerts, from config.", (),
               series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.traffic_spike_factor", Kind.GAUGE, "{factor}",
               "Traffic spike: a request rate above this multiple of its own baseline (the same time 1 d and "
               "7 d ago, the higher) alerts (TrafficSpike). From config.", (), series=Series("stackwatch", 1)),
    MetricSpec("stackwatch.threshold.traffic_spike_floor", Kind.GAUGE, "{request}/s",
               "A request rate never alerts as a traffic spike below this (requests per second), from config.", (),
               series=Series("stackwatch", 1)),
)
