"""The native stack: the same services as docker-compose.yml, as real processes on loopback.

    simulator (`stackwatch simulate`) ─► `stackwatch run` ──OTLP──► otelcol ──OTLP──► prometheus ──► alertmanager
                                                                  blackbox_exporter ◄── scraped ──┘

Each service runs from the repository's own files: otel-collector.yaml as is
(its hosts and ports are environment variables), prometheus/prometheus.yml and
prometheus/targets/demo/ copied with only `host:port` strings substituted, and
prometheus/blackbox.yml as is. Prometheus gets the command line of the compose
service. Binaries come from tools/install_tools.py (`make tools`); under
CI=true a missing binary fails the tests instead of skipping them.

stackwatch itself runs on the demo config (the simulator's) with short poll
and export intervals, so the tests take seconds instead of minutes.

The alerting files are what compose's alerting-config service renders: the installed
`stackwatch alerts render` on the stack's alerting settings (no channel unless a test
sets some), its Prometheus rules where prometheus.yml's rule_files finds them (alerting/),
Alertmanager started with the compose service's command line on the rendered config.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import simhelpers
import yaml
from ciguard import in_ci

from exporters.simulator import simulator_config, simulator_env

from .cycle_history import observe_since_cycle_start

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # grafana/ is a source tree of the repository, not an installed package
    sys.path.insert(0, str(REPO))
from grafana.queries import parse_duration  # noqa: E402

VENV_BIN = Path(sys.executable).parent
STACKWATCH = VENV_BIN / "stackwatch"

# Short intervals for the tests (the demo config uses 60 s polls and 15 s exports).
POLL_INTERVAL_S = 3.0
SLOW_POLL_INTERVAL_S = 2 * POLL_INTERVAL_S
EXPORT_INTERVAL_S = 1.0
DRAIN_INTERVAL_S = 2.0

T = TypeVar("T")


def load_install_tools():
    spec = importlib.util.spec_from_file_location("install_tools", REPO / "tools" / "install_tools.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["install_tools"] = module
    spec.loader.exec_module(module)
    return module


install_tools = load_install_tools()


@pytest.fixture(scope="session")
def tools():
    """Paths of the pinned binaries; missing ones skip locally and fail under CI=true."""
    paths = install_tools.tool_paths()
    missing = paths.missing()
    if missing:
        message = (f"native stack binaries missing: {', '.join(missing)} "
                   f"(run `make tools`, i.e. tools/install-system-packages.sh and tools/install-tools.sh)")
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return paths


# --- small helpers ---

free_port = simhelpers.free_port



def wait_until(probe: Callable[[], T | None], *, timeout: float, interval: float = 0.25,
               what: str = "condition") -> T:
    """Call `probe` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                         + (f" (last error: {last_error!r})" if last_error else ""))


