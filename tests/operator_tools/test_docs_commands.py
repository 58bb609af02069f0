"""Every command in a ```sh block of docs/operations.md, docs/testing.md and docs/getting-started.md runs,
against the native stack (simulator → stackwatch run → otelcol → Prometheus) from a scratch directory that
holds the project's files and the stack's stackwatch.yaml (and, for getting-started, the .env an operator
fills in: the stack's tokens). The allow-lists say why the few others cannot run here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
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
                 "stackwatch.demo.yaml", "stackwatch.example.yaml")
GETTING_STARTED = ("docs/getting-started.md",)
INSTALLED_BY_THE_PACKAGING_TEST = ("run as written by tests/e2e_local/test_installed_package.py, with the wheel it "
                                   "builds from a clean tree")
NOT_RUNNABLE_GETTING_STARTED = {
    "python3 -m venv ~/.local/share/stackwatch": INSTALLED_BY_THE_PACKAGING_TEST,
    "~/.local/share/stackwatch/bin/": INSTALLED_BY_THE_PACKAGING_TEST,
    "pipx ": "pipx is not installed here; it makes the same kind of venv as the pip lines, which run as written",
    "docker ": NOT_RUNNABLE["docker "],
    "cp ": "the scratch directory holds these copies as a person leaves them after editing (the stack's ids "
           "and tokens)",
}
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


def commands(docs: tuple[str, ...] = DOCS) -> list[Command]:
    found = []
    for doc in docs:
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


def reason_not_runnable(command: Command, allow: dict[str, str] = NOT_RUNNABLE) -> str | None:
    return next((why for prefix, why in allow.items() if command.text.startswith(prefix)), None)


def test_docs_show_commands_and_the_allow_list_is_short_and_used():
    all_commands = commands()
    runnable = [c for c in all_commands if reason_not_runnable(c) is None]
    assert len(runnable) >= 25, [str(c) for c in runnable]
    assert len(all_commands) - len(runnable) <= 15, "the allow-list grew: make those commands runnable instead"
    for prefix in NOT_RUNNABLE:
        assert any(c.text.startswith(prefix) for c in all_commands), f"stale allow-list entry {prefix!r}"


def run_all(found: list[Command], allow: dict[str, str], cwd: Path, env: dict[str, str]) -> tuple[list[str], int]:
    """Runs every runnable command in order; the failures (exit not allowed, or a traceback) and how many ran."""
    failures, ran = [], 0
    for command in found:
        if reason_not_runnable(command, allow):
            continue
        done = subprocess.run(["bash", "-o", "pipefail", "-c", command.text], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=180)
        ran += 1
        if done.returncode not in command.allowed_exits or "Traceback" in done.stderr:
            failures.append(f"{command}\n  exit {done.returncode}\n  {done.stdout[-300:]}\n  {done.stderr[-600:]}")
    return failures, ran


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
    try:
        failures, ran = run_all(commands(), NOT_RUNNABLE, scratch, env)
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


# --- docs/getting-started.md: from the demo to real accounts (the stack's simulator stands in for them) ---

def test_getting_started_shows_its_commands_and_its_allow_list_is_used():
    all_commands = commands(GETTING_STARTED)
    runnable = [c for c in all_commands if reason_not_runnable(c, NOT_RUNNABLE_GETTING_STARTED) is None]
    assert len(runnable) >= 7, [str(c) for c in runnable]
    for prefix in NOT_RUNNABLE_GETTING_STARTED:
        assert any(c.text.startswith(prefix) for c in all_commands), f"stale allow-list entry {prefix!r}"
    texts = [c.text for c in runnable]
    assert "stackwatch check-config --env-file .env --probe" in texts and "stackwatch demo" in texts


@pytest.fixture
def operator_dir(scratch: Path, stack: Stack) -> Path:
    """The project after `cp stackwatch.example.yaml stackwatch.yaml` and `cp .env.example .env`, edited:
    the stack's config (its ids and base URLs) and a .env holding the tokens and STACKWATCH_CONFIG_FILE."""
    config = yaml.safe_load((scratch / "stackwatch.yaml").read_text())
    config["service"]["data_dir"] = str(scratch / "data")  # its own state file: never the running stack's
    (scratch / "stackwatch.yaml").write_text(yaml.safe_dump(config))
    lines = [f"{name}={value}" for name, value in simulator_env().items()]
    (scratch / ".env").write_text("COMPOSE_PROFILES=\nGF_SECURITY_ADMIN_PASSWORD=a-long-admin-password\n"
                                  "STACKWATCH_CONFIG_FILE=./stackwatch.yaml\n" + "\n".join(lines) + "\n")
    return scratch


def test_every_runnable_command_of_getting_started_succeeds(stack: Stack, operator_dir: Path):
    env = {**{k: v for k, v in os.environ.items() if k not in simulator_env()},
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "STACKWATCH_PROMETHEUS_URL": stack.prom.base_url, "STACKWATCH_URL": stack.stackwatch_url}
    stack.prom.wait_for('stackwatch_cost_today_usd{job="stackwatch"}', timeout=90)
    failures, ran = run_all(commands(GETTING_STARTED), NOT_RUNNABLE_GETTING_STARTED, operator_dir, env)
    probe = next(c for c in commands(GETTING_STARTED) if c.text.endswith("--probe"))
    done = subprocess.run(["bash", "-c", probe.text], cwd=operator_dir, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0 and "CANNOT" not in done.stdout, done.stdout  # the stack's tokens read it all
    assert not failures, "\n".join(failures)
    assert ran >= 7
    assert (operator_dir / "costs.csv").read_text().startswith("BilledCost,")
