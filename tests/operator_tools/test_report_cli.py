"""`stackwatch report` inputs and renderings (no Prometheus needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from simhelpers import free_port

from exporters.ops.report.analytics import analyse
from exporters.ops.report.build import Report
from exporters.ops.report.model import Recommendation, SpendRow, Usage
from exporters.ops.report.render import RENDERERS

REPO = Path(__file__).resolve().parents[2]
STACKWATCH = Path(sys.executable).parent / "stackwatch"  # the running venv's, wherever it is


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(STACKWATCH), "report", *args], capture_output=True, text=True, timeout=60, cwd=REPO)


def test_bad_inputs_are_exit_2_naming_the_option():
    done = run("--days", "0")
    assert done.returncode == 2 and "--days 0" in done.stderr
    done = run("--format", "html")
    assert done.returncode == 2 and "--output" in done.stderr
    url = f"http://127.0.0.1:{free_port()}"
    done = run("--prometheus", url)
    assert done.returncode == 2 and url in done.stderr and "Traceback" not in done.stderr


def sample() -> Report:
    rows = [SpendRow(date(2026, 11, 1), "render", "web", "", 4.0), SpendRow(date(2026, 11, 2), "render", "web", "", 6.0)]
    rec = Recommendation("rightsize", "render", "api", 78.0, "move api from pro to starter", "CPU p99.5 20 %",
                         "render_service_cpu_utilization_ratio", "14 d", "high")
    return Report(30, "2026-11-02T00:00:00+00:00", 2, analyse(rows, Usage(requests=5000)), [rec])


def test_markdown_table_and_json_show_spend_unit_costs_and_recommendations():
    report = sample()
    markdown = RENDERERS["markdown"](report)
    assert "| render | $10.00 | 100% | +50% |" in markdown  # $4 then $6: second half 50 % above the first
    assert "| per 1,000 requests (Vercel + Render + Supabase spend) | $2.00 |" in markdown  # $10 / 5,000 × 1,000
    assert "| $78.00 | high | render | api | move api from pro to starter |" in markdown
    table = RENDERERS["table"](report)
    assert "recommended savings $78.00/month" in table
    data = json.loads(RENDERERS["json"](report))
    assert data["by_day"] == {"2026-11-01": 4.0, "2026-11-02": 6.0}
    assert data["recommendations"][0]["monthly_savings_usd"] == 78.0 and data["total_savings_monthly_usd"] == 78.0
