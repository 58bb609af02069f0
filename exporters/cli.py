"""The `stackwatch` command line."""

from __future__ import annotations

import asyncio
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import __version__
from .config import Config, ConfigError, Secrets, load_config
from .logs import REDACTOR, configure

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Provider health, usage and cost as OpenTelemetry metrics.")
costs_app = typer.Typer(no_args_is_help=True, help="Cost records (FOCUS 1.3 shaped).")
app.add_typer(costs_app, name="costs")

ConfigOption = Annotated[Path, typer.Option("--config", "-c", envvar="STACKWATCH_CONFIG",
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


def _load(path: Path) -> tuple[Config, Secrets]:
    try:
        config = load_config(path)
        secrets = Secrets.from_env(config, str(path))
    except ConfigError as error:
        _fail(error)
        raise  # unreachable; for type checkers
    REDACTOR.add(secrets.values())
    return config, secrets


@app.callback()
def main_options(version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


@app.command("check-config")
def check_config(file: Annotated[Optional[Path], typer.Argument(
                     help="Path to stackwatch.yaml (the same as --config).", show_default=False)] = None,
                 config: ConfigOption = Path("stackwatch.yaml")) -> None:
    """Validate stackwatch.yaml and the secrets it needs; exit 2 on any problem."""
    config = file or config
    cfg, secrets = _load(config)
    enabled = sorted(cfg.providers.enabled())
    typer.echo(f"{config}: valid. Providers enabled: {', '.join(enabled) or 'none'}; "
               f"drain secret {'set' if secrets.drain_secret else 'not set (drains will be refused)'}.")


@app.command()
def run(config: ConfigOption = Path("stackwatch.yaml"),
        log_format: Annotated[Optional[str], typer.Option(help="text or json (overrides the config).")] = None) -> None:
    """Run the service: poll providers, serve drains and /healthz, export OTLP."""
    from .runtime import build_runtime
    from .service import serve

    cfg, secrets = _load(config)
    configure(cfg.logging.level, log_format or cfg.logging.format)
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
                                                    "rate-limited, flaky, saturation, backup-missing, "
                                                    "deploy-failure or unpriced-usage.")] = "steady",
         scale: ScaleName = ScaleName.small) -> None:
    """Run one collection cycle against the embedded simulator and print a summary."""
    from .demo import run_demo
    from .simulator.world import SCENARIOS, Scale

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
                      "deploy-failure, unpriced-usage); repeatable.")] = None,
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

    from .simulator.server import Simulator
    from .simulator.world import CONDITIONS, SCENARIOS, Scale, World

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

    from .simulator.drains import send_drains

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
                    typer.echo(f"drain delivery to {drain_to} failed: {exc.__class__.__name__}", err=True)
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
                     help="Ignore --config: collect from the embedded simulator.")] = False) -> None:
    """Collect once and write every provider's cost records as one FOCUS dataset."""
    from .export import export_costs

    configure("warning", "text")
    if simulator:
        count = asyncio.run(export_costs(None, None, format.value, output))
    else:
        cfg, secrets = _load(config)
        count = asyncio.run(export_costs(cfg, secrets, format.value, output))
    typer.echo(f"{count} cost records written to {output or 'stdout'}", err=True)


@app.command()
def catalogue(output: Annotated[Optional[Path], typer.Option("--output", "-o")] = None) -> None:
    """Print the metric catalogue (docs/metrics.md)."""
    from .catalogue import render_markdown

    text = render_markdown()
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


dashboards_app = typer.Typer(no_args_is_help=True, help="The generated Grafana dashboards.")
app.add_typer(dashboards_app, name="dashboards")


@dashboards_app.command("diff")
def dashboards_diff(base: Annotated[str, typer.Option("--base", help="Git revision to compare with.")],
                    head: Annotated[Optional[str], typer.Option(
                        "--head", help="Git revision to describe (default: the working tree).")] = None,
                    repo: Annotated[Path, typer.Option(help="Repository root.")] = Path(".")) -> None:
    """Markdown diff of the boards, recording and alert rules and alert routing, each side generated from
    its sources; refuses when the head's committed generated files are stale (docs/dashboards.md)."""
    from .dashboards_diff import DiffError, diff_against

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


PrometheusOption = Annotated[str, typer.Option("--prometheus", envvar="STACKWATCH_PROMETHEUS_URL",
                                               help="Prometheus base URL.")]


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
                 help="Directory holding alerting/generated, docs/runbooks, docker-compose.yml, .env.")] = Path("."),
             window: Annotated[str, typer.Option(help="PromQL range for recent figures.")] = "1h") -> None:
    """Production-readiness checks with evidence; exit 0 pass, 1 fail, 2 bad config or input."""
    from .validate.cli import run_validate

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
           ) -> None:
    """Usage analytics, unit economics and savings recommendations from Prometheus."""
    from .report.cli import run_report

    configure("warning", "text")
    raise typer.Exit(code=run_report(days, format.value, prometheus, output, push, environment))


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
