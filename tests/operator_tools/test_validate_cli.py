"""`stackwatch validate` inputs: every bad one exits 2 with its name and no traceback; formats render."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from simhelpers import free_port

from exporters.ops.validate.model import Check, Status, outcome
from exporters.ops.validate.render import RENDERERS

REPO = Path(__file__).resolve().parents[2]
STACKWATCH = Path(sys.executable).parent / "stackwatch"  # the running venv's, wherever it is
CONFIG = "simulator: true\nproviders:\n  openai: {enabled: false}\n  llamacloud: {enabled: false}\n" \
         "  vercel: {enabled: false}\n  render: {enabled: false}\n  supabase: {enabled: false}\n"


def validate(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([str(STACKWATCH), "validate", *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_without_prometheus_the_checks_that_need_none_run_and_the_rest_are_unknown_with_the_way_to_it(tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG.replace("vercel: {enabled: false}", "vercel: {enabled: true}")
                                     .replace("render: {enabled: false}", "render: {enabled: true}")
                                     .replace("supabase: {enabled: false}", "supabase: {enabled: true}"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    done = validate("--config", str(tmp_path / "c.yaml"), "--prometheus", url, "--format", "json",
                    "--project-dir", str(REPO))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"Prometheus at {url}: cannot connect to 127.0.0.1:{port}: connection refused" in done.stderr
    assert "--prometheus" in done.stderr
    checks = {(c["group"], c["name"]): c for c in json.loads(done.stdout)["checks"]}
    # Files and environment: judged as usual.
    assert checks[("security", "no provider token in the config file")]["status"] == "pass"
    assert checks[("security", "Grafana anonymous access off")]["status"] == "pass"
    assert checks[("security", "drain secret set (when Vercel sends drains)")]["status"] == "unknown"
    # Prometheus' figures: unknown, never a guessed pass, with how to reach it from the host.
    unknown = [c for c in checks.values() if c["evidence"].startswith("not checked: Prometheus")]
    # The alerting checks read the live path (rules loaded in Prometheus, its Alertmanager).
    assert {c["group"] for c in unknown} == {"monitoring", "alerting", "backups", "security", "scaling", "delivery"}
    assert len([c for c in unknown if c["group"] == "security"]) == 2  # TLS, and whether drains arrive
    for check in unknown:
        assert check["status"] == "unknown" and f"cannot connect to 127.0.0.1:{port}" in check["evidence"]
        assert "http://127.0.0.1:9090" in check["fix"] and "ssh -N -L 9090:127.0.0.1:9090" in check["fix"]


def test_a_prometheus_url_without_a_scheme_is_a_clear_error_naming_the_option(tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG)
    for command in (["validate", "--config", str(tmp_path / "c.yaml")], ["report"]):
        done = subprocess.run([str(STACKWATCH), *command, "--prometheus", "localhost:9090"], capture_output=True,
                              text=True, timeout=60, cwd=REPO)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "'--prometheus'" in done.stderr and "'localhost:9090' is not an http:// or https:// URL" in done.stderr


def test_bad_config_is_exit_2_naming_file_and_key(tmp_path):
    (tmp_path / "c.yaml").write_text("providers:\n  vercel: {enabled: maybe}\n")
    done = validate("--config", str(tmp_path / "c.yaml"))
    assert done.returncode == 2 and "c.yaml" in done.stderr and "providers.vercel.enabled" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_restore_drill_check_runs_without_prometheus_and_a_bad_drill_date_is_exit_2(tmp_path):
    config = CONFIG.replace("supabase: {enabled: false}", "supabase: {enabled: true}")
    (tmp_path / "c.yaml").write_text(config)
    done = validate("--config", str(tmp_path / "c.yaml"), "--prometheus", f"http://127.0.0.1:{free_port()}",
                    "--format", "json", "--project-dir", str(REPO))
    checks = {(c["group"], c["name"]): c for c in json.loads(done.stdout)["checks"]}
    drill = checks[("restore drill", "Supabase restore drill")]
    assert drill["status"] == "warn" and drill["level"] == "gold" and "not set" in drill["evidence"]
    (tmp_path / "c.yaml").write_text(config.replace("supabase: {enabled: true}",
                                                    "supabase: {enabled: true, last_restore_drill: last week}"))
    done = validate("--config", str(tmp_path / "c.yaml"))
    assert done.returncode == 2 and "c.yaml" in done.stderr and "providers.supabase.last_restore_drill" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_baseline_file_and_exclusive_options_are_exit_2(tmp_path):
    (tmp_path / "c.yaml").write_text(CONFIG)
    (tmp_path / "b.json").write_text('{"format": "something-else"}')
    done = validate("--config", str(tmp_path / "c.yaml"), "--baseline", str(tmp_path / "b.json"))
    assert done.returncode == 2 and "b.json" in done.stderr and "format" in done.stderr
    done = validate("--config", str(tmp_path / "c.yaml"), "--baseline", "x", "--record-baseline", "y")
    assert done.returncode == 2 and "exclude each other" in done.stderr


def test_table_markdown_and_json_show_status_evidence_and_fix():
    result = outcome([Check("monitoring", "vercel up and fresh", Status.PASS, "stackwatch_provider_up=1"),
                      Check("backups", "Supabase a backup", Status.FAIL, "27.0 h old | PITR off", "see runbook")])
    table = RENDERERS["table"](result)
    assert "FAIL" in table and "27.0 h old" in table and "fix: see runbook" in table and "score 50/100" in table
    markdown = RENDERERS["markdown"](result)
    assert "| fail | silver | backups | Supabase a backup | 27.0 h old \\| PITR off | see runbook |" in markdown
    data = json.loads(RENDERERS["json"](result))
    assert data["level_reached"] == "bronze" and data["counts"]["fail"] == 1
    assert data["checks"][1] == {"group": "backups", "name": "Supabase a backup", "status": "fail",
                                 "evidence": "27.0 h old | PITR off", "fix": "see runbook", "level": "silver"}
