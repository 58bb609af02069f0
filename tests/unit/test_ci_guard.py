"""The CI guard: under the values CI services set in `CI`, a skipped test fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from ciguard import in_ci

TESTS = Path(__file__).resolve().parents[1]

# GitHub Actions, GitLab CI, CircleCI, Travis CI and Buildkite set CI=true; others 1 or yes.
SET_BY_CI = ["true", "TRUE", "True", "1", "yes", "YES", "Yes", " true "]
NOT_CI = ["", "false", "0", "no", "off", "ci", "truthy", "2"]


@pytest.mark.parametrize("value", SET_BY_CI)
def test_the_values_ci_services_set_mean_ci(value: str) -> None:
    assert in_ci({"CI": value})


@pytest.mark.parametrize("value", NOT_CI)
def test_other_values_and_an_unset_variable_do_not(value: str) -> None:
    assert not in_ci({"CI": value})
    assert not in_ci({})


def run_a_session_with_one_skip(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    """A separate pytest session with the suite's guard as its only plugin, over one passing
    and one skipped test."""
    (tmp_path / "test_probe.py").write_text(
        "import pytest\n\n"
        "def test_passes():\n    assert True\n\n"
        "def test_skips():\n    pytest.skip('a tool is missing')\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "ciguard", "-p", "no:cacheprovider",
                           "-c", os.devnull, "--rootdir", str(tmp_path), "-q", str(tmp_path / "test_probe.py")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)


@pytest.mark.parametrize("ci", ["true", "1", "yes", "Yes"])
def test_a_skip_fails_the_run_under_ci(tmp_path: Path, ci: str) -> None:
    result = run_a_session_with_one_skip(tmp_path, ci)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "1 test(s) skipped; skips are failures in CI" in result.stdout


@pytest.mark.parametrize("ci", [None, "false", "0"])
def test_a_skip_is_only_reported_outside_ci(tmp_path: Path, ci: str | None) -> None:
    result = run_a_session_with_one_skip(tmp_path, ci)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "skips are failures" not in result.stdout
