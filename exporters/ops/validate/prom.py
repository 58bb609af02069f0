"""A small, bounded Prometheus HTTP API client (instant queries, names, targets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from exporters.core.neterrors import describe

MAX_BYTES = 16 * 1024 * 1024


class PrometheusUnreachable(Exception):
    """Prometheus could not be asked (connection, HTTP status, body): exit 2, named clearly."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class Source(Protocol):
    def query(self, expr: str, at: float | None = None) -> list[Sample]: ...
    def metric_names(self) -> set[str]: ...
    def targets(self) -> list[dict]: ...


class Prometheus:
    def __init__(self, url: str, timeout_s: float = 15.0):
        self.url = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s)

    def _get(self, path: str, params: dict | None = None) -> object:
        where = f"{self.url}{path}"
        try:
            response = self._client.get(where, params=params)
        except httpx.HTTPError as error:
            raise PrometheusUnreachable(f"Prometheus at {self.url}: {describe(error, where)}") from None
        if len(response.content) > MAX_BYTES:
            raise PrometheusUnreachable(f"{where}: answer over {MAX_BYTES} bytes")
        try:
            body = response.json()
        except ValueError:
            raise PrometheusUnreachable(f"{where}: HTTP {response.status_code}, not a Prometheus API answer") from None
        if body.get("status") != "success":
            raise PrometheusUnreachable(f"{where}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def check(self) -> None:
        """One cheap read; PrometheusUnreachable when Prometheus cannot be asked."""
        self._get("/api/v1/status/buildinfo")

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """An instant query, at Unix time `at` (Prometheus' now when None)."""
        params: dict = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        assert isinstance(data, dict)
        if data.get("resultType") == "scalar":
            return [Sample({}, float(data["result"][1]))]
        return [Sample(dict(r["metric"]), float(r["value"][1])) for r in data.get("result", [])
                if "value" in r]

    def metric_names(self) -> set[str]:
        data = self._get("/api/v1/label/__name__/values")
        return set(data) if isinstance(data, list) else set()

    def targets(self) -> list[dict]:
        data = self._get("/api/v1/targets", {"state": "active"})
        return list(data.get("activeTargets", [])) if isinstance(data, dict) else []


class Unreachable:
    """A Prometheus that could not be read: every query raises at once (no timeout per check)."""

    def __init__(self, error: PrometheusUnreachable):
        self.error = error

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        raise self.error

    def metric_names(self) -> set[str]:
        raise self.error

    def targets(self) -> list[dict]:
        raise self.error
