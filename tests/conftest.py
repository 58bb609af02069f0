"""Shared fixtures: a simulator on loopback and a runtime pointed at it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from simhelpers import FIXED_NOW, make_runtime

from exporters.logs import configure
from exporters.runtime import Runtime
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


# The longest modules (seconds, setup included, from `--durations` of a quiet fresh-clone run),
# collected first so that parallel workers (make test: --dist loadfile --no-loadscope-reorder)
# start them at once instead of ending on them. Only the order changes; a module not listed
# keeps its place after these.
LONGEST_FIRST = (
    "tests/alerting/test_e2e_alerts.py",             # ~480 s: steady 120 s, nine scenarios
    "tests/stack/test_dashboards_data.py",           # ~420 s: a stack aged 200 s, history, report
    "tests/alerting/test_e2e_alert_conditions.py",   # ~390 s
    "tests/operator_tools/test_validate_stack.py",   # ~160 s
    "tests/operator_tools/test_report_stack.py",     # ~150 s
    "tests/operator_tools/test_docs_commands.py",    # ~120 s
    "tests/stack/test_e2e_metrics.py",               # ~110 s
    "tests/stack/test_native_histograms.py",         # ~80 s
    "tests/alerting/test_promtool_rules.py",         # ~75 s
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ../shared there is nothing to compare with: deselect (a skip would fail CI).
    Then the longest modules first (LONGEST_FIRST; a stable sort, so tests keep their order)."""
    if not SHARED.is_dir():
        compares = [item for item in items if item.get_closest_marker("shared") is not None]
        if compares:
            config.hook.pytest_deselected(items=compares)
            items[:] = [item for item in items if item.get_closest_marker("shared") is None]
    root = config.rootpath
    moved = [path for path in LONGEST_FIRST if not (root / path).is_file()]
    if moved:  # a renamed module would silently lose its place at the front
        raise pytest.UsageError(f"tests/conftest.py LONGEST_FIRST names missing modules: {moved}")
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}

    def position(item: pytest.Item) -> int:
        try:
            return rank.get(item.path.relative_to(root).as_posix(), len(rank))
        except ValueError:
            return len(rank)

    items.sort(key=position)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI=true a skipped test is a failure: a missing tool must not pass quietly."""
    import os

    if os.environ.get("CI", "").lower() != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; skips are failures in CI", red=True)
        session.exitstatus = 1
