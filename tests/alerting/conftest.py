"""Tools for the alerting tests: promtool, Alertmanager and amtool (tools/install_tools.py, the
versions docker-compose.yml pins), and the Go tools of tools/alerting_check.py (the checker of
Grafana's files, promql-eval). Missing ones skip locally and fail under CI=true."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ALERTING = REPO / "alerting"
RULES = ALERTING / "prometheus" / "stackwatch.rules.yaml"  # the reference rendering (alerting/example.env)
ALERTMANAGER_CONFIG = ALERTING / "alertmanager" / "alertmanager.yml"
GRAFANA = ALERTING / "grafana"


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(path: Path | None, what: str) -> Path:
    if path is not None and path.is_file() and os.access(path, os.X_OK):
        return path
    message = f"{what} missing ({path}): run `make tools`"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def promtool() -> Path:
    install_tools = load("install_tools", REPO / "tools" / "install_tools.py")
    return require(install_tools.tool_paths().promtool, "promtool")


@pytest.fixture(scope="session")
def amtool() -> Path:
    install_tools = load("install_tools", REPO / "tools" / "install_tools.py")
    return require(install_tools.tool_paths().amtool, "amtool")


@pytest.fixture(scope="session")
def alertmanager_binary() -> Path:
    install_tools = load("install_tools", REPO / "tools" / "install_tools.py")
    return require(install_tools.tool_paths().alertmanager, "alertmanager")


@pytest.fixture(scope="session")
def promql_eval() -> Path:
    alerting_check = load("alerting_check", REPO / "tools" / "alerting_check.py")
    try:
        return require(alerting_check.ensure_promql_eval(), "tools/promql-eval")
    except RuntimeError as exc:
        if in_ci():
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def grafana_checker() -> Path:
    alerting_check = load("alerting_check", REPO / "tools" / "alerting_check.py")
    try:
        # Builds once (seconds when the Go module cache is warm), cached outside the repository.
        return require(alerting_check.ensure(), "tools/grafana-alerting-check")
    except RuntimeError as exc:
        if in_ci():
            pytest.fail(str(exc))
        pytest.skip(str(exc))
