"""Every interval, timeout and bound of the config has a minimum and a maximum, tested at each edge.

The limits are written here (as docs/operations.md, "Allowed ranges", documents them), not read
from the config model: a changed limit must change this table and the docs too.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path
from types import UnionType
from typing import Annotated, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from exporters.core.config import ConfigError
from exporters.providers.registry import NAMES
from exporters.service.config import Config, load_config

ROOT = Path(__file__).resolve().parents[2]

# key ("*" = every provider): (minimum, maximum). Floats are seconds; ints are counts, bytes or days.
RANGES: dict[str, tuple[float, float]] = {
    "providers.*.poll_interval_seconds": (1.0, 86_400.0),
    "providers.*.slow_poll_interval_seconds": (1.0, 86_400.0),
    "providers.*.history_days": (1, 365),
    "providers.*.timeout_seconds": (1.0, 300.0),
    "providers.*.max_retries": (0, 10),
    "providers.*.max_concurrency": (1, 64),
    "providers.*.poll_deadline_seconds": (5.0, 3600.0),
    "providers.*.max_response_bytes": (1024, 1024 ** 3),
    "providers.*.max_pages_per_poll": (1, 100_000),
    "providers.*.max_poll_bytes": (1024, 4 * 1024 ** 3),
    "providers.*.max_rate_limit_wait_seconds": (1.0, 86_400.0),
    "providers.*.billing_anchor_day": (1, 31),
    "providers.render.metrics_resolution_seconds": (30, 300),
    "providers.supabase.restore_drill_max_age_days": (1, 366),
    "service.drain_max_body_bytes": (64 * 1024, 64 * 1024 ** 2),
    "service.drain_max_concurrent_bodies": (1, 1024),
    "service.drain_max_connections": (8, 65_536),
    "service.drain_header_timeout_seconds": (1.0, 300.0),
    "service.drain_body_timeout_seconds": (1.0, 600.0),
    "service.drain_keepalive_seconds": (1.0, 75.0),
    "service.drain_replay_window_seconds": (0.0, 86_400.0),
    "service.metric_export_interval_seconds": (1.0, 120.0),
    "service.max_observation_gap_seconds": (60.0, 86_400.0),
}

# Numeric keys that are not intervals, timeouts or bounds, and why.
NOT_BOUNDS = {
    "service.listen_port": "a port (0..65535)",
    "service.health_port": "a port (0..65535)",
    "providers.render.workspace_seats": "a count of paid seats the workspace has",
    "budgets.": "amounts in USD (>= 0)",
    "thresholds.": "alert thresholds (ratios in (0, 1], positive seconds)",
}


def concrete(key: str) -> list[str]:
    return [key.replace("*", name) for name in NAMES] if "*" in key else [key]


EDGES = [(key, pattern) for pattern in RANGES for key in concrete(pattern)]


def nested(key: str, value: object) -> dict:
    *parents, leaf = key.split(".")
    document: dict = {leaf: value}
    for part in reversed(parents):
        document = {part: document}
    return document


def merge(into: dict, other: dict) -> dict:
    for k, v in other.items():
        into[k] = merge(into.get(k, {}), v) if isinstance(v, dict) else v
    return into


def read(config: Config, key: str) -> object:
    value: object = config
    for part in key.split("."):
        value = getattr(value, part)
    return value


def just_below(limit: float) -> float:
    return limit - 1 if isinstance(limit, int) else math.nextafter(limit, -math.inf)


def just_above(limit: float) -> float:
    return limit + 1 if isinstance(limit, int) else math.nextafter(limit, math.inf)


def shown(limit: float) -> str:
    """A limit as the error message writes it: whole numbers without a decimal point."""
    return str(int(limit)) if limit == int(limit) else str(limit)


def write(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "stackwatch.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(("key", "pattern"), EDGES, ids=[key for key, _ in EDGES])
def test_exactly_the_minimum_and_the_maximum_are_accepted(tmp_path: Path, key: str, pattern: str) -> None:
    for limit in RANGES[pattern]:
        config = load_config(write(tmp_path, nested(key, limit)))
        assert read(config, key) == limit


@pytest.mark.parametrize(("key", "pattern"), EDGES, ids=[key for key, _ in EDGES])
def test_just_below_the_minimum_is_refused_naming_file_key_and_limit(tmp_path: Path, key: str, pattern: str) -> None:
    minimum = RANGES[pattern][0]
    path = write(tmp_path, nested(key, just_below(minimum)))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.source == str(path)
    assert refused.value.problems == [f"{key}: expected greater than or equal to {shown(minimum)} "
                                      f"(got {just_below(minimum)!r})"]


@pytest.mark.parametrize(("key", "pattern"), EDGES, ids=[key for key, _ in EDGES])
def test_just_above_the_maximum_is_refused_naming_file_key_and_limit(tmp_path: Path, key: str, pattern: str) -> None:
    maximum = RANGES[pattern][1]
    path = write(tmp_path, nested(key, just_above(maximum)))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.source == str(path)
    assert refused.value.problems == [f"{key}: expected less than or equal to {shown(maximum)} "
                                      f"(got {just_above(maximum)!r})"]


@pytest.mark.parametrize("written", ["1e-9", "1.0e-9", "0.000000001"])
def test_a_nanosecond_poll_interval_is_refused(tmp_path: Path, written: str) -> None:
    """The case check-config accepted: 1e-9 s, a tight loop against the provider's API (PyYAML
    reads `1e-9` as a string, which the config coerces to a number; `1.0e-9` is a YAML float)."""
    path = tmp_path / "stackwatch.yaml"
    path.write_text(f"providers:\n  render:\n    poll_interval_seconds: {written}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert len(refused.value.problems) == 1
    assert refused.value.problems[0].startswith(
        "providers.render.poll_interval_seconds: expected greater than or equal to 1 (got ")


@pytest.mark.parametrize("edge", ["below the minimum", "above the maximum"])
def test_check_config_exits_2_naming_the_file_and_every_key_out_of_range(tmp_path: Path, edge: str) -> None:
    """The command an operator runs: one file with every key just outside its range, all named."""
    document: dict = {}
    expected = []
    for key, pattern in EDGES:
        minimum, maximum = RANGES[pattern]
        if edge == "below the minimum":
            value, limit = just_below(minimum), f"greater than or equal to {shown(minimum)}"
        else:
            value, limit = just_above(maximum), f"less than or equal to {shown(maximum)}"
        merge(document, nested(key, value))
        expected.append(f"  - {key}: expected {limit} (got {value!r})")
    path = write(tmp_path, document)
    result = subprocess.run([sys.executable, "-m", "exporters", "check-config", "--config", str(path)],
                            capture_output=True, text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"invalid configuration in {path}:"
    assert sorted(lines[1:]) == sorted(expected)


def base_types(annotation: object) -> set[object]:
    """`int` for `Annotated[int, …] | None`, and so on."""
    if get_origin(annotation) is Annotated:
        return base_types(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return set().union(*(base_types(a) for a in get_args(annotation))) - {type(None)}
    return {annotation}


def numeric_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += numeric_keys(annotation, f"{prefix}{name}.")
        elif base_types(annotation) and base_types(annotation) <= {int, float}:
            keys.append(prefix + name)
    return keys


def test_every_numeric_key_has_a_range_or_is_not_a_bound() -> None:
    ranged = {key for pattern in RANGES for key in concrete(pattern)}
    unexplained = [key for key in numeric_keys(Config)
                   if key not in ranged and not any(key.startswith(k) for k in NOT_BOUNDS)]
    assert not unexplained, f"give these keys a minimum and a maximum (RANGES, docs/operations.md): {unexplained}"
    stale = ranged - set(numeric_keys(Config))
    assert not stale, f"not config keys: {sorted(stale)}"


def test_the_operations_manual_documents_exactly_these_ranges() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Allowed ranges", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for key, minimum, maximum in re.findall(r"^\| `([a-z_.*]+)` \| ([0-9.]+) \| ([0-9.]+) \|", section, re.M):
        documented[key] = (float(minimum), float(maximum))
    assert documented == {k: (float(lo), float(hi)) for k, (lo, hi) in RANGES.items()}
