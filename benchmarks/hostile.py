"""Hostile-conditions benchmark: `stackwatch run` under attack, on loopback.

    .venv/bin/python benchmarks/hostile.py [--duration 30] [--idle 5000] [--stalled 200] [--bombs 4]

Starts the simulator (in this process, on its own thread) and `stackwatch run` (a
subprocess, its RSS measured alone), waits until every provider is up, then for
`--duration` seconds at once:

- on the drain receiver: `--idle` idle connections (opened, never a byte sent),
  `--stalled` uploads that announce 4 MiB − 1 byte, send 64 KiB and stall, and
  `--bombs` gzip bombs (1 MiB that inflates to 1 GiB) sent whole;
- on the providers: Render trickles (1 byte / 0.2 s), pages for ever, repeats a
  cursor, sends 200 MB bodies and 1 GiB gzip bombs, one fault per stream, all at once,
  with its slow streams polled as often as the others.

It prints: peak RSS of the service; /healthz latency (p50, p99, max) over fresh
connections every 100 ms, and how many probes failed, on the drain port (which the
flood hits) and on the separate health listener (`service.health_port`, its own
socket and thread: exporters/service/health_listener.py); for every other provider
the largest age of its last successful poll (on time: within 3 poll intervals,
the service's own staleness rule); what the receiver answered the attackers; and
the time from SIGTERM to exit, sent while the stalled uploads are still open; and the
machine's load average (/proc/loadavg) before and after, since other work on the
machine changes the latencies.
Targets (issue #11): RSS ≤ 150 MB, /healthz p99 ≤ 100 ms, every other provider
on time, SIGTERM ≤ 10 s.

Bounded: every socket is closed and the service is killed (after the SIGTERM
measurement) before the script exits; the script raises its own file limit with
`resource.setrlimit` for the idle connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from exporters.simulator import Simulator, World, simulator_config, simulator_env  # noqa: E402
from exporters.simulator.hostile import gzip_bomb  # noqa: E402
from exporters.simulator.server import Fault, ThreadedSimulator  # noqa: E402

HOSTILE = "render"
POLL_INTERVAL_S = 5.0
HOSTILE_DEADLINE_S = 10.0
# One fault per stream of the hostile provider, all at once (first match wins, so the
# deploys path, which contains "/services", comes before it).
HOSTILE_FAULTS = [
    Fault("oversized", path_contains="/deploys", size=200 * 1000 * 1000, count=1_000_000),  # deploys
    Fault("endless", path_contains="/services", count=1_000_000),  # services (the list)
    Fault("repeat_cursor", path_contains="/postgres", count=1_000_000),  # services (datastores)
    Fault("gzip_bomb", path_contains="-limit", size=1024 * 1024 * 1024, count=1_000_000),  # metric_limits
    Fault("trickle", path_contains="/metrics/", count=1_000_000),  # metrics
]
UPLOAD_ANNOUNCED = 4 * 1024 * 1024 - 1
DRAIN_PATH = "/drains/vercel/logs"
SIGNATURE = "0" * 40  # well-formed, wrong: what an unauthenticated attacker can send


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _OtlpSink(BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP metric exports (a collector that works), discarding them."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def raise_file_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class PeakRss(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                rss = self.process.memory_info().rss
            except psutil.Error:
                return
            self.samples.append(rss)
            self.peak = max(self.peak, rss)
            time.sleep(0.2)


async def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    return status, body


class HealthProbe:
    """/healthz over a fresh connection every 100 ms: latency, failures, provider ages.
    Runs in its own process, so the attackers' work in this one does not delay its clock."""

    def __init__(self, port: int):
        self.port = port
        self.latencies: list[float] = []
        self.times: list[float] = []  # when each ok probe started (time.time())
        self.failures: Counter = Counter()
        self.max_age: dict[str, float] = {}

    async def run(self, until: float) -> None:
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            started = time.perf_counter()
            try:
                status, body = await http_get(self.port, "/healthz")
                elapsed = time.perf_counter() - started
                if status != 200:
                    self.failures[f"HTTP {status}"] += 1
                else:
                    self.latencies.append(elapsed)
                    self.times.append(time.time() - elapsed)
                    for name, entry in json.loads(body)["providers"].items():
                        age = entry.get("last_success_age_seconds")
                        if isinstance(age, (int, float)):
                            self.max_age[name] = max(self.max_age.get(name, 0.0), age)
            except (OSError, asyncio.TimeoutError) as exc:
                self.failures[exc.__class__.__name__] += 1
            await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - started)))


