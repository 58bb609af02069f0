"""`stackwatch.yaml`: strict, typed configuration.

Every object forbids unknown keys; a wrong type or a missing value becomes a
`ConfigError` that names the file, the key path and what was expected. Secrets
never live in this file: each provider names the environment variable its
credential comes from, and `Secrets.from_env` reads them.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PROVIDER_NAMES = ("vercel", "render", "supabase", "openai", "llamacloud")

# The environment variable each provider's credential comes from.
SECRET_ENV = {
    "vercel": "VERCEL_TOKEN",
    "render": "RENDER_API_KEY",
    "supabase": "SUPABASE_ACCESS_TOKEN",
    "openai": "OPENAI_ADMIN_KEY",
    "llamacloud": "LLAMA_CLOUD_API_KEY",
}
DRAIN_SECRET_ENV = "VERCEL_DRAIN_SECRET"

# `.inf` and `.nan` are valid YAML floats; none of them is a meaningful interval, amount or ratio.
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
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
    poll_interval_seconds: PositiveSeconds = 60.0
    # Slow-changing streams (project lists, billing, backups) poll this often.
    slow_poll_interval_seconds: PositiveSeconds = 900.0
    # How far back the first cycle reads history (month-to-date and the forecast need >= 31 + 7).
    history_days: Annotated[int, Field(ge=1, le=365)] = 38
    timeout_seconds: PositiveSeconds = 10.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 4
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    # Bounds on one poll (docs/operations.md, "Bounds"): a poll past its deadline, a body past
    # its size (decompressed), a listing past its page count fails with poll.errors{reason}.
    poll_deadline_seconds: PositiveSeconds = 300.0
    max_response_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    max_pages_per_poll: Annotated[int, Field(ge=1, le=100_000)] = 1000
    # Decoded JSON bytes one poll of one stream may read across all its pages (reason too_large).
    max_poll_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024 * 1024
    # A rate-limit reset further away than this is clamped; the client probes again after it.
    max_rate_limit_wait_seconds: PositiveSeconds = 900.0
    # Day of the month the provider's billing cycle starts (1 = calendar month; 29..31 mean
    # the month's last day in shorter months). Month-to-date, allowances and credits follow it.
    billing_anchor_day: Annotated[int, Field(ge=1, le=31)] = 1


class VercelConfig(ProviderBase):
    base_url: str = "https://api.vercel.com"
    team_id: str | None = Field(default=None, description="team_… id, sent as teamId on every call")


class RenderConfig(ProviderBase):
    base_url: str = "https://api.render.com/v1"
    owner_id: str | None = Field(default=None, description="workspace (owner) id; all owners when unset")
    service_ids: list[str] = Field(default_factory=list, description="restrict to these services")
    metrics_resolution_seconds: Annotated[int, Field(ge=30)] = 60
    # Workspace plan and paid seats, billed per member per month (price_tables/render.yaml).
    workspace_plan: Literal["hobby", "professional", "organization", "enterprise"] = "hobby"
    workspace_seats: Annotated[int, Field(ge=0, le=10_000)] = 0


class SupabaseConfig(ProviderBase):
    base_url: str = "https://api.supabase.com"
    project_refs: list[str] = Field(default_factory=list, description="restrict to these projects")
    plan: Literal["free", "pro", "team", "enterprise"] = "pro"
    health_services: list[str] = Field(
        default_factory=lambda: ["auth", "db", "pooler", "realtime", "rest", "storage"])


class OpenAIConfig(ProviderBase):
    base_url: str = "https://api.openai.com/v1"
    project_ids: list[str] = Field(default_factory=list, description="restrict to these projects")


class LlamaCloudConfig(ProviderBase):
    base_url: str = "https://api.cloud.llamaindex.ai"
    organization_id: str | None = None
    project_id: str | None = None
    plan: Literal["free", "starter", "pro", "pay_as_you_go"] = "pay_as_you_go"

    @model_validator(mode="after")
    def _organization_required_when_enabled(self) -> "LlamaCloudConfig":
        if self.enabled and not self.organization_id:
            raise ValueError("organization_id is required when llamacloud is enabled")
        return self


class Providers(Strict):
    vercel: VercelConfig = Field(default_factory=VercelConfig)
    render: RenderConfig = Field(default_factory=RenderConfig)
    supabase: SupabaseConfig = Field(default_factory=SupabaseConfig)
    openai: OpenAIConfig = Field(default_factory=OpenAIConfig)
    llamacloud: LlamaCloudConfig = Field(default_factory=LlamaCloudConfig)

    def enabled(self) -> dict[str, ProviderBase]:
        return {name: getattr(self, name) for name in PROVIDER_NAMES if getattr(self, name).enabled}


class MonthlyBudgets(Strict):
    total: Usd | None = None
    vercel: Usd | None = None
    render: Usd | None = None
    supabase: Usd | None = None
    openai: Usd | None = None
    llamacloud: Usd | None = None


class DailyBudgets(MonthlyBudgets):
    pass


class Budgets(Strict):
    monthly_usd: MonthlyBudgets = Field(default_factory=MonthlyBudgets)
    daily_usd: DailyBudgets = Field(default_factory=DailyBudgets)


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


class Service(Strict):
    listen_host: str = "0.0.0.0"
    listen_port: Annotated[int, Field(ge=0, le=65535)] = 9464
    # /healthz alone, on its own socket and thread, so a flood of connections on listen_port cannot
    # starve an operator's health check (exporters/health_listener.py). Unset: no second listener.
    health_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    drain_max_body_bytes: Annotated[int, Field(gt=0)] = 4 * 1024 * 1024
    # Receiver bounds (docs/operations.md, "Bounds"). Bodies read at once; more get 503.
    drain_max_concurrent_bodies: Annotated[int, Field(ge=1, le=1024)] = 16
    # Open connections; also kept below the process' file limit at start.
    drain_max_connections: Annotated[int, Field(ge=8)] = 1024
    drain_header_timeout_seconds: PositiveSeconds = 10.0
    drain_body_timeout_seconds: PositiveSeconds = 30.0
    # Above the usual 60 s idle timeout of load balancers, so they close first; at most 75 s.
    drain_keepalive_seconds: Annotated[float, Field(gt=0, le=75)] = 75.0
    # A signed delivery seen again within this window is acknowledged, not counted again.
    drain_replay_window_seconds: Annotated[float, Field(ge=0, le=86400)] = 600.0
    metric_export_interval_seconds: PositiveSeconds = 30.0
    # Directory of the state file (observed resource states and the cost ledger, SQLite).
    # Unset: kept in memory only, so a restart forgets both (a warning says so).
    data_dir: str | None = None
    # Longer than this between two observations of a resource is a gap: unobserved, not priced.
    max_observation_gap_seconds: PositiveSeconds = 3600.0


class Logging(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class Config(Strict):
    environment: str = "production"
    # Every enabled provider points at stackwatch's own simulator (the demo): plain-http base
    # URLs on any host and the simulator's fixed tokens are accepted. Off (the default), a
    # base_url must be https:// (http:// only on loopback) and a simulator token is an error,
    # so an unset variable that a compose default filled in cannot pass for a real token.
    simulator: bool = False
    providers: Providers = Field(default_factory=Providers)
    budgets: Budgets = Field(default_factory=Budgets)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    service: Service = Field(default_factory=Service)
    logging: Logging = Field(default_factory=Logging)


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


def _base_url_problem(name: str, url: str, simulator: bool) -> str | None:
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


def parse_config(data: object, source: str) -> Config:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping of keys to values"])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [_describe(e) for e in exc.errors()]) from None
    problems = [p for name, provider in config.providers.enabled().items()
                if (p := _base_url_problem(name, provider.base_url, config.simulator))]
    if problems:
        raise ConfigError(source, problems)
    return config


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


def _read_text(path: str | Path, source: str) -> str:
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(source, ["file not found (copy stackwatch.example.yaml to start)"]) from None
    except OSError as exc:
        raise ConfigError(source, [f"cannot read the file: {exc.strerror or exc.__class__.__name__}"]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(source, [f"file is larger than {MAX_CONFIG_BYTES // 1024} KiB "
                                   "(expected a small YAML file; is this the right path?)"])
    if b"\0" in raw:
        raise ConfigError(source, ["binary file (expected YAML text; is this the right path?)"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [f"not UTF-8 text (invalid byte at offset {exc.start}; expected YAML text)"]) from None


def load_config(path: str | Path) -> Config:
    source = str(path)
    text = _read_text(path, source)
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
    return parse_config(data, source)


@dataclass(frozen=True)
class Secrets:
    """Credentials read from the environment. `repr` never shows a value."""

    tokens: dict[str, str]
    drain_secret: str | None

    def __repr__(self) -> str:
        return f"Secrets(providers={sorted(self.tokens)}, drain_secret={'set' if self.drain_secret else 'unset'})"

    @classmethod
    def from_env(cls, config: Config, source: str, environ: dict[str, str] | None = None) -> "Secrets":
        from .simulator.world import DEFAULT_DRAIN_SECRET, DEFAULT_TOKENS

        env = os.environ if environ is None else environ
        problems, tokens = [], {}
        for name in config.providers.enabled():
            variable = SECRET_ENV[name]
            value = env.get(variable, "").strip()
            if not value:
                problems.append(f"providers.{name}.enabled is true but the environment variable "
                                f"{variable} is not set (expected the provider's API token)")
            elif problem := _token_problem(variable, value):
                problems.append(problem)
            elif value == DEFAULT_TOKENS[name] and not config.simulator:
                problems.append(f"providers.{name}: {variable} holds the simulator's demo token, which no "
                                "real provider accepts (an unset variable filled by a compose default?); "
                                "set the real token, or `simulator: true` to poll the simulator")
            tokens[name] = value
        drain = env.get(DRAIN_SECRET_ENV, "").strip() or None
        if drain is not None:
            if problem := _token_problem(DRAIN_SECRET_ENV, drain):
                problems.append(problem)
            elif drain == DEFAULT_DRAIN_SECRET and not config.simulator:
                problems.append(f"{DRAIN_SECRET_ENV} holds the simulator's demo secret; set the secret "
                                "Vercel signs drains with (or `simulator: true`)")
        if problems:
            raise ConfigError(source, problems)
        return cls(tokens=tokens, drain_secret=drain)

    def values(self) -> list[str]:
        """Every secret value, for the log redactor."""
        return [v for v in [*self.tokens.values(), self.drain_secret] if v]


def _token_problem(variable: str, value: str) -> str | None:
    """A token goes into an HTTP header: printable ASCII without spaces. Never echo the value."""
    for position, char in enumerate(value):
        if not char.isascii():
            return (f"environment variable {variable}: expected a printable ASCII token (it has a "
                    f"non-ASCII character at position {position + 1}; a copy-paste artefact?)")
        if not char.isprintable() or char.isspace():
            return (f"environment variable {variable}: expected a printable ASCII token (it has a "
                    f"space or control character at position {position + 1})")
    return None
