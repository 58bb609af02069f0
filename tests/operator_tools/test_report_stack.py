"""`stackwatch report` run for real against the native stack; the HTML page opened in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from stack.conftest import REPO, STACKWATCH, Stack, in_ci, wait_until

pytestmark = pytest.mark.e2e

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")


def report(stack: Stack, *args: str, env: dict | None = None, min_coverage: str = "0") -> subprocess.CompletedProcess:
    """The report over the stack's minutes of data; --min-coverage 0 (not the default) so it recommends
    from them: these tests prove the queries and renderings, not the advice's evidence."""
    return subprocess.run([str(STACKWATCH), "report", "--days", "1", "--prometheus", stack.prom.base_url,
                           "--min-coverage", min_coverage, *args],
                          capture_output=True, text=True, timeout=180, cwd=REPO, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def costed(stack: Stack) -> Stack:
    for provider in ("vercel", "render", "supabase", "openai", "llamacloud"):
        stack.prom.wait_for(f'stackwatch_cost_today_usd{{job="stackwatch", provider="{provider}"}}', timeout=90)

    def savings() -> bool:  # a counter's increase needs two samples of the usage behind a saving
        done = report(stack, "--format", "json")
        return done.returncode == 0 and any(r["monthly_savings_usd"] > 0 for r in json.loads(done.stdout)["recommendations"])

    wait_until(savings, timeout=120, interval=3, what="a report recommendation with a saving")
    return stack


def test_json_report_spend_equals_prometheus_today_and_recommendations_carry_evidence(costed: Stack):
    done = report(costed, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    # Independent figure: today's spend summed straight from Prometheus (one value per cost line).
    truth = {r["metric"]["provider"]: float(r["value"][1]) for r in costed.prom.query(
        'sum by (provider) (max by (provider, service, project, model) (stackwatch_cost_today_usd{job="stackwatch"}))')}
    for provider, usd in truth.items():
        if usd > 0:
            # The report reads the day's max; costs only grow within a day, so it is ≥ the latest value read
            # before it, and the two reads are seconds apart.
            assert data["by_provider"][provider] == pytest.approx(usd, rel=0.05), (provider, data["by_provider"])
    assert data["days_with_data"] == 1
    assert data["recommendations"], "the simulated world (agentic parses, synchronous OpenAI traffic) has savings"
    for rec in data["recommendations"]:
        assert rec["evidence"] and rec["series"] and rec["window"] == "1 d" and rec["confidence"] in ("high", "medium", "low")


def test_by_default_minutes_of_data_recommend_nothing_and_the_coverage_says_why(costed: Stack):
    """Issue 16: a fresh report proposed deleting a service from three samples. The stack's Prometheus holds
    minutes of the 7-day window: every recommendation is withheld, and the report prints the coverage."""
    done = report(costed, "--format", "json", min_coverage="0.8")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["recommendations"] == [] and sum(data["recommendations_withheld"].values()) > 0
    assert set(data["coverage"]) == {"vercel", "render", "supabase", "openai", "llamacloud"}
    assert all(share < 0.8 for share in data["coverage"].values()), data["coverage"]
    table = subprocess.run([str(STACKWATCH), "report", "--days", "7", "--prometheus", costed.prom.base_url],
                           capture_output=True, text=True, timeout=180, cwd=REPO)
    assert table.returncode == 0 and "coverage of the 7-day window: llamacloud " in table.stdout
    assert "are withheld" in table.stdout and "suspend or delete" not in table.stdout


def test_push_exports_the_top_recommendations_as_a_catalogued_metric(costed: Stack):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{costed.ports.otlp_http}",
           "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
    pushed_after = time.time() - 1  # Prometheus keeps an earlier push's samples for 5 min: read only this one's
    done = report(costed, "--format", "json", "--push", "--environment", "e2e", env=env)
    assert done.returncode == 0, done.stderr
    pushed = [r for r in json.loads(done.stdout)["recommendations"] if r["monthly_savings_usd"] > 0][:10]
    metric = "stackwatch_recommendation_savings_monthly_usd"
    series = costed.prom.wait_for(f"{metric} and timestamp({metric}) >= {pushed_after:.3f}", timeout=60)
    got = {(s["metric"]["provider"], s["metric"]["kind"], s["metric"]["resource"]): float(s["value"][1]) for s in series}
    assert got == {(r["provider"], r["kind"], r["resource"]): r["monthly_savings_usd"] for r in pushed}


def test_push_without_an_otlp_endpoint_is_exit_2(costed: Stack):
    env = {k: "" for k in os.environ if k.startswith("OTEL_EXPORTER_OTLP")}
    done = report(costed, "--push", env=env)
    assert done.returncode == 2 and "OTEL_EXPORTER_OTLP_ENDPOINT" in done.stderr


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if in_ci():
            pytest.fail("chromium missing: tools/install-system-packages.sh installs it")
        pytest.skip("chromium not installed (tools/install-system-packages.sh)")
    return path


def test_html_report_renders_in_headless_chromium_with_visible_charts(costed: Stack, tmp_path: Path):
    out = tmp_path / "report"
    done = report(costed, "--format", "html", "--output", str(out))
    assert done.returncode == 0, done.stderr
    page = out / "report.html"
    charts = sorted(p.name for p in out.glob("*.png"))
    assert charts == ["savings.png", "spend_by_day.png", "spend_by_provider.png"]
    assert all(f'src="{c}"' in page.read_text() for c in charts)
    shot = tmp_path / "shot.png"
    subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "Chromium wrote no screenshot"
    image = Image.open(shot).convert("L")
    # A blank page is one flat colour; text, tables and charts give a broad spread of grey levels.
    assert ImageStat.Stat(image).stddev[0] > 20, ImageStat.Stat(image).stddev
    # The charts loaded: the orange provider bars (#d9822b) are on the page.
    rgb = Image.open(shot).convert("RGB")
    colours = rgb.getcolors(maxcolors=rgb.width * rgb.height) or []
    assert any(abs(r - 0xd9) < 12 and abs(g - 0x82) < 12 and abs(b - 0x2b) < 12
               for _, (r, g, b) in colours), "the spend-by-provider chart is not visible"
