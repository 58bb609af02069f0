"""Render list filters and metrics parameters, as `render.openapi.json` documents them.

The list endpoints (`/services`, `/postgres`, `/services/{id}/deploys`) take array
filters declared `style: form, explode: false` — comma-joined (`type=web_service,cron_job`)
— which clients also send as repeated keys; both are accepted (params.py). Filters
apply to the response bodies, so they work on whatever resources render.py builds.
An enum filter with an unknown value is a 400 `{"id", "message"}`, Render's error object.

Metrics endpoints take `resource` as one id or several comma-joined
(`srv-xxxxx,dpg-xxxxx`), `startTime`/`endTime` as RFC 3339 (the document) or epoch
seconds (its prose), and validate `aggregationMethod`, `aggregateBy` and `quantile`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from multidict import MultiMapping

from exporters.simulator.params import array_param, scalar_param, unknown_values

SERVICE_TYPES = ("static_site", "web_service", "private_service", "background_worker", "cron_job")
REGIONS = ("frankfurt", "oregon", "ohio", "singapore", "virginia")
RUNTIMES = ("docker", "elixir", "go", "node", "python", "ruby", "rust", "image")
SUSPENDED = ("suspended", "not_suspended")
DEPLOY_STATUSES = ("created", "queued", "build_in_progress", "update_in_progress", "live", "deactivated",
                   "build_failed", "update_failed", "canceled", "pre_deploy_in_progress", "pre_deploy_failed")
AGGREGATION_METHODS = ("AVG", "MAX", "MIN")
AGGREGATE_BY = ("statusCode", "host")


class BadFilter(ValueError):
    """A documented parameter with a value Render rejects (400)."""


def _time(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise BadFilter(f"{name} must be an RFC 3339 date-time (or epoch seconds)") from None


def _enum(query: MultiMapping[str], name: str, allowed: Sequence[str]) -> set[str]:
    values = array_param(query, name)
    if bad := unknown_values(values, allowed):
        raise BadFilter(f"invalid {name} {bad[0]!r}: expected one of {', '.join(allowed)}")
    return set(values)


def _iso_ts(text: Any) -> float | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if isinstance(text, str) else None


# Where each list's filters look in an item's body.
Getter = Callable[[dict], Any]
SERVICE_FIELDS: dict[str, Getter] = {
    "name": lambda b: b.get("name"), "type": lambda b: b.get("type"),
    "region": lambda b: (b.get("serviceDetails") or {}).get("region"),
    "env": lambda b: (b.get("serviceDetails") or {}).get("env"),
    "suspended": lambda b: b.get("suspended"), "ownerId": lambda b: b.get("ownerId"),
    "environmentId": lambda b: b.get("environmentId"),
}
POSTGRES_FIELDS: dict[str, Getter] = {
    "name": lambda b: b.get("name"), "region": lambda b: b.get("region"),
    "suspended": lambda b: b.get("suspended"), "ownerId": lambda b: (b.get("owner") or {}).get("id"),
    "environmentId": lambda b: b.get("environmentId"),
}
ENUMS = {"type": SERVICE_TYPES, "region": REGIONS, "env": RUNTIMES, "suspended": SUSPENDED}
TIME_FILTERS = {"createdBefore": ("createdAt", "<"), "createdAfter": ("createdAt", ">"),
                "updatedBefore": ("updatedAt", "<"), "updatedAfter": ("updatedAt", ">"),
                "finishedBefore": ("finishedAt", "<"), "finishedAfter": ("finishedAt", ">")}


def filter_items(query: MultiMapping[str], rows: list[tuple[str, dict]], fields: dict[str, Getter],
                 time_filters: Sequence[str] = ("createdBefore", "createdAfter", "updatedBefore",
                                                "updatedAfter")) -> list[tuple[str, dict]]:
    """The (cursor, body) rows that pass every documented filter present in `query`."""
    wanted: dict[str, set[str]] = {}
    for name in fields:
        values = _enum(query, name, ENUMS[name]) if name in ENUMS else set(array_param(query, name))
        if values:
            wanted[name] = values
    bounds = [(TIME_FILTERS[name], moment) for name in time_filters
              if (moment := _time(scalar_param(query, name), name)) is not None]
    out = []
    for cursor, body in rows:
        if any(fields[name](body) not in values for name, values in wanted.items()):
            continue
        if not all(_passes(body, field_, op, moment) for (field_, op), moment in bounds):
            continue
        out.append((cursor, body))
    return out


def _passes(body: dict, field_: str, op: str, moment: float) -> bool:
    at = _iso_ts(body.get(field_))
    if at is None:
        return False
    return at < moment if op == "<" else at > moment


def deploy_filters_present(query: MultiMapping[str]) -> bool:
    return bool(array_param(query, "status")) or any(name in query for name in TIME_FILTERS
                                                    if name != "createdAfter")


def filter_deploys(query: MultiMapping[str], rows: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    statuses = _enum(query, "status", DEPLOY_STATUSES)
    rows = [(c, b) for c, b in rows if not statuses or b.get("status") in statuses]
    return filter_items(query, rows, {}, tuple(TIME_FILTERS))


def metric_resources(query: MultiMapping[str]) -> list[str]:
    """`resource` ids, repeated or comma-joined (falling back to the older `service` parameter)."""
    return array_param(query, "resource") or array_param(query, "service")


def check_metric_params(query: MultiMapping[str], metric: str) -> list[str]:
    """Validate the documented enum and number parameters; return the requested quantiles."""
    method = scalar_param(query, "aggregationMethod")
    if method is not None and method not in AGGREGATION_METHODS:
        raise BadFilter(f"invalid aggregationMethod {method!r}: expected one of {', '.join(AGGREGATION_METHODS)}")
    by = scalar_param(query, "aggregateBy")
    if by is not None and by not in AGGREGATE_BY:
        raise BadFilter(f"invalid aggregateBy {by!r}: expected one of {', '.join(AGGREGATE_BY)}")
    start = _time(scalar_param(query, "startTime"), "startTime")
    end = _time(scalar_param(query, "endTime"), "endTime")
    if start is not None and end is not None and start > end:
        raise BadFilter("startTime must not be after endTime")
    quantiles = array_param(query, "quantile") if metric == "http-latency" else []
    for q in quantiles:
        try:
            value = float(q)
        except ValueError:
            raise BadFilter(f"quantile must be a number between 0 and 1, not {q!r}") from None
        if not 0 < value < 1:
            raise BadFilter(f"quantile must be between 0 and 1, not {q!r}")
    resolution = scalar_param(query, "resolutionSeconds")
    if resolution is not None:
        try:
            float(resolution)
        except ValueError:
            raise BadFilter("resolutionSeconds must be a number") from None
    return quantiles


def serves_host(query: MultiMapping[str], host: str) -> bool:
    """`host` (http metrics): only a service answering on that host has series; each simulated web
    service answers on its `<name>.onrender.com` only. (`path` is accepted and not filtered: the
    simulated traffic has no per-path split.)"""
    wanted = scalar_param(query, "host")
    return wanted is None or wanted == host


def only_instance(query: MultiMapping[str], series: list[dict]) -> list[dict]:
    """`instance`: keep the per-instance series of that instance (series without an instance label,
    such as limits, stay: they describe the whole service)."""
    wanted = scalar_param(query, "instance")
    if wanted is None:
        return series
    out = []
    for item in series:
        instances = [label.get("value") for label in item.get("labels", []) if label.get("field") == "instance"]
        if not instances or wanted in instances:
            out.append(item)
    return out