class Attack:
    def __init__(self, port: int):
        self.port = port
        self.writers: list[asyncio.StreamWriter] = []
        self.idle_failed = 0
        self.idle_opened_at: tuple[float, float] = (0.0, 0.0)  # time.time() span of opening them
        self.upload_answers: Counter = Counter()
        self.bomb_answers: Counter = Counter()

    async def idle(self, count: int) -> None:
        started = time.time()
        for _ in range(count):
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.writers.append(writer)
            except OSError:
                self.idle_failed += 1
        self.idle_opened_at = (started, time.time())

    async def stalled_upload(self) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            self.upload_answers["connect failed"] += 1
            return
        self.writers.append(writer)
        head = (f"POST {DRAIN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {UPLOAD_ANNOUNCED}\r\nx-vercel-signature: {SIGNATURE}\r\n\r\n").encode()
        try:
            writer.write(head + b"[" + b" " * (64 * 1024 - 1))
            await writer.drain()
            data = await reader.read(200)  # the answer, whenever it comes (408 / 503 / close)
            self.upload_answers[data.split(b"\r\n")[0].decode(errors="replace") or "closed"] += 1
        except OSError as exc:
            self.upload_answers[exc.__class__.__name__] += 1

    async def bomb(self, body: bytes) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            self.bomb_answers["connect failed"] += 1
            return
        head = (f"POST {DRAIN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n"
                f"x-vercel-signature: {SIGNATURE}\r\n\r\n").encode()
        try:
            writer.write(head + body)
            await writer.drain()
            data = await asyncio.wait_for(reader.read(200), 60)
            self.bomb_answers[data.split(b"\r\n")[0].decode(errors="replace") or "closed"] += 1
        except (OSError, asyncio.TimeoutError) as exc:
            self.bomb_answers[exc.__class__.__name__] += 1
        finally:
            writer.close()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


def start_prober(port: int, seconds: float) -> tuple[multiprocessing.Process, Connection]:
    receive, send = multiprocessing.Pipe(duplex=False)
    prober = multiprocessing.Process(target=probe_process, args=(port, seconds, send), daemon=True)
    prober.start()
    return prober, receive


async def collect_probe(port: int, prober: multiprocessing.Process, receive: Connection) -> HealthProbe:
    probe = HealthProbe(port)
    if await asyncio.to_thread(receive.poll, 60):
        probe.latencies, probe.times, failures, probe.max_age = receive.recv()
        probe.failures.update(failures)
    prober.join(timeout=10)
    return probe


async def attack_phase(port: int, health_port: int, args: argparse.Namespace,
                       bomb: bytes) -> tuple[HealthProbe, HealthProbe, Attack]:
    loop = asyncio.get_running_loop()
    attack = Attack(port)
    until = loop.time() + args.duration
    prober, receive = start_prober(port, args.duration)
    health_prober, health_receive = start_prober(health_port, args.duration)
    # Bombs first: once the stalled uploads hold every body slot, a bomb would only get a 503.
    bombs = [asyncio.create_task(attack.bomb(bomb)) for _ in range(args.bombs)]
    await asyncio.sleep(0.5)
    await attack.idle(args.idle)
    uploads = [asyncio.create_task(attack.stalled_upload()) for _ in range(args.stalled)]
    await asyncio.sleep(max(0.0, until - loop.time()))
    probe = await collect_probe(port, prober, receive)
    health_probe = await collect_probe(health_port, health_prober, health_receive)
    for task in uploads + bombs:
        if not task.done():
            task.cancel()
    await asyncio.gather(*uploads, *bombs, return_exceptions=True)
    return probe, health_probe, attack


