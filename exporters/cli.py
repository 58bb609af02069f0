"""The `stackwatch` command line."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import urlsplit

import structlog
import typer

from exporters import __version__
from exporters.core.config import ConfigError
from exporters.core.logs import REDACTOR, configure
from exporters.providers.vercel.drains import DEMO_DRAIN_SECRET
from exporters.service.config import Config, Secrets, load_config

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Provider health, usage and cost as OpenTelemetry metrics.")
costs_app = typer.Typer(no_args_is_help=True, help="Cost records (FOCUS 1.3 shaped).")
app.add_typer(costs_app, name="costs")

# The variable docker-compose.yml mounts the config from; STACKWATCH_CONFIG (its old name) still
# works, with a warning (main()).
CONFIG_ENV = "STACKWATCH_CONFIG_FILE"
LEGACY_CONFIG_ENV = "STACKWATCH_CONFIG"
ConfigOption = Annotated[Path, typer.Option("--config", "-c", envvar=CONFIG_ENV,
                                            help="Path to stackwatch.yaml.")]


class ScaleName(str, Enum):
    small = "small"
    large = "large"


class Format(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


def _fail(error: ConfigError) -> None:
    typer.echo(error.render(), err=True)
    raise typer.Exit(code=2)


def _load(path: Path, environ: dict[str, str] | None = None) -> tuple[Config, Secrets]:
    try:
        config = load_config(path)
        secrets = Secrets.from_env(config, str(path), environ)
    except ConfigError as error:
        _fail(error)
        raise  # unreachable; for type checkers
    REDACTOR.add(secrets.values())
    return config, secrets


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"stackwatch {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: Annotated[bool, typer.Option(
        "--version", is_eager=True, expose_value=False, callback=_print_version,
        help="Print the version and exit.")] = False) -> None:
    """Provider health, usage and cost as OpenTelemetry metrics."""


@app.command("check-config")
def check_config(file: Annotated[Optional[Path], typer.Argument(
                     help="Path to stackwatch.yaml (the same as --config).", show_default=False)] = None,
                 config: Annotated[Optional[Path], typer.Option(
                     "--config", "-c", envvar=CONFIG_ENV, show_default=False,
                     help="Path to stackwatch.yaml (default: the env file's STACKWATCH_CONFIG_FILE, "
                          "else stackwatch.yaml).")] = None,
                 env_file: Annotated[Optional[Path], typer.Option(
                     "--env-file", help="Also read the variables of this compose .env file, as compose does "
                                        "(the shell's variables win).")] = None,
                 probe: Annotated[bool, typer.Option(
                     "--probe", help="Then make one small authenticated read per kind of data each provider "
                                     "polls, and report what each token can and cannot see (exit 1 if any "
                                     "read fails).")] = False) -> None:
    """Validate stackwatch.yaml and the secrets it needs; exit 2 on any problem."""
    from exporters.core.envfile import compose_environment, read_env_file

    environ = dict(os.environ)
    path = file or config
    if env_file is not None:
        try:
            values = read_env_file(env_file)
        except ConfigError as error:
            _fail(error)
            raise  # unreachable; for type checkers
        environ = compose_environment(values, os.environ)
        if path is None and values.get(CONFIG_ENV):
            path = env_file.parent / values[CONFIG_ENV]  # compose resolves it from the project directory
    path = path or Path("stackwatch.yaml")
    from alerting.channels import read_settings, summary

    cfg, secrets = _load(path, environ)
    alerting = read_settings(environ)
    if alerting.problems:  # the alert channels and links `stackwatch alerts render` would use
        _fail(ConfigError("environment (alerting settings)", alerting.problems))
    enabled = sorted(cfg.providers.enabled())
    source = f" (environment and {env_file})" if env_file is not None else ""
    drain = ("not set (drains will be refused; set it only if you configure Vercel drains)" if not secrets.drain_secret
             else "the simulator's (simulator: true)" if secrets.drain_secret == DEMO_DRAIN_SECRET else "set")
    typer.echo(f"{path}: valid{source}. Providers enabled: {', '.join(enabled) or 'none'}; drain secret {drain}.\n"
               f"{summary(alerting)}.")
    if probe:
        from exporters.ops.probe import probe_all, render

        configure("error", "text")  # the outcome below says what failed; no log line repeats it
        accesses = asyncio.run(probe_all(cfg, secrets))
        sys.stdout.write(render(accesses))
        if not all(a.ok for a in accesses):
            raise typer.Exit(code=1)


@app.command()
def run(config: ConfigOption = Path("stackwatch.yaml"),
        log_format: Annotated[Optional[str], typer.Option(help="text or json (overrides the config).")] = None) -> None:
    """Run the service: poll providers, serve drains and /healthz, export OTLP."""
    from exporters.service.runtime import build_runtime
    from exporters.service.service import serve

    cfg, secrets = _load(config)
    configure(cfg.logging.level, log_format or cfg.logging.format)
    from exporters.core.telemetry import otlp_endpoint_configured

    if not otlp_endpoint_configured():
        structlog.get_logger("stackwatch.cli").warning(
            "no OTLP endpoint: OTEL_EXPORTER_OTLP_ENDPOINT is not set, so metrics are exported nowhere "
            "(only /healthz and /metrics answer); set it to the collector, e.g. http://localhost:4318 "
            "(compose sets http://otel-collector:4318)")
    try:
        runtime = build_runtime(cfg, secrets)  # opens the state file: a bad one exits 2, naming it
    except ConfigError as error:
        _fail(error)
        raise  # unreachable; for type checkers
    try:
        code = asyncio.run(serve(cfg, secrets, source=str(config), runtime=runtime))
    except ConfigError as error:
        _fail(error)
        raise  # unreachable; for type checkers
    raise typer.Exit(code=code)


@app.command()
def demo(seed: int = 42,
         scenario: Annotated[str, typer.Option(help="steady, latency-spike, error-burst, cost-spike, outage, "
                                                    "rate-limited, flaky, runaway-spend, metrics-endpoint-down, "
                                                    "saturation, backup-missing, deploy-failure, unpriced-usage or "
                                                    "supabase-down.")] = "steady",
         scale: ScaleName = ScaleName.small) -> None:
    """Run one collection cycle against the embedded simulator and print a summary."""
    from exporters.ops.demo import run_demo
    from exporters.simulator.world import SCENARIOS, Scale

    if scenario not in SCENARIOS:
        typer.echo(f"--scenario: expected one of {', '.join(SCENARIOS)} (got {scenario!r})", err=True)
        raise typer.Exit(code=2)
    # Failed polls and unpriced items are in the summary's findings; log lines would repeat them.
    configure("error", "text")
    raise typer.Exit(code=asyncio.run(run_demo(
        seed=seed, scenario=scenario, scale=Scale.large() if scale is ScaleName.large else Scale())))


@app.command()
def simulate(host: str = "127.0.0.1", port: int = 8900, seed: int = 42,
             scenario: str = "steady",
             incident: Annotated[Optional[list[str]], typer.Option(
                 help="A standing condition of the whole world, history included (saturation, backup-missing, "
                      "deploy-failure, unpriced-usage, supabase-down); repeatable.")] = None,
             scale: ScaleName = ScaleName.small,
             latency_ms: Annotated[float, typer.Option(help="Latency added to every provider request.")] = 0.0,
             drain_to: Annotated[Optional[str], typer.Option(
                 help="Base URL of a stackwatch drain receiver to send signed Vercel drains to.")] = None,
             drain_interval: float = 5.0,
             vercel_projects: Annotated[Optional[int], typer.Option(min=1, help="Overrides --scale.")] = None,
             render_services: Annotated[Optional[int], typer.Option(min=1, help="Overrides --scale.")] = None,
             supabase_projects: Annotated[Optional[int], typer.Option(min=1, help="Overrides --scale.")] = None,
             openai_models: Annotated[Optional[int], typer.Option(min=1, help="Overrides --scale.")] = None,
             openai_projects: Annotated[Optional[int], typer.Option(min=1, help="Overrides --scale.")] = None,
             llamacloud_projects: Annotated[Optional[int], typer.Option(min=1, help="Overrides --scale.")] = None,
             history_days: Annotated[Optional[int], typer.Option(min=1, max=365, help="Overrides --scale.")] = None,
             openai_costs_today: Annotated[bool, typer.Option(
                 help="OpenAI's costs API also reports the current, partial day, as the real one does.")] = False,
             ) -> None:
    """Serve every provider API (and the Supabase metrics endpoint, fake sites) on one port."""
    from dataclasses import replace

    from exporters.simulator.server import Simulator
    from exporters.simulator.world import CONDITIONS, SCENARIOS, Scale, World

    if scenario not in SCENARIOS:
        typer.echo(f"--scenario: expected one of {', '.join(SCENARIOS)} (got {scenario!r})", err=True)
        raise typer.Exit(code=2)
    for name in incident or ():
        if name not in CONDITIONS:
            typer.echo(f"--incident: expected one of {', '.join(CONDITIONS)} (got {name!r})", err=True)
            raise typer.Exit(code=2)
    configure("info", "text")
    knobs = {"vercel_projects": vercel_projects, "render_services": render_services,
             "supabase_projects": supabase_projects, "openai_models": openai_models,
             "openai_projects": openai_projects, "llamacloud_projects": llamacloud_projects,
             "history_days": history_days}
    base_scale = Scale.large() if scale is ScaleName.large else Scale()
    world = World(seed=seed, scale=replace(base_scale, **{k: v for k, v in knobs.items() if v is not None}),
                  latency_s=latency_ms / 1000, incidents=frozenset(incident or ()))
    world.set_scenario(scenario)
    simulator = Simulator(world)
    simulator.providers["openai"].api.costs_include_today = openai_costs_today  # type: ignore[attr-defined]
    raise typer.Exit(code=asyncio.run(_simulate(simulator, host, port, drain_to, drain_interval)))


async def _simulate(simulator: "object", host: str, port: int, drain_to: str | None, interval: float) -> int:
    import signal

    from exporters.simulator.vercel.drains import send_drains

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    base = await simulator.start(host, port)  # type: ignore[attr-defined]
    typer.echo(f"simulator listening on {base}", err=True)
    try:
        while not stop.is_set():
            if drain_to:
                try:
                    await send_drains(drain_to, simulator.drain_secret, simulator.world,  # type: ignore[attr-defined]
                                      batches=1, events_per_batch=50)
                except Exception as exc:  # the receiver may not be up yet; keep serving
                    from exporters.core.neterrors import describe

                    typer.echo(f"drain delivery to {drain_to} failed: {describe(exc, drain_to)}", err=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass
    finally:
        await simulator.stop()  # type: ignore[attr-defined]
    return 0


@costs_app.command("export")
def costs_export(config: ConfigOption = Path("stackwatch.yaml"),
                 format: Format = Format.csv,  # noqa: A002 (the option's name)
                 output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None,
                 simulator: Annotated[bool, typer.Option(
                     help="Ignore --config: collect from the embedded simulator.")] = False,
                 since: Annotated[Optional[datetime], typer.Option(
                     formats=["%Y-%m-%d"], help="First UTC day of the export (default: the first day of each "
                                                "provider's current billing cycle).")] = None,
                 require_complete: Annotated[bool, typer.Option(
                     "--require-complete", help="Exit 1 when any resource or period of the export was not "
                                                "observed (see the coverage summary).")] = False) -> None:
    """Collect once and write every provider's cost records, and what was not observed, as one FOCUS dataset.

    Exit 0: written; 1: a poll failed, or --require-complete and something is unobserved; 2: bad config."""
    from exporters.costs.coverage import summary
    from exporters.ops.export import export_costs

    configure("error", "text")  # the coverage summary below says what failed
    first = since.date() if since else None
    if simulator:
        done = asyncio.run(export_costs(None, None, format.value, output, since=first))
    else:
        cfg, secrets = _load(config)
        done = asyncio.run(export_costs(cfg, secrets, format.value, output, since=first))
    typer.echo(f"{done.records} cost records written to {output or 'stdout'}", err=True)
    typer.echo(summary(done.coverage), err=True)
    if done.failed:
        typer.echo("exit 1: a poll failed; its provider's costs are missing from the export (x_Coverage failed)",
                   err=True)
        raise typer.Exit(code=1)
    if require_complete and not done.complete:
        typer.echo("exit 1 (--require-complete): part of the period was not observed (x_Coverage unobserved); "
                   "run stackwatch with a state file (service.data_dir) through the billing cycle", err=True)
        raise typer.Exit(code=1)


@app.command()
def catalogue(output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None) -> None:
    """Print the metric catalogue (docs/metrics.md)."""
    from exporters.ops.catalogue import render_markdown

    text = render_markdown()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _alerts_app() -> typer.Typer:
    from alerting.cli import app as alerts

    return alerts


app.add_typer(_alerts_app(), name="alerts")

dashboards_app = typer.Typer(no_args_is_help=True, help="The generated Grafana dashboards.")
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("diff")
def dashboards_diff(base: Annotated[str, typer.Option("--base", help="Git revision to compare with.")],
                    head: Annotated[Optional[str], typer.Option(
                        "--head", help="Git revision to describe (default: the working tree).")] = None,
                    repo: Annotated[Path, typer.Option(help="Repository root.")] = Path(".")) -> None:
    """Markdown diff of the boards, recording and alert rules and alert routing, each side generated from
    its sources; refuses when the head's committed generated files are stale (docs/dashboards.md)."""
    from exporters.ops.dashboards_diff import DiffError, diff_against

    try:
        sys.stdout.write(diff_against(repo, base, head))
    except DiffError as error:
        typer.echo(f"stackwatch dashboards diff: {error}", err=True)
        raise typer.Exit(code=2) from None


class OutputFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


class LevelName(str, Enum):
    bronze = "bronze"
    silver = "silver"
    gold = "gold"


def _http_url(value: str) -> str:
    """--prometheus must be an http(s) URL: `localhost:9090` would otherwise fail later as a protocol error."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter(
            f"{value!r} is not an http:// or https:// URL; expected a URL such as http://localhost:9090")
    return value


PrometheusOption = Annotated[str, typer.Option("--prometheus", envvar="STACKWATCH_PROMETHEUS_URL", callback=_http_url,
                                               help="Prometheus base URL, e.g. http://localhost:9090.")]


@app.command()
def validate(config: ConfigOption = Path("stackwatch.yaml"),
             prometheus: PrometheusOption = "http://localhost:9090",
             format: OutputFormat = OutputFormat.table,  # noqa: A002 (the option's name)
             level: Annotated[Optional[LevelName], typer.Option(
                 help="Exit 1 unless this level is reached (default: unless any check fails).")] = None,
             record_baseline: Annotated[Optional[Path], typer.Option(
                 help="Write current p95 latencies, error rates and daily cost to this JSON file.")] = None,
             baseline: Annotated[Optional[Path], typer.Option(
                 help="Flag regressions against a file written by --record-baseline.")] = None,
             project_dir: Annotated[Path, typer.Option(
                 help="Directory holding docs/runbooks, docker-compose.yml, .env.")] = Path("."),
             window: Annotated[str, typer.Option(help="PromQL range for recent figures.")] = "1h") -> None:
    """Production-readiness checks with evidence; exit 0 pass, 1 fail, 2 bad config or input."""
    from exporters.ops.validate.cli import run_validate

    configure("warning", "text")
    raise typer.Exit(code=run_validate(config, prometheus, format.value, level.value if level else None,
                                       record_baseline, baseline, project_dir, window))


class ReportFormat(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    html = "html"


@app.command()
def report(days: Annotated[int, typer.Option(help="Window in days (1–90).")] = 30,
           format: ReportFormat = ReportFormat.table,  # noqa: A002 (the option's name)
           prometheus: PrometheusOption = "http://localhost:9090",
           output: Annotated[Optional[Path], typer.Option(
               "--output", "-o", help="Directory to write the report into (html: page + charts).")] = None,
           push: Annotated[bool, typer.Option(
               help="Also push the top recommendations as stackwatch_recommendation_savings_monthly_usd "
                    "over OTLP (OTEL_EXPORTER_OTLP_* variables).")] = False,
           environment: Annotated[str, typer.Option(help="deployment.environment of pushed metrics.")] = "production",
           min_coverage: Annotated[float, typer.Option(
               help="Share of the window (0-1) a provider's data must cover before its savings are "
                    "recommended.")] = 0.8,
           ) -> None:
    """Usage analytics, unit economics and savings recommendations from Prometheus."""
    from exporters.ops.report.cli import run_report

    configure("warning", "text")
    raise typer.Exit(code=run_report(days, format.value, prometheus, output, push, environment, min_coverage))


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if os.environ.get(LEGACY_CONFIG_ENV) and not os.environ.get(CONFIG_ENV):
        print(f"warning: {LEGACY_CONFIG_ENV} is deprecated: set {CONFIG_ENV} (the name docker-compose.yml uses)",
              file=sys.stderr)
        os.environ[CONFIG_ENV] = os.environ[LEGACY_CONFIG_ENV]
    app()
