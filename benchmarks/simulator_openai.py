"""The simulated OpenAI Usage API at its largest pages, large scale (prints figures; not a test).

For each bucket width at its documented maximum `limit` (1m: 1,440, 1h: 168, 1d: 31),
and for the costs API at 180 daily buckets, the wall time the simulator spends building
one page over HTTP, and the longest stall another request (`/healthz`) saw meanwhile:
the handler yields to the event loop after each bucket, so a client asking for
a day of minutes must not freeze every other provider's requests.

Run: `.venv/bin/python benchmarks/simulator_openai.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime, timezone

import httpx

from exporters.simulator import Simulator, World
from exporters.simulator.world import Scale

NOW = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)
# (endpoint, width, limit, days back the page starts): every page lies inside the large world's 90-day history.
PAGES = (("usage/completions", "1m", 1440, 1), ("usage/completions", "1h", 168, 7), ("usage/completions", "1d", 31, 31),
         ("usage/embeddings", "1m", 1440, 1), ("costs", "1d", 180, 89))


async def probe(http: httpx.AsyncClient, stop: asyncio.Event, worst: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await http.get("/healthz")
        worst[0] = max(worst[0], time.perf_counter() - started)
        await asyncio.sleep(0.005)


async def main(repeat: int) -> None:
    simulator = Simulator(World(seed=7, scale=Scale.large(), start=NOW))
    base = await simulator.start()
    token = simulator.tokens["openai"]
    midnight = int(NOW.timestamp()) - int(NOW.timestamp()) % 86400
    print(f"{'endpoint':<22} {'width':>5} {'limit':>5} {'buckets':>7} {'page s':>7} {'/healthz worst ms':>18}")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:
            for path, width, limit, days_back in PAGES:
                start = midnight - days_back * 86400
                for _ in range(repeat):
                    stop, worst = asyncio.Event(), [0.0]
                    prober = asyncio.create_task(probe(http, stop, worst))
                    started = time.perf_counter()
                    response = await http.get(f"/openai/v1/organization/{path}", headers={
                        "Authorization": f"Bearer {token}"}, params={"start_time": start, "bucket_width": width,
                                                                     "limit": limit, "group_by": "model"
                                                                     if path != "costs" else "line_item"})
                    elapsed = time.perf_counter() - started
                    stop.set()
                    await prober
                    response.raise_for_status()
                    buckets = len(response.json()["data"])
                    print(f"{path:<22} {width:>5} {limit:>5} {buckets:>7} {elapsed:>7.2f} {worst[0] * 1000:>18.0f}")
    finally:
        await simulator.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    asyncio.run(main(parser.parse_args().repeat))
