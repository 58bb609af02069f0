"""Every command in a ```sh block of docs/operations.md and docs/testing.md runs, against the native
stack (simulator → stackwatch run → otelcol → Prometheus) from a scratch directory that holds the
project's files and the stack's stackwatch.yaml. The allow-list says why the few others cannot run here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from stack.conftest import REPO, VENV_BIN, Stack, install_tools

from exporters.simulator import simulator_env

pytestmark = pytest.mark.e2e

DOCS = ("docs/operations.md", "docs/testing.md")
NOT_RUNNABLE = {
    "stackwatch run ": "a long-running service; the stack fixture this test uses runs it for real",
    "stackwatch simulate ": "a long-running server; the stack fixture this test uses runs it for real",
    "docker ": "no Docker engine here; tests/stack checks the compose file with docker-compose",
    "make ": "runs test tiers: from inside a test it would recurse into the suite (CI runs `make test`)",
    ".venv/bin/python -m pytest": "runs a test tier: from inside a test it would recurse into the suite",
    "CI=true tools/stress-test.sh": "runs the suite twice under load: recursion, and minutes long",
    "stackwatch alerts test ": "needs a configured channel's real service; tests/alerting/test_alertmanager_routing.py "
                               "runs it against stand-ins of each",
}
PROJECT_FILES = ("alerting", "docs", "docker-compose.yml", "prometheus", "pyproject.toml", ".env.example",
                 "stackwatch.demo.yaml")
_COMMENT = re.compile(r"\s{2,}#\s")


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    text: str
    comment: str

    @property
    def allowed_exits(self) -> set[int]:
        # A command documented to exit 1 on a finding (stackwatch validate) says so in its comment.
        return {0, 1} if "exit 1" in self.comment else {0}

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


def commands() -> list[Command]:
    found = []
    for doc in DOCS:
        inside = False
        for number, line in enumerate((REPO / doc).read_text(encoding="utf-8").splitlines(), 1):
            if line.strip().startswith("```"):
                inside = line.strip() == "```sh" if not inside else False
                continue
            if inside and line.strip() and not line.lstrip().startswith("#"):
                parts = _COMMENT.split(line, maxsplit=1)
                text, comment = parts[0].strip(), (parts[1] if len(parts) > 1 else "")
                found.append(Command(doc, number, text, comment))
    return found


def reason_not_runnable(command: Command) -> str | None:
    return next((why for prefix, why in NOT_RUNNABLE.items() if command.text.startswith(prefix)), None)


def test_docs_show_commands_and_the_allow_list_is_short_and_used():
    all_commands = commands()
    runnable = [c for c in all_commands if reason_not_runnable(c) is None]
    assert len(runnable) >= 25, [str(c) for c in runnable]
    assert len(all_commands) - len(runnable) <= 15, "the allow-list grew: make those commands runnable instead"
    for prefix in NOT_RUNNABLE:
        assert any(c.text.startswith(prefix) for c in all_commands), f"stale allow-list entry {prefix!r}"


@pytest.fixture
def scratch(stack: Stack, tmp_path: Path) -> Path:
    for name in PROJECT_FILES:
        (tmp_path / name).symlink_to(REPO / name)
    shutil.copy(stack.workdir / "stackwatch.yaml", tmp_path / "stackwatch.yaml")
    return tmp_path


def test_every_runnable_command_in_the_docs_succeeds(stack: Stack, scratch: Path):
    env = {**os.environ, **simulator_env(),
           # amtool: the pinned one (tools/install_tools.py), as `docker compose exec alertmanager amtool` has it.
           "PATH": os.pathsep.join([str(VENV_BIN), str(install_tools.tool_paths().amtool.parent), os.environ.get("PATH", "")]),
           "STACKWATCH_ALERTMANAGER_URL": stack.alertmanager_url,
           "STACKWATCH_PROMETHEUS_URL": stack.prom.base_url, "PROMETHEUS_URL": stack.prom.base_url,
           "STACKWATCH_URL": stack.stackwatch_url, "SIMULATOR_URL": stack.simulator_url,
           "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{stack.ports.otlp_http}",
           "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    stack.prom.wait_for('stackwatch_cost_today_usd{job="stackwatch"}', timeout=90)
    failures = []
    ran = 0
    try:
        for command in commands():
            if reason_not_runnable(command):
                continue
            done = subprocess.run(["bash", "-o", "pipefail", "-c", command.text], cwd=scratch, env=env,
                                  capture_output=True, text=True, timeout=180)
            ran += 1
            if done.returncode not in command.allowed_exits or "Traceback" in done.stderr:
                failures.append(f"{command}\n  exit {done.returncode}\n  {done.stderr[-600:]}")
    finally:
        stack.set_scenario("steady")
    assert not failures, "\n".join(failures)
    assert ran >= 25
    # What the commands wrote is there: the baseline, the weekly HTML report with its charts, the ground truth.
    assert (scratch / "baseline.json").is_file()
    assert {p.name for p in (scratch / "reports" / "weekly").iterdir()} >= {"report.html", "report.md", "savings.png"}
    assert (scratch / "ground-truth.json").stat().st_size > 0
    stack.prom.wait_for('stackwatch_provider_up{job="stackwatch", provider="openai"} == 1', timeout=60,
                        what="openai back up after the documented outage scenario")