def probe_process(port: int, seconds: float, results: Connection) -> None:
    probe = HealthProbe(port)

    async def run() -> None:
        await probe.run(asyncio.get_running_loop().time() + seconds)

    asyncio.run(run())
    results.send((probe.latencies, probe.times, dict(probe.failures), probe.max_age))
    results.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--stalled", type=int, default=200)
    parser.add_argument("--bombs", type=int, default=4)
    parser.add_argument("--no-provider-faults", action="store_true", help="attack the receiver only")
    parser.add_argument("--show-log", action="store_true", help="print the service's whole log")
    parser.add_argument("--max-connections", type=int, default=None,
                        help="the service's drain_max_connections (default: the config's default)")
    args = parser.parse_args()
    limit = raise_file_limit(args.idle + args.stalled + 4096)
    print(f"file limit of this process: {limit}")
    bomb = gzip_bomb(1024 * 1024 * 1024)
    print(f"gzip bomb: {len(bomb) / 1024:.0f} KiB inflating to 1 GiB")

    threaded = ThreadedSimulator(Simulator(World(seed=11)))
    with tempfile.TemporaryDirectory() as tmp, threaded as sim:
        port, health_port = free_port(), free_port()
        sink = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpSink)
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        sink_port = sink.server_address[1]
        config = simulator_config(sim.base_url, overrides={
            "service": {"listen_host": "127.0.0.1", "listen_port": port, "health_port": health_port,
                        "metric_export_interval_seconds": 5,
                        **({"drain_max_connections": args.max_connections} if args.max_connections else {})},
            "logging": {"format": "json", "level": os.environ.get("HOSTILE_LOG_LEVEL", "info")},
            "providers": {name: {"poll_interval_seconds": POLL_INTERVAL_S,
                                 # The hostile provider's slow streams (the paginated lists) poll as
                                 # often as the others, so endless pages and repeated cursors are hit.
                                 **({"poll_deadline_seconds": HOSTILE_DEADLINE_S, "max_retries": 1,
                                     "slow_poll_interval_seconds": POLL_INTERVAL_S}
                                    if name == HOSTILE else {})}
                          for name in ("vercel", "render", "supabase", "openai", "llamacloud")},
        })
        path = Path(tmp) / "stackwatch.yaml"
        path.write_text(yaml.safe_dump(config))
        log_path = Path(tmp) / "stderr.log"
        env = {"PATH": os.environ["PATH"], **simulator_env(),
               "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
               "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}
        with open(log_path, "w") as stderr:
            service = subprocess.Popen([sys.executable, "-m", "exporters", "run", "--config", str(path)],
                                       cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            return run_against(service, port, health_port, threaded, sim, args, bomb, log_path)
        finally:
            if service.poll() is None:
                service.kill()
                service.wait(timeout=30)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def print_latency(label: str, probe: HealthProbe, attack: Attack, idle: int) -> None:
    lat = probe.latencies
    print(f"/healthz on the {label}: {len(lat)} ok, p50 {percentile(lat, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(lat, 0.99) * 1000:.1f} ms, max {max(lat, default=float('nan')) * 1000:.1f} ms "
          f"(target p99 <= 100 ms); failed probes: {dict(probe.failures) or 0}")
    if lat:
        first, last = attack.idle_opened_at
        during = [v for v, t in zip(lat, probe.times, strict=True) if first <= t <= last + 0.5]
        after = [v for v, t in zip(lat, probe.times, strict=True) if t > last + 0.5]
        print(f"  while the {idle} idle connections were being opened ({last - first:.1f} s): "
              f"{len(during)} probes, p99 {percentile(during, 0.99) * 1000:.1f} ms, "
              f"max {max(during, default=float('nan')) * 1000:.1f} ms")
        print(f"  after (all attacks held open): {len(after)} probes, p50 {percentile(after, 0.5) * 1000:.1f} ms, "
              f"p99 {percentile(after, 0.99) * 1000:.1f} ms, max {max(after, default=float('nan')) * 1000:.1f} ms")


def run_against(service: subprocess.Popen, port: int, health_port: int, threaded: ThreadedSimulator,
                sim: Simulator, args: argparse.Namespace, bomb: bytes, log_path: Path) -> int:
    deadline = time.monotonic() + 120
    while True:
        if service.poll() is not None:
            print(log_path.read_text()[-3000:])
            raise SystemExit("the service exited before it was healthy")
        try:
            status, body = asyncio.run(http_get(port, "/healthz"))
            if status == 200 and all(p["up"] for p in json.loads(body)["providers"].values()):
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the service did not become healthy within 120 s")
        time.sleep(0.5)
    rss = PeakRss(service.pid)
    rss.start()
    time.sleep(1.0)
    baseline = rss.peak
    if not args.no_provider_faults:
        threaded.call(lambda: sim.faults.__setitem__(HOSTILE, [Fault(**vars(f)) for f in HOSTILE_FAULTS]))
    print(f"attacking for {args.duration:.0f} s: {args.idle} idle connections, {args.stalled} stalled "
          f"uploads, {args.bombs} gzip bombs; {HOSTILE} trickles, pages for ever, repeats cursors, "
          "sends oversized bodies and gzip bombs")

    load_before = load_average()

    async def attack_and_stop() -> tuple[HealthProbe, HealthProbe, Attack, float, int | None]:
        probe, health_probe, attack = await attack_phase(port, health_port, args, bomb)
        # SIGTERM while the stalled uploads and idle sockets are still open.
        sent = time.monotonic()
        service.send_signal(signal.SIGTERM)
        code = None
        while time.monotonic() - sent < 60:
            code = service.poll()
            if code is not None:
                break
            await asyncio.sleep(0.05)
        stopped = time.monotonic() - sent
        attack.close()
        return probe, health_probe, attack, stopped, code

    probe, health_probe, attack, stop_s, code = asyncio.run(attack_and_stop())
    load_after = load_average()
    rss.stop.set()
    rss.join(timeout=5)
    threaded.call(lambda: sim.faults.pop(HOSTILE, None))

    print()
    print(f"load average (1, 5, 15 min): {load_before} before the attack, {load_after} after (2 cores)")
    print(f"service RSS: baseline {baseline / 1e6:.0f} MB, peak under attack {rss.peak / 1e6:.0f} MB "
          f"(target <= 150 MB)")
    print_latency("health port (own socket and thread)", health_probe, attack, args.idle)
    print_latency("drain port (the flooded one)", probe, attack, args.idle)
    print(f"largest last-success age seen per provider (poll interval {POLL_INTERVAL_S:g} s; on time <= "
          f"{3 * POLL_INTERVAL_S:g} s):")
    ages = {name: max(probe.max_age.get(name, 0.0), health_probe.max_age.get(name, 0.0))
            for name in {*probe.max_age, *health_probe.max_age}}
    for name, age in sorted(ages.items()):
        verdict = "hostile" if name == HOSTILE else ("on time" if age <= 3 * POLL_INTERVAL_S else "LATE")
        print(f"  {name:11s} {age:6.1f} s  {verdict}")
    print(f"idle connections opened: {args.idle - attack.idle_failed} of {args.idle}")
    print(f"stalled uploads answered: {dict(attack.upload_answers)}")
    print(f"gzip bombs answered: {dict(attack.bomb_answers)}")
    print(f"SIGTERM to exit: {stop_s:.2f} s, exit code {code} (target <= 10 s)")
    log = log_path.read_text(errors="replace")
    lines = log.splitlines()
    print(f"service log: {len(lines)} lines, {len(log) / 1024:.0f} KiB; "
          f"tracebacks: {log.count('Traceback')}")
    reasons = Counter()
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("reason") and event.get("provider"):
            reasons[(event["provider"], event["reason"])] += 1
    print(f"failed polls logged by (provider, reason): {dict(reasons)}")
    if args.show_log:
        print(log)
    stopping = next((i for i, line in enumerate(lines) if '"stopping' in line), len(lines))
    print("log from SIGTERM on:", *[line[:300] for line in lines[stopping:stopping + 12]], sep="\n  ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
