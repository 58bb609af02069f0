"""Fixtures for the dashboard tests: the board definitions, the committed JSON and Grafana's schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # grafana/ is a source tree of the repository, not an installed package
    sys.path.insert(0, str(REPO))

from grafana.dashboards import boards as load_boards  # noqa: E402
from grafana.dashboards.common import Board  # noqa: E402
from grafana.generate import OUTPUT  # noqa: E402

SCHEMA_DIR = Path(__file__).parent / "schema"


def grafana_version() -> str:
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import grafana_schema
    finally:
        sys.path.remove(str(REPO / "tools"))
    return grafana_schema.grafana_version()


@pytest.fixture(scope="session")
def boards() -> list[Board]:
    return load_boards()


@pytest.fixture(scope="session")
def dashboards() -> dict[str, dict]:
    """The committed provisioned dashboards, by file name."""
    return {path.name: json.loads(path.read_text()) for path in sorted(OUTPUT.glob("*.json"))}


@pytest.fixture(scope="session")
def grafana_schema() -> dict:
    path = SCHEMA_DIR / f"grafana-{grafana_version()}.schema.json"
    assert path.exists(), (f"{path} missing: the schema of the Grafana version docker-compose.yml pins; "
                           f"regenerate with `python tools/grafana_schema.py`")
    return json.loads(path.read_text())


def all_panels(dashboard: dict) -> list[dict]:
    """Every panel, including those nested in collapsed rows."""
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out
