"""The metric store: catalogued OTel instruments plus the last value of every gauge.

Counters and histograms go straight to OTel instruments. Gauges are observable:
each value is held here, owned by the stream that produced it, and read by the
SDK at export time. A failed poll changes nothing here, so gauges keep their
last good values rather than dropping to 0.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from exporters.core.catalogue import Kind, MetricSpec

Attrs = tuple[tuple[str, str], ...]
GaugeSource = Callable[[], Iterable[tuple[Mapping[str, str], float]]]


def attrs_key(attributes: Mapping[str, object]) -> Attrs:
    return tuple(sorted((k, str(v)) for k, v in attributes.items() if v is not None))


class MetricStore:
    def __init__(self, meter: Meter, specs: Iterable[MetricSpec]):
        self._specs = {s.name: s for s in specs}
        self._lock = threading.Lock()
        self._gauges: dict[str, dict[str, dict[Attrs, float]]] = {}
        self._sources: dict[str, list[GaugeSource]] = {}
        self._instruments: dict[str, object] = {}
        self._valid_signatures: set[tuple[str, frozenset[str], frozenset[str]]] = set()
        for spec in self._specs.values():
            self._instruments[spec.name] = self._create(meter, spec)

    def _create(self, meter: Meter, spec: MetricSpec) -> object:
        if spec.kind is Kind.COUNTER:
            return meter.create_counter(spec.name, unit=spec.unit, description=spec.description)
        if spec.kind is Kind.HISTOGRAM:
            # Exponential buckets come from the meter provider's view (telemetry.histogram_views).
            return meter.create_histogram(spec.name, unit=spec.unit, description=spec.description)
        self._gauges[spec.name] = {}
        self._sources[spec.name] = []
        return meter.create_observable_gauge(spec.name, callbacks=[self._callback(spec.name)],
                                             unit=spec.unit, description=spec.description)

    def _callback(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                points = [(dict(k), v) for owned in self._gauges[name].values() for k, v in owned.items()]
                sources = list(self._sources[name])
            for source in sources:
                points.extend((dict(a), v) for a, v in source())
            return [Observation(value, attributes) for attributes, value in points]
        return observe

    def spec(self, name: str) -> MetricSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"metric {name!r} is not in the catalogue") from None

    def check_attributes(self, name: str, attributes: Mapping[str, object]) -> None:
        # Hot path (one call per data point): each attribute-key shape is checked once.
        signature = (name, frozenset(attributes), frozenset(k for k, v in attributes.items() if v is not None))
        if signature in self._valid_signatures:
            return
        spec = self.spec(name)
        allowed = set(spec.attributes) | set(spec.optional_attributes)
        unknown = set(attributes) - allowed
        missing = set(spec.attributes) - {k for k, v in attributes.items() if v is not None}
        if unknown or missing:
            raise ValueError(f"{name}: attributes {sorted(attributes)} do not match the catalogue "
                             f"(unknown {sorted(unknown)}, missing {sorted(missing)})")
        self._valid_signatures.add(signature)

    # --- writes ---

    def add(self, name: str, value: float, attributes: Mapping[str, object]) -> None:
        self.check_attributes(name, attributes)
        if value < 0:
            raise ValueError(f"{name}: a counter cannot decrease (got {value})")
        if value:
            self._instruments[name].add(value, dict(attrs_key(attributes)))  # type: ignore[attr-defined]

    def start_counter(self, name: str, attributes: Mapping[str, object]) -> None:
        """A counter series at 0, so it exists (and increase() sees its first event) before any event."""
        self.check_attributes(name, attributes)
        if self.spec(name).kind is not Kind.COUNTER:
            raise ValueError(f"{name} is not a counter")
        self._instruments[name].add(0, dict(attrs_key(attributes)))  # type: ignore[attr-defined]

    def record(self, name: str, value: float, attributes: Mapping[str, object]) -> None:
        self.check_attributes(name, attributes)
        self._instruments[name].record(value, dict(attrs_key(attributes)))  # type: ignore[attr-defined]

    def replace_gauges(self, name: str, owner: str, points: Mapping[Attrs, float]) -> None:
        if self.spec(name).kind is not Kind.GAUGE:
            raise ValueError(f"{name} is not a gauge")
        for key in points:
            self.check_attributes(name, dict(key))
        with self._lock:
            self._gauges[name][owner] = dict(points)

    def set_gauge(self, name: str, owner: str, value: float, attributes: Mapping[str, object]) -> None:
        """Set one point, keeping the owner's other points of the same gauge."""
        self.check_attributes(name, attributes)
        with self._lock:
            self._gauges[name].setdefault(owner, {})[attrs_key(attributes)] = value

    def add_gauge_source(self, name: str, source: GaugeSource) -> None:
        """A function read at export time (derived values such as cost month-to-date)."""
        if self.spec(name).kind is not Kind.GAUGE:
            raise ValueError(f"{name} is not a gauge")
        self._sources[name].append(source)

    # --- reads (tests, the demo summary) ---

    def gauge_points(self, name: str) -> dict[Attrs, float]:
        with self._lock:
            points = {k: v for owned in self._gauges[name].values() for k, v in owned.items()}
            sources = list(self._sources[name])
        for source in sources:
            points.update({attrs_key(a): v for a, v in source()})
        return points
