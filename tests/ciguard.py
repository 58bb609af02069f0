"""Under CI a skipped test fails the run: a missing tool must not pass quietly.

CI services say so in the `CI` variable: GitHub Actions, GitLab CI, CircleCI, Travis CI and
Buildkite set `CI=true`; others set `1` or `yes`. Any of these, in any case, counts.
`tests/conftest.py` installs the hook below; the native-stack fixtures use `in_ci()` to fail
instead of skipping when a binary is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest

CI_VALUES = frozenset({"true", "1", "yes"})


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() in CI_VALUES


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI a skipped test is a failure (exit status 1, and a line saying why)."""
    if not in_ci():
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI={os.environ.get('CI')}: {len(skipped)} test(s) skipped; skips are failures in CI",
                            red=True)
        session.exitstatus = 1
