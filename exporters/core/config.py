"""What every part of `stackwatch.yaml` is built from: strict models, the provider base, the
sections that name no provider (thresholds, service, logging), and reading the file.

Every object forbids unknown keys; a wrong type or a missing value becomes a `ConfigError`
that names the file, the key path and what was expected. The whole file's schema, with one
section per registered provider, is assembled in exporters/service/config.py.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# `.inf` and `.nan` are valid YAML floats; none of them is a meaningful interval, amount or ratio.
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# Intervals, timeouts and bounds: each field gives its own minimum and maximum (docs/operations.md,
# "Allowed ranges"), so 1e-9 s cannot become a tight loop against a provider's API.
Seconds = Annotated[float, Field(allow_inf_nan=False)]
GiB = 1024 ** 3
MiB = 1024 ** 2
KiB = 1024
DAY_S = 86_400
Usd = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Ratio = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]

# A config file is a few KiB; anything much larger is the wrong file (a log, a binary, /dev/zero).
MAX_CONFIG_BYTES = 1024 * 1024
# Strings this long are never echoed back in an error: a token pasted at the wrong key would be.
MAX_SHOWN_STRING = 7


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class ProviderBase(Strict):
    enabled: bool = False
    base_url: str = Field(description="API base URL; point it at the simulator for a demo")
    poll_interval_seconds: Seconds = Field(60.0, ge=1, le=DAY_S)
    # Slow-changing streams (project lists, billing, backups) poll this often.
    slow_poll_interval_seconds: Seconds = Field(900.0, ge=1, le=DAY_S)
    # How far back the first cycle reads history (month-to-date and the forecast need >= 31 + 7).
    history_days: Annotated[int, Field(ge=1, le=365)] = 38
    timeout_seconds: Seconds = Field(10.0, ge=1, le=300)
    max_retries: Annotated[int, Field(ge=0, le=10)] = 4
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    # Bounds on one poll (docs/operations.md, "Bounds"): a poll past its deadline, a body past
    # its size (decompressed), a listing past its page count fails with poll.errors{reason}.
    poll_deadline_seconds: Seconds = Field(300.0, ge=5, le=3600)
    max_response_bytes: Annotated[int, Field(ge=KiB, le=GiB)] = 8 * 1024 * 1024
    max_pages_per_poll: Annotated[int, Field(ge=1, le=100_000)] = 1000
    # Decoded JSON bytes one poll of one stream may read across all its pages (reason too_large).
    max_poll_bytes: Annotated[int, Field(ge=KiB, le=4 * GiB)] = 64 * 1024 * 1024
    # A rate-limit reset further away than this is clamped; the client probes again after it.
    max_rate_limit_wait_seconds: Seconds = Field(900.0, ge=1, le=DAY_S)
    # Day of the month the provider's billing cycle starts (1 = calendar month; 29..31 mean
    # the month's last day in shorter months). Month-to-date, allowances and credits follow it.
    billing_anchor_day: Annotated[int, Field(ge=1, le=31)] = 1


class ResponseTimes(Strict):
    frontend: PositiveSeconds = 3.0
    backend: PositiveSeconds = 2.0
    database: PositiveSeconds = 0.5


class Thresholds(Strict):
    response_time_seconds: ResponseTimes = Field(default_factory=ResponseTimes)
    error_rate_ratio: Ratio = 0.01
    cpu_utilization_ratio: Ratio = 0.80
    memory_utilization_ratio: Ratio = 0.85
    availability_ratio: Ratio = 0.99
    # Used by the alert rules in alerting/ (exported as stackwatch_threshold_* series).
    connections_utilization_ratio: Ratio = 0.80
    backup_age_seconds: PositiveSeconds = 26 * 3600
    tls_expiry_seconds: PositiveSeconds = 14 * 86400
    data_staleness_seconds: PositiveSeconds = 15 * 60
    ratelimit_headroom_ratio: Ratio = 0.10
    # Runaway spend: a provider's spend rate over the last 30 min alerts when above factor × its
    # average hourly rate this month AND above runaway_spend_floor_hourly_usd. The Costs board's
    # "today vs usual" view draws factor × the 14-day median day, or spend_anomaly_floor_usd.
    spend_anomaly_factor: Annotated[float, Field(gt=1)] = 3.0
    spend_anomaly_floor_usd: Usd = 5.0
    runaway_spend_floor_hourly_usd: Usd = 5.0
    # Supabase: disk used / disk size (read-only mode comes at 95 %), and a read replica's lag.
    disk_utilization_ratio: Ratio = 0.80
    replication_lag_seconds: PositiveSeconds = 600
    # Traffic spike: a request rate above factor x its own baseline (the same time a day and a week
    # ago, whichever is higher) AND above the floor (requests per second), so a quiet project's
    # handful of requests never alerts.
    traffic_spike_factor: Annotated[float, Field(gt=1)] = 3.0
    traffic_spike_floor_per_second: Annotated[float, Field(gt=0)] = 1.0


class Service(Strict):
    listen_host: str = "0.0.0.0"
    listen_port: Annotated[int, Field(ge=0, le=65535)] = 9464
    # /healthz alone, on its own socket and thread, so a flood of connections on listen_port cannot
    # starve an operator's health check (exporters/service/health_listener.py). Unset: no second listener.
    health_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    drain_max_body_bytes: Annotated[int, Field(ge=64 * KiB, le=64 * MiB)] = 4 * 1024 * 1024
    # Receiver bounds (docs/operations.md, "Bounds"). Bodies read at once; more get 503.
    drain_max_concurrent_bodies: Annotated[int, Field(ge=1, le=1024)] = 16
    # Open connections; also kept below the process' file limit at start.
    drain_max_connections: Annotated[int, Field(ge=8, le=65_536)] = 1024
    drain_header_timeout_seconds: Seconds = Field(10.0, ge=1, le=300)
    drain_body_timeout_seconds: Seconds = Field(30.0, ge=1, le=600)
    # Above the usual 60 s idle timeout of load balancers, so they close first; at most 75 s.
    drain_keepalive_seconds: Seconds = Field(75.0, ge=1, le=75)
    # A signed delivery seen again within this window is acknowledged, not counted again.
    drain_replay_window_seconds: Seconds = Field(600.0, ge=0, le=DAY_S)
    # At most 2 min, so Prometheus' 5-minute lookback still finds a sample after a failed export.
    metric_export_interval_seconds: Seconds = Field(30.0, ge=1, le=120)
    # Directory of the state file (observed resource states and the cost ledger, SQLite).
    # Unset: kept in memory only, so a restart forgets both (a warning says so).
    data_dir: str | None = None
    # Longer than this between two observations of a resource is a gap: unobserved, not priced.
    max_observation_gap_seconds: Seconds = Field(3600.0, ge=60, le=DAY_S)


class Logging(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class ConfigError(Exception):
    """A configuration problem, phrased for the operator (no traceback needed)."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def render(self) -> str:
        if len(self.problems) == 1:
            return f"invalid configuration in {self.source}: {self.problems[0]}"
        return "\n".join([f"invalid configuration in {self.source}:"] + [f"  - {p}" for p in self.problems])


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _describe(error: dict) -> str:
    path = _key_path(tuple(p for p in error["loc"] if not str(p).startswith("function-")))
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{path}: unknown key (check the spelling; see stackwatch.example.yaml)"
    if kind == "missing":
        return f"{path}: required value is missing"
    shown = _shown_input(error.get("input"))
    message = error["msg"].removeprefix("Value error, ")
    if kind == "value_error":
        return f"{path}: {message}"
    # pydantic says "Input should be a valid integer"; the operator reads "expected a valid integer".
    expected = message.removeprefix("Input should be ").removeprefix("input should be ")
    return f"{path}: expected {expected[0].lower() + expected[1:]}{shown}"