def http_get(url: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def push_report(prometheus_url: str, otlp_http_port: int) -> None:
    """`stackwatch report --push` through a stack's collector, once a recommendation has a saving
    (the usage behind one needs two samples: a counter's increase), as the scheduled report does
    (docs/operations.md). Environment e2e, as the stacks' own series."""
    # The stack holds minutes of data: --min-coverage 0 lets the report recommend from them anyway (what
    # the push needs; by default it withholds advice until 80 % of the window is covered).
    report = [str(STACKWATCH), "report", "--days", "1", "--prometheus", prometheus_url, "--format", "json",
              "--min-coverage", "0"]

    def savings() -> bool:
        done = subprocess.run(report, capture_output=True, check=True, timeout=180)
        return any(r["monthly_savings_usd"] > 0 for r in json.loads(done.stdout)["recommendations"])

    wait_until(savings, timeout=120, interval=3, what="a report recommendation with a saving")
    subprocess.run([*report, "--push", "--environment", "e2e"], capture_output=True, check=True, timeout=180,
                   env={**os.environ, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_http_port}"})


def http_json(url: str, body: dict | None = None, *, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


# --- processes ---

@dataclass
class Service:
    """One native process of the stack, with its log file and readiness URL."""

    name: str
    command: list[str]
    ready_url: str
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO
    process: subprocess.Popen | None = None
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.{self.starts}.log"

    def start(self, *, timeout: float = 60.0) -> None:
        self.starts += 1
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.command, cwd=self.cwd, env={**os.environ, **self.env},
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            return http_get(self.ready_url, timeout=2)[0] == 200

        try:
            wait_until(ready, timeout=timeout, what=f"{self.name} to be ready at {self.ready_url}")
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- {self.name} log ---\n{self.log_tail()}") from None

    def stop(self, *, timeout: float = 20.0) -> int | None:
        """SIGTERM (graceful: stackwatch flushes, the collector drains), SIGKILL after `timeout`."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


class Prometheus:
    """The HTTP API of the native Prometheus."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def query(self, expr: str) -> list[dict]:
        url = f"{self.base_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        body = http_json(url)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Instant vector as {sorted label items: value}."""
        return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in self.query(expr)}

    def series(self, match: str, *, since_s: float = 3600) -> list[dict[str, str]]:
        params = urllib.parse.urlencode({"match[]": match, "start": time.time() - since_s, "end": time.time()})
        body = http_json(f"{self.base_url}/api/v1/series?{params}")
        return body["data"]

    def metric_names(self) -> set[str]:
        return set(http_json(f"{self.base_url}/api/v1/label/__name__/values")["data"])

    def targets(self) -> list[dict]:
        return http_json(f"{self.base_url}/api/v1/targets?state=active")["data"]["activeTargets"]

    def wait_for(self, expr: str, predicate: Callable[[list[dict]], bool] = bool, *,
                 timeout: float = 60.0, what: str | None = None) -> list[dict]:
        return wait_until(lambda: (r := self.query(expr)) and predicate(r) and r,
                          timeout=timeout, interval=0.5, what=what or f"Prometheus to return {expr}")


# --- config files for the native run ---

def substitute(text: str, mapping: dict[str, str], used: set[str]) -> str:
    for old, new in mapping.items():
        if old in text:
            used.add(old)
            text = text.replace(old, new)
    return text


def prometheus_tree(target: Path, hostports: dict[str, str]) -> Path:
    """prometheus.yml, targets/ (demo) and secrets/ beside each other, as compose mounts them."""
    used: set[str] = set()
    source = REPO / "prometheus"
    target.mkdir(parents=True, exist_ok=True)
    config = target / "prometheus.yml"
    config.write_text(substitute((source / "prometheus.yml").read_text(), hostports, used))
    (target / "targets").mkdir(exist_ok=True)
    for path in sorted((source / "targets" / "demo").iterdir()):
        if path.suffix == ".yml":
            (target / "targets" / path.name).write_text(substitute(path.read_text(), hostports, used))
    # rule_files: rules/*.yaml (the dashboards' generated recording rules, compose's mount).
    shutil.copytree(source / "rules", target / "rules", dirs_exist_ok=True)
    (target / "secrets").mkdir(exist_ok=True)
    shutil.copy(source / "targets" / "demo" / "supabase-service-role-key",
                target / "secrets" / "supabase_service_role_key")
    unused = set(hostports) - used
    assert not unused, f"host:port strings not found in the Prometheus config (drifted?): {sorted(unused)}"
    return config


# A rule group first evaluates up to one interval after Prometheus starts, and the boards' slowest
# group runs every 15 minutes (grafana/dashboards/recordings.py): a stack minutes old would hold
# none of its series. Live stacks therefore evaluate every group at most this far apart; the
# interval is the only change (the committed file itself is what promtool checks and compose mounts).
STACK_RULE_INTERVAL = "1m"


def cap_rule_intervals(rules_dir: Path, cap: str = STACK_RULE_INTERVAL) -> list[str]:
    """Rewrite each rule file's groups that run less often than `cap` to run every `cap`; returns
    the groups changed ("file/group: 15m -> 1m")."""
    changed = []
    for path in sorted(rules_dir.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            interval = group.get("interval", "1m")
            if parse_duration(interval) > parse_duration(cap):
                changed.append(f"{path.name}/{group['name']}: {interval} -> {cap}")
                group["interval"] = cap
        path.write_text(yaml.safe_dump(document, sort_keys=False, width=1000))
    return changed


def compose_service(name: str) -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"][name]


def expand_compose_defaults(arg: str) -> str:
    """`${VAR:-default}` as compose resolves it with VAR unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", arg)


def alertmanager_command(binary: Path, config_dir: Path, data_dir: Path, listen: str) -> list[str]:
    """The compose service's command, with the container paths replaced by native ones."""
    args = []
    for arg in compose_service("alertmanager")["command"]:
        arg = expand_compose_defaults(arg)
        arg = arg.replace("/etc/alertmanager/stackwatch", str(config_dir))
        arg = arg.replace("--storage.path=/alertmanager", f"--storage.path={data_dir}")
        arg = re.sub(r"^--web.external-url=.*", f"--web.external-url=http://{listen}/", arg)
        args.append(arg)
    return [str(binary), *args, f"--web.listen-address={listen}"]


def render_alerting(output: Path, env: dict[str, str], *, time_scale: float | None = None,
                    evaluation_interval: str | None = None) -> None:
    """`stackwatch alerts render` as compose's alerting-config runs it, on `env` (the stack's .env)."""
    command = [str(STACKWATCH), "alerts", "render", "--output", str(output)]
    if time_scale is not None:
        command += ["--time-scale", str(time_scale), "--evaluation-interval", evaluation_interval or "1m"]
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    done = subprocess.run(command, env={**base, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def prometheus_command(binary: Path, config: Path, data_dir: Path, listen: str) -> list[str]:
    """The compose service's command, with the container paths replaced by native ones."""
    args = []
    for arg in compose_service("prometheus")["command"]:
        arg = expand_compose_defaults(arg)
        arg = arg.replace("/etc/prometheus/prometheus.yml", str(config))
        arg = arg.replace("--storage.tsdb.path=/prometheus", f"--storage.tsdb.path={data_dir}")
        args.append(arg)
    return [str(binary), *args, f"--web.listen-address={listen}"]


def stackwatch_config(simulator_url: str, listen_port: int, *, poll_interval_s: float = POLL_INTERVAL_S,
                     export_interval_s: float = EXPORT_INTERVAL_S, data_dir: Path | None = None) -> dict:
    providers = {name: {"poll_interval_seconds": poll_interval_s,
                        "slow_poll_interval_seconds": 2 * poll_interval_s,
                        "timeout_seconds": 5, "max_retries": 1}
                 for name in ("vercel", "render", "supabase", "openai", "llamacloud")}
    return simulator_config(simulator_url, environment="e2e", overrides={
        "providers": providers,
        "service": {"listen_host": "127.0.0.1", "listen_port": listen_port,
                    "metric_export_interval_seconds": export_interval_s,
                    **({"data_dir": str(data_dir)} if data_dir is not None else {})},
        "logging": {"level": "info", "format": "text"},
    })


# --- the stack ---

@dataclass
class Ports:
    simulator: int = field(default_factory=free_port)
    stackwatch: int = field(default_factory=free_port)
    otlp_grpc: int = field(default_factory=free_port)
    otlp_http: int = field(default_factory=free_port)
    collector_health: int = field(default_factory=free_port)
    collector_telemetry: int = field(default_factory=free_port)
    prometheus: int = field(default_factory=free_port)
    blackbox: int = field(default_factory=free_port)
    alertmanager: int = field(default_factory=free_port)


@dataclass
class Stack:
    ports: Ports
    simulator: Service
    stackwatch: Service
    collector: Service
    prometheus: Service
    blackbox: Service
    alertmanager: Service
    prom: Prometheus
    workdir: Path

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.simulator}"

    @property
    def stackwatch_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.stackwatch}"

    @property
    def collector_metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.collector_telemetry}/metrics"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    def services(self) -> list[Service]:
        return [self.alertmanager, self.prometheus, self.blackbox, self.collector, self.stackwatch, self.simulator]

    def ground_truth(self) -> dict:
        return http_json(f"{self.simulator_url}/_sim/ground-truth")

    def set_scenario(self, name: str, provider: str | None = None) -> None:
        http_json(f"{self.simulator_url}/_sim/scenario", {"name": name, "provider": provider})

    def inject_fault(self, provider: str, **fault: Any) -> None:
        http_json(f"{self.simulator_url}/_sim/fault", {"provider": provider, **fault})

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.log_tail(25)}" for s in self.services())


def collector_env(ports: Ports, *, exporters: str | None = None, extra: dict[str, str] | None = None) -> dict:
    env = {
        "OTELCOL_HEALTH_ENDPOINT": f"127.0.0.1:{ports.collector_health}",
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{ports.otlp_grpc}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{ports.otlp_http}",
        "PROMETHEUS_HOSTPORT": f"127.0.0.1:{ports.prometheus}",
        "OTELCOL_TELEMETRY_HOST": "127.0.0.1",
        "OTELCOL_TELEMETRY_PORT": str(ports.collector_telemetry),
    }
    if exporters:
        env["OTELCOL_METRICS_EXPORTERS"] = exporters
    return {**env, **(extra or {})}


def build_stack(tools, workdir: Path, *, collector_extra_env: dict[str, str] | None = None,
                collector_exporters: str | None = None, simulator_args: tuple[str, ...] = (),
                poll_interval_s: float = POLL_INTERVAL_S, export_interval_s: float = EXPORT_INTERVAL_S,
                alerting_env: dict[str, str] | None = None, alert_time_scale: float | None = None,
                evaluation_interval: str | None = None) -> Stack:
    ports = Ports()
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    local = lambda port: f"127.0.0.1:{port}"  # noqa: E731
    prometheus_config = prometheus_tree(workdir / "prometheus", {
        "otel-collector:8888": local(ports.collector_telemetry),
        "stackwatch:9464": local(ports.stackwatch),
        "blackbox-exporter:9115": local(ports.blackbox),
        "simulator:8080": local(ports.simulator),
        "localhost:9090": local(ports.prometheus),
        "alertmanager:9093": local(ports.alertmanager),
    })
    cap_rule_intervals(prometheus_config.parent / "rules")
    # compose: alerting-config renders into volumes mounted at /etc/prometheus/alerting and
    # /etc/alertmanager/stackwatch; here the same command renders into the stack's directory.
    rendered = workdir / "alerting-config"
    render_alerting(rendered, alerting_env or {}, time_scale=alert_time_scale, evaluation_interval=evaluation_interval)
    (prometheus_config.parent / "alerting").symlink_to(rendered / "prometheus", target_is_directory=True)
    config_file = workdir / "stackwatch.yaml"
    simulator_url = f"http://{local(ports.simulator)}"
    config_file.write_text(yaml.safe_dump(stackwatch_config(
        simulator_url, ports.stackwatch, poll_interval_s=poll_interval_s, export_interval_s=export_interval_s,
        data_dir=workdir / "state")))
    stackwatch_env = {
        **simulator_env(),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{local(ports.otlp_http)}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    }
    return Stack(
        ports=ports,
        prometheus=Service("prometheus", prometheus_command(
            tools.prometheus, prometheus_config, workdir / "prometheus-data", local(ports.prometheus)),
            f"http://{local(ports.prometheus)}/-/ready", logs),
        blackbox=Service("blackbox", [str(tools.blackbox_exporter),
                                      f"--config.file={REPO / 'prometheus' / 'blackbox.yml'}",
                                      f"--web.listen-address={local(ports.blackbox)}"],
                         f"http://{local(ports.blackbox)}/-/healthy", logs),
        collector=Service("otelcol", [str(tools.otelcol), f"--config={REPO / 'otel-collector.yaml'}"],
                          f"http://{local(ports.collector_health)}/", logs,
                          env=collector_env(ports, exporters=collector_exporters, extra=collector_extra_env)),
        stackwatch=Service("stackwatch", [str(STACKWATCH), "run", "--config", str(config_file)],
                           f"http://{local(ports.stackwatch)}/healthz", logs, env=stackwatch_env),
        simulator=Service("simulator", [str(STACKWATCH), "simulate", "--host", "127.0.0.1",
                                        "--port", str(ports.simulator), "--drain-to",
                                        f"http://{local(ports.stackwatch)}",
                                        "--drain-interval", str(DRAIN_INTERVAL_S), *simulator_args],
                          f"{simulator_url}/healthz", logs),
        alertmanager=Service("alertmanager", alertmanager_command(
            tools.alertmanager, rendered / "alertmanager", workdir / "alertmanager-data", local(ports.alertmanager)),
            f"http://{local(ports.alertmanager)}/-/ready", logs),
        prom=Prometheus(f"http://{local(ports.prometheus)}"),
        workdir=workdir,
    )


def start_stack(stack: Stack) -> Stack:
    """Start every service in dependency order (each waits until it is ready)."""
    for service in (stack.alertmanager, stack.prometheus, stack.blackbox, stack.collector, stack.simulator,
                    stack.stackwatch):
        service.start()
    return stack


def stop_stack(stack: Stack) -> None:
    """Stop in reverse order: stackwatch flushes its last export before the collector stops."""
    for service in reversed(stack.services()):
        service.stop()


@pytest.fixture(scope="session")
def stack_factory(tools, tmp_path_factory) -> Iterator[Callable[..., Stack]]:
    """Starts stacks (in dependency order) and stops every one of them at the end of the session."""
    started: list[Stack] = []

    def start(*, observed_since_cycle_start: bool = False, **options: Any) -> Stack:
        workdir = tmp_path_factory.mktemp("stack")
        if observed_since_cycle_start:  # Render/Supabase estimates cover the whole month (cycle_history.py)
            # Before the stack's free ports are picked: the replay's own simulator takes a port too.
            asyncio.run(observe_since_cycle_start(workdir / "state"))
        stack = build_stack(tools, workdir, **options)
        started.append(stack)
        return start_stack(stack)

    yield start
    for stack in reversed(started):
        stop_stack(stack)


@pytest.fixture(scope="session")
def stack(stack_factory) -> Stack:
    """The shared stack. Tests that change it (scenarios, restarts) put it back as they found it.
    Its stackwatch has observed Render and Supabase since the billing cycle began, so every
    provider's month-to-date can be compared with the simulator's invoice for the month.
    Its world uses items stackwatch cannot price every day (the `unpriced-usage` condition), so
    the unpriced metrics exist and the invoice holds what the cost figures leave out, and has an
    unhealthy Supabase project (`supabase-down`), so the boards' unhealthy-services panels have
    rows; the alerting stack (tests/alerting/alertstack.py) runs the healthy steady world instead."""
    return stack_factory(observed_since_cycle_start=True,
                         simulator_args=("--incident", "unpriced-usage", "--incident", "supabase-down"))
