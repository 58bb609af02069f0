"""`stackwatch validate`: inputs read and checked here, so every bad one is exit 2 with its name."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from exporters.core.config import ConfigError
from exporters.ops.validate import baselines
from exporters.ops.validate.context import Context, read_dotenv
from exporters.ops.validate.model import Level
from exporters.ops.validate.prom import Prometheus, PrometheusUnreachable, Unreachable
from exporters.ops.validate.render import RENDERERS
from exporters.ops.validate.runner import exit_code, validate
from exporters.service.config import load_config

_WINDOW = re.compile(r"^[1-9][0-9]{0,4}[smhdw]$")


def _bad(message: str) -> int:
    print(f"stackwatch validate: {message}", file=sys.stderr)
    return 2


def _read_baseline(path: Path) -> dict | str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        return f"--baseline {path}: cannot read ({error.strerror})"
    except ValueError:
        return f"--baseline {path}: not JSON (expected a file written by --record-baseline)"
    if not isinstance(data, dict) or data.get("format") != baselines.FORMAT or not isinstance(data.get("figures"), dict):
        return f"--baseline {path}: key format must be {baselines.FORMAT!r} with a figures mapping"
    return data


def run_validate(config_path: Path, prometheus_url: str, fmt: str, level: str | None,
                 record_baseline: Path | None, baseline: Path | None, project_dir: Path, window: str) -> int:
    if record_baseline and baseline:
        return _bad("--record-baseline and --baseline exclude each other")
    if not _WINDOW.match(window):
        return _bad(f"--window {window!r}: expected a PromQL duration such as 1h or 14d")
    try:
        config = load_config(config_path)
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return 2
    baseline_data = None
    if baseline:
        loaded = _read_baseline(baseline)
        if isinstance(loaded, str):
            return _bad(loaded)
        baseline_data = loaded
    prometheus = Prometheus(prometheus_url)
    unreachable = None
    try:
        prometheus.check()
    except PrometheusUnreachable as error:
        unreachable = error
    if unreachable is not None and record_baseline:
        return _bad(f"--record-baseline needs Prometheus: {unreachable} (--prometheus)")
    ctx = Context(config=config, config_path=config_path,
                  prom=prometheus if unreachable is None else Unreachable(unreachable), project_dir=project_dir,
                  env=dict(os.environ), baseline=baseline_data, window=window,
                  dotenv=read_dotenv(project_dir / ".env"), required=Level(level) if level else None)
    try:
        if record_baseline:
            ctx.baseline = baselines.record(ctx, record_baseline)
        result = validate(ctx)
    except PrometheusUnreachable as error:  # Prometheus went away during the run
        return _bad(f"{error} (--prometheus)")
    except OSError as error:
        return _bad(f"{error.filename}: {error.strerror}")
    sys.stdout.write(RENDERERS[fmt](result))
    if record_baseline:
        print(f"baseline written to {record_baseline}", file=sys.stderr)
    if unreachable is not None:
        # The checks that need no Prometheus ran; the rest are unknown. Not a verdict: exit 2.
        unknown = sum(1 for c in result.checks if c.evidence.startswith("not checked: "))
        return _bad(f"{unreachable} (--prometheus); {unknown} checks that read it are unknown (their fix "
                    "says how to reach it)")
    return exit_code(result, Level(level) if level else None)