def _shown_input(got: object) -> str:
    """How a rejected value is echoed: never a long string, which may be a misplaced token."""
    if isinstance(got, (dict, list)):
        return ""
    if isinstance(got, str) and len(got) > MAX_SHOWN_STRING:
        return f" (got a {len(got)}-character string, not shown)"
    return f" (got {got!r})"


_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_problem(name: str, url: str, simulator: bool) -> str | None:
    key = f"providers.{name}.base_url"
    expected = ("expected an https:// URL such as the default; plain http:// only on loopback "
                "(or with `simulator: true`)")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return f"{key}: {expected} (got a value that is not a URL)"
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in url):
        return f"{key}: {expected} (got a value that is not an http(s) URL)"
    if parts.username or parts.password:
        return f"{key}: credentials in the URL are not allowed (tokens come from the environment)"
    if parts.query or parts.fragment:
        return f"{key}: {expected}, without a query or fragment"
    if parts.scheme == "http" and not simulator and not _is_loopback(host):
        return f"{key}: {expected} (got plain http:// to {host}, which would send the token in clear)"
    return None


# The example config's placeholder ids (stackwatch.example.yaml): a run of X's, the all-zero UUID, <…>.
PLACEHOLDER = re.compile(r"X{4,}|^0{8}-0{4}-0{4}-0{4}-0{12}$|^<.*>$")


