"""`stackwatch simulate` as a process: scale knobs, auth, scenario control, ground truth."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from simhelpers import free_port

from exporters.simulator import VERCEL_TEAM_ID
from exporters.simulator.world import DEFAULT_TOKENS

ROOT = Path(__file__).resolve().parents[2]


def get(url: str, token: str | None = None) -> tuple[int, dict | list]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_scale_knobs_scenarios_and_auth_of_the_simulate_command() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "exporters", "simulate", "--port", str(port), "--seed", "9",
                                "--vercel-projects", "3", "--render-services", "2", "--history-days", "10"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                get(base + "/healthz")
                break
            except OSError:
                assert time.time() < deadline and process.poll() is None, "simulator did not start"
                time.sleep(0.2)
        status, body = get(f"{base}/vercel/v10/projects?teamId={VERCEL_TEAM_ID}&limit=100", DEFAULT_TOKENS["vercel"])
        assert status == 200 and len(body["projects"]) == 3
        status, body = get(f"{base}/render/v1/services?limit=100", DEFAULT_TOKENS["render"])
        assert status == 200 and len(body) == 2
        assert get(f"{base}/render/v1/services", "wrong-token")[0] == 401

        request = urllib.request.Request(base + "/_sim/scenario", data=json.dumps({"name": "outage", "provider": "render"}).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).read()
        assert get(f"{base}/render/v1/services?limit=100", DEFAULT_TOKENS["render"])[0] == 503
        assert get(f"{base}/vercel/v10/projects?teamId={VERCEL_TEAM_ID}", DEFAULT_TOKENS["vercel"])[0] == 200

        truth = get(base + "/_sim/ground-truth")[1]
        assert set(truth["providers"]) == set(DEFAULT_TOKENS)
        assert all(p["month_to_date_usd"] >= p["today_usd"] >= 0 for p in truth["providers"].values())
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0
