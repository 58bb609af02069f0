"""Shared fixtures: a simulator on loopback and a runtime pointed at it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from calendars import MOMENTS, MONTHS, CalendarMonth, Moment
from ciguard import pytest_sessionfinish  # noqa: F401 (a hook: under CI a skip fails the run)
from simhelpers import FIXED_NOW, make_runtime

from exporters.core.logs import configure
from exporters.service.runtime import Runtime
from exporters.simulator import Simulator, World
from exporters.simulator.world import Scale

configure("info", "text")

# Reference data beside the checkout (design notes, provider specs, schemas). A plain clone
# (CI's) has none: the repository vendors what the tests need, and tests marked `shared`,
# which only compare those vendored copies with ../shared, are deselected there.
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def suite_logging() -> object:
    """Logging is the suite's after every test: an in-process CLI run (typer's CliRunner) binds
    structlog to CliRunner's stream, closed when the call returns, and later tests would fail
    writing to it."""
    yield
    configure("info", "text")


@pytest.fixture(params=MONTHS, ids=[m.id for m in MONTHS])
def calendar_month(request: pytest.FixtureRequest) -> CalendarMonth:
    """A month of 28, 29 (leap February), 30 and 31 days: a test taking it runs in each."""
    return request.param


@pytest.fixture(params=MOMENTS, ids=[m.id for m in MOMENTS])
def moment(request: pytest.FixtureRequest) -> Moment:
    """A frozen instant in each month length, on the 1st, on a leap day, across a month's end
    and on both Pacific clock changes (tests/calendars.py): a test taking it runs at each."""
    return request.param


@pytest.fixture
def world(request: pytest.FixtureRequest) -> World:
    """The steady world (nothing alert-worthy); `@pytest.mark.incidents("saturation", …)` adds
    standing conditions to it, history included."""
    marker = request.node.get_closest_marker("incidents")
    return World(seed=7, scale=Scale(), start=FIXED_NOW, incidents=frozenset(marker.args if marker else ()))


@pytest.fixture
async def simulator(world: World) -> AsyncIterator[Simulator]:
    sim = Simulator(world, record_exchanges=True)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def runtime(simulator: Simulator) -> AsyncIterator[tuple[Runtime, object]]:
    rt, reader = make_runtime(simulator)
    yield rt, reader
    await rt.aclose()
    rt.meter_provider.shutdown()


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # type: ignore[no-untyped-def]
    """`from conftest import X` in a test module means its nearest conftest.py.

    Test directories are not packages, so pytest registers every conftest.py as the module
    `conftest`: without this, the name means whichever conftest was loaded last, and a run
    over several directories (or the whole suite, in some orders) fails to collect.
    """
    if isinstance(collector, pytest.Module):
        loaded = {Path(getattr(p, "__file__", "") or "."): p for p in collector.config.pluginmanager.get_plugins()}
        for directory in collector.path.parents:
            module = loaded.get(directory / "conftest.py")
            if module is not None:
                sys.modules["conftest"] = module
                break
            if directory == collector.config.rootpath:
                break
    return (yield)


# The longest modules (minutes each, mostly waiting on real binaries' intervals), started first:
# `make test` runs whole modules per worker in collection order (--dist loadfile
# --no-loadscope-reorder), so a long one started last would run alone at the end.
LONGEST_FIRST = (
    "tests/alerting/test_e2e_alerts.py",
    "tests/alerting/test_e2e_alert_conditions.py",
    "tests/stack/test_dashboards_data.py",
    "tests/alerting/test_promtool_rules.py",
    "tests/e2e_local/test_installed_package.py",
    "tests/operator_tools/test_report_stack.py",
    "tests/e2e_local/test_demo_otlp.py",
    "tests/stack/test_e2e_metrics.py",
)


def _start_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest modules first (a stable sort: the rest keep their order). Without ../shared there
    is nothing to compare with: deselect (a skip would fail CI)."""
    items.sort(key=_start_rank)
    if SHARED.is_dir():
        return
    compares = [item for item in items if item.get_closest_marker("shared") is not None]
    if compares:
        config.hook.pytest_deselected(items=compares)
        items[:] = [item for item in items if item.get_closest_marker("shared") is None]
