"""The shape of one alert definition, and the timing it is rendered with.

An alert's PromQL returns the measured value only for the series that breach
(the comparison against the `stackwatch_threshold_*` / `stackwatch_budget_*`
series is inside the expression), so both renderings agree: Prometheus fires
for every returned series, and Grafana's condition fires for every series the
query returned (`is_number($B)`, whatever the value, 0 included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum
from string import Template


class Severity(str, Enum):
    CRITICAL = "critical"  # pages (alerting/channels.py: PagerDuty and/or SMS, else the fallback chain)
    WARNING = "warning"  # team channels (Slack, email)
    INFO = "info"  # email
    NONE = "none"  # the Watchdog: never a person, only the heartbeat receiver


class Source(str, Enum):
    """Where an alert's data comes from: inhibition silences what a dead source feeds."""

    STACKWATCH = "stackwatch"  # stackwatch's OTLP metrics (provider polls, drains, config)
    BLACKBOX = "blackbox"  # Prometheus' scrapes of the blackbox probes
    SUPABASE_METRICS = "supabase-metrics"  # Prometheus' scrapes of Supabase's metrics endpoints
    COLLECTOR = "collector"  # the OpenTelemetry Collector's own telemetry
    PROMETHEUS = "prometheus"  # Prometheus itself (up, absent inputs, the Watchdog)
    ALERTMANAGER = "alertmanager"  # Alertmanager's own metrics


class ValueFormat(str, Enum):
    """How the value is printed in summaries (each maps to a Prometheus/Grafana template function)."""

    SECONDS = "seconds"
    RATIO = "ratio"  # printed as a percentage
    USD = "usd"
    COUNT = "count"
    FACTOR = "factor"  # a multiple, printed as "3.2x"


@dataclass(frozen=True)
class Figure:
    """A second number a message prints, `{figure:<name>}` in its texts (TrafficSpike's baseline):
    its own PromQL, one series per object, labelled like the alert's firing series on `on`."""

    name: str
    expr: str  # may hold `${window}` placeholders, as Alert.expr
    on: tuple[str, ...]  # the labels that pick the firing object's series
    value_format: ValueFormat


@dataclass(frozen=True)
class Alert:
    """One alert, rendered into Grafana provisioning and the Prometheus rule twin.

    `expr` may hold `${window}` placeholders (see `Windows`) so a test can shrink
    every window by the same factor without touching the production values.
    `summary` and `description` may use `{value}` (the measured value, formatted
    per `value_format`), `{label:<name>}` (a label of the firing series) and
    `{figure:<name>}` (one of `figures`).
    """

    name: str
    group: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    description: str
    value_format: ValueFormat
    dashboard: str  # dashboard uid in grafana/dashboards
    tier: str  # frontend, backend, database, cost, collection…; "" when the series carry it
    source: Source = Source.STACKWATCH
    provider: str | None = None  # static provider label; None when the series carry it
    labels: dict[str, str] = field(default_factory=dict)
    # Dashboard variable -> label of the firing series it is set from (dashboard_url's var-…).
    dashboard_vars: dict[str, str] = field(default_factory=dict)
    # Several rules of one alert name and severity (AlertInputAbsent: one per input) differ here.
    variant: str = ""
    # "daily": notified once a day while it fires (budgets: nothing to fix at 3 am).
    cadence: str = ""
    figures: tuple[Figure, ...] = ()

    @property
    def key(self) -> str:
        """Unique per definition: escalation steps share a name and differ in severity."""
        return f"{self.name}:{self.severity.value}" + (f":{self.variant}" if self.variant else "")

    def static_labels(self) -> dict[str, str]:
        labels = {"severity": self.severity.value, "source": self.source.value, **self.labels}
        if self.tier:
            labels["tier"] = self.tier
        if self.provider:
            labels["provider"] = self.provider
        if self.cadence:
            labels["cadence"] = self.cadence
        return dict(sorted(labels.items()))


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def duration_seconds(text: str) -> int:
    """Prometheus-style duration ("1h30m", "14d", "0s") in seconds; ValueError otherwise."""
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"not a duration: {text!r}")
    d, h, m, s = (int(g or 0) for g in match.groups())
    return ((d * 24 + h) * 60 + m) * 60 + s


