"""Cost tests share one rule: logging is the suite's after every test.

A test that runs the CLI in-process (typer's CliRunner) lets the CLI bind
structlog to CliRunner's stream, which is closed when the call returns; every
later test that logs would fail writing to it. Restore the suite's logging.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exporters.logs import configure


@pytest.fixture(autouse=True)
def suite_logging() -> Iterator[None]:
    yield
    configure("info", "text")