def describe(error: ValidationError) -> list[str]:
    """Each problem of a failed validation, phrased for the operator (key path, what was expected)."""
    return [_describe(e) for e in error.errors()]


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would keep the last silently)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        if isinstance(node, yaml.MappingNode):
            seen: dict[object, int] = {}
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key; SafeLoader reports it itself
                    continue
                if first is not None:
                    shown = key if isinstance(key, str) and len(key) <= 40 else "(long key)"
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {shown!r} (first given on line {first + 1})",
                        key_node.start_mark)
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_small_text(path: str | Path, source: str, *, kind: str = "YAML",
                    start_from: str = "stackwatch.example.yaml") -> str:
    """A small UTF-8 text file (at most MAX_CONFIG_BYTES), or a ConfigError naming it and what is wrong."""
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(source, [f"file not found (copy {start_from} to start)"]) from None
    except OSError as exc:
        raise ConfigError(source, [f"cannot read the file: {exc.strerror or exc.__class__.__name__}"]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [f"file is larger than {MAX_CONFIG_BYTES // 1024} KiB "
                                   f"(expected a small {kind} file; is this the right path?)"])
    if b"\0" in raw:
        raise ConfigError(source, [f"binary file (expected {kind} text; is this the right path?)"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [f"not UTF-8 text (invalid byte at offset {exc.start}; expected {kind} text)"]) from None


def load_yaml(path: str | Path, source: str) -> object:
    """The file's YAML mapping (a duplicate key refused), or a ConfigError naming the file and what is wrong."""
    text = read_small_text(path, source)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(source, [f"{where}not valid YAML ({getattr(exc, 'problem', None) or 'unreadable'})"]) from None
    except RecursionError:
        raise ConfigError(source, ["not valid YAML (nested too deeply)"]) from None
    if data is None:
        raise ConfigError(source, ["file is empty (expected a mapping of keys to values; "
                                   "see stackwatch.example.yaml)"])
    return data


def token_problem(variable: str, value: str) -> str | None:
    """A token goes into an HTTP header: printable ASCII without spaces. Never echo the value."""
    for position, char in enumerate(value):
        if not char.isascii():
            return (f"environment variable {variable}: expected a printable ASCII token (it has a "
                    f"non-ASCII character at position {position + 1}; a copy-paste artefact?)")
        if not char.isprintable() or char.isspace():
            return (f"environment variable {variable}: expected a printable ASCII token (it has a "
                    f"space or control character at position {position + 1})")
    return None