def format_duration(seconds: float) -> str:
    """Seconds as the shortest Prometheus duration (whole seconds, at least 1s unless 0)."""
    total = int(round(seconds))
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts)


# Two of Render's default 60 s buckets: a scaled window shorter than that would see the counter
# step once per bucket and hold the error share for less than the rule's `for`.
BUCKETED_RATE_FLOOR_S = 120
# Supabase's auth outcomes arrive once a minute (whole minutes of the auth logs): a scaled window must
# hold three of those steps for a failure share to last through the rule's `for`.
AUTH_WINDOW_FLOOR_S = 180


@dataclass(frozen=True)
class Windows:
    """Every range window the expressions use, by placeholder name."""

    rate: str = "5m"  # rates and averages of the seed thresholds
    # Rates of counters a provider reports per complete bucket (Render's metrics API: one
    # bucket of resolutionSeconds, 30-60 s, per step). The window must hold several buckets,
    # so `scaled` never shrinks it below BUCKETED_RATE_FLOOR_S.
    bucketed_rate: str = "5m"
    deploys: str = "15m"  # how far back a failed deploy still alerts
    unpriced: str = "15m"
    drain: str = "10m"
    auth: str = "15m"  # Supabase authentication outcomes (minute steps): never scaled below AUTH_WINDOW_FLOOR_S
    absent: str = "10m"
    burn_fast_long: str = "1h"
    burn_fast_short: str = "5m"
    burn_medium_long: str = "6h"
    burn_medium_short: str = "30m"
    burn_slow_long: str = "3d"
    burn_slow_short: str = "6h"
    spend: str = "30m"  # runaway spend: the spend rate is measured over this window
    # ... and over this shorter one too: a one-off lump of cost leaves it before `for` has passed.
    spend_short: str = "10m"
    # Runaway spend compares with the month's average rate so far; quiet until it covers this long.
    spend_baseline_min: str = "6h"
    # The Costs board's usual day (rules.BASELINE): real days either way, never scaled.
    baseline: str = "14d"
    day: str = "1d"
    baseline_step: str = "15m"
    # Traffic spikes: the request rate over this window against the same window `day` and `week` ago.
    spike: str = "15m"
    week: str = "7d"
    # Render autoscaling: an instance-count change within this window is told.
    scaling: str = "15m"


@dataclass(frozen=True)
class Timing:
    """Rule-group evaluation interval plus windows; `scaled` makes the test override."""

    interval: str = "1m"
    windows: Windows = field(default_factory=Windows)
    for_scale: float = 1.0

    def scaled(self, factor: float, *, interval: str) -> Timing:
        """Every window and `for` multiplied by `factor` (tests only); the 1d/14d shape of the
        spend baseline is kept, it needs real days of history either way."""
        keep = {"baseline", "day", "baseline_step", "week"}
        floor = {"bucketed_rate": BUCKETED_RATE_FLOOR_S, "auth": AUTH_WINDOW_FLOOR_S}
        windows = {name: (value if name in keep else format_duration(
                        max(floor.get(name, 1), duration_seconds(value) * factor)))
                   for name, value in vars(self.windows).items()}
        return replace(self, interval=interval, windows=Windows(**windows), for_scale=factor)

    def for_of(self, alert: Alert) -> str:
        return format_duration(duration_seconds(alert.for_) * self.for_scale)

    def expr_of(self, alert: Alert) -> str:
        return self.fill(alert.expr)

    def fill(self, expr: str) -> str:
        """The PromQL with every `${window}` (a duration) and `${window_s}` (its seconds) filled in."""
        values = dict(vars(self.windows))
        values.update({f"{name}_s": str(duration_seconds(value)) for name, value in vars(self.windows).items()})
        return Template(expr).substitute(values)

    def scale_routing(self, duration: str) -> str:
        """A routing duration (group_wait, group_interval) at this timing's scale, at least 1 s."""
        return format_duration(max(1, duration_seconds(duration) * self.for_scale))


PRODUCTION = Timing()
