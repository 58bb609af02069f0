"""Tools for the alerting tests: promtool (tools/install_tools.py), amtool and Alertmanager
(Debian's prometheus-alertmanager, tools/install-system-packages.sh) and the Go checker of
Grafana's files (tools/alerting_check.py). Missing ones skip locally and fail under CI=true."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "alerting" / "generated"
TWIN = REPO / "alerting" / "twin"
AMTOOL = Path(os.environ.get("STACKWATCH_AMTOOL", "/usr/bin/amtool"))
ALERTMANAGER = Path(os.environ.get("STACKWATCH_ALERTMANAGER", "/usr/bin/prometheus-alertmanager"))


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
    return require(AMTOOL, "amtool (Debian prometheus-alertmanager)")


@pytest.fixture(scope="session")
def alertmanager_binary() -> Path:
    return require(ALERTMANAGER, "alertmanager (Debian prometheus-alertmanager)")


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
